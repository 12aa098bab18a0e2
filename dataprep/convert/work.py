"""The per-image work: one pure function of (job, position) -> result.

::

    Job (flat arrays of the whole dataset, shared by every worker)
      --process_image(job, pos): check_image + fit_boxes + encode_example-->
    ImageResult (framed record or None, findings, kept labels, hashes)

Any executor runs it: the local process pool (:mod:`dataprep.convert.executor`)
or a Beam ``Map``. It reads the image file and nothing else; it writes
nothing. The job holds columns, not per-box Python objects, so forked workers
share its pages without copying them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.records.example import ExampleData, encode_example
from dataprep.records.framing import frame
from dataprep.findings import CLIPPED, DROPPED_BOX, ERROR, INFO, SKIPPED_IMAGE, WARNING, Finding
from dataprep.validate.geometry import fit_boxes
from dataprep.validate.images import check_image
from dataprep.validate.policy import ErrorPolicy


class Codes:
    """A column of few distinct strings as int32 codes plus the distinct
    values: workers read it without touching one Python object per box (which
    would copy the parent's pages into every forked worker)."""

    def __init__(self, values):
        vocab, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
        self.vocab = [str(v) for v in vocab]
        self.codes = codes.astype(np.int32).ravel()

    def __getitem__(self, k: int) -> str:
        return self.vocab[self.codes[k]]


@dataclass
class Job:
    """Everything the per-image work reads, as columns by image position."""

    root: Path
    image_ids: np.ndarray
    files: list
    ann_w: np.ndarray
    ann_h: np.ndarray
    annotations: list
    errors: list
    obj_start: np.ndarray
    obj_end: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    texts: Codes
    index: np.ndarray
    difficult: np.ndarray
    truncated: np.ndarray
    is_crowd: np.ndarray
    view: Codes
    order: np.ndarray
    box_units: str
    decode: bool
    max_pixels: int
    min_box_size: float
    policy: ErrorPolicy
    drop_empty: bool = False
    encode: bool = True
    follow_symlinks: bool = False
    #: Where the image bytes come from when not the local disk (``root`` a
    #: URL): ``read(path) -> bytes`` and ``size(path) -> int`` (Beam's
    #: FileSystems, :class:`dataprep.beam.files.BeamStore`). None: the local disk.
    store: object = None


@dataclass
class ImageResult:
    pos: int
    #: The framed record; ``b""`` when checked but not encoded; None when skipped.
    framed: bytes | None
    findings: list
    labels: np.ndarray
    boxes_in: int
    sha256: str = ""
    phash: int = 0


def make_job(root: Path, images: pd.DataFrame, objects: pd.DataFrame, box_units: str, opts) -> Job:
    """The job over ``images`` (in table order) and their ``objects``."""
    # Objects as flat arrays, grouped by image in the images table's order.
    pos_of = pd.Series(np.arange(len(images)), index=images["image_id"].to_numpy())
    obj_pos = pos_of.reindex(objects["image_id"].to_numpy()).to_numpy()
    order_objs = np.argsort(obj_pos, kind="stable")
    objs = objects.iloc[order_objs].reset_index(drop=True)
    obj_pos = obj_pos[order_objs]
    n = len(images)
    return Job(
        root=root, image_ids=images["image_id"].to_numpy(), files=images["file"].tolist(),
        ann_w=images["width"].to_numpy(dtype=float), ann_h=images["height"].to_numpy(dtype=float),
        annotations=images["annotation"].tolist(), errors=images["error"].tolist(),
        obj_start=np.searchsorted(obj_pos, np.arange(n), side="left"),
        obj_end=np.searchsorted(obj_pos, np.arange(n), side="right"),
        boxes=objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64),
        labels=objs["label"].to_numpy(dtype=np.int64), texts=Codes(objs["text"].to_numpy()),
        index=objs["index"].to_numpy(), difficult=objs["difficult"].to_numpy(),
        truncated=objs["truncated"].to_numpy(), is_crowd=objs["is_crowd"].to_numpy(),
        view=Codes(objs["view"].to_numpy()), order=np.arange(n), box_units=box_units,
        decode=opts.decode_check, max_pixels=opts.max_pixels, min_box_size=opts.min_box_size,
        policy=opts.policy, drop_empty=opts.drop_empty, encode=not opts.dry_run and not opts.two_pass,
        follow_symlinks=opts.follow_symlinks,
    )


def process_image(job: Job, pos: int) -> ImageResult:
    """Check image ``pos``, fit its boxes to it and encode its record."""
    start, end = int(job.obj_start[pos]), int(job.obj_end[pos])
    empty = np.zeros(0, np.int64)
    if job.errors[pos]:  # the reader or the annotation checks already reported why
        return ImageResult(pos, None, [], empty, end - start)
    file = job.files[pos]
    ann = job.annotations[pos]
    res = check_image(job.root, file, (job.ann_w[pos], job.ann_h[pos]), decode=job.decode,
                      max_pixels=job.max_pixels, follow_symlinks=job.follow_symlinks, store=job.store)
    # Image-level findings name the annotation that referenced the image.
    findings = [replace(f, image=file, annotation=ann) for f in res.findings]
    if res.data is None:
        return ImageResult(pos, None, findings, empty, end - start)
    W, H = res.width, res.height
    boxes = job.boxes[start:end]
    if job.box_units == "normalized":
        boxes = boxes * np.array([W, H, W, H], dtype=np.float64)
    fit = fit_boxes(boxes, W, H, min_size=job.min_box_size)
    findings.extend(_box_findings(job, fit, boxes, start, file, ann, W, H))
    if job.policy.skips_images and any(f.severity == ERROR for f in findings):
        findings.append(Finding(ERROR, "policy.skipped", file, ann,
                                "skipped because of the errors above (--on-error skip)", SKIPPED_IMAGE,
                                image=file, annotation=ann))
        return ImageResult(pos, None, findings, empty, end - start)
    keep = np.flatnonzero(fit.keep) + start
    if job.drop_empty and len(keep) == 0:
        findings.append(Finding(INFO, "image.no_objects", file, ann,
                                f"all {end - start} boxes were dropped by the checks above; image dropped "
                                "(--drop-empty)", SKIPPED_IMAGE, image=file, annotation=ann))
        return ImageResult(pos, None, findings, empty, end - start)
    if not job.encode:  # checked, nothing to write (dry run or check pass)
        return ImageResult(pos, b"", findings, job.labels[keep], end - start, res.sha256, res.phash)
    b = fit.boxes
    scale = np.array([W, H, W, H], dtype=np.float64)
    norm = (b / scale)[:, [1, 0, 3, 2]]  # xyxy pixels -> ymin, xmin, ymax, xmax normalized
    example = ExampleData(
        encoded=res.data, format=res.format, height=H, width=W, filename=file,
        source_id=int(job.image_ids[pos]), boxes=norm,
        texts=[job.texts[k] for k in keep], labels=job.labels[keep].tolist(),
        difficult=job.difficult[keep].tolist(), truncated=job.truncated[keep].tolist(),
        is_crowd=job.is_crowd[keep].tolist(), area=((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).tolist(),
        view=[job.view[k] for k in keep],
        sha256=res.sha256 if res.data_is_original else "",
    )
    return ImageResult(pos, frame(encode_example(example)), findings, job.labels[keep], end - start, res.sha256,
                       res.phash)


def _box_findings(job: Job, fit, boxes: np.ndarray, start: int, file: str, ann: str, W: int, H: int) -> list:
    """One finding per box outside the image, too small in it, or clipped to it."""
    findings = []
    if not (fit.outside.any() or fit.degenerate.any() or fit.clipped.any()):
        return findings  # the common case, without three scans per image
    for code, mask, severity, action, why in (
        ("box.outside", fit.outside, ERROR, DROPPED_BOX, "lies entirely outside the image"),
        ("box.degenerate", fit.degenerate, ERROR, DROPPED_BOX,
         f"is narrower or shorter than {job.min_box_size:g} px inside the image"),
        ("box.clipped", fit.clipped, WARNING, CLIPPED, "extends past the image border; clipped to it"),
    ):
        for k in np.flatnonzero(mask):
            b = boxes[k]
            findings.append(Finding(
                severity, code, f"{file} object {int(job.index[start + k])} {job.texts[start + k]!r}", ann,
                f"box (xmin, ymin, xmax, ymax) = ({b[0]:g}, {b[1]:g}, {b[2]:g}, {b[3]:g}) px {why} "
                f"({W}x{H})", action, image=file, annotation=ann, object_index=int(job.index[start + k]), value=b))
    return findings
