"""One hub format for boxes and one table of converters.

Inside dataprep every box is ``xyxy``: absolute pixel coordinates of the box
corners in a *continuous* frame where pixel column ``i`` covers ``[i, i+1)``.
A box covering exactly the one pixel (0, 0) is ``(0, 0, 1, 1)``; its width is
``xmax - xmin``. Each reader converts its own format into the hub with
:func:`convert` and states its pixel convention where it applies it; the record
writer converts the hub into normalized ``ymin, xmin, ymax, xmax``.

All functions take and return ``(N, 4)`` float arrays and are vectorised.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Names of the formats :func:`convert` understands.
FORMATS = ("xyxy", "xywh", "yxyx", "cxcywh", "rel_xyxy", "rel_xywh", "rel_yxyx")


def _as_array(boxes) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"Expected boxes of shape (N, 4), got shape {arr.shape}")
    return arr


def _scale(width, height) -> np.ndarray:
    """(N, 4) multipliers [w, h, w, h] from scalars or per-box arrays."""
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    return np.stack(np.broadcast_arrays(w, h, w, h), axis=-1)


# Each entry converts between one format and the hub (xyxy, pixels).
def _xywh_to_xyxy(b, w, h):
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)


def _xyxy_to_xywh(b, w, h):
    return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)


def _yxyx_to_xyxy(b, w, h):
    return b[:, [1, 0, 3, 2]]


def _cxcywh_to_xyxy(b, w, h):
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], axis=1)


def _xyxy_to_cxcywh(b, w, h):
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1
    )


def _rel(to_hub_abs):
    def to_hub(b, w, h):
        return to_hub_abs(b, w, h) * _scale(w, h) if to_hub_abs is not None else b * _scale(w, h)

    return to_hub


def _unrel(from_hub_abs):
    def from_hub(b, w, h):
        out = from_hub_abs(b, w, h) if from_hub_abs is not None else b
        return out / _scale(w, h)

    return from_hub


_TO_HUB: dict[str, Callable] = {
    "xyxy": lambda b, w, h: b,
    "xywh": _xywh_to_xyxy,
    "yxyx": _yxyx_to_xyxy,
    "cxcywh": _cxcywh_to_xyxy,
    "rel_xyxy": _rel(None),
    "rel_xywh": lambda b, w, h: _xywh_to_xyxy(b, w, h) * _scale(w, h),
    "rel_yxyx": lambda b, w, h: _yxyx_to_xyxy(b, w, h) * _scale(w, h),
}

_FROM_HUB: dict[str, Callable] = {
    "xyxy": lambda b, w, h: b,
    "xywh": _xyxy_to_xywh,
    "yxyx": _yxyx_to_xyxy,  # swapping x and y is its own inverse
    "cxcywh": _xyxy_to_cxcywh,
    "rel_xyxy": _unrel(None),
    "rel_xywh": lambda b, w, h: _xyxy_to_xywh(b / _scale(w, h), w, h),
    "rel_yxyx": lambda b, w, h: _yxyx_to_xyxy(b / _scale(w, h), w, h),
}


def convert(boxes, source: str, target: str, *, width=None, height=None) -> np.ndarray:
    """Convert boxes between formats through the ``xyxy`` pixel hub.

    ``width`` and ``height`` (scalars or one per box) are needed when either
    format is relative (``rel_*``).

    >>> convert([[10, 20, 30, 40]], "xywh", "xyxy").tolist()
    [[10.0, 20.0, 40.0, 60.0]]
    >>> convert([[0, 0, 50, 25]], "xyxy", "rel_yxyx", width=100, height=50).tolist()
    [[0.0, 0.0, 0.5, 0.5]]
    """
    for name in (source, target):
        if name not in _TO_HUB:
            raise ValueError(f"Unknown box format {name!r}; known: {', '.join(FORMATS)}")
    if (source.startswith("rel_") or target.startswith("rel_")) and (width is None or height is None):
        raise ValueError(f"Converting {source!r} to {target!r} needs width and height")
    arr = _as_array(boxes)
    if source == target:
        return arr.copy()
    hub = _TO_HUB[source](arr, width, height)
    return _FROM_HUB[target](hub, width, height)


def iou_matrix(a, b) -> np.ndarray:
    """Pairwise IoU of ``xyxy`` boxes: (N, 4) x (M, 4) -> (N, M)."""
    a = _as_array(a)
    b = _as_array(b)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
