"""Multi-label stratified splitting of images, at the level of leakage groups.

``--split train=0.8,val=0.1,test=0.1 --seed N`` assigns every image to one
split so that each class's share of the boxes in each split is close to its
share overall, while images that must stay together (byte-identical or
near-duplicate images, frames of one video: see :mod:`dataprep.balance.groups`)
never straddle two splits. The algorithm is iterative stratification
(Sechidis, Tsoumakas & Vlahavas, ECML-PKDD 2011) with a group as the unit and
box counts per class as its labels.

Pure functions over columns of the dataset tables: nothing here reads files,
logs or changes a :class:`~dataprep.dataset.Dataset`; the decisions come back
as data (:class:`SplitResult`) for the caller to apply, log and record in the
manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from dataprep.errors import UsageError
from dataprep.options import (  # noqa: F401  (--split is parsed where it is declared)
    FRACTION_TOLERANCE, SPLIT_NAME_RE, check_fractions, parse_split_spec)

#: Label weights: boxes per class, or images containing the class.
WEIGHTS = ("boxes", "images")


# ------------------------------------------------------------- column helpers
def object_positions(image_ids: np.ndarray, object_image_ids: np.ndarray) -> np.ndarray:
    """Row of each object's image in ``image_ids`` (``int64``); raises ``ValueError`` for unknown ids."""
    image_ids = np.asarray(image_ids)
    object_image_ids = np.asarray(object_image_ids)
    if image_ids.ndim != 1 or object_image_ids.ndim != 1:
        raise ValueError("image ids and object image ids must be one-dimensional")
    index = pd.Index(image_ids)
    if index.has_duplicates:
        raise ValueError(f"image ids must be unique; duplicated: {index[index.duplicated()].unique()[:5].tolist()}")
    pos = index.get_indexer(object_image_ids).astype(np.int64)
    if (pos < 0).any():
        missing = pd.unique(object_image_ids[pos < 0])[:5].tolist()
        raise ValueError(f"{int((pos < 0).sum())} objects refer to image ids not in image_ids, e.g. {missing}")
    return pos


def class_codes(object_classes: np.ndarray, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """``(names, codes)``: the sorted class names and each object's index into them."""
    classes = np.asarray(object_classes)
    if classes.shape != (n_objects,):
        raise ValueError(f"object_classes must have one entry per object ({n_objects}), got shape {classes.shape}")
    if n_objects == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    names, codes = np.unique(classes, return_inverse=True)
    return names, codes.astype(np.int64).reshape(-1)


def _group_codes(groups: np.ndarray | None, n: int) -> np.ndarray:
    """Group keys -> ``0..G-1`` in order of first appearance; a missing key is a group of its own."""
    if groups is None:
        return np.arange(n, dtype=np.int64)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have one entry per image ({n}), got shape {groups.shape}")
    codes, uniques = pd.factorize(groups, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    lone = codes < 0
    codes[lone] = len(uniques) + np.arange(int(lone.sum()))
    return codes


# ----------------------------------------------------------------- the result
@dataclass
class SplitResult:
    """What :func:`stratified_split` decided.

    ``assignment``: the split name of each image, aligned with the ``image_ids`` given.
    ``per_class``: one row per class (index ``class``): ``boxes`` and ``share``
    (of all boxes) overall, and per split ``boxes_{s}``, ``share_{s}`` (the
    class's share of the boxes in split ``s``, to compare with ``share``) and
    ``part_{s}`` (the fraction of the class's boxes that went to ``s``).
    ``splits``: one row per split: ``target`` fraction, ``images``, ``fraction``
    of images, ``groups``, ``boxes``, ``negatives`` (images without objects).
    ``log``: one line per decision, per class.
    """

    assignment: np.ndarray
    per_class: pd.DataFrame
    splits: pd.DataFrame
    log: list[str]
    fractions: dict[str, float]
    seed: int
    weight: str
    num_groups: int

    def as_dict(self) -> dict:
        """JSON-ready summary for the manifest: options, seed and per-class counts per split."""
        names = list(self.fractions)
        return {
            "method": "iterative-stratification",
            "fractions": dict(self.fractions),
            "seed": int(self.seed),
            "weight": self.weight,
            "groups": int(self.num_groups),
            "splits": {
                s: {col: (float(v) if col in ("target", "fraction") else int(v))
                    for col, v in self.splits.loc[s].items()}
                for s in names
            },
            "per_class": {
                str(c): {"boxes": int(self.per_class.at[c, "boxes"]),
                         **{s: int(self.per_class.at[c, f"boxes_{s}"]) for s in names}}
                for c in self.per_class.index
            },
        }


# ----------------------------------------------------------------- the split
def stratified_split(
    image_ids: np.ndarray,
    object_image_ids: np.ndarray,
    object_classes: np.ndarray,
    fractions: Mapping[str, float],
    *,
    groups: np.ndarray | None = None,
    seed: int = 0,
    weight: str = "boxes",
) -> SplitResult:
    """Assign images to splits by iterative stratification over groups.

    ``image_ids``: the ``images`` table's ``image_id`` column; ``object_image_ids``
    and ``object_classes``: the ``objects`` table's ``image_id`` and ``text``
    (or label) columns. ``groups``: one key per image (any hashable; ``NaN`` /
    ``None`` = a group of its own), e.g. from :func:`~dataprep.balance.groups.merge_groups`;
    the images of a group always land in the same split. ``weight="boxes"``
    stratifies the number of boxes of each class, ``"images"`` the number of
    images containing it. Images without objects are stratified as one more
    class, so each split receives its fraction of them. Deterministic for a
    given ``seed``: ties are broken by a ``numpy`` generator, sorts are stable.
    """
    fractions = check_fractions(fractions)
    if weight not in WEIGHTS:
        raise UsageError(f"split weight must be one of {', '.join(WEIGHTS)}; got {weight!r}")
    image_ids = np.asarray(image_ids)
    n = len(image_ids)
    obj_pos = object_positions(image_ids, object_image_ids)
    names, obj_cls = class_codes(object_classes, len(obj_pos))
    gid = _group_codes(groups, n)
    num_groups = int(gid.max()) + 1 if n else 0
    split_names = list(fractions)
    r = np.array([fractions[s] for s in split_names], dtype=np.float64)
    n_cls = len(names)
    neg_label = n_cls  # the pseudo-class "no objects"
    width = n_cls + 1
    rng = np.random.default_rng(seed)

    # Label weights w[g, l]: boxes (or images) of class l in group g, and the
    # number of images without objects in g under the pseudo-class; kept sparse
    # as (group, label, weight) triples sorted by group, then label.
    has_obj = np.bincount(obj_pos, minlength=n) > 0
    if weight == "boxes":
        keys = obj_pos * width + obj_cls
    else:
        keys = np.unique(obj_pos * width + obj_cls)  # one per (image, class)
    neg_pos = np.flatnonzero(~has_obj)
    pair_keys = np.concatenate([gid[keys // width] * width + keys % width, gid[neg_pos] * width + neg_label])
    pair_keys, pair_w = np.unique(pair_keys.astype(np.int64), return_counts=True)
    pair_g, pair_l = pair_keys // width, pair_keys % width
    pair_w = pair_w.astype(np.int64)
    g_ptr = np.searchsorted(pair_g, np.arange(num_groups + 1), side="left")
    by_label = np.argsort(pair_l, kind="stable")
    l_ptr = np.searchsorted(pair_l[by_label], np.arange(width + 1), side="left")
    group_size = np.bincount(gid, minlength=num_groups).astype(np.float64)
    total_w = np.bincount(pair_l, weights=pair_w, minlength=width).astype(np.int64)

    # [1] Iterative stratification, Sechidis, Tsoumakas & Vlahavas, "On the
    #     Stratification of Multi-Label Data", ECML-PKDD 2011, Algorithm 1,
    #     with a group as the example and its per-class box counts w[g, i] as labels:
    #       c_j^i = r_j * |D^i|     desired weight of label i in split j
    #       c_j   = r_j * |D|       desired images of split j
    #     repeat until every group is placed:
    #       l = the label with the least remaining weight (> 0), ties at random
    #       for each unplaced group g holding l:
    #         m = the split chosen by [2];  place g in m
    #         c_m^i -= w[g, i] for every label i;  c_m -= |g|
    # [2] Split choice. The paper takes m = argmax_j c_j^l (ties: argmax_j c_j).
    #     A group (frames of a video) carries many boxes of several classes,
    #     and placing it by label l alone overfills the splits in its other
    #     classes (5 pp share deviations on 5-frame groups against 1.5 pp). So
    #     we take the split whose chi-square distance to its targets, over all
    #     of g's labels and its image count, decreases most:
    #       m = argmax_j  sum_i w[g,i] (2 c_j^i - w[g,i]) / (r_j |D^i|)
    #                     + |g| (2 c_j - |g|) / (r_j |D|),          ties at random,
    #     and place the groups of label l heaviest in l first (ties at random),
    #     so large groups go while the deficits can absorb them and small ones
    #     fill what is left.
    placed = _place_groups(r, n, total_w, pair_g, pair_l, pair_w, g_ptr, by_label, l_ptr, group_size, rng)

    split_of_image = placed[gid] if n else np.zeros(0, dtype=np.int64)
    assignment = np.asarray(split_names, dtype=object)[split_of_image] if n else np.zeros(0, dtype=object)
    per_class, splits = _tables(names, split_names, r, obj_cls, split_of_image[obj_pos], split_of_image, has_obj, gid)
    log = _log_lines(per_class, splits, fractions, n, num_groups, gid, weight, seed)
    return SplitResult(
        assignment=assignment,
        per_class=per_class,
        splits=splits,
        log=log,
        fractions=fractions,
        seed=int(seed),
        weight=weight,
        num_groups=num_groups,
    )


def _place_groups(r, n, total_w, pair_g, pair_l, pair_w, g_ptr, by_label, l_ptr, group_size, rng) -> np.ndarray:
    """The loop of [1] and [2]; returns the split index of each group.

    One group at a time by nature (each placement changes the deficits the
    next one sees), so the inner loop runs on Python floats over the few
    (split, label) cells a group touches rather than on small numpy arrays.
    """
    k, width, num_groups = len(r), len(total_w), len(g_ptr) - 1
    need = [(fraction * total_w.astype(np.float64)).tolist() for fraction in r]  # c_j^i
    inv_norm = [(1.0 / (fraction * np.maximum(total_w, 1).astype(np.float64))).tolist() for fraction in r]
    need_img = [float(fraction * n) for fraction in r]  # c_j
    inv_norm_img = [1.0 / (float(fraction) * max(n, 1)) for fraction in r]
    remaining = total_w.astype(np.int64).copy()
    placed = np.full(num_groups, -1, dtype=np.int64)
    group_tiebreak = rng.random(num_groups)
    label_tiebreak = rng.random(width)
    labels_of, weights_of, ptr = pair_l.tolist(), pair_w.astype(np.float64).tolist(), g_ptr.tolist()
    sizes = group_size.tolist()
    splits = range(k)
    while True:
        active = np.flatnonzero(remaining > 0)
        if active.size == 0:
            break
        label = int(active[np.lexsort((label_tiebreak[active], remaining[active]))[0]])
        rows = by_label[l_ptr[label]:l_ptr[label + 1]]
        cand_g, cand_w = pair_g[rows], pair_w[rows]
        todo = placed[cand_g] < 0
        cand_g, cand_w = cand_g[todo], cand_w[todo]
        order = cand_g[np.lexsort((group_tiebreak[cand_g], -cand_w))]
        choice = np.empty(len(order), dtype=np.int64)
        for pos, g in enumerate(order.tolist()):
            cells = range(ptr[g], ptr[g + 1])
            size = sizes[g]
            best, best_score = [], -math.inf
            for j in splits:
                need_j, inv_j = need[j], inv_norm[j]
                score = size * (2.0 * need_img[j] - size) * inv_norm_img[j]
                for q in cells:
                    w = weights_of[q]
                    score += w * (2.0 * need_j[labels_of[q]] - w) * inv_j[labels_of[q]]
                if score > best_score:
                    best, best_score = [j], score
                elif score == best_score:
                    best.append(j)
            m = best[int(rng.integers(len(best)))] if len(best) > 1 else best[0]
            need_m = need[m]
            for q in cells:
                need_m[labels_of[q]] -= weights_of[q]
            need_img[m] -= size
            choice[pos] = m
        placed[order] = choice
        # Every label of the placed groups loses their weight.
        newly = np.zeros(num_groups, dtype=bool)
        newly[order] = True
        hit = newly[pair_g]
        remaining -= np.bincount(pair_l[hit], weights=pair_w[hit], minlength=width).astype(np.int64)
    return placed


def _tables(names, split_names, r, obj_cls, obj_split, img_split, has_obj, gid):
    k, n_cls = len(split_names), len(names)
    counts = np.zeros((n_cls, k), dtype=np.int64)
    if len(obj_cls):
        counts = np.bincount(obj_cls * k + obj_split, minlength=n_cls * k).reshape(n_cls, k)
    boxes = counts.sum(axis=1)
    split_boxes = counts.sum(axis=0)
    table = pd.DataFrame({"boxes": boxes, "share": boxes / max(int(boxes.sum()), 1)},
                         index=pd.Index([str(c) for c in names], name="class"))
    for j, s in enumerate(split_names):
        table[f"boxes_{s}"] = counts[:, j]
        table[f"share_{s}"] = counts[:, j] / max(int(split_boxes[j]), 1)
        table[f"part_{s}"] = counts[:, j] / np.maximum(boxes, 1)
    n = len(img_split)
    images = np.bincount(img_split, minlength=k) if n else np.zeros(k, dtype=np.int64)
    negatives = np.bincount(img_split[~has_obj], minlength=k) if n else np.zeros(k, dtype=np.int64)
    group_split = np.zeros(int(gid.max()) + 1 if n else 0, dtype=np.int64)
    group_split[gid] = img_split
    n_groups = np.bincount(group_split, minlength=k) if n else np.zeros(k, dtype=np.int64)
    splits = pd.DataFrame(
        {
            "target": r,
            "images": images,
            "fraction": images / max(n, 1),
            "groups": n_groups,
            "boxes": split_boxes,
            "negatives": negatives,
        },
        index=pd.Index(split_names, name="split"),
    )
    return table, splits


def _log_lines(per_class, splits, fractions, n, num_groups, gid, weight, seed) -> list[str]:
    targets = ", ".join(f"{s}={f:.3f}" for s, f in fractions.items())
    lines = [
        f"split: iterative stratification (Sechidis et al. 2011) of {n} images in {num_groups} groups "
        f"over {len(per_class)} classes by {weight}, seed {seed}; targets {targets}"
    ]
    if n and num_groups < n:
        sizes = np.bincount(gid)
        multi = sizes > 1
        lines.append(
            f"split: {int(multi.sum())} groups of 2+ images ({int(sizes[multi].sum())} images, largest "
            f"{int(sizes.max())}) are kept whole; no group straddles two splits"
        )
    for s in splits.index:
        row = splits.loc[s]
        lines.append(
            f"split {s}: {int(row['images'])} images ({row['fraction']:.1%}, target {row['target']:.1%}) in "
            f"{int(row['groups'])} groups, {int(row['boxes'])} boxes, {int(row['negatives'])} images without objects"
        )
    names = list(fractions)
    for c in per_class.index:
        row = per_class.loc[c]
        parts = ", ".join(f"{s} {int(row[f'boxes_{s}'])} ({row[f'share_{s}']:.2%})" for s in names)
        dev = max(abs(row[f"share_{s}"] - row["share"]) for s in names) * 100
        line = (f"class {c!r}: {int(row['boxes'])} boxes ({row['share']:.2%} of all) -> {parts}; "
                f"max deviation {dev:.2f} pp")
        absent = [s for s in names if row[f"boxes_{s}"] == 0]
        if absent:
            line += f"; absent from {', '.join(absent)} (too few boxes or groups to spread)"
        lines.append(line)
    return lines
