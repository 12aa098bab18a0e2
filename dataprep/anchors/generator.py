"""SSD anchors ("default boxes") in pure numpy, exactly as the TF OD API makes them.

This module reproduces ``create_ssd_anchors`` + ``MultipleGridAnchorGenerator``
+ ``tile_anchors`` from the TensorFlow Object Detection API
(``object_detection/anchor_generators/{multiple_grid,grid}_anchor_generator.py``)
without importing TensorFlow. Arithmetic is done in float32 in the same order as
the TF graph, so the anchors match the ones the trained model uses bit for bit.

Conventions: anchors are ``(N, 4)`` float32 ``ymin, xmin, ymax, xmax`` in
coordinates normalized to the model input (``[0, 1]`` is the image; anchors are
*not* clipped and may stick out). Order: layer, then grid row ``y``, then grid
column ``x``, then box spec (fastest).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Sequence

import numpy as np

from dataprep.errors import DataprepError

#: ``(height, width)`` of the model input in pixels.
Size = tuple[int, int]
#: One ``(scale, aspect_ratio)`` pair; aspect ratio is width / height.
BoxSpec = tuple[float, float]

#: Aspect ratios of the TF OD API ``ssd_mobilenet_v2`` sample pipeline.config.
SSD_MOBILENET_V2_ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)


class AnchorConfigError(DataprepError, ValueError):
    """Anchor settings (or the file they were read from) are invalid."""


def as_input_size(input_size: int | Sequence[int]) -> Size:
    """Normalize ``300`` or ``(300, 300)`` to a ``(height, width)`` tuple of ints."""
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        size = (int(input_size), int(input_size))
    else:
        try:
            height, width = input_size  # type: ignore[misc]
        except (TypeError, ValueError):
            raise AnchorConfigError(
                f"input_size must be an int or a (height, width) pair, got {input_size!r}"
            ) from None
        if any(isinstance(v, bool) or int(v) != v for v in (height, width)):
            raise AnchorConfigError(f"input_size must hold integers, got {input_size!r}")
        size = (int(height), int(width))
    if min(size) < 1:
        raise AnchorConfigError(f"input_size must be positive, got {size}")
    return size


def padded_input_size(input_size: int | Sequence[int], pad_to_multiple: int = 1) -> Size:
    """The input size the network sees: each side rounded up to a multiple of ``pad_to_multiple``.

    >>> padded_input_size(300, 32), padded_input_size((300, 320), 1)
    ((320, 320), (300, 320))
    """
    # The TF OD API feature extractors zero-pad the preprocessed image to a
    # multiple of feature_extractor.pad_to_multiple (ops.pad_to_multiple) before
    # the backbone, while the anchors are still normalized to the unpadded size.
    height, width = as_input_size(input_size)
    if isinstance(pad_to_multiple, bool) or int(pad_to_multiple) != pad_to_multiple or pad_to_multiple < 1:
        raise AnchorConfigError(f"pad_to_multiple must be an integer >= 1, got {pad_to_multiple!r}")
    m = int(pad_to_multiple)
    return (-(-height // m) * m, -(-width // m) * m)


def mobilenet_v2_feature_map_sizes(
    input_size: int | Sequence[int], num_layers: int = 6
) -> list[tuple[int, int]]:
    """Feature map ``(height, width)`` of each SSD MobileNetV2 prediction layer.

    >>> mobilenet_v2_feature_map_sizes(300)
    [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    >>> mobilenet_v2_feature_map_sizes((320, 640))[:3]
    [(20, 40), (10, 20), (5, 10)]
    """
    # [1] TF OD API ssd_mobilenet_v2 feature extractor: layer_15/expansion_output
    #     (stride 16) and layer_19 (stride 32) of MobileNetV2, then extra 3x3
    #     stride-2 convs with SAME padding, each giving ceil(n / 2). Nested
    #     ceil(ceil(n/a)/b) == ceil(n/(a*b)) for integers, so sizes are
    #     ceil(H/16), ceil(H/32), then ceil(prev/2). Ref: Sandler et al.,
    #     "MobileNetV2", CVPR 2018, Sec. 6.2; ssd_mobilenet_v2_feature_extractor.py.
    height, width = as_input_size(input_size)
    if num_layers < 1:
        raise AnchorConfigError(f"num_layers must be >= 1, got {num_layers}")
    sizes = [(-(-height // 16), -(-width // 16)), (-(-height // 32), -(-width // 32))]
    while len(sizes) < num_layers:
        prev_h, prev_w = sizes[-1]
        sizes.append((-(-prev_h // 2), -(-prev_w // 2)))
    return sizes[:num_layers]


def layer_scales(
    num_layers: int, min_scale: float, max_scale: float, scales: Sequence[float] | None = None
) -> list[float]:
    """Per-layer anchor scales, with the extra trailing ``1.0`` TF appends.

    >>> [round(s, 2) for s in layer_scales(6, 0.2, 0.95)]
    [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0]
    """
    # [2] s_i = s_min + (s_max - s_min) * i / (L - 1), i = 0..L-1, then s_L = 1.0
    #     (only used to interpolate the last layer's extra anchor). An explicit
    #     list replaces the formula and also gets 1.0 appended.
    #     Ref: Liu et al., "SSD", ECCV 2016, Sec. 2.2 Eq. (4); create_ssd_anchors.
    if scales:
        return [float(s) for s in scales] + [1.0]
    if num_layers == 1:
        raise AnchorConfigError("num_layers == 1 needs an explicit scales list (L - 1 == 0)")
    return [
        min_scale + (max_scale - min_scale) * i / (num_layers - 1) for i in range(num_layers)
    ] + [1.0]


def box_specs(
    num_layers: int = 6,
    min_scale: float = 0.2,
    max_scale: float = 0.95,
    scales: Sequence[float] | None = None,
    aspect_ratios: Sequence[float] = SSD_MOBILENET_V2_ASPECT_RATIOS,
    interpolated_scale_aspect_ratio: float = 1.0,
    reduce_boxes_in_lowest_layer: bool = True,
) -> list[list[BoxSpec]]:
    """The ``(scale, aspect_ratio)`` pairs placed at every location of each layer.

    >>> box_specs(2, scales=[0.2, 0.5], aspect_ratios=[1.0], reduce_boxes_in_lowest_layer=False)
    [[(0.2, 1.0), (0.31622776601683794, 1.0)], [(0.5, 1.0), (0.7071067811865476, 1.0)]]
    """
    # [3] Layer 0 with reduce_boxes_in_lowest_layer: the fixed trio
    #     (0.1, 1.0), (s_0, 2.0), (s_0, 0.5). Other layers: (s_i, a) for every
    #     aspect ratio a, plus (sqrt(s_i * s_{i+1}), a_interp) when a_interp > 0.
    #     Ref: Liu et al., "SSD", Sec. 2.2 (extra box s'_k = sqrt(s_k s_{k+1}));
    #     TF OD API create_ssd_anchors.
    all_scales = layer_scales(num_layers, min_scale, max_scale, scales)
    if len(all_scales) - 1 < num_layers:
        raise AnchorConfigError(
            f"scales has {len(all_scales) - 1} entries but num_layers is {num_layers}"
        )
    specs: list[list[BoxSpec]] = []
    for layer in range(num_layers):
        scale, scale_next = all_scales[layer], all_scales[layer + 1]
        if layer == 0 and reduce_boxes_in_lowest_layer:
            specs.append([(0.1, 1.0), (scale, 2.0), (scale, 0.5)])
            continue
        layer_specs = [(scale, float(ar)) for ar in aspect_ratios]
        if interpolated_scale_aspect_ratio > 0.0:
            layer_specs.append(
                (float(np.sqrt(scale * scale_next)), float(interpolated_scale_aspect_ratio))
            )
        specs.append(layer_specs)
    return specs


def _f32(value: float) -> np.float32:
    return np.float32(value)


def _via_f32(value: float) -> float:
    """``value`` rounded to float32 and back (a proto ``float`` field as Python reads it)."""
    return float(np.float32(value))


@dataclass(frozen=True)
class LayerGrid:
    """Anchors of one prediction layer in separable form.

    Every anchor of the layer is ``(ymin[iy, k], xmin[ix, k], ymax[iy, k],
    xmax[ix, k])`` for grid row ``iy``, column ``ix`` and box spec ``k``; the
    full anchor array is built from these tables, so lookups into them give
    exactly the same float32 values.
    """

    index: int
    shape: tuple[int, int]
    stride: tuple[np.float32, np.float32]
    offset: tuple[np.float32, np.float32]
    specs: tuple[BoxSpec, ...]
    heights: np.ndarray  # (K,) float32
    widths: np.ndarray  # (K,) float32
    y_centers: np.ndarray  # (H,) float32
    x_centers: np.ndarray  # (W,) float32
    ymin: np.ndarray  # (H, K)
    ymax: np.ndarray  # (H, K)
    xmin: np.ndarray  # (W, K)
    xmax: np.ndarray  # (W, K)
    start: int  # index of this layer's first anchor in the concatenated array

    @property
    def num_specs(self) -> int:
        return len(self.specs)

    @property
    def num_anchors(self) -> int:
        return self.shape[0] * self.shape[1] * len(self.specs)

    def anchor_index(self, iy: np.ndarray, ix: np.ndarray, k: int | np.ndarray) -> np.ndarray:
        """Index into the concatenated anchor array of (row, column, spec)."""
        return self.start + (iy * self.shape[1] + ix) * len(self.specs) + k

    def corners(self) -> np.ndarray:
        """``(H * W * K, 4)`` anchors of this layer in TF order (y, x, spec)."""
        grid_h, grid_w = self.shape
        k = len(self.specs)
        out = np.empty((grid_h, grid_w, k, 4), dtype=np.float32)
        out[..., 0] = self.ymin[:, None, :]
        out[..., 1] = self.xmin[None, :, :]
        out[..., 2] = self.ymax[:, None, :]
        out[..., 3] = self.xmax[None, :, :]
        return out.reshape(-1, 4)


def tile_layer(
    grid_shape: tuple[int, int],
    specs: Sequence[BoxSpec],
    base_anchor_size: tuple[np.float32, np.float32],
    stride: tuple[np.float32, np.float32],
    offset: tuple[np.float32, np.float32],
    index: int = 0,
    start: int = 0,
) -> LayerGrid:
    """Place the box specs at every point of one grid (TF ``tile_anchors``)."""
    # [4] h_k = s_k / sqrt(a_k) * base_h, w_k = s_k * sqrt(a_k) * base_w;
    #     centre_y(i) = i * stride_y + offset_y, centre_x(j) = j * stride_x + offset_x;
    #     corners = centre -/+ 0.5 * size. float32, same operation order as TF.
    #     Ref: TF OD API grid_anchor_generator.tile_anchors.
    grid_h, grid_w = int(grid_shape[0]), int(grid_shape[1])
    if grid_h < 1 or grid_w < 1:
        raise AnchorConfigError(f"feature map size must be positive, got {grid_shape}")
    scales = np.array([s for s, _ in specs], dtype=np.float32)
    ratios = np.array([a for _, a in specs], dtype=np.float32)
    ratio_sqrts = np.sqrt(ratios)
    heights = scales / ratio_sqrts * base_anchor_size[0]
    widths = scales * ratio_sqrts * base_anchor_size[1]
    y_centers = np.arange(grid_h, dtype=np.float32) * stride[0] + offset[0]
    x_centers = np.arange(grid_w, dtype=np.float32) * stride[1] + offset[1]
    half = np.float32(0.5)
    half_h, half_w = half * heights, half * widths
    return LayerGrid(
        index=index,
        shape=(grid_h, grid_w),
        stride=stride,
        offset=offset,
        specs=tuple((float(s), float(a)) for s, a in specs),
        heights=heights,
        widths=widths,
        y_centers=y_centers,
        x_centers=x_centers,
        ymin=y_centers[:, None] - half_h[None, :],
        ymax=y_centers[:, None] + half_h[None, :],
        xmin=x_centers[:, None] - half_w[None, :],
        xmax=x_centers[:, None] + half_w[None, :],
        start=start,
    )


@dataclass(frozen=True)
class AnchorGrid:
    """All layers of an SSD anchor set for one input size, plus the flat array."""

    input_size: Size
    layers: tuple[LayerGrid, ...]
    anchors: np.ndarray  # (N, 4) float32, ymin xmin ymax xmax

    @property
    def num_anchors(self) -> int:
        return int(self.anchors.shape[0])

    def layer_of(self, anchor_index: np.ndarray) -> np.ndarray:
        """Layer number of each anchor index."""
        starts = np.array([layer.start for layer in self.layers])
        return np.searchsorted(starts, np.asarray(anchor_index), side="right") - 1


def _pairs(value: Any, name: str, num_layers: int) -> tuple[tuple[float, float], ...] | None:
    if value is None:
        return None
    try:
        pairs = tuple((float(a), float(b)) for a, b in value)
    except (TypeError, ValueError):
        raise AnchorConfigError(f"{name} must be a list of (y, x) pairs, got {value!r}") from None
    if not pairs:
        return None
    if len(pairs) != num_layers:
        raise AnchorConfigError(f"{name} has {len(pairs)} pairs but num_layers is {num_layers}")
    return pairs


@dataclass(frozen=True)
class AnchorConfig:
    """Settings of the TF OD API ``ssd_anchor_generator``.

    Defaults are those of the ``ssd_mobilenet_v2`` pipeline.config shipped with
    the TF OD API (which differ from the proto defaults only in
    ``aspect_ratios``). ``anchor_strides``/``anchor_offsets`` are ``(y, x)``
    pixels per layer; ``feature_map_sizes`` overrides the MobileNetV2 sizes.

    >>> cfg = AnchorConfig()
    >>> cfg.num_anchors_per_location()
    [3, 6, 6, 6, 6, 6]
    >>> AnchorConfig.from_json(cfg.to_json()) == cfg
    True
    """

    kind: ClassVar[str] = "ssd"

    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    scales: tuple[float, ...] | None = None
    aspect_ratios: tuple[float, ...] = SSD_MOBILENET_V2_ASPECT_RATIOS
    interpolated_scale_aspect_ratio: float = 1.0
    base_anchor_size: tuple[float, float] = (1.0, 1.0)
    reduce_boxes_in_lowest_layer: bool = True
    anchor_strides: tuple[tuple[float, float], ...] | None = None
    anchor_offsets: tuple[tuple[float, float], ...] | None = None
    feature_map_sizes: tuple[tuple[int, int], ...] | None = None
    #: The feature extractor's ``pad_to_multiple``: grids are those of the padded input.
    pad_to_multiple: int = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.pad_to_multiple, (int, np.integer)) or isinstance(self.pad_to_multiple, bool):
            raise AnchorConfigError(f"pad_to_multiple must be an integer, got {self.pad_to_multiple!r}")
        set_(self, "pad_to_multiple", int(self.pad_to_multiple))
        if self.pad_to_multiple < 1:
            raise AnchorConfigError(f"pad_to_multiple must be >= 1, got {self.pad_to_multiple}")
        if not isinstance(self.num_layers, (int, np.integer)) or isinstance(self.num_layers, bool):
            raise AnchorConfigError(f"num_layers must be an integer, got {self.num_layers!r}")
        set_(self, "num_layers", int(self.num_layers))
        if self.num_layers < 1:
            raise AnchorConfigError(f"num_layers must be >= 1, got {self.num_layers}")
        for name in ("min_scale", "max_scale", "interpolated_scale_aspect_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
                raise AnchorConfigError(f"{name} must be a finite number, got {value!r}")
            set_(self, name, float(value))
        scales = tuple(float(s) for s in self.scales) if self.scales else None
        set_(self, "scales", scales)
        set_(self, "aspect_ratios", tuple(float(a) for a in self.aspect_ratios))
        set_(self, "base_anchor_size", tuple(float(v) for v in self.base_anchor_size))
        set_(self, "reduce_boxes_in_lowest_layer", bool(self.reduce_boxes_in_lowest_layer))
        set_(self, "anchor_strides", _pairs(self.anchor_strides, "anchor_strides", self.num_layers))
        set_(self, "anchor_offsets", _pairs(self.anchor_offsets, "anchor_offsets", self.num_layers))
        fmaps = _pairs(self.feature_map_sizes, "feature_map_sizes", self.num_layers)
        if fmaps is not None:
            if any(v != int(v) or v < 1 for pair in fmaps for v in pair):
                raise AnchorConfigError(f"feature_map_sizes must be positive integers, got {fmaps}")
            fmaps = tuple((int(a), int(b)) for a, b in fmaps)
        set_(self, "feature_map_sizes", fmaps)
        self._validate_values()

    def _validate_values(self) -> None:
        if len(self.base_anchor_size) != 2 or min(self.base_anchor_size) <= 0:
            raise AnchorConfigError(
                f"base_anchor_size must be two positive numbers, got {self.base_anchor_size}"
            )
        bad = [a for a in self.aspect_ratios if not (math.isfinite(a) and a > 0)]
        if bad:
            raise AnchorConfigError(f"aspect_ratios must be positive, got {bad[0]!r}")
        if self.scales is not None:
            bad = [s for s in self.scales if not (math.isfinite(s) and s > 0)]
            if bad:
                raise AnchorConfigError(f"scales must be positive, got {bad[0]!r}")
            if len(self.scales) < self.num_layers:
                raise AnchorConfigError(
                    f"scales has {len(self.scales)} entries but num_layers is {self.num_layers}"
                )
        else:
            if self.num_layers == 1:
                raise AnchorConfigError("num_layers == 1 needs an explicit scales list")
            if not (self.min_scale > 0 and self.max_scale > 0):
                raise AnchorConfigError(
                    f"min_scale and max_scale must be positive, got {self.min_scale}, {self.max_scale}"
                )
        for name in ("anchor_strides", "anchor_offsets"):
            pairs = getattr(self, name)
            if pairs and any(not math.isfinite(v) for pair in pairs for v in pair):
                raise AnchorConfigError(f"{name} must be finite, got {pairs}")
        if self.anchor_strides and any(v <= 0 for pair in self.anchor_strides for v in pair):
            raise AnchorConfigError(f"anchor_strides must be positive, got {self.anchor_strides}")
        if self.num_anchors_per_location() and min(self.num_anchors_per_location()) == 0:
            raise AnchorConfigError(
                "some layer gets no anchors: give aspect_ratios or interpolated_scale_aspect_ratio > 0"
            )

    # ------------------------------------------------------------------ specs
    def layer_scales(self) -> list[float]:
        """Per-layer scales plus the trailing 1.0 (see :func:`layer_scales`)."""
        return layer_scales(self.num_layers, self.min_scale, self.max_scale, self.scales)

    def box_specs(self) -> list[list[BoxSpec]]:
        """``(scale, aspect_ratio)`` pairs per layer (see :func:`box_specs`).

        The settings go through float32 first, as they do in the TF OD API,
        whose ``ssd_anchor_generator`` proto stores them as ``float``: 0.2 is
        read as 0.20000000298..., and the scales interpolated from it differ
        from float64 ones by about one float32 step.
        """
        # [6] Proto float fields are float32; anchor_generator_builder passes them
        #     to create_ssd_anchors, which then works in float64 Python.
        #     Ref: TF OD API protos/ssd_anchor_generator.proto, anchor_generator_builder.py.
        return box_specs(
            self.num_layers,
            _via_f32(self.min_scale),
            _via_f32(self.max_scale),
            [_via_f32(s) for s in self.scales] if self.scales else None,
            [_via_f32(a) for a in self.aspect_ratios],
            _via_f32(self.interpolated_scale_aspect_ratio),
            self.reduce_boxes_in_lowest_layer,
        )

    def num_anchors_per_location(self) -> list[int]:
        """Number of anchors at each grid point, one entry per layer."""
        first = 3 if self.reduce_boxes_in_lowest_layer else None
        per = len(self.aspect_ratios) + (1 if self.interpolated_scale_aspect_ratio > 0 else 0)
        return [first if (i == 0 and first is not None) else per for i in range(self.num_layers)]

    def feature_maps(self, input_size: int | Sequence[int]) -> list[tuple[int, int]]:
        """Grid sizes used for ``input_size`` (explicit, else MobileNetV2's of the padded input)."""
        if self.feature_map_sizes is not None:
            return list(self.feature_map_sizes)
        return mobilenet_v2_feature_map_sizes(padded_input_size(input_size, self.pad_to_multiple), self.num_layers)

    def num_anchors(self, input_size: int | Sequence[int]) -> int:
        """Total anchor count for ``input_size``."""
        return sum(
            h * w * k for (h, w), k in zip(self.feature_maps(input_size), self.num_anchors_per_location())
        )

    # ------------------------------------------------------------- generation
    def grid(self, input_size: int | Sequence[int]) -> AnchorGrid:
        """Layer-by-layer anchors for ``input_size`` (see :class:`AnchorGrid`)."""
        size = as_input_size(input_size)
        im_h, im_w = _f32(size[0]), _f32(size[1])
        # [5] The base anchor is normalized to the shorter image side so that
        #     base_h == base_w gives square anchors on non-square inputs:
        #     base_h' = base_h * min(H, W) / H, base_w' = base_w * min(H, W) / W.
        #     Strides default to 1 / grid size, offsets to half a stride; explicit
        #     ones are pixels divided by the image size.
        #     Ref: TF OD API MultipleGridAnchorGenerator._generate.
        min_im = min(im_h, im_w)
        base = (min_im / im_h * _f32(self.base_anchor_size[0]), min_im / im_w * _f32(self.base_anchor_size[1]))
        fmaps = self.feature_maps(size)
        if self.anchor_strides:
            strides = [(_f32(sy) / im_h, _f32(sx) / im_w) for sy, sx in self.anchor_strides]
        else:
            strides = [(_f32(1.0) / _f32(h), _f32(1.0) / _f32(w)) for h, w in fmaps]
        if self.anchor_offsets:
            offsets = [(_f32(oy) / im_h, _f32(ox) / im_w) for oy, ox in self.anchor_offsets]
        else:
            offsets = [(_f32(0.5) * sy, _f32(0.5) * sx) for sy, sx in strides]
        layers: list[LayerGrid] = []
        start = 0
        for index, (fmap, specs, stride, offset) in enumerate(
            zip(fmaps, self.box_specs(), strides, offsets)
        ):
            layer = tile_layer(fmap, specs, base, stride, offset, index=index, start=start)
            layers.append(layer)
            start += layer.num_anchors
        anchors = np.concatenate([layer.corners() for layer in layers], axis=0)
        return AnchorGrid(input_size=size, layers=tuple(layers), anchors=anchors)

    def generate(self, input_size: int | Sequence[int]) -> np.ndarray:
        """``(N, 4)`` float32 anchors for ``input_size`` (see :func:`ssd_anchors`)."""
        return self.grid(input_size).anchors

    # -------------------------------------------------------- serialization
    def replace(self, **changes: Any) -> "AnchorConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), ``kind`` first: the dict says which settings it holds."""
        return {"kind": self.kind, **json.loads(json.dumps(asdict(self)))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnchorConfig":
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
            raise AnchorConfigError(f"unknown anchor config key(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise AnchorConfigError(f"invalid anchor config: {exc}") from None

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "AnchorConfig":
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnchorConfigError(f"anchor config is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def ssd_anchors(
    input_size: int | Sequence[int] = (300, 300),
    num_layers: int = 6,
    min_scale: float = 0.2,
    max_scale: float = 0.95,
    scales: Sequence[float] | None = None,
    aspect_ratios: Sequence[float] = SSD_MOBILENET_V2_ASPECT_RATIOS,
    interpolated_scale_aspect_ratio: float = 1.0,
    base_anchor_size: Sequence[float] = (1.0, 1.0),
    reduce_boxes_in_lowest_layer: bool = True,
    feature_map_sizes: Sequence[Sequence[int]] | None = None,
    anchor_strides: Sequence[Sequence[float]] | None = None,
    anchor_offsets: Sequence[Sequence[float]] | None = None,
) -> np.ndarray:
    """SSD anchors for an input size, as the TF OD API ``ssd_anchor_generator``.

    Returns ``(N, 4)`` float32 ``ymin, xmin, ymax, xmax`` normalized to the
    input, unclipped, ordered by layer, grid row, grid column, box spec.
    ``feature_map_sizes`` defaults to the SSD MobileNetV2 ones
    (:func:`mobilenet_v2_feature_map_sizes`).

    >>> anchors = ssd_anchors(300)
    >>> anchors.shape, anchors.dtype
    ((1917, 4), dtype('float32'))
    >>> [round(float(v), 4) for v in anchors[0]]  # centre 0.5/19, size 0.1
    [-0.0237, -0.0237, 0.0763, 0.0763]
    >>> ssd_anchors(320).shape[0]
    2034
    """
    config = AnchorConfig(
        num_layers=num_layers,
        min_scale=min_scale,
        max_scale=max_scale,
        scales=tuple(scales) if scales is not None else None,
        aspect_ratios=tuple(aspect_ratios),
        interpolated_scale_aspect_ratio=interpolated_scale_aspect_ratio,
        base_anchor_size=tuple(base_anchor_size),  # type: ignore[arg-type]
        reduce_boxes_in_lowest_layer=reduce_boxes_in_lowest_layer,
        anchor_strides=anchor_strides,  # type: ignore[arg-type]
        anchor_offsets=anchor_offsets,  # type: ignore[arg-type]
        feature_map_sizes=feature_map_sizes,  # type: ignore[arg-type]
    )
    return config.generate(input_size)
