"""Multiscale (FPN / RetinaNet) grid anchors in pure numpy, exactly as the TF OD API makes them.

This module reproduces ``MultiscaleGridAnchorGenerator`` of the TensorFlow
Object Detection API
(``object_detection/anchor_generators/multiscale_grid_anchor_generator.py``,
built from a ``multiscale_anchor_generator { ... }`` block), which the TF2 zoo
model ``ssd_mobilenet_v2_fpnlite_320x320`` uses, without importing
TensorFlow. Arithmetic is float32 in the TF graph's order, so the anchors equal
the genuine ones bit for bit (``tests/data/odapi_anchors.npz``).

::

    level l = min_level .. max_level          (one feature map per level)
      stride 2^l, grid ceil(H' / 2^l) x ceil(W' / 2^l)   (H', W': input padded to pad_to_multiple)
      base anchor 2^l * anchor_scale pixels
      specs: for each aspect ratio a, for each octave scale 2^(i / scales_per_octave)
      -> tile_layer (same as the SSD generator) in pixels -> * (1 / H, 1 / W)

Conventions are those of :mod:`dataprep.anchors.generator`: ``(N, 4)``
float32 ``ymin, xmin, ymax, xmax``, normalized to the (unpadded) input unless
``normalize_coordinates`` is false; order level, row, column, spec.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Sequence

import numpy as np

from dataprep.anchors.generator import (
    AnchorConfigError,
    AnchorGrid,
    BoxSpec,
    LayerGrid,
    as_input_size,
    padded_input_size,
    tile_layer,
)

#: Aspect ratios of the TF2 zoo ``ssd_mobilenet_v2_fpnlite_320x320`` pipeline.config.
FPNLITE_ASPECT_RATIOS = (1.0, 2.0, 0.5)


def _scaled_layer(layer: LayerGrid, sy: np.float32, sx: np.float32) -> LayerGrid:
    """``layer`` with every y table multiplied by ``sy`` and every x table by ``sx`` (float32)."""
    return replace(
        layer,
        stride=(layer.stride[0] * sy, layer.stride[1] * sx),
        offset=(layer.offset[0] * sy, layer.offset[1] * sx),
        heights=layer.heights * sy,
        widths=layer.widths * sx,
        y_centers=layer.y_centers * sy,
        x_centers=layer.x_centers * sx,
        ymin=layer.ymin * sy,
        ymax=layer.ymax * sy,
        xmin=layer.xmin * sx,
        xmax=layer.xmax * sx,
    )


@dataclass(frozen=True)
class MultiscaleAnchorConfig:
    """Settings of the TF OD API ``multiscale_anchor_generator``.

    Defaults are those of the TF2 zoo FPNLite pipeline.config (``min_level``
    3 to ``max_level`` 7, ``anchor_scale`` 4, aspect ratios 1, 2, 0.5, two
    scales per octave). ``pad_to_multiple`` is the feature extractor's
    (``feature_extractor.pad_to_multiple``): the network sees the input padded
    up to a multiple of it, which decides the grid sizes.

    >>> cfg = MultiscaleAnchorConfig()
    >>> cfg.num_anchors_per_location(), cfg.feature_maps(320)
    ([6, 6, 6, 6, 6], [(40, 40), (20, 20), (10, 10), (5, 5), (3, 3)])
    >>> cfg.num_anchors(320)
    12804
    >>> MultiscaleAnchorConfig.from_json(cfg.to_json()) == cfg
    True
    """

    kind: ClassVar[str] = "multiscale"

    min_level: int = 3
    max_level: int = 7
    anchor_scale: float = 4.0
    aspect_ratios: tuple[float, ...] = FPNLITE_ASPECT_RATIOS
    scales_per_octave: int = 2
    normalize_coordinates: bool = True
    pad_to_multiple: int = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("min_level", "max_level", "scales_per_octave", "pad_to_multiple"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise AnchorConfigError(f"{name} must be an integer, got {value!r}")
            set_(self, name, int(value))
        if not 1 <= self.min_level <= self.max_level <= 16:
            raise AnchorConfigError(
                f"need 1 <= min_level <= max_level <= 16, got min_level={self.min_level}, max_level={self.max_level}"
            )
        if self.scales_per_octave < 1:
            raise AnchorConfigError(f"scales_per_octave must be >= 1, got {self.scales_per_octave}")
        if self.pad_to_multiple < 1:
            raise AnchorConfigError(f"pad_to_multiple must be >= 1, got {self.pad_to_multiple}")
        value = self.anchor_scale
        if not isinstance(value, (int, float, np.floating, np.integer)) or not (math.isfinite(value) and value > 0):
            raise AnchorConfigError(f"anchor_scale must be a positive number, got {value!r}")
        set_(self, "anchor_scale", float(value))
        try:
            ratios = tuple(float(a) for a in self.aspect_ratios)
        except (TypeError, ValueError):
            raise AnchorConfigError(f"aspect_ratios must be a list of numbers, got {self.aspect_ratios!r}") from None
        if not ratios:
            raise AnchorConfigError("aspect_ratios must not be empty")
        bad = [a for a in ratios if not (math.isfinite(a) and a > 0)]
        if bad:
            raise AnchorConfigError(f"aspect_ratios must be positive, got {bad[0]!r}")
        set_(self, "aspect_ratios", ratios)
        set_(self, "normalize_coordinates", bool(self.normalize_coordinates))

    # ------------------------------------------------------------------ specs
    @property
    def levels(self) -> list[int]:
        """Pyramid levels ``min_level .. max_level``; level ``l`` has stride ``2^l``."""
        return list(range(self.min_level, self.max_level + 1))

    def octave_scales(self) -> list[float]:
        """``2^(i / scales_per_octave)`` for ``i = 0 .. scales_per_octave - 1``."""
        return [2 ** (float(i) / self.scales_per_octave) for i in range(self.scales_per_octave)]

    def box_specs(self) -> list[BoxSpec]:
        """``(scale, aspect_ratio)`` of every anchor at a grid point, in TF order."""
        # [1] TF's ops.meshgrid(scales, aspect_ratios) flattened: aspect ratio
        #     outer, octave scale inner. Ref: TF OD API GridAnchorGenerator._generate.
        return [(s, a) for a in self.aspect_ratios for s in self.octave_scales()]

    def num_anchors_per_location(self) -> list[int]:
        """Number of anchors at each grid point, one entry per level."""
        return [len(self.aspect_ratios) * self.scales_per_octave] * len(self.levels)

    def feature_maps(self, input_size: int | Sequence[int]) -> list[tuple[int, int]]:
        """Grid ``(height, width)`` of each level: ``ceil(H' / 2^l)`` of the padded input."""
        # [2] MobileNetV2 and the FPN's coarse layers are stride-2 convolutions
        #     with SAME padding, each giving ceil(n / 2); nested ceils make
        #     ceil(H' / 2^l). H' is H padded up to a multiple of pad_to_multiple
        #     (TF OD API ops.pad_to_multiple in the feature extractor).
        height, width = padded_input_size(input_size, self.pad_to_multiple)
        return [(-(-height // 2**level), -(-width // 2**level)) for level in self.levels]

    def num_anchors(self, input_size: int | Sequence[int]) -> int:
        """Total anchor count for ``input_size``."""
        return sum(h * w * k for (h, w), k in zip(self.feature_maps(input_size), self.num_anchors_per_location()))

    # ------------------------------------------------------------- generation
    def grid(self, input_size: int | Sequence[int]) -> AnchorGrid:
        """Level-by-level anchors for ``input_size`` (see :class:`AnchorGrid`)."""
        size = as_input_size(input_size)
        im_h, im_w = size
        specs = self.box_specs()
        # [3] Level l: stride 2^l, base anchor 2^l * anchor_scale pixels, centre of
        #     the first cell stride / 2 -- but only along an axis the (unpadded)
        #     input size is a multiple of 2^l; otherwise 0. Then pixels times the
        #     float32 reciprocal of the input size (box_list_ops.scale).
        #     Ref: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017,
        #     Sec. 4 (anchors); TF OD API MultiscaleGridAnchorGenerator._generate,
        #     box_list_ops.to_normalized_coordinates.
        one = np.float32(1.0)
        inv_h, inv_w = one / np.float32(im_h), one / np.float32(im_w)
        layers: list[LayerGrid] = []
        start = 0
        for index, (level, fmap) in enumerate(zip(self.levels, self.feature_maps(size))):
            stride = 2**level
            base = np.float32(stride * self.anchor_scale)
            offset_y = stride / 2.0 if (im_h % 2.0**level == 0 or im_h == 1) else 0.0
            offset_x = stride / 2.0 if (im_w % 2.0**level == 0 or im_w == 1) else 0.0
            layer = tile_layer(
                fmap,
                specs,
                (base, base),
                (np.float32(stride), np.float32(stride)),
                (np.float32(offset_y), np.float32(offset_x)),
                index=index,
                start=start,
            )
            if self.normalize_coordinates:
                layer = _scaled_layer(layer, inv_h, inv_w)
            layers.append(layer)
            start += layer.num_anchors
        anchors = np.concatenate([layer.corners() for layer in layers], axis=0)
        return AnchorGrid(input_size=size, layers=tuple(layers), anchors=anchors)

    def generate(self, input_size: int | Sequence[int]) -> np.ndarray:
        """``(N, 4)`` float32 ``ymin, xmin, ymax, xmax`` anchors for ``input_size``.

        >>> anchors = MultiscaleAnchorConfig().generate(320)
        >>> anchors.shape, anchors.dtype
        ((12804, 4), dtype('float32'))
        >>> [round(float(v), 4) for v in anchors[0]]  # centre 4/320, side 32/320
        [-0.0375, -0.0375, 0.0625, 0.0625]
        """
        return self.grid(input_size).anchors

    # -------------------------------------------------------- serialization
    def replace(self, **changes: Any) -> "MultiscaleAnchorConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), ``kind`` first: the dict says which settings it holds."""
        return {"kind": self.kind, **json.loads(json.dumps(asdict(self)))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MultiscaleAnchorConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        if not isinstance(data, dict):
            raise AnchorConfigError(f"anchor config must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        kind = data.pop("kind", cls.kind)
        if kind != cls.kind:
            raise AnchorConfigError(f"{kind!r} anchor settings are not {cls.kind!r} ones")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AnchorConfigError(
                f"unknown multiscale anchor config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise AnchorConfigError(f"invalid multiscale anchor config: {exc}") from None

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "MultiscaleAnchorConfig":
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnchorConfigError(f"anchor config is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def multiscale_anchors(input_size: int | Sequence[int] = 320, **settings: Any) -> np.ndarray:
    """Multiscale anchors for an input size (settings as :class:`MultiscaleAnchorConfig`).

    >>> multiscale_anchors(320).shape
    (12804, 4)
    """
    return MultiscaleAnchorConfig(**settings).generate(input_size)


__all__ = ["FPNLITE_ASPECT_RATIOS", "MultiscaleAnchorConfig", "multiscale_anchors"]
