"""How well a set of grid anchors (SSD or multiscale/FPN) covers the ground-truth boxes of a dataset.

For every box this computes, against the real grid anchors (positions
included, not just shapes): the best IoU with any anchor, which anchor that is,
and how many anchors reach the match threshold. A box whose best IoU is below
the threshold only gets an anchor because the TF OD API argmax matcher
force-matches each ground truth to its best anchor
(``force_match_for_each_row``); such boxes train poorly.

Boxes are treated one at a time: competition between ground truths of the same
image for an anchor is ignored.

The scan is fast without an ``M x N`` IoU matrix (one million boxes against
~2000 anchors in a few seconds, a few MB of temporaries): per layer and box
spec, IoU only depends on the distance between the box and anchor centres in
each axis and is non-increasing in both, so the best anchor of a spec is at the
nearest grid point, and anchors reaching the threshold lie in a small window
around it whose half-size follows from the box and anchor sizes ([2], [4]
below). Positives counts equal those of the dense IoU matrix exactly (same
float32 formula on the same corners); best IoU agrees to float32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

from dataprep.anchors.generator import AnchorConfig, AnchorGrid, LayerGrid, Size, as_input_size
from dataprep.anchors.multiscale import MultiscaleAnchorConfig

#: COCO area ranges in pixels of the model input: small < 32^2 <= medium < 96^2 <= large.
SIZE_BUCKETS = ("small", "medium", "large")
COCO_SMALL_AREA = 32.0**2
COCO_MEDIUM_AREA = 96.0**2

#: Default number of boxes scanned at once (a few MB of temporaries).
DEFAULT_CHUNK = 65536


# ----------------------------------------------------------------------- IoU
def _iou(b_ymin, b_xmin, b_ymax, b_xmax, b_area, a_ymin, a_xmin, a_ymax, a_xmax):
    """Elementwise/broadcast IoU. Both the dense and the windowed scan call this,
    so they give bit-identical float32 values."""
    # [1] IoU = |A n B| / (|A| + |B| - |A n B|), intersection sides clamped at 0.
    #     Ref: TF OD API box_list_ops.iou (same formula and zero-area handling).
    ih = np.minimum(b_ymax, a_ymax) - np.maximum(b_ymin, a_ymin)
    np.maximum(ih, 0, out=ih)
    iw = np.minimum(b_xmax, a_xmax) - np.maximum(b_xmin, a_xmin)
    np.maximum(iw, 0, out=iw)
    inter = ih * iw
    union = b_area + (a_ymax - a_ymin) * (a_xmax - a_xmin) - inter
    return inter / union


def as_boxes(boxes: Any) -> np.ndarray:
    arr = np.asarray(boxes)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (M, 4) ymin, xmin, ymax, xmax, got shape {arr.shape}")
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr).all(axis=1)
    bad = ~finite | (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"box {i} is not a finite ymin, xmin, ymax, xmax with ymax >= ymin and xmax >= xmin: "
            f"{arr[i].tolist()}"
        )
    return arr


def iou_matrix(boxes: Any, anchors: Any) -> np.ndarray:
    """Dense ``(M, N)`` float32 IoU between boxes and anchors (both ``ymin, xmin, ymax, xmax``).

    Meant for small inputs and tests; :func:`anchor_coverage` never builds it.

    >>> iou_matrix([[0, 0, 1, 1]], [[0, 0, 1, 0.5], [2, 2, 3, 3]]).tolist()
    [[0.5, 0.0]]
    """
    b = as_boxes(boxes)
    a = np.asarray(anchors, dtype=np.float32).reshape(-1, 4)
    b_area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return _iou(
        b[:, 0, None], b[:, 1, None], b[:, 2, None], b[:, 3, None], b_area[:, None],
        a[None, :, 0], a[None, :, 1], a[None, :, 2], a[None, :, 3],
    )


def coco_size_buckets(boxes: Any, input_size: int | Sequence[int]) -> np.ndarray:
    """COCO size bucket per box: 0 small, 1 medium, 2 large (see :data:`SIZE_BUCKETS`).

    Areas are in pixels of the model input, ``(ymax-ymin)*H * (xmax-xmin)*W``,
    rounded to 0.01 px^2 so that a 32 x 32 box stored as float32 is not 1023.9999.
    """
    # [3] COCO: small area < 32^2, medium 32^2 <= area < 96^2, large >= 96^2.
    #     Ref: Lin et al., "Microsoft COCO", 2014; cocoeval areaRng.
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (M, 4) ymin, xmin, ymax, xmax, got shape {b.shape}")
    height, width = as_input_size(input_size)
    area = np.round((b[:, 2] - b[:, 0]) * height * ((b[:, 3] - b[:, 1]) * width), 2)
    return (area >= COCO_SMALL_AREA).astype(np.int8) + (area >= COCO_MEDIUM_AREA).astype(np.int8)


# ------------------------------------------------------------------- scanning
@dataclass
class _Chunk:
    """Per-box quantities of a chunk, all float32 of length n."""

    ymin: np.ndarray
    xmin: np.ndarray
    ymax: np.ndarray
    xmax: np.ndarray
    area: np.ndarray
    height: np.ndarray
    width: np.ndarray
    cy: np.ndarray
    cx: np.ndarray

    @classmethod
    def of(cls, b: np.ndarray) -> "_Chunk":
        ymin, xmin, ymax, xmax = (np.ascontiguousarray(b[:, i]) for i in range(4))
        height, width = ymax - ymin, xmax - xmin
        half = np.float32(0.5)
        return cls(ymin, xmin, ymax, xmax, height * width, height, width, (ymin + ymax) * half, (xmin + xmax) * half)


def _nearest(centre: np.ndarray, grid_centres: np.ndarray, stride: np.float32, offset: np.float32) -> np.ndarray:
    """Index of the nearest grid centre (clipped to the grid)."""
    idx = np.rint((centre - offset) / stride)
    np.clip(idx, 0, grid_centres.shape[0] - 1, out=idx)
    return idx.astype(np.intp)


def _window_radius(
    box_side: np.ndarray, anchor_side: np.float32, need: np.ndarray, dist0: np.ndarray, stride: np.float32, n: int
) -> np.ndarray:
    """Max number of grid steps from the nearest point at which overlap >= need."""
    # [2] Along one axis the overlap of sides b and a with centre distance d is
    #     min((a + b)/2 - |d|, min(a, b)); it reaches `need` only while
    #     |d| <= (a + b)/2 - need. Grid points j steps away from the nearest
    #     point are at least j*stride - d0 away, so j <= (R + d0)/stride.
    reach = (box_side + anchor_side) * np.float32(0.5) - need
    steps = np.floor((np.maximum(reach, 0) + dist0) / stride) + 1
    return np.minimum(steps, n - 1).astype(np.intp)


def _scan_layer(
    c: _Chunk,
    layer: LayerGrid,
    threshold: float,
    best: np.ndarray,
    best_idx: np.ndarray,
    positives: np.ndarray | None,
) -> None:
    iy0 = _nearest(c.cy, layer.y_centers, layer.stride[0], layer.offset[0])
    ix0 = _nearest(c.cx, layer.x_centers, layer.stride[1], layer.offset[1])
    for k in range(layer.num_specs):
        iou = _iou(
            c.ymin, c.xmin, c.ymax, c.xmax, c.area,
            layer.ymin[iy0, k], layer.xmin[ix0, k], layer.ymax[iy0, k], layer.xmax[ix0, k],
        )
        better = iou > best
        best[better] = iou[better]
        best_idx[better] = layer.anchor_index(iy0[better], ix0[better], k)
        if positives is None:
            continue
        positives += iou >= threshold
        _scan_window(c, layer, k, iy0, ix0, threshold, best, best_idx, positives)


def _scan_window(
    c: _Chunk,
    layer: LayerGrid,
    k: int,
    iy0: np.ndarray,
    ix0: np.ndarray,
    threshold: float,
    best: np.ndarray,
    best_idx: np.ndarray,
    positives: np.ndarray,
) -> None:
    """Count anchors of spec ``k`` other than the nearest one that reach the threshold."""
    grid_h, grid_w = layer.shape
    if grid_h == 1 and grid_w == 1:
        return
    ah, aw = layer.heights[k], layer.widths[k]
    # [4] IoU >= t  <=>  I >= t (|A| + |B|) / (1 + t). The largest possible I is
    #     min(h, ah) * min(w, aw) (centres aligned), so boxes below the bound can
    #     never reach t with this spec; the rest need per-axis overlap of at
    #     least T / min(other side). A 1e-4 relative margin keeps the window
    #     conservative under float32 rounding; the final test is the exact IoU.
    t_rel = np.float32(threshold / (1.0 + threshold) * (1.0 - 1e-4))
    target = t_rel * (c.area + ah * aw)
    min_h, min_w = np.minimum(c.height, ah), np.minimum(c.width, aw)
    sub = np.flatnonzero((min_h * min_w >= target) & (c.area > 0))
    if sub.size == 0:
        return
    need_h = target[sub] / min_w[sub]
    need_w = target[sub] / min_h[sub]
    sy, sx = layer.stride
    iy, ix = iy0[sub], ix0[sub]
    dy0 = np.abs(c.cy[sub] - layer.y_centers[iy])
    dx0 = np.abs(c.cx[sub] - layer.x_centers[ix])
    ry = _window_radius(c.height[sub], ah, need_h, dy0, sy, grid_h)
    rx = _window_radius(c.width[sub], aw, need_w, dx0, sx, grid_w)
    max_ry, max_rx = int(ry.max()), int(rx.max())
    for di in range(-max_ry, max_ry + 1):
        rows_ok = ry >= abs(di)
        for dj in range(-max_rx, max_rx + 1):
            if di == 0 and dj == 0:
                continue  # the nearest point was counted by the caller
            pick = np.flatnonzero(rows_ok & (rx >= abs(dj)))
            if pick.size == 0:
                continue
            jy, jx = iy[pick] + di, ix[pick] + dj
            inside = (jy >= 0) & (jy < grid_h) & (jx >= 0) & (jx < grid_w)
            pick, jy, jx = pick[inside], jy[inside], jx[inside]
            if pick.size == 0:
                continue
            boxes = sub[pick]
            iou = _iou(
                c.ymin[boxes], c.xmin[boxes], c.ymax[boxes], c.xmax[boxes], c.area[boxes],
                layer.ymin[jy, k], layer.xmin[jx, k], layer.ymax[jy, k], layer.xmax[jx, k],
            )
            hit = iou >= threshold
            positives[boxes[hit]] += 1
            better = iou > best[boxes]
            best[boxes[better]] = iou[better]
            best_idx[boxes[better]] = layer.anchor_index(jy[better], jx[better], k)


def scan_boxes(
    boxes: Any,
    grid: AnchorGrid,
    *,
    iou_threshold: float = 0.5,
    count_positives: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Best IoU, best anchor index and (optionally) positives count per box.

    Returns ``(best_iou float32 (M,), best_anchor int64 (M,), positives int32
    (M,) or None)``: the row max (to float32 rounding, <= 1e-6), an anchor
    reaching it, and exactly ``(iou >= t).sum`` of the rows of
    :func:`iou_matrix` against ``grid.anchors``.
    """
    b = as_boxes(boxes)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    m = b.shape[0]
    best = np.zeros(m, dtype=np.float32)
    best_idx = np.zeros(m, dtype=np.int64)
    positives = np.zeros(m, dtype=np.int32) if count_positives else None
    for lo in range(0, m, chunk_size):
        hi = min(lo + chunk_size, m)
        chunk = _Chunk.of(b[lo:hi])
        c_best = np.full(hi - lo, -1.0, dtype=np.float32)
        c_idx = np.zeros(hi - lo, dtype=np.int64)
        c_pos = np.zeros(hi - lo, dtype=np.int32) if count_positives else None
        for layer in grid.layers:
            _scan_layer(chunk, layer, iou_threshold, c_best, c_idx, c_pos)
        best[lo:hi], best_idx[lo:hi] = c_best, c_idx
        if positives is not None and c_pos is not None:
            positives[lo:hi] = c_pos
    return best, best_idx, positives


# --------------------------------------------------------------------- report
@dataclass(frozen=True)
class GroupCoverage:
    """Coverage statistics of a group of boxes (a class or a size bucket)."""

    count: int
    matched: int
    matched_fraction: float
    mean_best_iou: float
    mean_positives: float
    force_matched: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _group_stats(keys: np.ndarray, best: np.ndarray, positives: np.ndarray, matched: np.ndarray):
    values, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = len(values)
    count = np.bincount(inverse, minlength=n)
    n_matched = np.bincount(inverse, weights=matched.astype(np.float64), minlength=n)
    sum_best = np.bincount(inverse, weights=best.astype(np.float64), minlength=n)
    sum_pos = np.bincount(inverse, weights=positives.astype(np.float64), minlength=n)
    out = {}
    for i, value in enumerate(values.tolist()):
        out[value] = GroupCoverage(
            count=int(count[i]),
            matched=int(n_matched[i]),
            matched_fraction=float(n_matched[i] / count[i]),
            mean_best_iou=float(sum_best[i] / count[i]),
            mean_positives=float(sum_pos[i] / count[i]),
            force_matched=int(count[i] - n_matched[i]),
        )
    return out


@dataclass(frozen=True)
class CoverageReport:
    """Per-box anchor coverage and its summaries. Arrays are aligned with the input boxes."""

    best_iou: np.ndarray  # (M,) float32
    best_anchor: np.ndarray  # (M,) int64 index into the anchor array
    num_positives: np.ndarray  # (M,) int32 anchors with IoU >= threshold
    size_bucket: np.ndarray  # (M,) int8 COCO bucket, or caller's labels
    labels: np.ndarray | None  # (M,) class ids (or any labels), optional
    iou_threshold: float
    input_size: Size
    num_anchors: int
    bucket_names: tuple[str, ...] = field(default=SIZE_BUCKETS)

    @property
    def num_boxes(self) -> int:
        return int(self.best_iou.shape[0])

    @property
    def matched(self) -> np.ndarray:
        """Boxes with at least one anchor at IoU >= threshold."""
        return self.best_iou >= self.iou_threshold

    @property
    def matched_fraction(self) -> float:
        """Fraction of boxes the argmax matcher matches without forcing."""
        return float(self.matched.mean()) if self.num_boxes else float("nan")

    @property
    def mean_best_iou(self) -> float:
        return float(self.best_iou.mean(dtype=np.float64)) if self.num_boxes else float("nan")

    @property
    def force_matched(self) -> np.ndarray:
        """Indices of boxes that only get an anchor by force matching (best IoU < threshold)."""
        return np.flatnonzero(~self.matched)

    def worst(self, k: int = 10) -> np.ndarray:
        """Indices of the ``k`` boxes with the lowest best IoU, worst first (ties: lower index)."""
        k = max(0, min(int(k), self.num_boxes))
        if k == 0:
            return np.zeros(0, dtype=np.intp)
        if k < self.num_boxes:
            part = np.argpartition(self.best_iou, k - 1)[:k]
            cut = self.best_iou[part].max()
            part = np.flatnonzero(self.best_iou <= cut)  # keep every tie at the cut
        else:
            part = np.arange(self.num_boxes)
        order = np.lexsort((part, self.best_iou[part]))
        return part[order][:k]

    def by_size_bucket(self) -> dict[str, GroupCoverage]:
        """Statistics per size bucket, in :data:`SIZE_BUCKETS` order (empty buckets omitted)."""
        stats = _group_stats(self.size_bucket, self.best_iou, self.num_positives, self.matched)
        names = self.bucket_names
        return {
            (names[key] if isinstance(key, int) and 0 <= key < len(names) else str(key)): value
            for key, value in stats.items()
        }

    def by_class(self) -> dict[Hashable, GroupCoverage]:
        """Statistics per label (empty if no labels were given)."""
        if self.labels is None:
            return {}
        return _group_stats(self.labels, self.best_iou, self.num_positives, self.matched)

    def summary(self, worst_k: int = 10) -> dict[str, Any]:
        """JSON-able overview: totals, per bucket, per class, worst boxes."""
        return {
            "input_size": list(self.input_size),
            "num_anchors": self.num_anchors,
            "iou_threshold": self.iou_threshold,
            "num_boxes": self.num_boxes,
            "matched_fraction": self.matched_fraction,
            "force_matched": int(self.force_matched.size),
            "mean_best_iou": self.mean_best_iou,
            "mean_positives": float(self.num_positives.mean()) if self.num_boxes else float("nan"),
            "by_size_bucket": {k: v.to_dict() for k, v in self.by_size_bucket().items()},
            "by_class": {str(k): v.to_dict() for k, v in self.by_class().items()},
            "worst": self.worst(worst_k).tolist(),
        }


def anchor_coverage(
    boxes: Any,
    input_size: int | Sequence[int] = (300, 300),
    config: AnchorConfig | MultiscaleAnchorConfig | None = None,
    *,
    grid: AnchorGrid | None = None,
    labels: Any = None,
    size_buckets: Any = None,
    iou_threshold: float = 0.5,
    chunk_size: int = DEFAULT_CHUNK,
) -> CoverageReport:
    """Anchor coverage of ground-truth boxes.

    ``boxes``: ``(M, 4)`` normalized ``ymin, xmin, ymax, xmax`` in the model
    input frame. ``config`` defaults to :class:`AnchorConfig` (ssd_mobilenet_v2);
    a :class:`MultiscaleAnchorConfig` (FPN levels) works the same way. Pass ``grid`` instead to reuse generated anchors. ``labels``: optional class
    id per box. ``size_buckets``: optional bucket label per box replacing the
    COCO buckets.

    >>> from dataprep.anchors import ssd_anchors
    >>> report = anchor_coverage(ssd_anchors(300)[:1], 300)  # the first anchor itself
    >>> float(report.best_iou[0]), int(report.best_anchor[0]), report.matched_fraction
    (1.0, 0, 1.0)
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    size = as_input_size(input_size)
    if grid is None:
        grid = (config or AnchorConfig()).grid(size)
    elif grid.input_size != size:
        raise ValueError(f"grid was made for input size {grid.input_size}, not {size}")
    b = as_boxes(boxes)
    m = b.shape[0]
    lab = None if labels is None else np.asarray(labels)
    if lab is not None and lab.shape != (m,):
        raise ValueError(f"labels must have shape ({m},), got {lab.shape}")
    if size_buckets is None:
        buckets = coco_size_buckets(boxes, size)
        names: tuple[str, ...] = SIZE_BUCKETS
    else:
        buckets = np.asarray(size_buckets)
        if buckets.shape != (m,):
            raise ValueError(f"size_buckets must have shape ({m},), got {buckets.shape}")
        names = ()
    best, best_idx, positives = scan_boxes(b, grid, iou_threshold=iou_threshold, chunk_size=chunk_size)
    assert positives is not None
    return CoverageReport(
        best_iou=best,
        best_anchor=best_idx,
        num_positives=positives,
        size_bucket=buckets,
        labels=lab,
        iou_threshold=float(iou_threshold),
        input_size=size,
        num_anchors=grid.num_anchors,
        bucket_names=names,
    )
