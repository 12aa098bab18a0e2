"""Rebalancing the training split by repeating images (repeat-factor sampling).

Only the training split is ever rebalanced: pass its images and objects; val
and test keep the data's real distribution. The result is an integer number
of copies per image (0 = dropped, 1 = written once, 2+ = written again as
extra examples, spread over the shards by :func:`expand_repeats`).

Two ways to measure how rare a class is:

``method="images"`` — LVIS repeat-factor sampling (Gupta, Dollár & Girshick,
    CVPR 2019, Sec. 4.1; detectron2 ``RepeatFactorTrainingSampler``): a class is
    rare when few images contain it, and an image is repeated as much as its
    rarest class asks.

``method="instances"`` — for datasets where rare and common classes share
    images (blood cells: white cells in 98% of images, one per image, red cells
    eleven per image). Every image contains the rare class, so the LVIS factors
    are ~1, and repeating an image because it holds the rare class repeats the
    common one just as much: whatever is repeated, the instance ratio only moves
    if the repeated images are *richer* in the rare class than the dataset. This
    variant measures a class by its share of instances and repeats an image by
    how much richer in a rare class its boxes are than the dataset's boxes (see
    :func:`repeat_factors`, step [2b]). The class-level frequency follows the
    instance-aware RFS of Yaman et al., "Instance-Aware Repeat Factor Sampling
    for Long-Tailed Object Detection", 2023, which still takes the max over an
    image's classes and so cannot help when the classes co-occur.

How far any image-level method can move the instance ratio is bounded by how
much the images' compositions differ: if every image had the same mix of
classes no repetition could change it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dataprep.balance.split import class_codes, object_positions
from dataprep.errors import UsageError

METHODS = ("images", "instances")
#: Exponent p of r(c) = max(1, (t / f(c))^p) per method: LVIS's square root for
#: image frequencies; linear for instance shares, where the composition
#: weighting of step [2b] already damps the repeats of mixed images.
DEFAULT_EXPONENT = {"images": 0.5, "instances": 1.0}
#: Reasons an image is dropped from the training split.
DROP_NEGATIVE_RATIO = "negative_ratio"
DROP_MAX_PER_CLASS = "max_per_class"


@dataclass
class RepeatResult:
    """What :func:`repeat_factors` decided for the training images.

    ``repeats``: copies to write per image (``int64``, aligned with ``image_ids``;
    0 = dropped). ``factors``: the real-valued repeat factor r(I) before
    stochastic rounding and caps. ``per_class``: one row per class (index
    ``class``): ``frequency`` f(c), ``factor`` r(c), ``images_before``,
    ``instances_before``, ``images_after`` (examples holding the class),
    ``instances_after``, ``capped``. ``dropped``: ``image_id`` and ``reason``
    (:data:`DROP_NEGATIVE_RATIO`, :data:`DROP_MAX_PER_CLASS`) of each dropped
    image, for the caller to count as skipped. ``threshold``: the t used.
    """

    repeats: np.ndarray
    factors: np.ndarray
    per_class: pd.DataFrame
    dropped: pd.DataFrame
    log: list[str]
    threshold: float
    threshold_source: str
    method: str
    exponent: float
    seed: int
    options: dict = field(default_factory=dict)

    @property
    def num_examples(self) -> int:
        return int(self.repeats.sum())

    def as_dict(self) -> dict:
        """JSON-ready summary for the manifest: options, seed, t and per-class counts before/after."""
        cols = ("images_before", "instances_before", "images_after", "instances_after")
        return {
            "method": f"repeat-factor-{self.method}",
            "threshold": float(self.threshold),
            "threshold_source": self.threshold_source,
            "exponent": float(self.exponent),
            "seed": int(self.seed),
            **self.options,
            "images": int(len(self.repeats)),
            "examples": self.num_examples,
            "dropped": {str(k): int(v) for k, v in self.dropped["reason"].value_counts(sort=False).items()},
            "per_class": {
                str(c): {
                    "frequency": float(self.per_class.at[c, "frequency"]),
                    "factor": float(self.per_class.at[c, "factor"]),
                    **{k: int(self.per_class.at[c, k]) for k in cols},
                }
                for c in self.per_class.index
            },
        }


def repeat_factors(
    image_ids: np.ndarray,
    object_image_ids: np.ndarray,
    object_classes: np.ndarray,
    *,
    threshold: float | str | None = "auto",
    method: str = "images",
    exponent: float | None = None,
    max_per_class: int | None = None,
    negative_ratio: float | None = None,
    seed: int = 0,
) -> RepeatResult:
    """Repeat factor per training image: LVIS repeat-factor sampling or its instance-aware variant.

    ``threshold`` t: a frequency, or ``"auto"``/``None``: for ``"images"`` the
    median of the classes' image frequencies (the rarer half of the classes
    is boosted; LVIS's own t = 0.001 suits a 1000-class dataset, and on a
    small detection dataset would boost nothing), for ``"instances"`` 1/L, the
    share every one of the L classes would have if instances were balanced.
    With ``"instances"``, images of class c alone get t / f(c) copies, which
    lifts c to t x (all instances): t = 1/L to the mean class size, t = the
    largest f(c) to the largest class; mixed images get fewer (step [2b]).
    ``exponent`` p (default :data:`DEFAULT_EXPONENT`). ``negative_ratio``: keep
    at most ``ratio * positive images`` images without objects (the rest are
    dropped at random with ``seed``). ``max_per_class``: no class has more
    than this many instances after repetition (extra copies are removed first,
    then images are dropped; see step [4]).
    """
    p = _check_options(method, exponent, max_per_class, negative_ratio)
    image_ids = np.asarray(image_ids)
    n = len(image_ids)
    pairs = _Pairs.of(image_ids, object_image_ids, object_classes)
    # Every random draw is made here, one per image, whatever the options, so
    # each option changes only its own decisions.
    rng = np.random.default_rng(seed)
    u_round = rng.random(n)
    u_negative = rng.random(n)
    u_cap = rng.random(n)

    freq, t, t_source, factor_c = _class_factors(pairs, method, threshold, p)
    factors = _image_factors(pairs, method, freq, factor_c, n)

    # [3] Stochastic rounding (Gupta et al. 2019): copies = floor(r) + [u < r - floor(r)],
    #     u ~ U[0, 1) from the seeded generator, so E[copies] = r(I).
    base = np.floor(factors)
    repeats = (base + (u_round < factors - base)).astype(np.int64)

    dropped_pos: list[np.ndarray] = []
    dropped_why: list[str] = []
    log = [
        f"rebalance: repeat-factor sampling by {method} (r(c) = max(1, (t / f(c))^{p:g}), "
        f"t = {t:.4g}, {t_source}), seed {seed}, {n} training images ({pairs.n_pos} with objects), "
        f"{pairs.n_cls} classes"
    ]
    log.append(_limit_negatives(pairs, repeats, negative_ratio, u_negative, dropped_pos, dropped_why))
    capped, cap_notes = _cap_classes(pairs, repeats, max_per_class, u_cap, dropped_pos, dropped_why)
    per_class = _per_class(pairs, repeats, freq, factor_c, capped)
    log.extend(_class_lines(per_class, cap_notes, max_per_class))
    drop_all = np.concatenate(dropped_pos) if dropped_pos else np.zeros(0, dtype=np.int64)
    dropped = pd.DataFrame({"image_id": image_ids[drop_all], "reason": pd.Series(dropped_why, dtype=object)})
    log.append(
        f"rebalance: {n} images -> {int(repeats.sum())} examples ({int(np.maximum(repeats - 1, 0).sum())} extra "
        f"copies, {len(drop_all)} images dropped); instance max/min class ratio "
        f"{_ratio(pairs.inst_before):.2f} -> {_ratio(per_class['instances_after'].to_numpy()):.2f}"
    )
    return RepeatResult(
        repeats=repeats,
        factors=factors,
        per_class=per_class,
        dropped=dropped,
        log=log,
        threshold=t,
        threshold_source=t_source,
        method=method,
        exponent=p,
        seed=int(seed),
        options={"max_per_class": max_per_class, "negative_ratio": negative_ratio},
    )


def _check_options(method: str, exponent, max_per_class, negative_ratio) -> float:
    """The options' values checked; the exponent p (the method's default when not given)."""
    if method not in METHODS:
        raise UsageError(f"rebalance method must be one of {', '.join(METHODS)}; got {method!r}")
    p = DEFAULT_EXPONENT[method] if exponent is None else _positive(exponent, "rebalance exponent")
    if max_per_class is not None and not (_is_int(max_per_class) and max_per_class >= 1):
        raise UsageError(f"--max-per-class must be an integer >= 1, got {max_per_class!r}")
    if negative_ratio is not None and not (_is_number(negative_ratio) and 0 <= negative_ratio < math.inf):
        raise UsageError(f"negatives ratio must be a number >= 0, got {negative_ratio!r}")
    return p


@dataclass
class _Pairs:
    """The training images' boxes counted per (image, class) pair: one row per
    pair (``img``, ``cls``, its instances ``n``), and the totals."""

    names: np.ndarray
    img: np.ndarray
    cls: np.ndarray
    n: np.ndarray
    inst_img: np.ndarray  # instances per image
    positive: np.ndarray  # images with objects
    n_pos: int
    images_before: np.ndarray  # images per class
    inst_before: np.ndarray  # instances per class

    @property
    def n_cls(self) -> int:
        return len(self.names)

    @classmethod
    def of(cls, image_ids: np.ndarray, object_image_ids, object_classes) -> "_Pairs":
        n = len(image_ids)
        obj_pos = object_positions(image_ids, object_image_ids)
        names, obj_cls = class_codes(object_classes, len(obj_pos))
        n_cls = len(names)
        pair_key, pair_n = np.unique(obj_pos * max(n_cls, 1) + obj_cls, return_counts=True)
        inst_img = np.bincount(obj_pos, minlength=n).astype(np.int64)
        pair_cls = pair_key % max(n_cls, 1)
        return cls(names, pair_key // max(n_cls, 1), pair_cls, pair_n.astype(np.int64), inst_img, inst_img > 0,
                   int((inst_img > 0).sum()), np.bincount(pair_cls, minlength=n_cls).astype(np.int64),
                   np.bincount(obj_cls, minlength=n_cls).astype(np.int64))


def _class_factors(pairs: _Pairs, method: str, threshold, p: float):
    """[1] Class frequency f(c) and factor r(c) = max(1, (t / f(c))^p); returns f, t, how t was chosen, r.

    images:    f(c) = |{I : c in I}| / |{I : I has objects}|   (LVIS, Gupta et al. 2019,
               t = 0.001 there, p = 1/2; images without objects do not count,
               as in detectron2, which filters them out)
    instances: f(c) = n_c / sum_c' n_c'   (share of all instances; p = 1)
    """
    if method == "images":
        freq = pairs.images_before / max(pairs.n_pos, 1)
    else:
        freq = pairs.inst_before / max(int(pairs.inst_before.sum()), 1)
    if threshold is None or (isinstance(threshold, str) and threshold == "auto"):
        if pairs.n_cls == 0:
            t = 1.0
        else:
            t = float(np.median(freq)) if method == "images" else 1.0 / pairs.n_cls
        t_source = ("auto: median class image frequency" if method == "images"
                    else "auto: 1/L, the balanced instance share")
    else:
        t = _positive(threshold, "rebalance threshold")
        t_source = "given"
    factor_c = np.maximum(1.0, (t / freq) ** p)  # every class has an instance, so f(c) > 0
    return freq, t, t_source, factor_c


def _image_factors(pairs: _Pairs, method: str, freq: np.ndarray, factor_c: np.ndarray, n: int) -> np.ndarray:
    """[2] Image factor r(I); 1 for an image without objects.

    a) images:    r(I) = max_{c in I} r(c)                        (LVIS)
    b) instances: r(I) = max_{c in I} [1 + (r(c) - 1) * e(I, c)],
                  e(I, c) = clip((s(I, c) - f(c)) / (1 - f(c)), 0, 1),  s(I, c) = n_{I,c} / n_I
       e is how much richer in c the image's boxes are than the dataset's:
       0 for an image with the dataset's share of c (repeating it changes no
       class share), 1 for an image of c alone (repeated r(c) times). Copies
       go to the images that move the instance balance towards c.
    """
    factors = np.ones(n, dtype=np.float64)
    if len(pairs.img):
        if method == "images":
            per_pair = factor_c[pairs.cls]
        else:
            share = pairs.n / pairs.inst_img[pairs.img]
            f = freq[pairs.cls]
            excess = np.clip((share - f) / np.where(f < 1, 1 - f, 1.0), 0.0, 1.0)
            per_pair = 1.0 + (factor_c[pairs.cls] - 1.0) * excess
        np.maximum.at(factors, pairs.img, per_pair)
    return factors


def _limit_negatives(pairs: _Pairs, repeats: np.ndarray, negative_ratio, u_negative: np.ndarray,
                     dropped_pos: list, dropped_why: list) -> str:
    """Images without objects: keep at most floor(ratio * positive images),
    chosen at random (``repeats`` of the others set to 0); the log line."""
    negatives = np.flatnonzero(~pairs.positive)
    if negative_ratio is None:
        return f"negatives: {len(negatives)} images without objects, kept once each"
    keep = min(len(negatives), int(math.floor(float(negative_ratio) * pairs.n_pos + 1e-9)))
    order = negatives[np.lexsort((negatives, u_negative[negatives]))]
    drop = np.sort(order[keep:])
    repeats[drop] = 0
    dropped_pos.append(drop)
    dropped_why.extend([DROP_NEGATIVE_RATIO] * len(drop))
    return (f"negatives: kept {keep} of {len(negatives)} images without objects (at most {negative_ratio:g} x "
            f"{pairs.n_pos} images with objects); dropped {len(drop)}")


def _cap_classes(pairs: _Pairs, repeats: np.ndarray, max_per_class, u_cap: np.ndarray, dropped_pos: list,
                 dropped_why: list) -> tuple[np.ndarray, dict[int, str]]:
    """[4] --max-per-class K: no class above K instances after repetition (``repeats`` lowered in place).

    For each class over K, the most repeated class first: (a) remove extra
    copies of its images, highest copy number first (copy 5 of an image
    before copy 2 of another; ties at random), until it is within K;
    (b) if one copy of each image is still above K, drop images holding it,
    those with the fewest instances of other classes per instance of it
    first (least collateral loss; ties at random). Caps only ever lower
    counts, so a class once within K stays within K. Returns which classes
    were capped and a note on each.
    """
    n_cls = pairs.n_cls
    capped = np.zeros(n_cls, dtype=bool)
    cap_notes: dict[int, str] = {}
    if max_per_class is None or not n_cls:
        return capped, cap_notes
    after = np.bincount(pairs.cls, weights=pairs.n * repeats[pairs.img], minlength=n_cls)
    for c in np.lexsort((np.arange(n_cls), -after)):
        rows = np.flatnonzero(pairs.cls == c)
        imgs, k = pairs.img[rows], pairs.n[rows]
        total = int((k * repeats[imgs]).sum())
        if total <= max_per_class:
            continue
        capped[c] = True
        extra = np.maximum(repeats[imgs] - 1, 0)
        owner = np.repeat(np.arange(len(imgs)), extra)
        first = np.cumsum(extra) - extra
        copy_no = 2 + np.arange(len(owner)) - first[owner]
        order = np.lexsort((u_cap[imgs[owner]], -copy_no))
        removed = np.cumsum(k[owner[order]])
        take = min(int(np.searchsorted(removed, total - max_per_class, side="left")) + 1, len(order))
        np.subtract.at(repeats, imgs[owner[order[:take]]], 1)
        note = f"removed {take} extra copies"
        total = int((k * repeats[imgs]).sum())
        if total > max_per_class:
            live = np.flatnonzero(repeats[imgs] > 0)
            collateral = (pairs.inst_img[imgs[live]] - k[live]) / k[live]
            order = live[np.lexsort((u_cap[imgs[live]], collateral))]
            cum = np.cumsum(k[order])
            take_img = min(int(np.searchsorted(cum, total - max_per_class, side="left")) + 1, len(order))
            drop = imgs[order[:take_img]]
            repeats[drop] = 0
            dropped_pos.append(np.sort(drop))
            dropped_why.extend([DROP_MAX_PER_CLASS] * len(drop))
            note += f", dropped {take_img} images ({int(pairs.inst_before[c])} instances before repetition)"
        cap_notes[int(c)] = note
    return capped, cap_notes


def _per_class(pairs: _Pairs, repeats: np.ndarray, freq, factor_c, capped) -> pd.DataFrame:
    """The per-class table: frequency, factor, images and instances before and after."""
    n_cls = pairs.n_cls
    images_after = np.bincount(pairs.cls, weights=repeats[pairs.img], minlength=n_cls).astype(np.int64)
    inst_after = np.bincount(pairs.cls, weights=pairs.n * repeats[pairs.img], minlength=n_cls).astype(np.int64)
    return pd.DataFrame(
        {
            "frequency": freq,
            "factor": factor_c,
            "images_before": pairs.images_before,
            "instances_before": pairs.inst_before,
            "images_after": images_after,
            "instances_after": inst_after,
            "capped": capped,
        },
        index=pd.Index([str(c) for c in pairs.names], name="class"),
    )


def _class_lines(per_class: pd.DataFrame, cap_notes: dict[int, str], max_per_class) -> list[str]:
    """One log line per class."""
    freq, factor_c, images_before, inst_before, images_after, inst_after = (
        per_class[k].to_numpy() for k in ("frequency", "factor", "images_before", "instances_before",
                                          "images_after", "instances_after"))
    lines = []
    for c, name in enumerate(per_class.index):
        line = (
            f"class {name!r}: f={freq[c]:.4g}, r(c)={factor_c[c]:.3f}; {images_before[c]} images / "
            f"{inst_before[c]} instances -> {images_after[c]} examples / {inst_after[c]} instances "
            f"(x{inst_after[c] / max(inst_before[c], 1):.2f})"
        )
        if c in cap_notes:
            line += f"; capped at {max_per_class}: {cap_notes[c]}"
        lines.append(line)
    return lines


def expand_repeats(repeats: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Writing order: each image's row index ``repeats[i]`` times, in a seeded random order.

    Written round robin over the shards, the copies of one image then fall in
    different shards and different places of each shard.
    """
    repeats = np.asarray(repeats, dtype=np.int64)
    if (repeats < 0).any():
        raise ValueError("repeats must be >= 0")
    rows = np.repeat(np.arange(len(repeats), dtype=np.int64), repeats)
    return rows[np.random.default_rng(seed).permutation(len(rows))]


def instance_ratio(instances: np.ndarray) -> float:
    """Max/min instances over the classes that have any (``inf`` when one class has none)."""
    return _ratio(np.asarray(instances))


def _ratio(counts: np.ndarray) -> float:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        return 1.0
    lo = counts.min()
    return float(counts.max() / lo) if lo > 0 else math.inf


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _positive(value, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number > 0, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise UsageError(f"{what} must be a number > 0, got {value!r}")
    return x
