"""Conversion: the dataset model in, validated sharded TFRecords out.

::

    Dataset --check_annotations--> kept boxes --workers: check_image + fit_boxes + encode_example-->
        framed records --round robin--> {split}-{i:05d}-of-{n:05d}.tfrecord
        + label_map.pbtxt + manifest.json + report.json

Worker processes (forked, so they share the tables without copying) read,
check and encode images; the main process only appends their framed records
to the shard files, so image bytes stream from disk to the shards and are
never all in memory. No TensorFlow is imported.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from dataprep import __version__
from dataprep.dataset import Dataset
from dataprep.errors import FindingError, UsageError
from dataprep.label_map import LabelMap
from dataprep.records.example import ExampleData, encode_example
from dataprep.records.tfrecord import ShardWriter, frame
from dataprep.validate.annotations import check_annotations
from dataprep.validate.findings import (
    CLIPPED,
    DROPPED_BOX,
    SWAPPED,
    ERROR,
    INFO,
    KEPT,
    SKIPPED_IMAGE,
    WARNING,
    Finding,
    Report,
)
from dataprep.validate.geometry import fit_boxes
from dataprep.validate.images import DEFAULT_MAX_PIXELS, check_image

SHARD_NAME = "{split}-{index:05d}-of-{count:05d}.tfrecord"
SHARD_RE = re.compile(r"^(?P<split>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$")
OUTPUT_FILES = ("label_map.pbtxt", "manifest.json", "report.json")
SPLIT_ORDER = ("train", "val", "test", "trainval")
#: Default shard size target: shards near 100-200 MB.
SHARD_TARGET_BYTES = 150 * 2**20


@dataclass
class ConvertOptions:
    out: Path
    label_map: Path | None = None
    num_shards: int | None = None
    compression: str | None = None  # None or "gzip"
    workers: int | None = None  # None: all cores
    overwrite: bool = False
    on_error: str = "fix"  # fix | skip | fail
    strict: bool = False
    drop_empty: bool = False
    seed: int = 0
    decode_check: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_box_size: float = 1.0
    shard_target_bytes: int = SHARD_TARGET_BYTES
    progress: bool = True
    #: Run every check but write nothing (``dataprep validate``).
    dry_run: bool = False

    def __post_init__(self):
        self.out = Path(self.out)
        if self.on_error not in ("fix", "skip", "fail"):
            raise UsageError(f"--on-error must be fix, skip or fail, got {self.on_error!r}")
        if self.compression not in (None, "gzip"):
            raise UsageError(f"--compression must be gzip or none, got {self.compression!r}")
        if self.num_shards is not None and self.num_shards < 1:
            raise UsageError(f"--num-shards must be >= 1, got {self.num_shards}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["label_map"] = str(self.label_map) if self.label_map else None
        d.pop("progress")
        d.pop("dry_run")
        return d


@dataclass
class ConvertResult:
    out: Path
    manifest: dict
    report: Report
    seconds: float
    label_map: LabelMap
    shards: list[Path] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        c = self.report.counts
        m = self.manifest
        rate = c.images_read / self.seconds if self.seconds > 0 else float("nan")
        lines = [
            f"Wrote {self.out}",
            f"  images   {c.images_read} read, {c.images_written} written, {c.images_skipped} skipped",
            f"  boxes    {c.boxes_read} read, {c.boxes_written} written, {c.boxes_dropped} dropped",
            f"  classes  {len(self.label_map)} ({', '.join(self.label_map.names[:8])}"
            f"{', ...' if len(self.label_map) > 8 else ''})",
        ]
        for split, s in m["splits"].items():
            lines.append(f"  {split:8} {s['examples']} examples, {s['boxes']} boxes in {len(s['shards'])} shard(s)")
        sev = self.report.by_severity()
        lines.append(f"  findings {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info "
                     f"(report.json)")
        lines.append(f"  time     {self.seconds:.1f} s, {rate:.0f} images/s")
        return lines


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing, non-empty OUT unless ``overwrite``."""
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} exists and is not a folder")
        if any(not p.name.startswith(".") for p in out.iterdir()) and not overwrite:
            raise UsageError(f"{out} already exists and is not empty; pass --overwrite to replace its dataprep outputs")
    out.mkdir(parents=True, exist_ok=True)


def resolve_label_map(ds: Dataset, path: Path | None) -> tuple[LabelMap, str]:
    if path is not None:
        return LabelMap.read(path), str(path)
    if ds.label_map is not None:
        return ds.label_map, f"{ds.source.get('format', 'source')} categories"
    # An empty class name is not a class: its boxes become label.unknown findings.
    names = [t for t in ds.objects["text"].unique().tolist() if t.strip()]
    return LabelMap.from_names(names), "derived from the data (sorted names)"


# -- the per-image work, in worker processes ---------------------------------------

@dataclass
class _Job:
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
    texts: list
    index: np.ndarray
    difficult: np.ndarray
    truncated: np.ndarray
    is_crowd: np.ndarray
    view: list
    order: np.ndarray
    box_units: str
    decode: bool
    max_pixels: int
    min_box_size: float
    on_error: str
    drop_empty: bool = False
    encode: bool = True


@dataclass
class _Result:
    pos: int
    framed: bytes | None
    findings: list
    labels: np.ndarray
    boxes_in: int


_JOB: _Job | None = None


def _process_range(bounds: tuple[int, int]) -> list[_Result]:
    lo, hi = bounds
    return [_process_one(_JOB, int(_JOB.order[k])) for k in range(lo, hi)]


def _process_one(job: _Job, pos: int) -> _Result:
    start, end = int(job.obj_start[pos]), int(job.obj_end[pos])
    empty = np.zeros(0, np.int64)
    if job.errors[pos]:  # the reader or the annotation checks already reported why
        return _Result(pos, None, [], empty, end - start)
    file = job.files[pos]
    res = check_image(job.root, file, (job.ann_w[pos], job.ann_h[pos]), decode=job.decode,
                      max_pixels=job.max_pixels)
    findings = list(res.findings)
    if res.data is None:
        return _Result(pos, None, findings, empty, end - start)
    W, H = res.width, res.height
    boxes = job.boxes[start:end]
    if job.box_units == "normalized":
        boxes = boxes * np.array([W, H, W, H], dtype=np.float64)
    fit = fit_boxes(boxes, W, H, min_size=job.min_box_size)
    ann = job.annotations[pos]
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
                f"({W}x{H})", action))
    if job.on_error == "skip" and any(f.severity == ERROR for f in findings):
        findings.append(Finding(ERROR, "policy.skipped", file, ann,
                                "skipped because of the errors above (--on-error skip)", SKIPPED_IMAGE))
        return _Result(pos, None, findings, empty, end - start)
    keep = np.flatnonzero(fit.keep) + start
    if job.drop_empty and len(keep) == 0:
        findings.append(Finding(INFO, "image.no_objects", file, ann,
                                f"all {end - start} boxes were dropped by the checks above; image dropped (--drop-empty)",
                                SKIPPED_IMAGE))
        return _Result(pos, None, findings, np.zeros(0, np.int64), end - start)
    if not job.encode:  # dry run: checked, nothing to write
        return _Result(pos, b"", findings, job.labels[keep], end - start)
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
    )
    return _Result(pos, frame(encode_example(example)), findings, job.labels[keep], end - start)


# -- planning ----------------------------------------------------------------------

def _split_names(splits: pd.Series) -> list[str]:
    present = set(splits.unique())
    return [s for s in SPLIT_ORDER if s in present] + sorted(present - set(SPLIT_ORDER))


def _plan_shards(n_examples: int, est_bytes: int, opts: ConvertOptions) -> int:
    if n_examples == 0:
        return 0
    n = opts.num_shards or max(1, math.ceil(est_bytes / opts.shard_target_bytes))
    return int(min(n, n_examples))


def _file_sizes(root: Path, files: list[str]) -> np.ndarray:
    sizes = np.zeros(len(files), dtype=np.int64)
    for k, f in enumerate(files):
        try:
            sizes[k] = os.stat(os.path.join(root, f)).st_size
        except OSError:
            pass
    return sizes


def _run(job: _Job, workers: int, progress: bool, total: int):
    """Yield results in processing order."""
    global _JOB
    _JOB = job
    n = len(job.order)
    chunk = max(1, min(64, n // (workers * 8) or 1))
    ranges = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    bar = tqdm(total=total, unit="img", desc="convert", disable=not progress, dynamic_ncols=True)
    try:
        if workers <= 1 or n <= chunk:
            for r in ranges:
                results = _process_range(r)
                bar.update(len(results))
                yield from results
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers) as pool:
                for results in pool.imap(_process_range, ranges):
                    bar.update(len(results))
                    yield from results
    finally:
        bar.close()
        _JOB = None


# -- the conversion ----------------------------------------------------------------

def convert(ds: Dataset, opts: ConvertOptions) -> ConvertResult:
    """Validate ``ds`` and write it as sharded TFRecords into ``opts.out``."""
    t0 = time.perf_counter()
    out = opts.out
    if not opts.dry_run:
        prepare_output(out, opts.overwrite)
    label_map, label_map_origin = resolve_label_map(ds, opts.label_map)
    report = Report()
    report.extend(ds.findings)

    def fail_fast(findings):
        if opts.on_error == "fail":
            for f in findings:
                if f.severity == ERROR:
                    raise FindingError(f)

    fail_fast(ds.findings)
    check = check_annotations(ds, label_map)
    report.extend(check.findings)
    fail_fast(check.findings)

    images = ds.images.copy()
    if len(check.skip_images):
        hit = images["image_id"].isin(check.skip_images.index)
        images.loc[hit, "error"] = check.skip_images.reindex(images.loc[hit, "image_id"]).to_numpy()
    objs = check.objects
    per_image = objs.groupby("image_id").size().reindex(images["image_id"], fill_value=0).to_numpy()
    if opts.on_error == "skip":
        # Images with a box-level error: found by the checks above, or boxes the
        # reader could not parse at all.
        errored = {f.item.split(" object ")[0] for f in check.findings
                   if f.severity == ERROR and f.action in (DROPPED_BOX, SWAPPED)}
        hit = (images["file"].isin(errored) | (images["reader_dropped"] > 0)) & (images["error"] == "")
        for file, ann in zip(images.loc[hit, "file"], images.loc[hit, "annotation"]):
            report.add(Finding(ERROR, "policy.skipped", file, ann,
                               "skipped because of the annotation errors above (--on-error skip)", SKIPPED_IMAGE))
        images.loc[hit, "error"] = "skipped by policy"
    empty = (per_image == 0) & (images["error"] == "").to_numpy()
    for file, ann in zip(images.loc[empty, "file"], images.loc[empty, "annotation"]):
        if opts.drop_empty:
            report.add(Finding(INFO, "image.no_objects", file, ann, "no objects; dropped (--drop-empty)",
                               SKIPPED_IMAGE))
        else:
            report.add(Finding(INFO, "image.no_objects", file, ann, "no objects; kept as a negative example", KEPT))
    if opts.drop_empty:
        images.loc[empty, "error"] = "no objects (--drop-empty)"

    # Objects as flat arrays, grouped by image in the images table's order.
    pos_of = pd.Series(np.arange(len(images)), index=images["image_id"].to_numpy())
    obj_pos = pos_of.reindex(objs["image_id"].to_numpy()).to_numpy()
    order_objs = np.argsort(obj_pos, kind="stable")
    objs = objs.iloc[order_objs].reset_index(drop=True)
    obj_pos = obj_pos[order_objs]
    obj_start = np.searchsorted(obj_pos, np.arange(len(images)), side="left")
    obj_end = np.searchsorted(obj_pos, np.arange(len(images)), side="right")

    # Splits: a seeded permutation within each split, then round robin over shards,
    # so neighbouring files (frames, one class per folder) spread over every shard.
    rng = np.random.default_rng(opts.seed)
    splits = _split_names(images["split"])
    order_parts, split_of = [], {}
    for split in splits:
        positions = np.flatnonzero((images["split"] == split).to_numpy())
        positions = positions[rng.permutation(len(positions))]
        order_parts.append(positions)
        for p in positions:
            split_of[int(p)] = split
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, np.int64)
    files = images["file"].tolist()
    sizes = _file_sizes(ds.images_root, files)
    planned = {}
    for split, positions in zip(splits, order_parts):
        ok = positions[(images["error"].to_numpy()[positions] == "")]
        planned[split] = _plan_shards(len(ok), int(sizes[ok].sum()), opts)

    job = _Job(
        root=ds.images_root, image_ids=images["image_id"].to_numpy(), files=files,
        ann_w=images["width"].to_numpy(dtype=float), ann_h=images["height"].to_numpy(dtype=float),
        annotations=images["annotation"].tolist(), errors=images["error"].tolist(),
        obj_start=obj_start, obj_end=obj_end,
        boxes=objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64),
        labels=objs["label"].to_numpy(dtype=np.int64), texts=objs["text"].tolist(),
        index=objs["index"].to_numpy(), difficult=objs["difficult"].to_numpy(),
        truncated=objs["truncated"].to_numpy(), is_crowd=objs["is_crowd"].to_numpy(), view=objs["view"].tolist(),
        order=order, box_units=ds.box_units, decode=opts.decode_check, max_pixels=opts.max_pixels,
        min_box_size=opts.min_box_size, on_error=opts.on_error, drop_empty=opts.drop_empty,
        encode=not opts.dry_run,
    )

    counts = report.counts
    counts.images_read = len(images)
    counts.boxes_read = len(ds.objects) + ds.dropped_boxes
    counts.boxes_dropped = ds.dropped_boxes + check.dropped
    class_ids = np.array([i.id for i in label_map], dtype=np.int64)  # sorted; ids may be large
    written = {s: 0 for s in splits}
    class_boxes = {s: np.zeros(len(class_ids), np.int64) for s in splits}
    class_images = {s: np.zeros(len(class_ids), np.int64) for s in splits}
    writers: dict[tuple[str, int], ShardWriter] = {}
    workers = opts.workers or default_workers()
    try:
        for res in _run(job, workers, opts.progress, len(order)):
            report.extend(res.findings)
            fail_fast(res.findings)
            if res.framed is None:
                counts.images_skipped += 1
                counts.boxes_dropped += res.boxes_in
                continue
            split = split_of[res.pos]
            if not opts.dry_run:
                shard = written[split] % planned[split]
                key = (split, shard)
                if key not in writers:
                    writers[key] = ShardWriter(out / f".{split}-{shard:05d}.partial", opts.compression)
                writers[key].write_framed(res.framed)
            written[split] += 1
            counts.images_written += 1
            counts.boxes_written += len(res.labels)
            counts.boxes_dropped += res.boxes_in - len(res.labels)
            if len(res.labels):
                dense = np.searchsorted(class_ids, res.labels)
                class_boxes[split] += np.bincount(dense, minlength=len(class_ids))
                class_images[split][np.unique(dense)] += 1
        counts.check()
        infos = {key: w.close() for key, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise

    def split_info(split: str, shards: list) -> dict:
        return {
            "examples": written[split],
            "boxes": int(class_boxes[split].sum()),
            "shards": shards,
            "classes": {i.name: {"id": i.id, "images": int(class_images[split][k]),
                                 "boxes": int(class_boxes[split][k])} for k, i in enumerate(label_map)},
        }

    if opts.dry_run:
        return ConvertResult(out, {"splits": {s: split_info(s, []) for s in splits if s}}, report,
                             time.perf_counter() - t0, label_map)
    # Every shard is complete: give them their final names.
    if opts.overwrite:
        _remove_previous_outputs(out)
    manifest_splits: dict = {}
    shard_paths: list[Path] = []
    for split in splits:
        keys = sorted(k for k in infos if k[0] == split)
        if not split and not keys:
            continue  # images in no split (split.unlisted) were skipped and reported; not a split
        shards = []
        for index, key in enumerate(keys):
            name = SHARD_NAME.format(split=split, index=index, count=len(keys))
            os.replace(writers[key].path, out / name)
            shard_paths.append(out / name)
            shards.append({"file": name, **infos[key]})
        manifest_splits[split] = split_info(split, shards)
    if opts.label_map is not None:
        (out / "label_map.pbtxt").write_bytes(Path(opts.label_map).read_bytes())
    else:
        label_map.write(out / "label_map.pbtxt")
    elapsed = time.perf_counter() - t0
    manifest = {
        "dataprep_version": __version__,
        "format": "tfrecord",
        "compression": "GZIP" if opts.compression == "gzip" else None,
        "label_map": "label_map.pbtxt",
        "label_map_origin": label_map_origin,
        "num_classes": len(label_map),
        "splits": manifest_splits,
        "counts": asdict(counts),
        "source": ds.source,
        "options": opts.to_json(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    report.write(out / "report.json")
    return ConvertResult(out, manifest, report, elapsed, label_map, shard_paths)


def _remove_previous_outputs(out: Path) -> None:
    for p in out.iterdir():
        if p.is_file() and (SHARD_RE.match(p.name) or p.name in OUTPUT_FILES):
            p.unlink()
