"""Anchor settings as TF OD API ``pipeline.config`` text: the ``anchor_generator { ... }``
block of either kind, to paste into a pipeline.config (``stats --suggest``) or to
write a whole one (``dataprep config``). The reverse, reading a pipeline.config,
is :mod:`dataprep.models.pipeline_config`.
"""

from __future__ import annotations

from dataprep.anchors.generator import AnchorConfig, AnchorConfigError
from dataprep.anchors.kinds import AnyAnchorConfig
from dataprep.anchors.multiscale import MultiscaleAnchorConfig


def _fmt(value: float) -> str:
    return repr(float(value))


def render_ssd_anchor_generator(config: AnchorConfig, indent: int = 0, wrap: bool = False) -> str:
    """The ``ssd_anchor_generator { ... }`` block for ``config`` (text format).

    ``wrap`` adds the enclosing ``anchor_generator { }``. Feature map sizes are
    not part of the proto (the feature extractor decides them).

    >>> print(render_ssd_anchor_generator(AnchorConfig(aspect_ratios=(1.0, 2.0))))
    ssd_anchor_generator {
      num_layers: 6
      min_scale: 0.2
      max_scale: 0.95
      aspect_ratios: 1.0
      aspect_ratios: 2.0
      interpolated_scale_aspect_ratio: 1.0
      base_anchor_height: 1.0
      base_anchor_width: 1.0
      reduce_boxes_in_lowest_layer: true
    }
    """
    body = [
        f"num_layers: {config.num_layers}",
        f"min_scale: {_fmt(config.min_scale)}",
        f"max_scale: {_fmt(config.max_scale)}",
    ]
    body += [f"scales: {_fmt(s)}" for s in config.scales or ()]
    body += [f"aspect_ratios: {_fmt(a)}" for a in config.aspect_ratios]
    body += [
        f"interpolated_scale_aspect_ratio: {_fmt(config.interpolated_scale_aspect_ratio)}",
        f"base_anchor_height: {_fmt(config.base_anchor_size[0])}",
        f"base_anchor_width: {_fmt(config.base_anchor_size[1])}",
    ]
    for pairs, (y_name, x_name) in (
        (config.anchor_strides, ("height_stride", "width_stride")),
        (config.anchor_offsets, ("height_offset", "width_offset")),
    ):
        if not pairs:
            continue
        if any(v != int(v) for pair in pairs for v in pair):
            raise AnchorConfigError(f"{y_name}/{x_name} are int32 in pipeline.config, got {pairs}")
        body += [f"{y_name}: {int(y)}" for y, _ in pairs]
        body += [f"{x_name}: {int(x)}" for _, x in pairs]
    body.append(f"reduce_boxes_in_lowest_layer: {'true' if config.reduce_boxes_in_lowest_layer else 'false'}")
    lines = ["ssd_anchor_generator {"] + ["  " + line for line in body] + ["}"]
    if wrap:
        lines = ["anchor_generator {"] + ["  " + line for line in lines] + ["}"]
    pad = " " * indent
    return "\n".join(pad + line for line in lines)


def render_multiscale_anchor_generator(config: MultiscaleAnchorConfig, indent: int = 0, wrap: bool = False) -> str:
    """The ``multiscale_anchor_generator { ... }`` block for ``config`` (text format).

    ``pad_to_multiple`` belongs to the feature extractor and is not written here.

    >>> print(render_multiscale_anchor_generator(MultiscaleAnchorConfig()))
    multiscale_anchor_generator {
      min_level: 3
      max_level: 7
      anchor_scale: 4.0
      aspect_ratios: 1.0
      aspect_ratios: 2.0
      aspect_ratios: 0.5
      scales_per_octave: 2
      normalize_coordinates: true
    }
    """
    body = [f"min_level: {config.min_level}", f"max_level: {config.max_level}",
            f"anchor_scale: {_fmt(config.anchor_scale)}"]
    body += [f"aspect_ratios: {_fmt(a)}" for a in config.aspect_ratios]
    body += [f"scales_per_octave: {config.scales_per_octave}",
             f"normalize_coordinates: {'true' if config.normalize_coordinates else 'false'}"]
    lines = ["multiscale_anchor_generator {"] + ["  " + line for line in body] + ["}"]
    if wrap:
        lines = ["anchor_generator {"] + ["  " + line for line in lines] + ["}"]
    pad = " " * indent
    return "\n".join(pad + line for line in lines)


def render_anchor_generator(config: AnyAnchorConfig, indent: int = 0, wrap: bool = True) -> str:
    """The ``anchor_generator { ... }`` block of either kind of anchor settings."""
    if isinstance(config, MultiscaleAnchorConfig):
        return render_multiscale_anchor_generator(config, indent, wrap)
    return render_ssd_anchor_generator(config, indent, wrap)
