"""What any anchor setting can reach on a model's grids: the limit the strides set.

Anchor scales and aspect ratios are free to tune, but anchor centres are not:
they sit on the feature-map grids, one per stride. A box whose centre falls
between grid points can only reach a limited IoU with an anchor of *any*
shape centred on a grid point, and for boxes not much larger than the finest
stride that limit is below the matching threshold. No anchor setting at this
input size can cover such a box; a larger input (boxes grow, strides stay) or a
model with a finer level (stride 8) can.

:func:`reachable_iou` estimates that limit per box:

1. for every layer, the grid point nearest the box centre gives the centre
   offsets ``dx, dy`` (pixels at the model input);
2. for an anchor of size ``a_w x a_h`` centred there, ``IoU = I / (w h + a_w a_h - I)``
   with ``I = ov(w, a_w, dx) * ov(h, a_h, dy)`` and
   ``ov(s, a, d) = max(0, min(d + s/2, a/2) - max(d - s/2, -a/2))``;
3. the limit is the maximum over layers and over anchor shapes on a
   log-spaced grid of ``a_w / w, a_h / h`` in [0.4, 2.5] (a grid search, so the
   estimate is at most a little below the exact maximum).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dataprep.anchors.generator import Size, as_input_size

#: Anchor size over box size tried per axis (step 2): 33 values from 0.4 to 2.5.
SHAPE_FACTORS = np.geomspace(0.4, 2.5, 33)
_CHUNK = 2048


def ssd_grid_centres(config, input_size: int | Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(y_centres, x_centres)]`` per layer of anchor settings (an SSD
    :class:`AnchorConfig` or a ``MultiscaleAnchorConfig``: both have ``grid``), in pixels."""
    size = as_input_size(input_size)
    return [(layer.y_centers.astype(np.float64) * size[0], layer.x_centers.astype(np.float64) * size[1])
            for layer in config.grid(size).layers]


def stride_grid_centres(strides: Sequence[int], input_size: int | Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grid centres ``(i + 0.5) * stride`` of feature maps with these strides (FPN levels), in pixels."""
    h, w = as_input_size(input_size)
    out = []
    for s in strides:
        out.append(((np.arange(-(-h // s)) + 0.5) * s, (np.arange(-(-w // s)) + 0.5) * s))
    return out


def _nearest_offset(centre: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Distance from each ``centre`` to the nearest value of the sorted ``grid``."""
    if len(grid) == 1:
        return np.abs(centre - grid[0])
    i = np.clip(np.searchsorted(grid, centre), 1, len(grid) - 1)
    return np.minimum(np.abs(centre - grid[i - 1]), np.abs(centre - grid[i]))


def _overlap(size: np.ndarray, anchor: np.ndarray, offset: np.ndarray) -> np.ndarray:
    lo = np.maximum(offset - size / 2, -anchor / 2)
    hi = np.minimum(offset + size / 2, anchor / 2)
    return np.maximum(hi - lo, 0.0)


def reachable_iou(boxes: np.ndarray, input_size: int | Sequence[int],
                  centres: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``(M,)`` best IoU any anchor centred on one of ``centres`` can reach with each box.

    ``boxes``: ``(M, 4)`` normalized ``ymin, xmin, ymax, xmax`` at the model
    input; ``centres``: per layer ``(y, x)`` grid centres in pixels (sorted).
    """
    h_in, w_in = as_input_size(input_size)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros(b.shape[0], dtype=np.float64)
    f = SHAPE_FACTORS
    for lo in range(0, b.shape[0], _CHUNK):
        c = b[lo:lo + _CHUNK]
        w = np.maximum((c[:, 3] - c[:, 1]) * w_in, 1e-6)
        h = np.maximum((c[:, 2] - c[:, 0]) * h_in, 1e-6)
        cx = (c[:, 1] + c[:, 3]) / 2 * w_in
        cy = (c[:, 0] + c[:, 2]) / 2 * h_in
        best = np.zeros(c.shape[0])
        for ys, xs in centres:
            dx, dy = _nearest_offset(cx, np.asarray(xs)), _nearest_offset(cy, np.asarray(ys))
            ox = _overlap(w[:, None], w[:, None] * f[None, :], dx[:, None])  # (m, F)
            oy = _overlap(h[:, None], h[:, None] * f[None, :], dy[:, None])
            inter = ox[:, :, None] * oy[:, None, :]  # (m, F, F)
            area = (w * h)[:, None, None] * (1.0 + f[None, :, None] * f[None, None, :])
            best = np.maximum(best, (inter / (area - inter)).max(axis=(1, 2)))
        out[lo:lo + _CHUNK] = best
    return out


def reachable_fraction(boxes: np.ndarray, input_size: int | Sequence[int],
                       centres: list[tuple[np.ndarray, np.ndarray]], iou_threshold: float = 0.5) -> float:
    """Share of ``boxes`` that some anchor on these grids can match at ``iou_threshold``."""
    if len(boxes) == 0:
        return float("nan")
    return float((reachable_iou(boxes, input_size, centres) >= iou_threshold).mean())


def scaled_size(size: Size, factor: float, multiple: int = 32) -> Size:
    """``size * factor`` rounded to a multiple of ``multiple`` (MobileNetV2 likes multiples of 32)."""
    h, w = (max(multiple, int(round(s * factor / multiple)) * multiple) for s in size)
    return (h, w)
