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

import contextlib
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep import __version__
from dataprep.dataset import Dataset
from dataprep.errors import DataprepError, FindingError, UsageError
from dataprep.label_map import LabelMap
from dataprep.parallel import process_pool
from dataprep.progress import progress_bar
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
from dataprep.validate.dataset import dataset_findings
from dataprep.validate.duplicates import duplicate_findings
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
    #: ``--follow-symlinks``: read images through links that lead outside the images folder.
    follow_symlinks: bool = False
    min_box_size: float = 1.0
    shard_target_bytes: int = SHARD_TARGET_BYTES
    progress: bool = True
    #: Run every check but write nothing (``dataprep validate``).
    dry_run: bool = False
    #: ``--split train=0.8,val=0.2``: replace the source's splits by a
    #: stratified split over leakage groups.
    split: dict | None = None
    group_by: str | None = None
    #: ``--rebalance images|instances``: repeat-factor sampling of the train split.
    rebalance: str | None = None
    rebalance_split: str = "train"
    repeat_threshold: float | str | None = "auto"
    max_per_class: int | None = None
    negative_ratio: float | None = None

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
        if isinstance(self.split, str):
            from dataprep.balance import parse_split_spec

            self.split = parse_split_spec(self.split)
        if self.rebalance not in (None, "images", "instances"):
            raise UsageError(f"--rebalance must be images or instances, got {self.rebalance!r}")
        if self.group_by and self.split is None:
            raise UsageError("--group-by only applies with --split")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed must be an integer >= 0, got {self.seed}")
        if self.max_pixels < 1:
            raise UsageError(f"--max-pixels must be >= 1, got {self.max_pixels}")
        for name, value in (("--max-per-class", self.max_per_class), ("--negative-ratio", self.negative_ratio)):
            if value is not None and self.rebalance is None:
                raise UsageError(f"{name} only applies with --rebalance images|instances")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise UsageError(f"--max-per-class must be >= 1, got {self.max_per_class}")
        if self.negative_ratio is not None and not (self.negative_ratio >= 0 and math.isfinite(self.negative_ratio)):
            raise UsageError(f"--negative-ratio must be a number >= 0, got {self.negative_ratio}")
        t = self.repeat_threshold
        if t not in (None, "auto") and not (isinstance(t, (int, float)) and 0 < t <= 1):
            # t is a class frequency (LVIS uses 0.001): above 1 every class
            # would be repeated, by factors that overflow.
            raise UsageError(f"--repeat-threshold must be auto or a frequency in (0, 1], got {t!r}")

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
        lines.extend(class_table_lines(m, self.label_map))
        sev = self.report.by_severity()
        lines.append(f"  findings {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info "
                     f"(report.json)")
        lines.append(f"  time     {self.seconds:.1f} s, {rate:.0f} images/s")
        return lines


def class_table_lines(manifest: dict, label_map: LabelMap, max_classes: int = 30) -> list[str]:
    """Boxes (images) per class and split; with --rebalance, the rebalanced
    split before and after."""
    splits = manifest["splits"]
    if not splits or len(label_map) > max_classes:
        return []
    reb = manifest.get("rebalance")
    before = {}
    if reb:
        for key, v in reb["per_class"].items():
            name = label_map.name_of(int(key)) if str(key).lstrip("-").isdigit() else key
            before[name] = f"{v['instances_before']} ({v['images_before']})"
    cols = list(splits)
    head = [f"{s} before" if reb and s == reb["split"] else None for s in cols]
    width = max(8, max(len(n) for n in label_map.names))
    header = f"  {'class':{width}}" + "".join(
        (f"  {h:>14}" if h else "") + f"  {s:>14}" for s, h in zip(cols, head))
    lines = ["", header]
    for item in label_map:
        row = f"  {item.name:{width}}"
        for s, h in zip(cols, head):
            c = splits[s]["classes"].get(item.name, {"boxes": 0, "images": 0})
            if h:
                row += f"  {before.get(item.name, '0 (0)'):>14}"
            row += f"  {str(c['boxes']) + ' (' + str(c['images']) + ')':>14}"
        lines.append(row)
    lines.append(f"  {'':{width}}  boxes (images) per split" + ("; repeats counted" if reb else ""))
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
    texts: "Codes"
    index: np.ndarray
    difficult: np.ndarray
    truncated: np.ndarray
    is_crowd: np.ndarray
    view: "Codes"
    order: np.ndarray
    box_units: str
    decode: bool
    max_pixels: int
    min_box_size: float
    on_error: str
    drop_empty: bool = False
    encode: bool = True
    follow_symlinks: bool = False


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
class _Result:
    pos: int
    framed: bytes | None
    findings: list
    labels: np.ndarray
    boxes_in: int
    sha256: str = ""
    phash: int = 0


_JOB: _Job | None = None


def _set_job(job: _Job) -> None:
    """Pool initializer: the job a worker processes (inherited when forked, pickled once when spawned)."""
    global _JOB
    _JOB = job


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
                      max_pixels=job.max_pixels, follow_symlinks=job.follow_symlinks)
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
    if not job.encode:  # checked, nothing to write (dry run or check pass)
        return _Result(pos, b"", findings, job.labels[keep], end - start, res.sha256, res.phash)
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
    return _Result(pos, frame(encode_example(example)), findings, job.labels[keep], end - start, res.sha256,
                   res.phash)


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
        except (OSError, ValueError):  # missing, or a name no file can have (NUL byte)
            pass
    return sizes


def _run(job: _Job, workers: int, progress: bool, total: int, desc: str = "convert"):
    """Yield results in processing order."""
    global _JOB
    _JOB = job
    n = len(job.order)
    chunk = max(1, min(64, n // (workers * 8) or 1))
    ranges = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    parallel = workers > 1 and n > chunk
    try:
        with progress_bar(total, desc, "img", progress) as bar, \
                (process_pool(workers, _set_job, (job,)) if parallel else contextlib.nullcontext()) as pool:
            for results in (pool.imap if parallel else map)(_process_range, ranges):
                bar.update(len(results))
                yield from results
    finally:
        _JOB = None


# -- the conversion ----------------------------------------------------------------

def convert(ds: Dataset, opts: ConvertOptions) -> ConvertResult:
    """Validate ``ds`` and write it as sharded TFRecords into ``opts.out``."""
    t0 = time.perf_counter()
    out = opts.out
    ds.require_images()
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

    live = objs["image_id"].isin(images.loc[images["error"] == "", "image_id"])
    report.extend(dataset_findings(objs[live], images.set_index("image_id")["file"]))

    # Objects as flat arrays, grouped by image in the images table's order.
    pos_of = pd.Series(np.arange(len(images)), index=images["image_id"].to_numpy())
    obj_pos = pos_of.reindex(objs["image_id"].to_numpy()).to_numpy()
    order_objs = np.argsort(obj_pos, kind="stable")
    objs = objs.iloc[order_objs].reset_index(drop=True)
    obj_pos = obj_pos[order_objs]
    obj_start = np.searchsorted(obj_pos, np.arange(len(images)), side="left")
    obj_end = np.searchsorted(obj_pos, np.arange(len(images)), side="right")

    files = images["file"].tolist()
    sizes = _file_sizes(ds.images_root, files)  # bytes per image: the default shard count
    n_images = len(images)
    two_pass = not opts.dry_run and (opts.split is not None or opts.rebalance is not None)
    job = _Job(
        root=ds.images_root, image_ids=images["image_id"].to_numpy(), files=files,
        ann_w=images["width"].to_numpy(dtype=float), ann_h=images["height"].to_numpy(dtype=float),
        annotations=images["annotation"].tolist(), errors=images["error"].tolist(),
        obj_start=obj_start, obj_end=obj_end,
        boxes=objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64),
        labels=objs["label"].to_numpy(dtype=np.int64), texts=Codes(objs["text"].to_numpy()),
        index=objs["index"].to_numpy(), difficult=objs["difficult"].to_numpy(),
        truncated=objs["truncated"].to_numpy(), is_crowd=objs["is_crowd"].to_numpy(), view=Codes(objs["view"].to_numpy()),
        order=np.arange(n_images), box_units=ds.box_units, decode=opts.decode_check, max_pixels=opts.max_pixels,
        min_box_size=opts.min_box_size, on_error=opts.on_error, drop_empty=opts.drop_empty,
        encode=not opts.dry_run and not two_pass, follow_symlinks=opts.follow_symlinks,
    )

    counts = report.counts
    counts.images_read = n_images
    counts.boxes_read = len(ds.objects) + ds.dropped_boxes
    counts.boxes_dropped = ds.dropped_boxes + check.dropped
    ok = np.zeros(n_images, dtype=bool)
    sha = np.full(n_images, "", dtype=object)
    phashes = np.zeros(n_images, dtype=np.uint64)
    kept_labels: list = [None] * n_images

    def account(res: _Result) -> bool:
        """Findings and accounting for one image's check; True if it is written."""
        report.extend(res.findings)
        fail_fast(res.findings)
        if res.framed is None:
            counts.images_skipped += 1
            counts.boxes_dropped += res.boxes_in
            return False
        ok[res.pos] = True
        sha[res.pos], phashes[res.pos], kept_labels[res.pos] = res.sha256, res.phash, res.labels
        counts.images_written += 1
        counts.boxes_written += len(res.labels)
        counts.boxes_dropped += res.boxes_in - len(res.labels)
        return True

    class_ids = np.array([i.id for i in label_map], dtype=np.int64)  # sorted; ids may be large
    writers: dict[tuple[str, int], ShardWriter] = {}
    written: dict[str, int] = {}
    class_boxes: dict[str, np.ndarray] = {}
    class_images: dict[str, np.ndarray] = {}
    plan: dict = {}

    def write(res: _Result, split: str) -> None:
        if not opts.dry_run:
            shard = written.get(split, 0) % plan["shards"][split]
            key = (split, shard)
            if key not in writers:
                writers[key] = ShardWriter(out / f".{split}-{shard:05d}.partial", opts.compression)
            writers[key].write_framed(res.framed)
        written[split] = written.get(split, 0) + 1
        cb = class_boxes.setdefault(split, np.zeros(len(class_ids), np.int64))
        ci = class_images.setdefault(split, np.zeros(len(class_ids), np.int64))
        if len(res.labels):
            dense = np.searchsorted(class_ids, res.labels)
            cb += np.bincount(dense, minlength=len(class_ids))
            ci[np.unique(dense)] += 1

    workers = opts.workers or default_workers()
    balance: dict = {}
    try:
        if not two_pass:
            # One pass: the splits are the source's; every image is checked and
            # written as its result arrives.
            split_of = images["split"].to_numpy()
            order, plan["shards"] = plan_layout(split_of, images["error"].to_numpy() == "", None, sizes, opts)
            job.order = order
            for res in _run(job, workers, opts.progress, len(order), "convert"):
                if account(res):
                    write(res, split_of[res.pos])
            report.extend(duplicate_findings(files, images["split"].to_numpy(), ok, sha, phashes, kept_labels))
        else:
            # Two passes: check every image first (what survives, its classes and
            # hashes), then split and rebalance, then encode (no second decode).
            for res in _run(job, workers, opts.progress, n_images, "check"):
                account(res)
            split_arr = images["split"].to_numpy().astype(object)
            if opts.split is not None:
                split_arr, balance["split"] = _assign_splits(images, ok, sha, phashes, kept_labels, opts, files)
                images["split"] = split_arr
            # Against the splits that will be written (leakage is then impossible after --split).
            report.extend(duplicate_findings(files, split_arr, ok, sha, phashes, kept_labels))
            repeats = None
            if opts.rebalance is not None:
                repeats, balance["rebalance"], dropped = _rebalance(images, ok, kept_labels, split_arr, opts)
                for pos in dropped:  # dropped by --negative-ratio / --max-per-class: counted as skipped
                    ok[pos] = False
                    counts.images_written -= 1
                    counts.images_skipped += 1
                    counts.boxes_written -= len(kept_labels[pos])
                    counts.boxes_dropped += len(kept_labels[pos])
                    report.add(Finding(INFO, "balance.dropped", files[pos], job.annotations[pos],
                                       f"dropped from the train split by rebalancing ({dropped[pos]})",
                                       SKIPPED_IMAGE))
            split_of = images["split"].to_numpy()
            order, plan["shards"] = plan_layout(split_of, ok, repeats, sizes, opts, only_ok=True)
            job.order = order
            job.errors = [e if good else (e or "skipped in the check pass") for e, good in zip(job.errors, ok)]
            job.decode, job.encode = False, True
            for res in _run(job, workers, opts.progress, len(order), "write"):
                if res.framed is None:
                    raise DataprepError(f"{files[res.pos]}: the image changed between the check and the write "
                                        "passes; run again")
                write(res, split_of[res.pos])
        counts.check()
        infos = {key: w.close() for key, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise

    # The source's (or --split's) splits, even one whose images were all skipped.
    splits = [s for s in _split_names(pd.concat([images["split"], pd.Series(list(written), dtype=object)])) if s]

    def split_info(split: str, shards: list) -> dict:
        cb = class_boxes.get(split, np.zeros(len(class_ids), np.int64))
        ci = class_images.get(split, np.zeros(len(class_ids), np.int64))
        return {
            "examples": written.get(split, 0),
            "boxes": int(cb.sum()),
            "shards": shards,
            "classes": {i.name: {"id": i.id, "images": int(ci[k]), "boxes": int(cb[k])}
                        for k, i in enumerate(label_map)},
        }

    if opts.dry_run:
        return ConvertResult(out, {"splits": {s: split_info(s, []) for s in splits}}, report,
                             time.perf_counter() - t0, label_map)
    manifest_splits, shard_paths = publish_shards(out, splits, writers, infos, opts.overwrite, split_info)
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
        **balance,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    report.write(out / "report.json")
    return ConvertResult(out, manifest, report, elapsed, label_map, shard_paths)


def plan_layout(split_col: np.ndarray, ok: np.ndarray, repeats: np.ndarray | None, sizes: np.ndarray,
                opts: ConvertOptions, *, only_ok: bool = False) -> tuple[np.ndarray, dict]:
    """Processing order (positions, a position repeated for its copies) and
    shards per split, for ``convert`` and ``split`` alike.

    Within a split: a seeded permutation (or, for a rebalanced split, the
    seeded layout of its repeats), written round robin over the shards, so
    neighbouring files (frames, one class per folder) and the copies of one
    image spread over every shard. Without ``only_ok``, images already known
    to be skipped are still processed (their findings); they write nothing.
    ``sizes`` (bytes per position) set the default shard count.
    """
    from dataprep.balance import expand_repeats

    rng = np.random.default_rng(opts.seed)
    parts, shards = [], {}
    for split in _split_names(pd.Series(split_col, dtype=object)):
        positions = np.flatnonzero(split_col == split)
        if only_ok:
            positions = positions[ok[positions]]
        if repeats is not None and split == opts.rebalance_split:
            positions = positions[ok[positions]]
            positions = positions[expand_repeats(repeats[positions], seed=opts.seed)]
        else:
            positions = positions[rng.permutation(len(positions))]
        parts.append(positions)
        good = positions[ok[positions]]
        shards[split] = _plan_shards(len(good), int(sizes[good].sum()), opts)
    order = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return order, shards


def _kept_objects(positions: np.ndarray, kept_labels: list) -> tuple[np.ndarray, np.ndarray]:
    """The written boxes of ``positions`` as (image position, label id) columns."""
    labels = [np.asarray(kept_labels[p], dtype=np.int64) for p in positions]
    if not labels:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.fromiter((len(x) for x in labels), dtype=np.int64, count=len(labels))
    return np.repeat(np.asarray(positions, dtype=np.int64), counts), np.concatenate(labels)


def _assign_splits(images, ok, sha, phashes, kept_labels, opts, files):
    """--split: stratified over leakage groups (identical bytes, near-duplicate
    pixels, --group-by key), on the images that passed the checks."""
    from dataprep.balance import groups_from_regex, merge_groups, stratified_split
    from dataprep.validate.duplicates import near_duplicate_clusters

    idx = np.flatnonzero(ok)
    keys = [np.where(ok, sha, None)]
    keys.append(near_duplicate_clusters(phashes, ok))
    if opts.group_by:
        keys.append(groups_from_regex(files, opts.group_by))
    groups = merge_groups(*keys)
    obj_img, obj_cls = _kept_objects(idx, kept_labels)
    result = stratified_split(idx, obj_img, obj_cls, opts.split, groups=groups[idx], seed=opts.seed)
    split_arr = np.full(len(images), "", dtype=object)
    split_arr[idx] = result.assignment
    # Images that were skipped keep their source split so their findings read naturally.
    split_arr[~ok] = images["split"].to_numpy()[~ok]
    info = result.as_dict()
    info.update({"fractions": opts.split, "seed": opts.seed, "group_by": opts.group_by, "log": result.log})
    return split_arr, info


def _rebalance(images, ok, kept_labels, split_arr, opts):
    """--rebalance on the training split only."""
    from dataprep.balance import repeat_factors

    train = np.flatnonzero(ok & (split_arr == opts.rebalance_split))
    obj_img, obj_cls = _kept_objects(train, kept_labels)
    result = repeat_factors(train, obj_img, obj_cls, threshold=opts.repeat_threshold, method=opts.rebalance,
                            max_per_class=opts.max_per_class, negative_ratio=opts.negative_ratio, seed=opts.seed)
    repeats = np.ones(len(images), dtype=np.int64)
    repeats[train] = result.repeats
    dropped = {}
    if len(result.dropped):
        for image_pos, reason in zip(result.dropped["image_id"], result.dropped["reason"]):
            dropped[int(image_pos)] = str(reason)
    info = result.as_dict()
    info.update({"split": opts.rebalance_split, "log": result.log})
    return repeats, info, dropped


def publish_shards(out: Path, splits: list[str], writers: dict, infos: dict, overwrite: bool,
                   describe) -> tuple[dict, list[Path]]:
    """Every shard is complete: give the partial files their final names
    ``{split}-{i:05d}-of-{n:05d}.tfrecord`` (after removing a previous run's
    outputs with ``overwrite``). ``writers``/``infos`` are keyed by (split, shard);
    ``describe(split, shard_entries)`` makes the manifest entry of a split."""
    if overwrite:
        _remove_previous_outputs(out)
    manifest_splits: dict = {}
    shard_paths: list[Path] = []
    for split in splits:
        keys = sorted(k for k in infos if k[0] == split)
        entries = []
        for index, key in enumerate(keys):
            name = SHARD_NAME.format(split=split, index=index, count=len(keys))
            os.replace(writers[key].path, out / name)
            shard_paths.append(out / name)
            entries.append({"file": name, **infos[key]})
        manifest_splits[split] = describe(split, entries)
    return manifest_splits, shard_paths


def _remove_previous_outputs(out: Path) -> None:
    for p in out.iterdir():
        if p.is_file() and (SHARD_RE.match(p.name) or p.name in OUTPUT_FILES):
            p.unlink()
