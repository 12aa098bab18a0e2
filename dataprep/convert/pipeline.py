"""The conversion as named steps: the dataset model in, validated sharded
TFRecords out.

::

    Dataset --check_annotations--> kept boxes
      --executor: process_image (check_image + fit_boxes + encode_example)--> framed records
      --plan_layout (splits, leakage groups, rebalance, shards)-->
      OutputWriter: {split}-{i:05d}-of-{n:05d}.tfrecord + label_map.pbtxt + manifest.json + report.json

Worker processes (forked, so they share the tables without copying) read,
check and encode images; the main process only appends their framed records
to the shard files, so image bytes stream from disk to the shards and are
never all in memory. No TensorFlow is imported.

With the source's splits, one pass checks and writes each image as its
result arrives. ``--split`` and ``--rebalance`` need every image checked
before any is placed: a check pass, the plan, then an encode pass (no second
decode).

Another executor (:class:`dataprep.beam.BeamExecutor`) always runs two
passes: its check pass brings back the small per-image results, the same
planner lays the output out here, and its encode pass writes each planned
shard itself (image bytes never come back to this process), which the same
:class:`OutputWriter` publishes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.convert.executor import Executor, LocalExecutor
from dataprep.convert.layout import (
    account_dropped,
    assign_splits,
    empty_split_findings,
    file_sizes,
    plan_layout,
    rebalance,
)
from dataprep.convert.options import CheckOptions, ConvertOptions
from dataprep.convert.result import ConvertResult
from dataprep.convert.work import ImageResult, Job, make_job
from dataprep.dataset import Dataset, split_names
from dataprep.errors import UsageError
from dataprep.label_map import LabelMap, LabelMapError
from dataprep.locations import is_url, read_bytes
from dataprep.records.output import OutputWriter, SplitCounts
from dataprep.validate.annotations import check_annotations
from dataprep.validate.dataset_findings import dataset_findings
from dataprep.validate.duplicates import duplicate_findings
from dataprep.findings import DROPPED_BOX, ERROR, INFO, KEPT, SKIPPED_IMAGE, SWAPPED, Finding, Report


def validate(ds: Dataset, checks: CheckOptions) -> ConvertResult:
    """Every check of :func:`convert`, nothing written (``dataprep validate``)."""
    return convert(ds, ConvertOptions.for_checks(checks))


def convert(ds: Dataset, opts: ConvertOptions, executor: Executor | None = None) -> ConvertResult:
    """Validate ``ds`` and write it as sharded TFRecords into ``opts.out``;
    ``executor`` runs the per-image work (default: :class:`LocalExecutor`, processes on this machine)."""
    executor = executor or LocalExecutor(opts.workers, opts.progress)
    if opts.dry_run and not executor.streams:
        raise UsageError("a dry run (validate) runs on the local executor only")
    if executor.streams and (is_url(ds.images_root) or is_url(opts.out)):
        raise UsageError(f"{ds.images_root if is_url(ds.images_root) else opts.out}: URLs are read and written "
                         "through Apache Beam's file systems: add --runner beam")
    t0 = time.perf_counter()
    ds.require_images()
    label_map, origin = resolve_label_map(ds, opts.label_map)
    label_map_bytes = label_map_file_bytes(label_map, opts.label_map)  # every input read before OUT is touched
    report = Report(annotated=bool((ds.images["annotation"].astype(str) != "").all()))
    images, objects = check_annotations_step(ds, label_map, opts, report)
    # images inside records are read from the source's store by any executor; else the executor's own, if any
    job = replace(make_job(ds.images_root, images, objects, ds.box_units, opts),
                  store=ds.image_store or executor.store)
    checked = Checked.start(job, report, opts)
    out = None if opts.dry_run else executor.output_writer(opts.out, label_map, opts.compression, opts.overwrite)
    counts = out.counts if out else SplitCounts(label_map)
    try:
        executor.start(out)
        if opts.two_pass:  # --split, --rebalance: every image checked before any is placed
            check_images(job, checked, executor)
            split_of, repeats, balance = plan_splits(images, job, checked, opts, report)
            encode_images(job, split_of, repeats, out, checked, opts, executor)
        else:  # the source's splits
            split_of, balance = images["split"].to_numpy(), {}
            usable = images["error"].to_numpy() == ""
            if executor.streams:  # one pass, each image written as its result arrives
                check_and_write(job, split_of, usable, out, counts, checked, opts, executor)
            else:  # check, then encode
                check_then_write(job, split_of, usable, out, checked, opts, executor)
            report.extend(checked.duplicates(split_of))
        report.counts.check()
        splits = output_splits(split_of, opts.split, counts.examples, report)
        if out is None:
            return ConvertResult(opts.out, {"splits": {s: counts.split_info(s, []) for s in splits}}, report,
                                 time.perf_counter() - t0, label_map)
        manifest = out.publish(splits, label_map_bytes, report, {
            "label_map_origin": origin, "num_classes": len(label_map)}, {
            "counts": asdict(report.counts), "source": ds.source, "options": opts.to_json(), **balance})
        executor.published(manifest)
    except BaseException:
        if out is not None:
            out.abort()
        raise
    finally:
        executor.close()
    return ConvertResult(opts.out, manifest, report, time.perf_counter() - t0, label_map, out.shard_paths)


# -- the steps -----------------------------------------------------------------------

def resolve_label_map(ds: Dataset, path: Path | str | None) -> tuple[LabelMap, str]:
    """--label-map, else the source's categories, else the sorted class names of the data."""
    if path is not None:
        return LabelMap.read(path), str(path)
    if ds.label_map is not None:
        return ds.label_map, f"{ds.source.get('format', 'source')} categories"
    # An empty class name is not a class: its boxes become label.unknown findings.
    names = [t for t in ds.objects["text"].unique().tolist() if t.strip()]
    return LabelMap.from_names(names), "derived from the data (sorted names)"


def label_map_file_bytes(label_map: LabelMap, path: Path | str | None) -> bytes:
    """What OUT/label_map.pbtxt will hold: the user's file as it is, or ours."""
    if path is not None:
        return read_bytes(path)
    try:
        return label_map.to_pbtxt().encode("utf-8")
    except ValueError as exc:  # an id out of the format's int32 range
        ids = ", ".join(str(i.id) for i in label_map if not 0 < i.id < 2**31)
        raise LabelMapError(f"{label_map.source or 'label map'}: ids must be 1..{2**31 - 1} for "
                            f"label_map.pbtxt, got {ids or exc}") from None


def check_annotations_step(ds: Dataset, label_map: LabelMap, opts: ConvertOptions,
                           report: Report) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reader's findings and the annotation checks; the images table with
    ``error`` set for every image already known to be skipped, and the kept boxes."""
    policy = opts.policy
    report.extend(ds.findings)
    policy.check(ds.findings)
    check = check_annotations(ds, label_map)
    report.extend(check.findings)
    policy.check(check.findings)

    images = ds.images.copy()
    if len(check.skip_images):
        hit = images["image_id"].isin(check.skip_images.index)
        images.loc[hit, "error"] = check.skip_images.reindex(images.loc[hit, "image_id"]).to_numpy()
    objs = check.objects
    per_image = objs.groupby("image_id").size().reindex(images["image_id"], fill_value=0).to_numpy()
    if policy.skips_images:
        # Images with a box-level error: found by the checks above, or boxes the
        # reader could not parse at all.
        errored = {f.image for f in check.findings
                   if f.severity == ERROR and f.action in (DROPPED_BOX, SWAPPED) and f.image}
        hit = (images["file"].isin(errored) | (images["reader_dropped"] > 0)) & (images["error"] == "")
        for file, ann in zip(images.loc[hit, "file"], images.loc[hit, "annotation"]):
            report.add(Finding(ERROR, "policy.skipped", file, ann,
                               "skipped because of the annotation errors above (--on-error skip)", SKIPPED_IMAGE,
                               image=file, annotation=ann))
        images.loc[hit, "error"] = "skipped by policy"
    empty = (per_image == 0) & (images["error"] == "").to_numpy()
    for file, ann in zip(images.loc[empty, "file"], images.loc[empty, "annotation"]):
        if opts.drop_empty:
            report.add(Finding(INFO, "image.no_objects", file, ann, "no objects; dropped (--drop-empty)",
                               SKIPPED_IMAGE, image=file, annotation=ann))
        else:
            report.add(Finding(INFO, "image.no_objects", file, ann, "no objects; kept as a negative example", KEPT,
                               image=file, annotation=ann))
    if opts.drop_empty:
        images.loc[empty, "error"] = "no objects (--drop-empty)"

    live = objs["image_id"].isin(images.loc[images["error"] == "", "image_id"])
    by_id = images.set_index("image_id")
    report.extend(dataset_findings(objs[live], by_id["file"], by_id["annotation"]))
    report.counts.images_read = len(images)
    report.counts.boxes_read = len(ds.objects) + ds.dropped_boxes
    report.counts.boxes_dropped = ds.dropped_boxes + check.dropped
    return images, objs


@dataclass
class Checked:
    """What the image checks found, by image position, and the accounting."""

    report: Report
    policy: object
    files: list
    annotations: list
    ok: np.ndarray
    sha: np.ndarray
    phashes: np.ndarray
    kept_labels: list = field(default_factory=list)

    @classmethod
    def start(cls, job: Job, report: Report, opts: ConvertOptions) -> "Checked":
        n = len(job.files)
        return cls(report, opts.policy, job.files, job.annotations, np.zeros(n, dtype=bool),
                   np.full(n, "", dtype=object), np.zeros(n, dtype=np.uint64), [None] * n)

    def account(self, res: ImageResult) -> bool:
        """Findings and accounting for one image's check; True if it is written."""
        self.report.extend(res.findings)
        self.policy.check(res.findings)
        c = self.report.counts
        if res.framed is None:
            c.images_skipped += 1
            c.boxes_dropped += res.boxes_in
            return False
        self.ok[res.pos] = True
        self.sha[res.pos], self.phashes[res.pos], self.kept_labels[res.pos] = res.sha256, res.phash, res.labels
        c.images_written += 1
        c.boxes_written += len(res.labels)
        c.boxes_dropped += res.boxes_in - len(res.labels)
        return True

    def duplicates(self, split_of: np.ndarray) -> list:
        """Identical and near-duplicate images among those written, against ``split_of``."""
        return duplicate_findings(self.files, split_of, self.ok, self.sha, self.phashes, self.kept_labels,
                                  self.annotations)


def check_and_write(job: Job, split_of, usable, out: OutputWriter | None, counts: SplitCounts,
                    checked: Checked, opts: ConvertOptions, executor: Executor) -> None:
    """One pass (the source's splits): check, encode and write each image as
    its result arrives. Images already known to be skipped (not ``usable``)
    are still processed, for their findings; they write nothing."""
    order, shards = plan_layout(split_of, usable, None, file_sizes(job.root, job.files), opts.layout)
    if out is not None:
        out.plan(shards)
    for res in executor.run(replace(job, order=order), "convert"):
        if checked.account(res):
            if out is not None:
                out.add(split_of[res.pos], res.framed, res.labels)
            else:
                counts.add(split_of[res.pos], res.labels)


def check_images(job: Job, checked: Checked, executor: Executor) -> None:
    """The check pass: what survives, its classes and hashes; nothing encoded."""
    for res in executor.run(replace(job, encode=False), "check"):
        checked.account(res)


def plan_splits(images: pd.DataFrame, job: Job, checked: Checked, opts: ConvertOptions,
                report: Report) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """--split and --rebalance on the checked images: split per image, repeats, manifest entries."""
    balance: dict = {}
    split_of = images["split"].to_numpy().astype(object)
    if opts.split is not None:
        split_of, balance["split"] = assign_splits(split_of, checked.ok, checked.sha, checked.phashes,
                                                   checked.kept_labels, opts.balance, job.files)
    # Against the splits that will be written (leakage is then impossible after --split).
    report.extend(checked.duplicates(split_of))
    repeats = None
    if opts.rebalance is not None:
        repeats, balance["rebalance"], dropped = rebalance(checked.ok, checked.kept_labels, split_of, opts.balance)
        account_dropped(dropped, checked.ok, checked.kept_labels, report.counts, report, job.files,
                        job.annotations, opts.rebalance_split)
    return split_of, repeats, balance


def encode_images(job: Job, split_of, repeats, out: OutputWriter, checked: Checked, opts: ConvertOptions,
                  executor: Executor) -> None:
    """The encode pass over the planned order (a repeated image is encoded per copy; no second decode)."""
    sizes = file_sizes(job.root, job.files, job.store, opts.num_shards)
    order, shards = plan_layout(split_of, checked.ok, repeats, sizes, opts.layout, opts.rebalance_split, only_ok=True)
    write_planned(job, order, split_of, shards, out, checked, executor)


def check_then_write(job: Job, split_of, usable, out: OutputWriter, checked: Checked, opts: ConvertOptions,
                     executor: Executor) -> None:
    """The source's splits on an executor that does not stream: the one-pass
    layout, planned before any image is read; the check pass in that order (the
    report reads as the local run's); then the encode pass of the images that
    passed, in their places (the shards are the local run's)."""
    sizes = file_sizes(job.root, job.files, job.store, opts.num_shards)
    order, shards = plan_layout(split_of, usable, None, sizes, opts.layout)
    check_images(replace(job, order=order), checked, executor)
    write_planned(job, order[checked.ok[order]], split_of, shards, out, checked, executor)


def write_planned(job: Job, order, split_of, shards, out: OutputWriter, checked: Checked,
                  executor: Executor) -> None:
    """Encode and write the images of ``order`` into the planned shards (no second decode)."""
    errors = [e if good else (e or "skipped in the check pass") for e, good in zip(job.errors, checked.ok)]
    out.plan(shards)
    executor.write(replace(job, order=order, errors=errors, decode=False, encode=True), split_of, shards, out,
                   checked.kept_labels)


def output_splits(split_of, requested: dict | None, examples: dict, report: Report) -> list[str]:
    """The splits of the output, in order: the source's (or --split's), even
    one whose images were all skipped or that got none (warned about)."""
    report.extend(empty_split_findings(requested, examples))
    return [s for s in split_names(list(split_of) + list(requested or ()) + list(examples)) if s]
