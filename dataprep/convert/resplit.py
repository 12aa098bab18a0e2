"""Re-split an existing dataprep output without re-reading the original images.

::

    OUT/manifest.json + shards --pass 1: scan--> per example: (shard, offset), labels, filename,
        source_id, sha256, perceptual hash
      --collapse repeated copies--> leakage groups + stratified split (+ repeat factors on train)
      --pass 2: copy--> NEW/{split}-{i:05d}-of-{n:05d}.tfrecord (serialized bytes unchanged)
        + label_map.pbtxt (copied) + manifest.json + report.json

Pass 1 streams every record of the source output (TensorFlow-free: the
RecordSet and framing of :mod:`dataprep.records` and a parse of the
few features the split needs) and decodes each image once, draft-mode grey as
the conversion's check does, for its perceptual hash. Pass 2 copies each
record's serialized bytes into the new shards in a seeded order, round robin,
exactly as ``convert`` lays them out, so the new output reads like one
``dataprep convert --split`` would have written; only the split and the order
change. A gzip source shard is decompressed once into a hidden spool file in
NEW (pass 2 needs random access) and removed at the end.

A source output whose train split was rebalanced holds several copies of some
examples; they are collapsed to one per (``image/source_id``,
``image/key/sha256``) before splitting, so a copy can neither leak into
another split nor skew the stratification.

The decisions (groups, stratification, repeat factors, shard layout) are the
conversion's own (:mod:`dataprep.convert.layout`), and the new output is
written by the conversion's writer (:class:`dataprep.records.output.OutputWriter`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tempfile
import time
import zlib
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import google_crc32c
from google.protobuf.message import DecodeError
import numpy as np
import pandas as pd
from PIL import Image

from dataprep.convert.layout import account_dropped, assign_splits, empty_split_findings, plan_layout, rebalance
from dataprep.convert.options import ConvertOptions, SplitOptions
from dataprep.dataset import split_names
from dataprep.errors import DataprepError, UsageError
from dataprep.label_map import LabelMap
from dataprep.parallel import default_workers, process_pool
from dataprep.progress import progress_bar
from dataprep.records.output import SPOOL_PREFIX, OutputWriter
from dataprep.records.example import parse_features
from dataprep.records.recordset import RecordSet
from dataprep.records.framing import HEADER_BYTES, RecordError, frame, framed_size, is_gzip, scan_records
from dataprep.validate.catalogue import COLLAPSED
from dataprep.validate.duplicates import duplicate_findings, phash
from dataprep.findings import INFO, KEPT, WARNING, Counts, Finding, Report



def is_records_output(path: str | Path) -> bool:
    """Whether ``path`` is a dataprep output folder (it has a manifest.json)."""
    path = Path(path)
    return path.is_dir() and (path / "manifest.json").is_file()


@dataclass
class ResplitResult:
    out: Path
    manifest: dict
    report: Report
    seconds: float
    label_map: LabelMap
    shards: list[Path] = field(default_factory=list)
    #: What was decided, for the user: collapsed copies, then the split's and the rebalancing's log lines.
    log: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        c = self.report.counts
        m = self.manifest
        src = m["source"]
        lines = [
            f"Wrote {self.out} (re-split of {src['path']}; no image re-read)",
            f"  records  {src['records']} read, {src['examples']} distinct examples"
            f" ({src['collapsed_copies']} repeated copies collapsed)",
            f"  images   {c.images_read} examples, {c.images_written} written, "
            f"{c.images_skipped} dropped by rebalancing",
            f"  boxes    {c.boxes_read} read, {c.boxes_written} written, {c.boxes_dropped} dropped",
            f"  classes  {len(self.label_map)} ({', '.join(self.label_map.names[:8])}"
            f"{', ...' if len(self.label_map) > 8 else ''})",
        ]
        for split, s in m["splits"].items():
            lines.append(f"  {split:8} {s['examples']} examples, {s['boxes']} boxes in {len(s['shards'])} shard(s)")
        sev = self.report.by_severity()
        lines.append(f"  findings {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info (report.json)")
        lines.append(f"  time     {self.seconds:.1f} s")
        return lines


# -- pass 1: scan the source shards, in worker processes -----------------------

@dataclass
class _Shard:
    """What pass 1 learnt from one source shard: one entry per record."""

    split: str
    file: str
    #: The uncompressed TFRecord file pass 2 reads (the shard, or its spool copy).
    readable: Path
    offsets: list = field(default_factory=list)
    lengths: list = field(default_factory=list)
    crcs: list = field(default_factory=list)
    filenames: list = field(default_factory=list)
    source_ids: list = field(default_factory=list)
    sha256: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    phashes: list = field(default_factory=list)
    findings: list = field(default_factory=list)


#: The features pass 1 reads of each record.
_SCAN_KEYS = ("image/filename", "image/encoded", "image/key/sha256", "image/source_id", "image/object/class/label")


def _first(features: dict, key: str):
    values = features.get(key)
    return values[0] if values else None


def _image_phash(data: bytes, max_pixels: int) -> tuple[int, str]:
    """Perceptual hash of encoded image bytes, decoded as the conversion's check
    decodes them (a JPEG in draft-mode grey at 1/8 scale); ``(0, why)`` if it
    cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width * height > max_pixels:
                return 0, f"{width}x{height} pixels is over --max-pixels {max_pixels:,}; not decoded"
            if im.format == "JPEG" and im.mode in ("RGB", "L"):
                im.draft("L", (max(32, width // 8), max(32, height // 8)))  # >= 32 px for the hash
            im.load()
            return phash(im), ""
    except Exception as exc:  # Pillow raises many types for non-images
        return 0, f"{type(exc).__name__}: {exc}"


def _scan_shard(task: tuple[str, Path, str, Path | None, int]) -> _Shard:
    split, path, file, spool, max_pixels = task
    readable = path
    if is_gzip(path):  # pass 2 needs random access: decompress once
        try:
            with gzip.open(path, "rb") as src, open(spool, "wb") as dst:
                shutil.copyfileobj(src, dst, 2**20)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise RecordError(f"{path}: the gzip stream is corrupt ({exc})") from None
        readable = spool
    shard = _Shard(split, file, readable)
    try:
        return _scan_records(shard, readable, file, max_pixels)
    except RecordError as exc:
        if readable == path:
            raise
        # Name the user's file, not our decompressed copy.
        raise RecordError(str(exc).replace(str(readable), f"{path} (decompressed)")) from None


def _scan_records(shard: "_Shard", readable: Path, file: str, max_pixels: int) -> "_Shard":
    for k, rec in enumerate(scan_records(readable, strict=True)):
        data = rec.data
        try:
            features, _ = parse_features(data, _SCAN_KEYS)
        except DecodeError as exc:
            raise RecordError(f"{readable}: record {k} is not a tf.train.Example ({exc})") from None
        filename = (_first(features, "image/filename") or b"").decode("utf-8", "replace")
        encoded = _first(features, "image/encoded") or b""
        sha = (_first(features, "image/key/sha256") or b"").decode("ascii", "replace")
        if not sha:
            sha = hashlib.sha256(encoded).hexdigest()
        labels = np.fromiter(features.get("image/object/class/label", ()), dtype=np.int64)
        h, why = _image_phash(encoded, max_pixels) if encoded else (0, "no image/encoded")
        if why:
            shard.findings.append(Finding(
                WARNING, "image.undecodable", filename or f"record {k}", file,
                f"record {k}: the image does not decode ({why}); copied as is, but not compared with other "
                "images for near-duplicates", KEPT, image=filename or f"record {k}", annotation=f"{file} record {k}"))
        shard.offsets.append(rec.offset)
        shard.lengths.append(len(data))
        shard.crcs.append(google_crc32c.value(data))
        shard.filenames.append(filename)
        shard.source_ids.append((_first(features, "image/source_id") or b"").decode("utf-8", "replace"))
        shard.sha256.append(sha)
        shard.labels.append(labels)
        shard.phashes.append(h)
    return shard


def _scan(tasks: list, workers: int, progress: bool, total: int) -> list[_Shard]:
    """Pass 1 over every shard, in the manifest's order (one shard per task)."""
    bar = progress_bar(total, "scan", "rec", progress)
    shards = []
    try:
        if workers <= 1 or len(tasks) <= 1:
            results = map(_scan_shard, tasks)
            for shard in results:
                bar.update(len(shard.offsets))
                shards.append(shard)
        else:
            with process_pool(min(workers, len(tasks))) as pool:
                for shard in pool.imap(_scan_shard, tasks):
                    bar.update(len(shard.offsets))
                    shards.append(shard)
    finally:
        bar.close()
    return shards


# -- the re-split --------------------------------------------------------------

def resplit(src: str | Path, opts: SplitOptions | ConvertOptions) -> ResplitResult:
    """Re-split the records of the dataprep output ``src`` into ``opts.out``.

    ``opts`` (:class:`SplitOptions`): ``split`` (required), the layout and
    balance options, ``overwrite``, ``workers`` (pass 1, one shard per task),
    ``max_pixels`` and ``progress``. :class:`ConvertOptions` are accepted for
    convenience; the options about reading and checking a source do not apply
    to records, and ``label_map`` is refused.
    """
    t0 = time.perf_counter()
    src = Path(src)
    if isinstance(opts, ConvertOptions):
        if opts.label_map is not None:
            raise UsageError(f"--label-map applies to annotation sources; the records in {src} keep their label map")
        opts = opts.for_split()
    if opts.split is None:
        raise UsageError("dataprep split needs --split, e.g. --split train=0.8,val=0.1,test=0.1")
    if not is_records_output(src):
        raise UsageError(f"{src}: no manifest.json; expected a dataprep output folder")
    if opts.out.resolve() == src.resolve():
        raise UsageError(f"--out {opts.out} is the source folder {src}; write the new split to another folder")
    records = RecordSet.find(src)
    manifest_in = records.manifest  # untrusted: split and shard names are plain names
    label_map_path = records.label_map_path() or src / manifest_in.get("label_map", "label_map.pbtxt")
    if not label_map_path.is_file():
        raise DataprepError(f"{label_map_path}: missing; the records' label map is needed to count the classes")
    label_map_bytes = label_map_path.read_bytes()
    label_map = LabelMap.read(label_map_path)
    src_splits = manifest_in.get("splits") or {}
    for f in records.files:
        if not f.path.is_file():
            raise DataprepError(f"{f.path}: listed in {src / 'manifest.json'} (split {f.split!r}) "
                                "but missing; run dataprep inspect on the source")
    out = OutputWriter(opts.out, label_map, opts.compression, opts.overwrite)  # every input read: OUT now
    report = Report()
    log: list[str] = []
    try:
        spool_dir = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX, dir=opts.out))
        try:
            shards, table = _scan_source(records, spool_dir, opts, report)
            unique, log_dedupe = _collapse_copies(table, report)
            log.extend(log_dedupe)
            _check_labels(unique, out.counts.class_ids)
            split_arr, ok, repeats, balance = _plan_splits(unique, opts, report, log)
            # Pass 2: copy the records into the new shards, laid out exactly as convert lays them out.
            record_bytes = framed_size(unique["length"].to_numpy())
            order, plan = plan_layout(split_arr, ok, repeats, record_bytes, opts.layout, opts.rebalance_split,
                                      only_ok=True)
            out.plan(plan)
            _copy(order, split_arr[order], unique, shards, out, opts)
        finally:
            shutil.rmtree(spool_dir, ignore_errors=True)
        splits = split_names(list(opts.split) + list(split_arr[ok]))
        report.extend(empty_split_findings(opts.split, out.counts.examples))
        manifest = out.publish(splits, label_map_bytes, report, {
            "label_map_origin": f"copied from {label_map_path}",
            "num_classes": len(label_map),
        }, {
            "counts": asdict(report.counts),
            "source": {
                "format": "records",
                "path": str(src),
                "splits": {s: int(i.get("examples", 0)) for s, i in src_splits.items()},
                "records": int(len(table)),
                "examples": int(len(unique)),
                "collapsed_copies": int(len(table) - len(unique)),
                "rebalanced": "rebalance" in manifest_in,
                "original": manifest_in.get("source", {}),
            },
            "options": opts.to_json(),
            **balance,
        })
    except BaseException:
        out.abort()
        raise
    return ResplitResult(opts.out, manifest, report, time.perf_counter() - t0, label_map, out.shard_paths, log)


def _scan_source(records: RecordSet, spool_dir: Path, opts: ConvertOptions,
                 report: Report) -> tuple[list[_Shard], pd.DataFrame]:
    """Pass 1: every record of every shard, in the manifest's order."""
    tasks = [(f.split, f.path, f.name, spool_dir / f"{k:05d}.tfrecord", opts.max_pixels)
             for k, f in enumerate(records.files)]
    listed = {shard["file"]: int(shard.get("examples", 0))
              for info in records.manifest["splits"].values() for shard in info.get("shards", [])}
    shards = _scan(tasks, opts.workers or default_workers(), opts.progress, sum(listed.values()))
    for shard in shards:
        report.extend(shard.findings)
        if len(shard.offsets) != listed[shard.file]:
            report.add(Finding(WARNING, "records.count_mismatch", shard.file, shard.file,
                               f"{len(shard.offsets)} records, but the source manifest says "
                               f"{listed[shard.file]}; every record read is used", KEPT, annotation=shard.file,
                               value=[len(shard.offsets), listed[shard.file]]))
    return shards, _records_table(shards)


def _plan_splits(unique: pd.DataFrame, opts: ConvertOptions, report: Report, log: list):
    """Split and rebalance with the conversion's own functions; the accounting."""
    n = len(unique)
    files = unique["filename"].tolist()
    sha = unique["sha256"].to_numpy(dtype=object)
    phashes = unique["phash"].to_numpy(dtype=np.uint64)
    kept_labels = unique["labels"].tolist()
    ok = np.ones(n, dtype=bool)
    balance: dict = {}
    split_arr, balance["split"] = assign_splits(unique["source_split"].to_numpy(dtype=object), ok, sha, phashes,
                                                kept_labels, opts.balance, files)
    log.extend(balance["split"]["log"])
    repeats = None
    counts = Counts(images_read=n, images_written=n, boxes_read=int(sum(len(x) for x in kept_labels)))
    counts.boxes_written = counts.boxes_read
    if opts.rebalance is not None:
        repeats, balance["rebalance"], dropped = rebalance(ok, kept_labels, split_arr, opts.balance)
        log.extend(balance["rebalance"]["log"])
        account_dropped(dropped, ok, kept_labels, counts, report, files, unique["file"].astype(str).tolist(),
                        opts.rebalance_split)
    counts.check()
    report.counts = counts
    # Duplicates as they stand in the new output (groups keep them on one side).
    report.extend(duplicate_findings(files, split_arr, ok, sha, phashes, kept_labels,
                                     unique["file"].astype(str).tolist()))
    return split_arr, ok, repeats, balance


def _records_table(shards: list[_Shard]) -> pd.DataFrame:
    """One row per source record, in reading order."""
    def cat(attr, dtype=None):
        values = [v for s in shards for v in getattr(s, attr)]
        return np.asarray(values, dtype=dtype) if dtype is not None else values

    labels = cat("labels")
    return pd.DataFrame({
        "shard": np.concatenate([np.full(len(s.offsets), k, np.int64) for k, s in enumerate(shards)])
        if shards else np.zeros(0, np.int64),
        "source_split": [s.split for s in shards for _ in s.offsets],
        "file": [s.file for s in shards for _ in s.offsets],
        "offset": cat("offsets", np.int64),
        "length": cat("lengths", np.int64),
        "crc": cat("crcs", np.int64),
        "filename": cat("filenames"),
        "source_id": cat("source_ids"),
        "sha256": cat("sha256"),
        "labels": pd.Series(labels, dtype=object),
        "phash": cat("phashes", np.uint64),
    })


def _collapse_copies(table: pd.DataFrame, report: Report) -> tuple[pd.DataFrame, list[str]]:
    """Keep the first record of each (source_id, sha256); the rest are copies
    written by rebalancing. Copies whose bytes differ are reported."""
    if table.empty:
        return table.reset_index(drop=True), []
    key = table.groupby(["source_id", "sha256"], sort=False).ngroup().to_numpy()
    first = ~pd.Series(key).duplicated(keep="first").to_numpy()
    if first.all():
        return table.reset_index(drop=True), []
    first_row = np.zeros(int(key.max()) + 1, np.int64)
    first_row[key[first]] = np.flatnonzero(first)
    ref = first_row[key]
    length, crc = table["length"].to_numpy(), table["crc"].to_numpy()
    differ = (length != length[ref]) | (crc != crc[ref])
    for k in np.flatnonzero(differ):
        r = ref[k]
        report.add(Finding(WARNING, "records.conflicting_copies", table["filename"].iat[k], table["file"].iat[k],
                           f"same image/source_id {table['source_id'].iat[k]} and image/key/sha256 as a record of "
                           f"{table['file'].iat[r]}, but the records differ; the first one is kept", COLLAPSED,
                           image=table["filename"].iat[k], annotation=table["file"].iat[k]))
    log = []
    splits = table["source_split"].to_numpy()
    for split in pd.unique(splits):
        in_split = splits == split
        copies = int((in_split & ~first).sum())
        if copies:
            kept = int((in_split & first).sum())
            line = (f"dedupe: split {split!r} of the source holds {int(in_split.sum())} records, {copies} of them "
                    f"repeated copies (a rebalanced split); collapsed to one record per (source_id, sha256) "
                    f"before re-splitting: {kept} examples")
            log.append(line)
            report.add(Finding(INFO, "records.repeated_copies", str(split), str(split), line[len("dedupe: "):],
                               COLLAPSED, value=copies))
    return table.loc[first].reset_index(drop=True), log


def _check_labels(unique: pd.DataFrame, class_ids: np.ndarray) -> None:
    """Every class/label of the records must be in the label map copied with them."""
    per_example = unique["labels"].tolist()
    if not per_example:
        return
    labels = np.concatenate(per_example)
    bad = np.flatnonzero(~np.isin(labels, class_ids))
    if len(bad):
        owner = np.repeat(np.arange(len(per_example)), [len(x) for x in per_example])[bad[0]]
        ids = ", ".join(map(str, class_ids[:12].tolist())) + (", ..." if len(class_ids) > 12 else "")
        raise DataprepError(
            f"{unique['file'].iat[owner]}: {unique['filename'].iat[owner]}: class label {int(labels[bad[0]])} is "
            f"not in the source's label map (ids: {ids}); the records and label_map.pbtxt disagree")


def _copy(order, split_of, unique, shards, out: OutputWriter, opts) -> None:
    """Pass 2: each planned record's serialized bytes, framed, into its shard."""
    shard_idx = unique["shard"].to_numpy()
    offsets = unique["offset"].to_numpy()
    lengths = unique["length"].to_numpy()
    labels = unique["labels"].tolist()
    handles: dict[int, object] = {}
    bar = progress_bar(len(order), "write", "rec", opts.progress)
    try:
        for pos, split in zip(order.tolist(), split_of.tolist()):
            s = int(shard_idx[pos])
            f = handles.get(s)
            if f is None:
                f = handles[s] = open(shards[s].readable, "rb")
            f.seek(int(offsets[pos]))
            length = int(lengths[pos])
            raw = f.read(framed_size(length))
            framed = frame(raw[HEADER_BYTES:HEADER_BYTES + length])
            if framed != raw:
                raise DataprepError(f"{shards[s].file}: the record at byte {int(offsets[pos])} changed between the "
                                    "scan and the copy; run again")
            out.add(split, framed, labels[pos])
            bar.update(1)
    finally:
        bar.close()
        for f in handles.values():
            f.close()
