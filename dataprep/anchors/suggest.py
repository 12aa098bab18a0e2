"""Suggest SSD anchor settings that cover a dataset's boxes better.

The search keeps everything that changes the model's output shapes fixed (number
of layers, feature maps, strides, offsets, number of anchors per location) and
tunes only the per-layer scales, the aspect ratios, the aspect ratio of the
interpolated anchor and the base anchor size (which also scales the fixed
0.1-scale anchor of the lowest layer), so the box predictor keeps its size.
Steps:

1. k-means on box ``(w, h)`` with distance ``1 - IoU`` seeds scales and aspect
   ratios;
2. a deterministic coordinate search in log space maximises the coverage
   objective on a fixed subsample (the class-weighted one also climbs the
   all-boxes objective and keeps the better end), and accepts a step only if it lowers
   neither the coverage of the worst-covered class nor that of all boxes
   below their values under the initial settings;
3. the result is checked on all boxes: if it covers the worst class or all
   boxes less than the initial settings do, the initial settings are kept.

FPN models (``multiscale_anchor_generator``) have fewer free settings: the
levels fix the strides and the anchor sizes are ``anchor_scale * stride *
2 ** (k / scales_per_octave)``. :func:`suggest_multiscale_anchors` scores
``anchor_scale`` on a grid (:data:`ANCHOR_SCALE_GRID`) under the same
objective and the same floors, and keeps the levels, the aspect ratios and the
scales per octave (so the number of anchors per location).

Objectives (``objective=``): ``"classes"`` (the default when labels are
given) is the mean over classes of the fraction of the class's boxes with best
IoU >= threshold, so a rare class weighs as much as an abundant one (mAP is a
mean over classes too); ``"boxes"`` is the fraction over all boxes. Both add a
small weight on the mean best IoU (per class, or over boxes) as tie-breaker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dataprep.anchors.coverage import CoverageReport, anchor_coverage, as_boxes, scan_boxes
from dataprep.anchors.generator import AnchorConfig, Size, as_input_size
from dataprep.anchors.multiscale import MultiscaleAnchorConfig

#: Weight of the mean best IoU in the objective. A tie-breaker: one more box
#: over the threshold outweighs raising the IoU of 20 boxes by 1.0 each.
MEAN_IOU_WEIGHT = 0.05
#: Log-space step sizes of the coordinate search, coarse to fine.
STEP_SCHEDULE = (0.4, 0.2, 0.1, 0.05, 0.025)
_SCALE_RANGE = (0.01, 2.0)
_RATIO_RANGE = (0.1, 10.0)
_BASE_RANGE = (0.05, 4.0)
OBJECTIVES = ("classes", "boxes")
#: ``anchor_scale`` values :func:`suggest_multiscale_anchors` scores: 0.75 to 8
#: in steps of 0.25 (the TF2 zoo's FPN models use 4).
ANCHOR_SCALE_GRID = tuple(0.75 + 0.25 * i for i in range(30))


# --------------------------------------------------------------------- k-means
def wh_iou(wh: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """``(n, k)`` IoU of ``(w, h)`` shapes placed on a common centre."""
    inter = np.minimum(wh[:, None, 0], centroids[None, :, 0]) * np.minimum(wh[:, None, 1], centroids[None, :, 1])
    union = (wh[:, 0] * wh[:, 1])[:, None] + (centroids[:, 0] * centroids[:, 1])[None, :] - inter
    return inter / union


def kmeans_iou(wh: Any, k: int, *, seed: int = 0, max_iter: int = 100) -> np.ndarray:
    """k-means of box shapes with distance ``1 - IoU``; ``(k, 2)`` centroids ``(w, h)`` by area.

    >>> wh = np.array([[10, 10], [11, 10], [40, 10], [41, 11]], dtype=float)
    >>> kmeans_iou(wh, 2).round(1).tolist()
    [[10.5, 10.0], [40.5, 10.5]]
    """
    # [1] Cluster (w, h) of boxes aligned at a common centre with
    #     d(box, centroid) = 1 - IoU(box, centroid) so that large boxes do not
    #     dominate as with Euclidean distance; k-means++ seeding, mean update.
    #     Ref: Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017,
    #     Sec. 2 "Dimension Clusters"; Arthur & Vassilvitskii, "k-means++", 2007.
    pts = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    pts = pts[(pts > 0).all(axis=1)]
    if pts.shape[0] == 0:
        raise ValueError("k-means needs at least one box with positive width and height")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    centroids = [pts[rng.integers(pts.shape[0])]]
    for _ in range(1, k):
        dist = 1.0 - wh_iou(pts, np.array(centroids)).max(axis=1)
        weights = dist**2
        total = weights.sum()
        pick = rng.choice(pts.shape[0], p=weights / total) if total > 0 else rng.integers(pts.shape[0])
        centroids.append(pts[pick])
    cent = np.array(centroids)
    assign = None
    for _ in range(max_iter):
        iou = wh_iou(pts, cent)
        new_assign = iou.argmax(axis=1)
        if assign is not None and np.array_equal(new_assign, assign):
            break
        assign = new_assign
        counts = np.bincount(assign, minlength=k)
        for dim in range(2):
            sums = np.bincount(assign, weights=pts[:, dim], minlength=k)
            cent[:, dim] = np.where(counts > 0, sums / np.maximum(counts, 1), cent[:, dim])
        for empty in np.flatnonzero(counts == 0):
            cent[empty] = pts[iou.max(axis=1).argmin()]  # re-seed at the worst-fitting box
    order = np.argsort(cent[:, 0] * cent[:, 1], kind="stable")
    return cent[order]


# ---------------------------------------------------------------- search space
@dataclass(frozen=True)
class _Space:
    """Maps a config to a log-space vector and back (scales, ratios, interp ratio)."""

    base: AnchorConfig
    tune_interpolated: bool

    @property
    def num_scales(self) -> int:
        return self.base.num_layers

    def encode(self, cfg: AnchorConfig) -> np.ndarray:
        parts = list(cfg.layer_scales()[: self.num_scales]) + list(cfg.aspect_ratios)
        if self.tune_interpolated:
            parts.append(cfg.interpolated_scale_aspect_ratio)
        parts.append(cfg.base_anchor_size[0])  # one factor on both sides: base h / base w stays
        return np.log(np.array(parts, dtype=np.float64))

    def decode(self, theta: np.ndarray) -> AnchorConfig | None:
        """Config for ``theta`` (values rounded to 4 decimals); None if not allowed."""
        values = np.exp(theta)
        n_s, n_a = self.num_scales, len(self.base.aspect_ratios)
        scales = [round(float(v), 4) for v in np.clip(values[:n_s], *_SCALE_RANGE)]
        ratios = [round(float(v), 4) for v in np.clip(values[n_s : n_s + n_a], *_RATIO_RANGE)]
        if any(a > b for a, b in zip(scales, scales[1:])):
            return None  # keep scales non-decreasing from fine to coarse layers
        changes: dict[str, Any] = {
            "scales": tuple(scales),
            "min_scale": scales[0],
            "max_scale": scales[-1],
            "aspect_ratios": tuple(ratios),
        }
        if self.tune_interpolated:
            changes["interpolated_scale_aspect_ratio"] = round(float(np.clip(values[-2], *_RATIO_RANGE)), 4)
        bh, bw = self.base.base_anchor_size
        factor = float(np.clip(values[-1], *_BASE_RANGE)) / bh
        changes["base_anchor_size"] = (round(bh * factor, 4), round(bw * factor, 4))
        return self.base.replace(**changes)


def _class_coverage(best: np.ndarray, codes: np.ndarray, num: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per class: fraction of boxes with best IoU >= threshold, and mean best IoU."""
    count = np.maximum(np.bincount(codes, minlength=num), 1)
    matched = np.bincount(codes, weights=(best >= threshold).astype(np.float64), minlength=num) / count
    mean = np.bincount(codes, weights=best.astype(np.float64), minlength=num) / count
    return matched, mean


def _objective(boxes: np.ndarray, codes: np.ndarray, num: int, size: Size, cfg: AnchorConfig,
               threshold: float) -> tuple[float, float, float, float]:
    """``(class-weighted objective, all-boxes objective, coverage of the worst
    class, coverage of all boxes)`` of ``cfg`` on ``boxes``."""
    best, _, _ = scan_boxes(boxes, cfg.grid(size), iou_threshold=threshold, count_positives=False)
    matched, mean = _class_coverage(best, codes, num, threshold)
    overall = float((best >= threshold).mean())
    by_class = matched.mean() + MEAN_IOU_WEIGHT * mean.mean()
    by_box = overall + MEAN_IOU_WEIGHT * best.mean(dtype=np.float64)
    return float(by_class), float(by_box), float(matched.min()), overall


def _kmeans_seeds(
    wh: np.ndarray, clusters: np.ndarray, size: Size, start: AnchorConfig, seed: int,
    small_areas: Sequence[float] = (),
) -> list[AnchorConfig]:
    """Start points from k-means: scales from L clusters, ratios from n clusters;
    and base anchor sizes that bring the lowest anchor to small boxes
    (``small_areas``: median ``w * h`` in pixels of the smallest class)."""
    # [2] A centred anchor of scale s and ratio a (a = w/h) on input H x W has
    #     h = s / sqrt(a) * base_h * min(H, W), w = s * sqrt(a) * base_w * min(H, W)
    #     pixels, hence s = sqrt(w h / (base_h base_w)) / min(H, W) and
    #     a = (w / base_w) / (h / base_h). Ref: generator.py [4], [5].
    base_h, base_w = start.base_anchor_size
    short = float(min(size))
    scales = tuple(
        sorted(round(float(math.sqrt(w * h / (base_h * base_w)) / short), 4) for w, h in clusters)
    )
    seeds = [start.replace(scales=scales, min_scale=scales[0], max_scale=scales[-1])]
    if start.reduce_boxes_in_lowest_layer:
        # The lowest layer's first (square) anchor has the fixed scale 0.1: a
        # smaller base anchor size brings it down to the smallest cluster, or to
        # the median box of the smallest class; the other scales follow so
        # their anchors keep their pixel sizes.
        targets = [scales[0]] + [float(np.sqrt(m)) / short / math.sqrt(base_h * base_w) for m in small_areas]
        for target in targets:
            if target >= 0.1:
                continue
            factor = max(_BASE_RANGE[0] / base_h, target / 0.1)
            layer = [round(float(np.clip(s / factor, *_SCALE_RANGE)), 4) for s in start.layer_scales()[:-1]]
            layer = [max(0.1, s) for s in layer]
            layer = tuple(max(layer[: i + 1]) for i in range(len(layer)))  # non-decreasing
            seeds.append(start.replace(
                scales=layer, min_scale=layer[0], max_scale=layer[-1],
                base_anchor_size=(round(base_h * factor, 4), round(base_w * factor, 4))))
    if start.aspect_ratios:
        shapes = kmeans_iou(wh, len(start.aspect_ratios), seed=seed)
        ratios = tuple(round(float((w / base_w) / (h / base_h)), 4) for w, h in shapes)
        ratios = tuple(float(np.clip(r, *_RATIO_RANGE)) for r in ratios)
        seeds.append(start.replace(aspect_ratios=ratios))
        seeds.append(seeds[0].replace(aspect_ratios=ratios))
    return seeds


def _objective_name(objective: str | None, labels: Any) -> str:
    """``objective``, or the default for ``labels`` ("classes" with them); refuses an unknown one."""
    objective = objective or ("classes" if labels is not None else "boxes")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return objective


def _labels_codes(all_boxes: np.ndarray, labels: Any) -> tuple[np.ndarray, int]:
    if labels is None:
        return np.zeros(all_boxes.shape[0], dtype=np.intp), 1
    values, codes = np.unique(np.asarray(labels), return_inverse=True)
    codes = codes.reshape(-1)
    if codes.shape[0] != all_boxes.shape[0]:
        raise ValueError(f"labels must have one entry per box ({all_boxes.shape[0]}), got {codes.shape[0]}")
    return codes, len(values)


@dataclass(frozen=True)
class SuggestionResult:
    """Outcome of :func:`suggest_anchors`."""

    config: AnchorConfig | MultiscaleAnchorConfig
    initial_config: AnchorConfig | MultiscaleAnchorConfig
    before: CoverageReport
    after: CoverageReport
    objective_before: float
    objective_after: float
    evaluations: int
    sample_size: int
    centroids: np.ndarray  # (k, 2) k-means (w, h) in input pixels, k = num_layers (multiscale: (0, 2))
    objective: str = "boxes"
    #: True when the searched settings covered the worst class less than the
    #: initial ones on all boxes, so the initial settings were kept.
    kept_initial: bool = False

    def worst_class_coverage(self, report: CoverageReport) -> float:
        """Matched fraction of the worst-covered class (all boxes when unlabelled)."""
        groups = report.by_class()
        return min(g.matched_fraction for g in groups.values()) if groups else report.matched_fraction

    @property
    def improvement(self) -> float:
        """Gain in matched fraction on all boxes (after - before)."""
        return self.after.matched_fraction - self.before.matched_fraction

    def summary(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "matched_fraction_before": self.before.matched_fraction,
            "matched_fraction_after": self.after.matched_fraction,
            "mean_best_iou_before": self.before.mean_best_iou,
            "mean_best_iou_after": self.after.mean_best_iou,
            "objective": self.objective,
            "worst_class_matched_before": self.worst_class_coverage(self.before),
            "worst_class_matched_after": self.worst_class_coverage(self.after),
            "kept_initial": self.kept_initial,
            "evaluations": self.evaluations,
            "sample_size": self.sample_size,
            "kmeans_centroids_wh": self.centroids.round(2).tolist(),
        }



class _Search:
    """The coverage objective of anchor settings on a sample of boxes (each setting scored once) and the
    coordinate search over :class:`_Space` that climbs it."""

    def __init__(self, sample, codes, num: int, size, iou_threshold: float, space: "_Space"):
        self.sample, self.codes, self.num, self.size, self.iou_threshold = sample, codes, num, size, iou_threshold
        self.space = space
        self.evaluations = 0
        self.cache: dict[AnchorConfig, tuple[float, float, float, float]] = {}
        self.floor = (0.0, 0.0)  # coverage of the worst class and of all boxes under the initial settings

    def score(self, cfg: AnchorConfig | None, goal: str) -> float:
        """The ``goal`` objective, or -inf where the worst class or all boxes would lose coverage."""
        if cfg is None:
            return -math.inf
        if cfg not in self.cache:
            self.evaluations += 1
            self.cache[cfg] = _objective(self.sample, self.codes, self.num, self.size, cfg, self.iou_threshold)
        by_class, by_box, worst, overall = self.cache[cfg]
        if worst < self.floor[0] - 1e-12 or overall < self.floor[1] - 1e-12:
            return -math.inf
        return by_class if goal == "classes" else by_box

    def climb(self, current: AnchorConfig, goal: str, stop: int) -> AnchorConfig:
        # [3] Coordinate search: try theta_i +/- step for each coordinate, keep
        #     any improvement, halve the step when a full pass finds none.
        #     Ref: Hooke & Jeeves, "Direct search solution of numerical and
        #     statistical problems", J. ACM 1961 (exploratory moves).
        theta, best_score = self.space.encode(current), self.score(current, goal)
        for step in STEP_SCHEDULE:
            improved = True
            while improved and self.evaluations < stop:
                improved = False
                for i in range(theta.size):
                    for direction in (1.0, -1.0):
                        if self.evaluations >= stop:
                            break
                        trial = theta.copy()
                        trial[i] += direction * step
                        cfg = self.space.decode(trial)
                        value = self.score(cfg, goal)
                        if value > best_score + 1e-12 and cfg is not None:
                            theta, best_score, current, improved = trial, value, cfg, True
                            break
        return current


def suggest_anchors(
    boxes: Any,
    input_size: int | Sequence[int] = (300, 300),
    initial: AnchorConfig | None = None,
    *,
    labels: Any = None,
    iou_threshold: float = 0.5,
    sample_size: int = 20000,
    max_evaluations: int = 300,
    tune_interpolated: bool = True,
    objective: str | None = None,
    seed: int = 0,
) -> SuggestionResult:
    """Search anchor settings that maximise coverage at ``iou_threshold``.

    The number of anchors per location (and so the model's output size) stays
    that of ``initial`` (default: :class:`AnchorConfig`). ``objective``:
    ``"classes"`` (default with ``labels``) or ``"boxes"`` (default without);
    see the module docstring. At most ``max_evaluations`` settings are
    scored (twice that with ``"classes"``, which climbs twice). Neither the worst class's coverage nor that of
    all boxes drops below its value under ``initial``. Deterministic for a given ``seed``. Coverage
    before/after is measured on all ``boxes``; the search itself runs on at
    most ``sample_size`` of them.
    """
    size = as_input_size(input_size)
    start = initial or AnchorConfig()
    all_boxes = as_boxes(boxes)
    objective = _objective_name(objective, labels)
    all_codes, num = _labels_codes(all_boxes, labels)
    rng = np.random.default_rng(seed)
    if all_boxes.shape[0] > sample_size:
        pick = np.sort(rng.choice(all_boxes.shape[0], sample_size, replace=False))
        sample, codes = all_boxes[pick], all_codes[pick]
    else:
        sample, codes = all_boxes, all_codes
    wh = np.stack(
        [(sample[:, 3] - sample[:, 1]) * size[1], (sample[:, 2] - sample[:, 0]) * size[0]], axis=1
    ).astype(np.float64)
    search = _Search(sample, codes, num, size, iou_threshold,
                     _Space(start, tune_interpolated and start.interpolated_scale_aspect_ratio > 0))
    score, climb = search.score, search.climb
    objective_before = score(start, objective)
    search.floor = search.cache[start][2:]
    clusters = kmeans_iou(wh, start.num_layers, seed=seed)
    areas = wh[:, 0] * wh[:, 1]
    class_medians = [float(np.median(areas[codes == c])) for c in range(num) if np.any(codes == c)]
    candidates = [start] + _kmeans_seeds(wh, clusters, size, start, seed, small_areas=[min(class_medians)])
    # Start from the best of the initial config and the seeds. The class-weighted
    # search also climbs the all-boxes objective and keeps whichever ends higher
    # on its own objective: both landscapes have local optima, and this way the
    # class-weighted result is never below the all-boxes one by its measure.
    current = climb(max(candidates, key=lambda c: score(c, objective)), objective, max_evaluations)
    if objective == "classes" and num > 1:
        other = climb(max(candidates, key=lambda c: score(c, "boxes")), "boxes",
                      search.evaluations + max_evaluations)
        if score(other, "classes") > score(current, "classes") + 1e-12:
            current = other
    best_score = score(current, objective)
    assert current.num_anchors_per_location() == start.num_anchors_per_location()
    before = anchor_coverage(all_boxes, size, start, labels=labels, iou_threshold=iou_threshold)
    after = anchor_coverage(all_boxes, size, current, labels=labels, iou_threshold=iou_threshold)
    # [4] The sample may misjudge a class it holds few boxes of: on all boxes,
    #     the worst class and all boxes together must keep at least their
    #     initial coverage, else the initial settings are kept.
    kept_initial = False
    if current != start:
        worst_before = min((g.matched_fraction for g in before.by_class().values()), default=0.0)
        worst_after = min((g.matched_fraction for g in after.by_class().values()), default=0.0)
        if worst_after < worst_before or after.matched_fraction < before.matched_fraction:
            current, after, best_score, kept_initial = start, before, objective_before, True
    return SuggestionResult(
        config=current,
        initial_config=start,
        before=before,
        after=after,
        objective_before=objective_before,
        objective_after=best_score,
        evaluations=search.evaluations,
        sample_size=int(sample.shape[0]),
        centroids=clusters,
        objective=objective,
        kept_initial=kept_initial,
    )


def suggest_multiscale_anchors(
    boxes: Any,
    input_size: int | Sequence[int] = (320, 320),
    initial: MultiscaleAnchorConfig | None = None,
    *,
    labels: Any = None,
    iou_threshold: float = 0.5,
    objective: str | None = None,
) -> SuggestionResult:
    """The ``anchor_scale`` of :data:`ANCHOR_SCALE_GRID` that maximises
    ``objective`` for an FPN model's multiscale anchors.

    Levels, aspect ratios and scales per octave stay those of ``initial``
    (default: :class:`MultiscaleAnchorConfig`), so the box predictor keeps its
    size. As :func:`suggest_anchors`: neither the worst class's coverage nor
    that of all boxes may drop below its value under ``initial``; every box is
    scored (the grid is small); deterministic.
    """
    size = as_input_size(input_size)
    start = initial or MultiscaleAnchorConfig()
    all_boxes = as_boxes(boxes)
    objective = _objective_name(objective, labels)
    codes, num = _labels_codes(all_boxes, labels)
    pick = 0 if objective == "classes" else 1
    scored = {}
    for value in sorted(set(ANCHOR_SCALE_GRID) | {start.anchor_scale}):
        cfg = start.replace(anchor_scale=float(value))
        scored[cfg] = _objective(all_boxes, codes, num, size, cfg, iou_threshold)
    floor_worst, floor_all = scored[start][2:]
    allowed = [cfg for cfg, v in scored.items() if v[2] >= floor_worst - 1e-12 and v[3] >= floor_all - 1e-12]
    # the best objective; ties go to the value nearest the initial one
    best = max(allowed, key=lambda c: (round(scored[c][pick], 12), -abs(math.log(c.anchor_scale / start.anchor_scale))))
    assert best.num_anchors_per_location() == start.num_anchors_per_location()
    return SuggestionResult(
        config=best,
        initial_config=start,
        before=anchor_coverage(all_boxes, size, start, labels=labels, iou_threshold=iou_threshold),
        after=anchor_coverage(all_boxes, size, best, labels=labels, iou_threshold=iou_threshold),
        objective_before=scored[start][pick],
        objective_after=scored[best][pick],
        evaluations=len(scored),
        sample_size=int(all_boxes.shape[0]),
        centroids=np.zeros((0, 2)),
        objective=objective,
    )
