"""Tests of dataprep.anchors: generator (vs hand arithmetic), config files, JSON."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dataprep.anchors import (
    AnchorConfig,
    AnchorConfigError,
    box_specs,
    layer_scales,
    mobilenet_v2_feature_map_sizes,
    render_ssd_anchor_generator,
    ssd_anchors,
)
from dataprep.models import parse_pipeline_config, read_anchors_json, read_pipeline_config, write_anchors_json
from odapi import needs_odapi

REPO = Path(__file__).resolve().parents[1]
SQ2 = math.sqrt(2.0)
SQ3 = math.sqrt(3.0)


# ------------------------------------------------------------------ counts
def test_feature_map_sizes_mobilenet_v2():
    # ceil(300/16)=19, ceil(300/32)=10, then ceil(n/2): 5, 3, 2, 1
    assert mobilenet_v2_feature_map_sizes(300) == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    # ceil(320/16)=20, 320/32=10, 5, 3, 2, 1
    assert mobilenet_v2_feature_map_sizes(320) == [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    # non-square: width 600 -> 38, 19, 10, 5, 3, 2
    assert mobilenet_v2_feature_map_sizes((300, 600)) == [(19, 38), (10, 19), (5, 10), (3, 5), (2, 3), (1, 2)]
    assert mobilenet_v2_feature_map_sizes(300, num_layers=8)[-2:] == [(1, 1), (1, 1)]


def test_default_counts_300_and_320():
    # 300: 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1*1) * 6 = 1083 + 139*6 = 1917
    anchors = ssd_anchors(300)
    assert anchors.shape == (1917, 4)
    assert anchors.dtype == np.float32
    # 320: 20*20*3 + 139*6 = 1200 + 834 = 2034
    assert ssd_anchors((320, 320)).shape == (2034, 4)
    assert AnchorConfig().num_anchors(320) == 2034
    assert AnchorConfig().num_anchors_per_location() == [3, 6, 6, 6, 6, 6]


def test_layer_scales_and_specs():
    # s_i = 0.2 + 0.75 * i / 5 -> 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, then 1.0
    np.testing.assert_allclose(layer_scales(6, 0.2, 0.95), [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0])
    specs = box_specs()
    assert specs[0] == [(0.1, 1.0), (0.2, 2.0), (0.2, 0.5)]
    assert [s for s, _ in specs[1][:5]] == [pytest.approx(0.35)] * 5
    assert [a for _, a in specs[1]] == [1.0, 2.0, 0.5, 3.0, 0.3333, 1.0]
    # interpolated scale of layer 1: sqrt(0.35 * 0.5); of the last: sqrt(0.95 * 1.0)
    assert specs[1][5][0] == pytest.approx(math.sqrt(0.35 * 0.5))
    assert specs[5][5][0] == pytest.approx(math.sqrt(0.95))


# --------------------------------------------------------- rows by hand
def test_default_rows_by_hand_300():
    a = ssd_anchors(300).astype(np.float64)
    c0 = 0.5 / 19  # first centre of layer 0: offset = stride / 2 = (1/19) / 2
    # anchor 0: layer 0, (y0, x0), spec (0.1, 1.0): 0.1 x 0.1 around (c0, c0)
    np.testing.assert_allclose(a[0], [c0 - 0.05, c0 - 0.05, c0 + 0.05, c0 + 0.05], atol=1e-6)
    # anchor 1: spec (0.2, 2.0): h = 0.2/sqrt(2) = 0.141421, w = 0.2*sqrt(2) = 0.282843
    h, w = 0.2 / SQ2, 0.2 * SQ2
    np.testing.assert_allclose(a[1], [c0 - h / 2, c0 - w / 2, c0 + h / 2, c0 + w / 2], atol=1e-6)
    # anchor 2: spec (0.2, 0.5): h and w swap
    np.testing.assert_allclose(a[2], [c0 - w / 2, c0 - h / 2, c0 + w / 2, c0 + h / 2], atol=1e-6)
    # row iy=1, column ix=2, spec 0 -> index (1*19 + 2)*3 + 0 = 63; centre (1.5/19, 2.5/19)
    cy, cx = 1.5 / 19, 2.5 / 19
    np.testing.assert_allclose(a[63], [cy - 0.05, cx - 0.05, cy + 0.05, cx + 0.05], atol=1e-6)
    # layer 1 starts at 19*19*3 = 1083; centre 0.5/10 = 0.05; spec (0.35, 1.0)
    np.testing.assert_allclose(a[1083], [-0.125, -0.125, 0.225, 0.225], atol=1e-6)
    # layer 1 spec 5: interpolated sqrt(0.35 * 0.5) = 0.418330, half 0.209165
    r = math.sqrt(0.35 * 0.5) / 2
    np.testing.assert_allclose(a[1088], [0.05 - r, 0.05 - r, 0.05 + r, 0.05 + r], atol=1e-6)
    # last anchor: layer 5 (1x1, centre 0.5), interpolated sqrt(0.95 * 1.0) = 0.974679
    r = math.sqrt(0.95) / 2
    np.testing.assert_allclose(a[-1], [0.5 - r, 0.5 - r, 0.5 + r, 0.5 + r], atol=1e-6)
    # layer 5 spec 3 (0.95, 3.0): h = 0.95/sqrt(3) = 0.548483, w = 0.95*sqrt(3) = 1.645448,
    # so x runs from -0.322724 to 1.322724: anchors are not clipped
    h, w = 0.95 / SQ3, 0.95 * SQ3
    np.testing.assert_allclose(a[-3], [0.5 - h / 2, 0.5 - w / 2, 0.5 + h / 2, 0.5 + w / 2], atol=1e-6)
    assert a.min() < 0 and a.max() > 1


def test_per_layer_sums_300():
    a = ssd_anchors(300).astype(np.float64)
    bounds = np.cumsum([0, 1083, 600, 150, 54, 24, 6])
    layers = [a[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    # grids are symmetric about 0.5, so every layer's mean centre is (0.5, 0.5)
    for layer in layers:
        np.testing.assert_allclose(((layer[:, 0] + layer[:, 2]) / 2).mean(), 0.5, atol=1e-6)
        np.testing.assert_allclose(((layer[:, 1] + layer[:, 3]) / 2).mean(), 0.5, atol=1e-6)
    # sum of heights, layer 0: 361 * (0.1 + 0.2/sqrt2 + 0.2*sqrt2) = 361 * 0.524264 = 189.2593
    assert (layers[0][:, 2] - layers[0][:, 0]).sum() == pytest.approx(189.2593, abs=1e-3)
    # layer 1: 100 * (0.35 * (1 + 1/sqrt2 + sqrt2 + 1/sqrt3 + 1/sqrt(0.3333)) + sqrt(0.35*0.5))
    #        = 100 * (0.35 * 5.430797 + 0.418330) = 231.9113
    assert (layers[1][:, 2] - layers[1][:, 0]).sum() == pytest.approx(231.9113, abs=1e-3)
    # widths: layer 0 sum = 361 * (0.1 + 0.2*sqrt2 + 0.2/sqrt2), the same as heights
    assert (layers[0][:, 3] - layers[0][:, 1]).sum() == pytest.approx(189.2593, abs=1e-3)


def test_order_is_layer_y_x_spec():
    grid = AnchorConfig().grid(300)
    layer0 = grid.anchors[:1083].reshape(19, 19, 3, 4)
    cy = (layer0[..., 0] + layer0[..., 2]) / 2
    cx = (layer0[..., 1] + layer0[..., 3]) / 2
    assert np.all(np.diff(cy, axis=0) > 0.05) and np.allclose(np.diff(cy, axis=1), 0, atol=1e-6)
    assert np.all(np.diff(cx, axis=1) > 0.05) and np.allclose(np.diff(cx, axis=0), 0, atol=1e-6)
    assert np.allclose(np.diff(cy, axis=2), 0, atol=1e-6)  # specs share the centre
    assert [layer.start for layer in grid.layers] == [0, 1083, 1683, 1833, 1887, 1911]
    assert grid.layer_of(np.array([0, 1082, 1083, 1916])).tolist() == [0, 0, 1, 5]


# ----------------------------------------------------- non-default settings
def test_explicit_scales_without_reduced_lowest_layer():
    scales = [0.1, 0.3, 0.5]
    a = ssd_anchors(
        300,
        num_layers=3,
        scales=scales,
        aspect_ratios=(1.0, 2.0),
        reduce_boxes_in_lowest_layer=False,
        feature_map_sizes=[(4, 4), (2, 2), (1, 1)],
    ).astype(np.float64)
    assert scales == [0.1, 0.3, 0.5]  # TF appends 1.0 to the caller's list; we must not
    # 3 specs per location: 4*4*3 + 2*2*3 + 1*3 = 48 + 12 + 3 = 63
    assert a.shape == (63, 4)
    # layer 0, (0, 0): centre 0.5/4 = 0.125; spec (0.1, 1.0) -> [0.075, 0.075, 0.175, 0.175]
    np.testing.assert_allclose(a[0], [0.075, 0.075, 0.175, 0.175], atol=1e-6)
    # spec (0.1, 2.0): h = 0.1/sqrt2 = 0.070711, w = 0.141421
    hh, hw = 0.05 / SQ2, 0.05 * SQ2
    np.testing.assert_allclose(a[1], [0.125 - hh, 0.125 - hw, 0.125 + hh, 0.125 + hw], atol=1e-6)
    # interpolated: sqrt(0.1 * 0.3) = 0.173205
    r = math.sqrt(0.03) / 2
    np.testing.assert_allclose(a[2], [0.125 - r, 0.125 - r, 0.125 + r, 0.125 + r], atol=1e-6)
    # layer 1 starts at 48: centre 0.25, spec (0.3, 1.0)
    np.testing.assert_allclose(a[48], [0.1, 0.1, 0.4, 0.4], atol=1e-6)
    # last: 1x1 grid, interpolated sqrt(0.5 * 1.0) = 0.707107
    r = math.sqrt(0.5) / 2
    np.testing.assert_allclose(a[-1], [0.5 - r, 0.5 - r, 0.5 + r, 0.5 + r], atol=1e-6)


def test_other_counts():
    # reduce_boxes_in_lowest_layer=False: 6 per location everywhere: 6 * (361+100+25+9+4+1) = 3000
    assert ssd_anchors(300, reduce_boxes_in_lowest_layer=False).shape[0] == 3000
    # no interpolated anchor: 361*3 + 5 * 139 = 1083 + 695 = 1778
    assert ssd_anchors(300, interpolated_scale_aspect_ratio=0.0).shape[0] == 1778
    # proto defaults (no aspect ratios): only the interpolated anchor above layer 0
    assert AnchorConfig(aspect_ratios=()).num_anchors_per_location() == [3, 1, 1, 1, 1, 1]


def test_non_square_input_base_anchor_scaling():
    # 300 x 600: min side 300 -> base = (1 * 300/300, 1 * 300/600) = (1.0, 0.5)
    a = ssd_anchors((300, 600)).astype(np.float64)
    assert a.shape[0] == 19 * 38 * 3 + 6 * (10 * 19 + 5 * 10 + 3 * 5 + 2 * 3 + 1 * 2)
    cy, cx = 0.5 / 19, 0.5 / 38
    # spec (0.1, 1.0): h = 0.1, w = 0.1 * 0.5 = 0.05 -> 30 x 30 pixels, square
    np.testing.assert_allclose(a[0], [cy - 0.05, cx - 0.025, cy + 0.05, cx + 0.025], atol=1e-6)
    layer0 = a[: 19 * 38 * 3]
    heights_px = (layer0[:, 2] - layer0[:, 0]) * 300
    widths_px = (layer0[:, 3] - layer0[:, 1]) * 600
    # spec 0 of layer 0 is (0.1, 1.0): square in pixels at every location
    np.testing.assert_allclose(heights_px[::3], widths_px[::3], rtol=1e-5)
    np.testing.assert_allclose(heights_px[::3], 30.0, rtol=1e-5)
    # 600 x 300 input with base (2.0, 1.0): base = (2 * 300/600, 1 * 300/300) = (1.0, 1.0)
    b = ssd_anchors((600, 300), base_anchor_size=(2.0, 1.0)).astype(np.float64)
    np.testing.assert_allclose(b[0, 2] - b[0, 0], 0.1, atol=1e-6)  # 60 px of 600
    np.testing.assert_allclose(b[0, 3] - b[0, 1], 0.1, atol=1e-6)  # 30 px of 300


def test_explicit_strides_and_offsets():
    strides = [(16, 16), (32, 32), (64, 64), (100, 100), (150, 150), (300, 300)]
    offsets = [(8, 4), (16, 16), (32, 32), (50, 50), (75, 75), (150, 150)]
    a = ssd_anchors(300, anchor_strides=strides, anchor_offsets=offsets).astype(np.float64)
    assert a.shape == (1917, 4)  # strides do not change the grid sizes
    # layer 0, iy=1, ix=0: centre y = (1*16 + 8)/300 = 0.08, x = (0*16 + 4)/300 = 0.013333
    row = (1 * 19 + 0) * 3
    np.testing.assert_allclose(a[row], [0.08 - 0.05, 4 / 300 - 0.05, 0.08 + 0.05, 4 / 300 + 0.05], atol=1e-6)
    # layer 1, iy=2, ix=3, spec 0 (0.35, 1.0): centre (2*32+16, 3*32+16)/300 = (0.266667, 0.373333)
    idx = 1083 + (2 * 10 + 3) * 6
    cy, cx = 80 / 300, 112 / 300
    np.testing.assert_allclose(a[idx], [cy - 0.175, cx - 0.175, cy + 0.175, cx + 0.175], atol=1e-6)
    # offsets alone (0, 0): first centre at the image corner, stride still 1/19
    c = ssd_anchors(300, anchor_offsets=[(0, 0)] * 6).astype(np.float64)
    np.testing.assert_allclose(c[0], [-0.05, -0.05, 0.05, 0.05], atol=1e-6)
    np.testing.assert_allclose(c[3], [-0.05, 1 / 19 - 0.05, 0.05, 1 / 19 + 0.05], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_layers": 1},  # L - 1 == 0 without explicit scales
        {"num_layers": 0},
        {"aspect_ratios": (1.0, -2.0)},
        {"scales": (0.1, 0.2)},  # fewer scales than layers
        {"anchor_strides": [(16, 16)]},  # one pair for six layers
        {"base_anchor_size": (1.0, 0.0)},
        {"aspect_ratios": (), "interpolated_scale_aspect_ratio": 0.0},  # no anchors
        {"min_scale": float("nan")},
    ],
)
def test_invalid_settings_raise(kwargs):
    with pytest.raises(AnchorConfigError):
        AnchorConfig(**kwargs)
    assert issubclass(AnchorConfigError, ValueError)


def test_invalid_input_size():
    with pytest.raises(AnchorConfigError, match="input_size"):
        ssd_anchors((300, 0))
    with pytest.raises(AnchorConfigError, match="input_size"):
        ssd_anchors("300")  # type: ignore[arg-type]


def test_anchor_config_json_round_trip():
    cfg = AnchorConfig(scales=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9), anchor_strides=[(16, 16)] * 6)
    again = AnchorConfig.from_json(cfg.to_json())
    assert again == cfg and hash(again) == hash(cfg)
    assert json.loads(cfg.to_json())["scales"] == [0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
    with pytest.raises(AnchorConfigError, match="unknown"):
        AnchorConfig.from_dict({"num_layers": 6, "min_scal": 0.1})
    with pytest.raises(AnchorConfigError, match="JSON"):
        AnchorConfig.from_json("{not json")


# ------------------------------------------------------------------ doctests
@pytest.mark.parametrize("name", ["dataprep.anchors.generator", "dataprep.anchors.coverage",
                                  "dataprep.anchors.render", "dataprep.anchors.suggest", "dataprep.anchors",
                                  "dataprep.models.pipeline_config"])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0


def test_import_does_not_pull_tensorflow():
    code = (
        "import sys, dataprep.anchors, dataprep.anchors.suggest, dataprep.models, dataprep.models.registry;"
        "print('tensorflow' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------- pipeline.config
PIPELINE = """
# SSD with MobileNetV2 (abridged), fields in a shuffled order
model {
  ssd {
    image_resizer {
      fixed_shape_resizer {
        width: 320   # not 300
        height: 320
      }
    }
    num_classes: 7
    feature_extractor { type: "ssd_mobilenet_v2_keras"  depth_multiplier: 1.0 }
    anchor_generator {
      ssd_anchor_generator: {
        reduce_boxes_in_lowest_layer: true
        aspect_ratios: 1.0
        aspect_ratios: 2.0   # a comment after a value
        aspect_ratios: [0.5, 3.0]
        aspect_ratios: 0.3333
        max_scale: 0.9
        min_scale: 0.15 ;
        num_layers: 6
        # interpolated_scale_aspect_ratio: 2.0   (commented out)
      }
    }
    box_predictor { convolutional_box_predictor { kernel_size: 3 } }
  }
}
train_config { batch_size: 24 }
train_input_reader {
  label_map_path: "path/with # hash/and 'quotes' {braces}.pbtxt"
}
"""


def test_parse_pipeline_config_with_comments_and_order():
    s = parse_pipeline_config(PIPELINE, "pipeline.config")
    assert s.num_classes == 7
    assert s.input_size == (320, 320)
    assert s.resizer == "fixed_shape_resizer"
    assert s.feature_extractor_type == "ssd_mobilenet_v2_keras"
    cfg = s.anchor_config
    assert cfg.aspect_ratios == (1.0, 2.0, 0.5, 3.0, 0.3333)
    assert (cfg.min_scale, cfg.max_scale, cfg.num_layers) == (0.15, 0.9, 6)
    assert cfg.interpolated_scale_aspect_ratio == 1.0  # commented out -> proto default
    assert cfg.num_anchors(s.input_size) == 2034


def test_pipeline_defaults_are_proto_defaults():
    s = parse_pipeline_config("model { ssd { anchor_generator { ssd_anchor_generator { } } } }")
    cfg = s.anchor_config
    assert (cfg.num_layers, cfg.min_scale, cfg.max_scale) == (6, 0.2, 0.95)
    assert cfg.scales is None and cfg.aspect_ratios == ()
    assert cfg.interpolated_scale_aspect_ratio == 1.0
    assert cfg.base_anchor_size == (1.0, 1.0)
    assert cfg.reduce_boxes_in_lowest_layer is True
    assert cfg.anchor_strides is None and cfg.anchor_offsets is None
    assert (s.num_classes, s.input_size, s.resizer) == (0, None, None)


def test_pipeline_strides_offsets_scales_and_resizers():
    text = """
    model { ssd {
      image_resizer { keep_aspect_ratio_resizer { min_dimension: 300 max_dimension: 512 pad_to_max_dimension: true } }
      anchor_generator { ssd_anchor_generator {
        num_layers: 2 scales: 0.1 scales: 0.4 aspect_ratios: 1.0
        interpolated_scale_aspect_ratio: 0.0 reduce_boxes_in_lowest_layer: false
        base_anchor_height: 2.0 base_anchor_width: 0.5
        height_stride: 16 height_stride: 32 width_stride: [16, 32]
        height_offset: 8 height_offset: 16 width_offset: 0 width_offset: 0x10
      } } } }
    """
    s = parse_pipeline_config(text)
    cfg = s.anchor_config
    assert cfg.scales == (0.1, 0.4)
    assert cfg.base_anchor_size == (2.0, 0.5)
    assert cfg.anchor_strides == ((16.0, 16.0), (32.0, 32.0))
    assert cfg.anchor_offsets == ((8.0, 0.0), (16.0, 16.0))
    assert cfg.num_anchors_per_location() == [1, 1]
    assert s.input_size == (512, 512) and (s.min_dimension, s.max_dimension) == (300, 512)
    unpadded = parse_pipeline_config(text.replace("pad_to_max_dimension: true", ""))
    assert unpadded.input_size is None


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("min_scale: abc", "'abc'"),
        ("min_scale: \"0.2\"", "0.2"),
        ("num_layers: 6.5", "'6.5'"),
        ("reduce_boxes_in_lowest_layer: maybe", "'maybe'"),
        ("min_scal: 0.1", "min_scal"),
        ("height_stride: 16 width_stride: 16 width_stride: 32", "height_stride"),
        ("aspect_ratios: -1.0", "-1.0"),
        ("num_layers: 1", "num_layers"),
        ("min_scale: 0.2 {", "field name"),
    ],
)
def test_pipeline_errors_name_file_and_value(body, fragment):
    text = "model { ssd { anchor_generator { ssd_anchor_generator { " + body + " } } } }"
    with pytest.raises(AnchorConfigError) as info:
        parse_pipeline_config(text, "my/pipeline.config")
    message = str(info.value)
    assert message.startswith("my/pipeline.config")
    assert fragment in message


def test_pipeline_structural_errors(tmp_path):
    with pytest.raises(AnchorConfigError, match="not an SSD"):
        parse_pipeline_config("model { faster_rcnn { num_classes: 3 } }")
    with pytest.raises(AnchorConfigError, match="only ssd_anchor_generator"):
        parse_pipeline_config("model { ssd { anchor_generator { grid_anchor_generator { } } } }")
    with pytest.raises(AnchorConfigError, match="close"):
        parse_pipeline_config("model { ssd { ")
    with pytest.raises(AnchorConfigError, match=":3:"):  # line number of the bad token
        parse_pipeline_config("model {\n ssd {\n num_classes: 'x\n } }")
    path = tmp_path / "bad.config"
    path.write_text("model { ssd { num_classes: two anchor_generator { ssd_anchor_generator {} } } }")
    with pytest.raises(AnchorConfigError) as info:
        read_pipeline_config(path)
    assert str(path) in str(info.value) and "'two'" in str(info.value)
    with pytest.raises(AnchorConfigError, match="cannot read"):
        read_pipeline_config(tmp_path / "missing.config")


@pytest.mark.parametrize(
    "cfg",
    [
        AnchorConfig(),
        AnchorConfig(
            num_layers=3,
            scales=(0.05, 0.125, 0.3),
            aspect_ratios=(1.0, 4.0, 0.25),
            interpolated_scale_aspect_ratio=0.0,
            base_anchor_size=(1.5, 1.0),
            reduce_boxes_in_lowest_layer=False,
            anchor_strides=[(16, 16), (32, 32), (64, 64)],
            anchor_offsets=[(8, 8), (16, 16), (32, 32)],
        ),
    ],
)
def test_render_block_round_trips(cfg):
    block = render_ssd_anchor_generator(cfg, indent=6, wrap=True)
    assert block.splitlines()[0] == "      anchor_generator {"
    text = "model {\n  ssd {\n" + block + "\n  }\n}\n"
    assert parse_pipeline_config(text).anchor_config == cfg


def test_render_rejects_fractional_strides():
    with pytest.raises(AnchorConfigError, match="int32"):
        render_ssd_anchor_generator(AnchorConfig(anchor_strides=[(15.5, 16)] * 6))


def test_anchors_json_file(tmp_path):
    cfg = AnchorConfig(min_scale=0.1, aspect_ratios=(1.0, 4.0, 0.25))
    path = tmp_path / "anchors.json"
    write_anchors_json(path, cfg, (320, 320))
    data = json.loads(path.read_text())
    assert data["num_anchors"] == 20 * 20 * 3 + 139 * 4 and data["input_size"] == [320, 320]
    assert read_anchors_json(path) == (cfg, (320, 320))
    data["num_anchors"] = 5
    path.write_text(json.dumps(data))
    with pytest.raises(AnchorConfigError, match="num_anchors"):
        read_anchors_json(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(AnchorConfigError, match=str(path).replace("\\", "\\\\")):
        read_anchors_json(path)


# ----------------------------------------------------------- against real TF


@needs_odapi
@pytest.mark.parametrize("size", [(300, 300), (320, 320), (300, 500)])
def test_matches_tf_object_detection_api(size):
    from object_detection.anchor_generators import multiple_grid_anchor_generator as mga

    generator = mga.create_ssd_anchors(aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333))
    fmaps = mobilenet_v2_feature_map_sizes(size)
    boxes = generator.generate(fmaps, im_height=size[0], im_width=size[1])
    tf_anchors = np.concatenate([b.get().numpy() for b in boxes], axis=0)
    np.testing.assert_allclose(ssd_anchors(size), tf_anchors, rtol=0, atol=1e-6)
