"""Box checks that need the real image size, vectorised over one image's boxes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FittedBoxes:
    boxes: np.ndarray  # (K, 4) xyxy pixels, clipped, for the kept boxes
    keep: np.ndarray  # (N,) bool
    clipped: np.ndarray  # (N,) bool: kept but clipped to the image
    outside: np.ndarray  # (N,) bool: dropped, no overlap with the image
    degenerate: np.ndarray  # (N,) bool: dropped, width or height < min_size after clipping


def fit_boxes(boxes: np.ndarray, width: int, height: int, *, min_size: float = 1.0) -> FittedBoxes:
    """Clip ``xyxy`` pixel boxes to the image ``[0, W] x [0, H]``.

    1. A box with no overlap with the image is dropped (``outside``).
    2. A box partly outside is clipped to the image (``clipped``).
    3. A box whose clipped width or height is below ``min_size`` pixels (zero
       or sub-pixel) is dropped (``degenerate``): it has no pixels to learn.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lim = np.array([width, height, width, height], dtype=np.float64)
    clipped_boxes = np.clip(b, 0.0, lim)
    outside = (b[:, 0] >= width) | (b[:, 1] >= height) | (b[:, 2] <= 0) | (b[:, 3] <= 0)
    changed = (clipped_boxes != b).any(axis=1) & ~outside
    w = clipped_boxes[:, 2] - clipped_boxes[:, 0]
    h = clipped_boxes[:, 3] - clipped_boxes[:, 1]
    degenerate = ~outside & ((w < min_size) | (h < min_size))
    keep = ~outside & ~degenerate
    return FittedBoxes(clipped_boxes[keep], keep, changed & keep, outside, degenerate)
