"""Layout planning: which split each image goes to, how often, in which
order, in how many shards. Shared by ``convert``, ``split`` and any executor.

::

    checked images (ok, sha256, perceptual hash, kept labels)
      --assign_splits (--split): leakage groups + stratified split-->  split per image
      --rebalance (--rebalance): repeat factors on the train split-->  copies per image
      --plan_layout: seeded order, round robin over shards-->          order + shards per split

Nothing here reads or writes files; the decisions come back as arrays and
manifest entries with their log lines.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dataprep.balance import (
    expand_repeats,
    groups_from_regex,
    merge_groups,
    repeat_factors,
    stratified_split,
)
from dataprep.convert.options import BalanceOptions, LayoutOptions
from dataprep.dataset import split_names
from dataprep.validate.duplicates import near_duplicate_clusters
from dataprep.findings import INFO, KEPT, SKIPPED_IMAGE, WARNING, Counts, Finding, Report


def plan_shards(n_examples: int, est_bytes: int, num_shards: int | None, shard_target_bytes: int) -> int:
    """Shards of a split: ``num_shards``, else enough for shards near the target size; never more than examples."""
    if n_examples == 0:
        return 0
    n = num_shards or max(1, math.ceil(est_bytes / shard_target_bytes))
    return int(min(n, n_examples))


def file_sizes(root: Path, files: list[str], store=None, num_shards: int | None = None) -> np.ndarray:
    """Bytes per image file (0 when missing): the default shard count.
    ``store``: the job's (``store.sizes(root, files)``: one listing of the
    images folder), when not the local disk; not asked when ``num_shards``
    fixes the count."""
    sizes = np.zeros(len(files), dtype=np.int64)
    if store is not None and num_shards:
        return sizes
    if store is not None:
        sizes[:] = store.sizes(root, files)
        return sizes
    for k, f in enumerate(files):
        try:
            sizes[k] = os.stat(os.path.join(root, f)).st_size
        except (OSError, ValueError):  # missing, or a name no file can have (NUL byte)
            pass
    return sizes


def plan_layout(split_col: np.ndarray, ok: np.ndarray, repeats: np.ndarray | None, sizes: np.ndarray,
                layout: LayoutOptions, rebalance_split: str = "train", *,
                only_ok: bool = False) -> tuple[np.ndarray, dict]:
    """Processing order (positions, a position repeated for its copies) and
    shards per split, for ``convert`` and ``split`` alike.

    Within a split: a seeded permutation (or, for a rebalanced split, the
    seeded layout of its repeats), written round robin over the shards, so
    neighbouring files (frames, one class per folder) and the copies of one
    image spread over every shard. Without ``only_ok``, images already known
    to be skipped are still processed (their findings); they write nothing.
    ``sizes`` (bytes per position) set the default shard count; ``repeats``
    apply to ``rebalance_split``.
    """
    rng = np.random.default_rng(layout.seed)
    parts, shards = [], {}
    for split in split_names(split_col):
        positions = np.flatnonzero(split_col == split)
        if only_ok:
            positions = positions[ok[positions]]
        if repeats is not None and split == rebalance_split:
            positions = positions[ok[positions]]
            positions = positions[expand_repeats(repeats[positions], seed=layout.seed)]
        else:
            positions = positions[rng.permutation(len(positions))]
        parts.append(positions)
        good = positions[ok[positions]]
        shards[split] = plan_shards(len(good), int(sizes[good].sum()), layout.num_shards, layout.shard_target_bytes)
    order = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return order, shards


def kept_objects(positions: np.ndarray, kept_labels: list) -> tuple[np.ndarray, np.ndarray]:
    """The written boxes of ``positions`` as (image position, label id) columns."""
    labels = [np.asarray(kept_labels[p], dtype=np.int64) for p in positions]
    if not labels:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.fromiter((len(x) for x in labels), dtype=np.int64, count=len(labels))
    return np.repeat(np.asarray(positions, dtype=np.int64), counts), np.concatenate(labels)


def assign_splits(source_split: np.ndarray, ok, sha, phashes, kept_labels, opts: BalanceOptions,
                  files) -> tuple[np.ndarray, dict]:
    """--split: stratified over leakage groups (identical bytes, near-duplicate
    pixels, --group-by key), on the images that passed the checks. Returns the
    split per position and the manifest's ``split`` entry."""
    idx = np.flatnonzero(ok)
    keys = [np.where(ok, sha, None)]
    keys.append(near_duplicate_clusters(phashes, ok))
    if opts.group_by:
        keys.append(groups_from_regex(files, opts.group_by))
    groups = merge_groups(*keys)
    obj_img, obj_cls = kept_objects(idx, kept_labels)
    result = stratified_split(idx, obj_img, obj_cls, opts.split, groups=groups[idx], seed=opts.seed)
    split_arr = np.full(len(source_split), "", dtype=object)
    split_arr[idx] = result.assignment
    # Images that were skipped keep their source split so their findings read naturally.
    split_arr[~ok] = np.asarray(source_split, dtype=object)[~ok]
    info = result.as_dict()
    info.update({"fractions": opts.split, "seed": opts.seed, "group_by": opts.group_by, "log": result.log})
    return split_arr, info


def rebalance(ok, kept_labels, split_arr, opts: BalanceOptions) -> tuple[np.ndarray, dict, dict]:
    """--rebalance on the training split only: repeats per position, the
    manifest's ``rebalance`` entry, and {position: why} of the images dropped."""
    train = np.flatnonzero(ok & (split_arr == opts.rebalance_split))
    obj_img, obj_cls = kept_objects(train, kept_labels)
    result = repeat_factors(train, obj_img, obj_cls, threshold=opts.repeat_threshold, method=opts.rebalance,
                            max_per_class=opts.max_per_class, negative_ratio=opts.negative_ratio, seed=opts.seed)
    repeats = np.ones(len(split_arr), dtype=np.int64)
    repeats[train] = result.repeats
    dropped = {}
    if len(result.dropped):
        for image_pos, reason in zip(result.dropped["image_id"], result.dropped["reason"]):
            dropped[int(image_pos)] = str(reason)
    info = result.as_dict()
    info.update({"split": opts.rebalance_split, "log": result.log})
    return repeats, info, dropped


def account_dropped(dropped: dict, ok: np.ndarray, kept_labels: list, counts: Counts, report: Report,
                    files: list, annotations: list, split: str) -> None:
    """Images rebalancing dropped (--negative-ratio, --max-per-class) are
    skipped images: counted, and each a ``balance.dropped`` finding."""
    for pos, reason in dropped.items():
        ok[pos] = False
        counts.images_written -= 1
        counts.images_skipped += 1
        counts.boxes_written -= len(kept_labels[pos])
        counts.boxes_dropped += len(kept_labels[pos])
        report.add(Finding(INFO, "balance.dropped", files[pos], annotations[pos],
                           f"dropped from the {split} split by rebalancing ({reason})", SKIPPED_IMAGE,
                           image=files[pos], annotation=annotations[pos]))


def empty_split_findings(requested: dict | None, examples: dict) -> list:
    """A split ``--split`` asked for that got no example: a warning (it is still
    listed, with 0 examples, in the manifest and the summary)."""
    if not requested:
        return []
    total = sum(examples.values())
    return [Finding(WARNING, "split.empty", split, "",
                    f"--split asked for {fraction:g} of the images, but no example was assigned to it "
                    f"({total} examples in all); listed with 0 examples", KEPT, value=split)
            for split, fraction in requested.items() if examples.get(split, 0) == 0]
