"""Multiscale (FPN) anchors and the float32/padding details of the SSD ones, against the genuine TF OD API.

``tests/data/odapi_anchors.npz`` was made by ``tools/make_anchor_fixtures.py``
with the real TF OD API (TF2); the last tests run the real code directly and
skip when it is not installed.
"""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pytest

from dataprep.anchors import (
    AnchorConfig,
    AnchorConfigError,
    MultiscaleAnchorConfig,
    anchor_config_from_dict,
    anchor_coverage,
    iou_matrix,
    padded_input_size,
    scan_boxes,
)
from dataprep.models import default_anchor_config, generate_anchors
from dataprep.anchors import kinds as kinds_module
from dataprep.anchors import multiscale as multiscale_module
from dataprep.models import registry as registry_module
from dataprep.errors import UsageError
from odapi import needs_odapi

FIXTURE = Path(__file__).parent / "data" / "odapi_anchors.npz"

# The settings of each generator case of tools/make_anchor_fixtures.py (same order of fields).
GENERATOR_CASES = {
    "multiscale_fpnlite_320": MultiscaleAnchorConfig(),
    "multiscale_fpnlite_300": MultiscaleAnchorConfig(),
    "multiscale_custom_256x384": MultiscaleAnchorConfig(
        min_level=3, max_level=6, anchor_scale=3.0, aspect_ratios=(1.0, 3.0, 0.3333), scales_per_octave=3
    ),
    "multiscale_unnormalized_320": MultiscaleAnchorConfig(
        min_level=3, max_level=5, aspect_ratios=(1.0,), scales_per_octave=1, normalize_coordinates=False
    ),
    "ssd_default_300": AnchorConfig(),
    "ssd_default_320": AnchorConfig(),
    "ssd_scales_300x500": AnchorConfig(
        scales=(0.07, 0.15, 0.33, 0.51, 0.69, 0.87), interpolated_scale_aspect_ratio=1.3
    ),
}
MODEL_CASES = {
    "ssd_mobilenet_v2_300": AnchorConfig(),
    "ssd_mobilenet_v2_300_pad32": AnchorConfig(pad_to_multiple=32),
    "fpnlite_320": MultiscaleAnchorConfig(),
    "fpnlite_300_pad32": MultiscaleAnchorConfig(pad_to_multiple=32),
}


@pytest.fixture(scope="module")
def genuine():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


# ------------------------------------------------------------ hand numbers
def test_fpnlite_counts_and_first_anchors_by_hand():
    cfg = MultiscaleAnchorConfig()
    # 320: levels 3..7 -> 40, 20, 10, 5, 3 (ceil(320/128) = 3); 6 anchors per point
    assert cfg.feature_maps(320) == [(40, 40), (20, 20), (10, 10), (5, 5), (3, 3)]
    assert cfg.num_anchors(320) == (1600 + 400 + 100 + 25 + 9) * 6 == 12804
    anchors = cfg.generate(320).astype(np.float64)
    # Spec order: aspect ratio outer, octave scale inner: (1, 1), (sqrt2, 1), (1, 2), ...
    side = 32 / 320  # level 3: base 2^3 * 4 = 32 px; centre of cell 0: 4 px
    c = 4 / 320
    np.testing.assert_allclose(anchors[0], [c - side / 2] * 2 + [c + side / 2] * 2, atol=1e-7)
    s2 = side * math.sqrt(2)
    np.testing.assert_allclose(anchors[1], [c - s2 / 2] * 2 + [c + s2 / 2] * 2, atol=1e-7)
    h, w = side / math.sqrt(2), side * math.sqrt(2)  # ratio 2 = width / height
    np.testing.assert_allclose(anchors[2], [c - h / 2, c - w / 2, c + h / 2, c + w / 2], atol=1e-7)
    # level 7 at 320: 320 % 128 != 0, so the TF OD API puts the first centre at 0, not 64 px
    last_level = cfg.grid(320).layers[-1]
    assert last_level.shape == (3, 3) and last_level.start == 12804 - 54
    np.testing.assert_allclose(last_level.y_centers, [0.0, 128 / 320, 256 / 320], atol=1e-7)


def test_offsets_and_padding_rules():
    cfg = MultiscaleAnchorConfig(min_level=3, max_level=4, aspect_ratios=(1.0,), scales_per_octave=1)
    # 48 is a multiple of 8 and 16: half-stride offsets; 40 is a multiple of 8 only
    g = cfg.grid((48, 40))
    assert g.layers[0].offset[0] * 48 == pytest.approx(4) and g.layers[0].offset[1] * 40 == pytest.approx(4)
    assert g.layers[1].offset[0] * 48 == pytest.approx(8) and g.layers[1].offset[1] == 0
    # padding changes the grids but not the normalization
    padded = cfg.replace(pad_to_multiple=32)
    assert padded.feature_maps(40) == [(8, 8), (4, 4)] and cfg.feature_maps(40) == [(5, 5), (3, 3)]
    assert padded_input_size((300, 301), 32) == (320, 320)
    assert padded_input_size(300, 1) == (300, 300)


def test_unnormalized_anchors_are_pixels():
    cfg = MultiscaleAnchorConfig(min_level=3, max_level=3, aspect_ratios=(1.0,), scales_per_octave=1,
                                 normalize_coordinates=False)
    a = cfg.generate(64)
    assert a.shape == (64, 4)
    assert a[0].tolist() == [4 - 16, 4 - 16, 4 + 16, 4 + 16]
    assert a[-1].tolist() == [60 - 16, 60 - 16, 60 + 16, 60 + 16]


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(min_level=5, max_level=4), "min_level <= max_level"),
        (dict(min_level=0), "1 <= min_level"),
        (dict(scales_per_octave=0), "scales_per_octave"),
        (dict(anchor_scale=-1.0), "anchor_scale"),
        (dict(anchor_scale=float("nan")), "anchor_scale"),
        (dict(aspect_ratios=()), "must not be empty"),
        (dict(aspect_ratios=(1.0, 0.0)), "positive"),
        (dict(aspect_ratios="ab"), "list of numbers"),
        (dict(pad_to_multiple=0), "pad_to_multiple"),
        (dict(min_level=3.5), "integer"),
    ],
)
def test_bad_settings_are_clear_errors(changes, message):
    with pytest.raises(AnchorConfigError, match=message):
        MultiscaleAnchorConfig(**changes)


def test_dict_and_json_round_trip():
    cfg = MultiscaleAnchorConfig(min_level=2, max_level=6, anchor_scale=3.0, aspect_ratios=(1.0, 0.5),
                                 scales_per_octave=3, pad_to_multiple=32)
    assert MultiscaleAnchorConfig.from_dict(cfg.to_dict()) == cfg
    assert MultiscaleAnchorConfig.from_json(cfg.to_json()) == cfg
    assert anchor_config_from_dict(cfg.to_dict()) == cfg
    assert anchor_config_from_dict(AnchorConfig().to_dict()) == AnchorConfig()
    with pytest.raises(AnchorConfigError, match="unknown multiscale anchor config key.*num_layers"):
        MultiscaleAnchorConfig.from_dict({**cfg.to_dict(), "num_layers": 6})
    with pytest.raises(AnchorConfigError, match="JSON object"):
        MultiscaleAnchorConfig.from_dict([1, 2])
    with pytest.raises(AnchorConfigError, match="not valid JSON"):
        MultiscaleAnchorConfig.from_json("{")


def test_model_table_defaults():
    assert isinstance(default_anchor_config("ssd_mobilenet_v2_fpnlite"), MultiscaleAnchorConfig)
    assert default_anchor_config("ssdlite_mobilenet_v2") == AnchorConfig()
    assert generate_anchors("ssd_mobilenet_v2").shape == (1917, 4)
    assert generate_anchors("ssd_mobilenet_v2_fpnlite").shape == (12804, 4)
    assert generate_anchors("ssdlite_mobilenet_v2").shape == (2034, 4)
    assert generate_anchors(MultiscaleAnchorConfig(), 640).shape[0] == MultiscaleAnchorConfig().num_anchors(640)
    with pytest.raises(UsageError, match="known: ssdlite_mobilenet_v2"):
        generate_anchors("yolo")
    with pytest.raises(UsageError, match="input_size"):
        generate_anchors(MultiscaleAnchorConfig())


def test_doctests():
    for module in (multiscale_module, registry_module, kinds_module):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# ----------------------------------------------------------- coverage scan
def test_windowed_scan_equals_dense_iou_on_multiscale_grid():
    rng = np.random.default_rng(3)
    n = 600
    size = np.exp(rng.uniform(np.log(0.02), 0.0, n))
    ratio = np.exp(rng.uniform(np.log(0.25), np.log(4.0), n))
    h, w = size / np.sqrt(ratio), size * np.sqrt(ratio)
    cy, cx = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    boxes = np.clip(np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], 1), 0, 1).astype(np.float32)
    custom = GENERATOR_CASES["multiscale_custom_256x384"]
    for size_, cfg in (((320, 320), MultiscaleAnchorConfig()), ((256, 384), custom)):
        grid = cfg.grid(size_)
        dense = iou_matrix(boxes, grid.anchors)
        for threshold in (0.5, 0.3):
            best, best_idx, positives = scan_boxes(boxes, grid, iou_threshold=threshold)
            np.testing.assert_array_equal(positives, (dense >= threshold).sum(axis=1))
            np.testing.assert_allclose(best, dense.max(axis=1), atol=1e-6)
            np.testing.assert_allclose(dense[np.arange(n), best_idx], dense.max(axis=1), atol=1e-6)
    report = anchor_coverage(boxes, 320, MultiscaleAnchorConfig())
    assert report.num_anchors == 12804
    assert 0.0 < report.matched_fraction <= 1.0


def test_coverage_of_each_multiscale_anchor_is_itself():
    cfg = MultiscaleAnchorConfig()
    anchors = cfg.generate(320)
    picks = np.array([0, 7, 9601, 12000, 12803])  # levels 3, 3, 4, 5 and 7; some stick out of the image
    report = anchor_coverage(anchors[picks], 320, cfg)
    np.testing.assert_allclose(report.best_iou, 1.0, atol=1e-6)
    assert report.best_anchor.tolist() == picks.tolist()


# ------------------------------------------------------- genuine TF OD API
@pytest.mark.parametrize("name", sorted(GENERATOR_CASES))
def test_generator_equals_genuine_fixture(genuine, name):
    cfg = GENERATOR_CASES[name]
    size = tuple(int(v) for v in genuine[f"gen/{name}/size"])
    ours = cfg.grid(size)
    assert [tuple(int(v) for v in f) for f in genuine[f"gen/{name}/fmaps"]] == cfg.feature_maps(size)
    expected = genuine[f"gen/{name}"]
    assert ours.anchors.shape == expected.shape and ours.anchors.dtype == np.float32
    np.testing.assert_allclose(ours.anchors, expected, rtol=0, atol=1e-6)
    # float32 in the TF graph's order: bit for bit, not just close
    np.testing.assert_array_equal(ours.anchors, expected)


@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_model_anchors_equal_genuine_model_predict(genuine, name):
    """Anchors of a model built by the TF OD API's model_builder (feature maps included)."""
    cfg = MODEL_CASES[name]
    size = tuple(int(v) for v in genuine[f"model/{name}/size"])
    assert [tuple(int(v) for v in f) for f in genuine[f"model/{name}/fmaps"]] == cfg.feature_maps(size)
    np.testing.assert_array_equal(cfg.generate(size), genuine[f"model/{name}"])


def test_pad_to_multiple_300_gives_2034_anchors_like_the_real_model(genuine):
    # issue 14: at 300x300 with pad_to_multiple 32 the real model has a 20x20 first grid
    assert genuine["model/ssd_mobilenet_v2_300_pad32"].shape == (2034, 4)
    assert AnchorConfig(pad_to_multiple=32).feature_maps(300)[0] == (20, 20)
    assert AnchorConfig().num_anchors(300) == 1917


def test_ssd_settings_go_through_float32_like_the_proto(genuine):
    # issue 14: scales interpolated from float64 0.2/0.95 differ from the genuine
    # (float32 proto) anchors by about one float32 step; ours now equal them.
    expected = genuine["gen/ssd_default_300"]
    ours = AnchorConfig().generate(300)
    np.testing.assert_array_equal(ours, expected)
    specs = AnchorConfig().box_specs()
    assert specs[1][0][0] == 0.20000000298023224 + (0.949999988079071 - 0.20000000298023224) * 1 / 5




@needs_odapi
@pytest.mark.parametrize("size", [(320, 320), (512, 512), (384, 256), (300, 300)])
def test_matches_genuine_multiscale_generator(size):
    from object_detection.anchor_generators import multiscale_grid_anchor_generator as mga

    cfg = MultiscaleAnchorConfig()
    generator = mga.MultiscaleGridAnchorGenerator(
        min_level=3, max_level=7, anchor_scale=4.0, aspect_ratios=[1.0, 2.0, 0.5], scales_per_octave=2
    )
    boxes = generator.generate(cfg.feature_maps(size), im_height=size[0], im_width=size[1])
    expected = np.concatenate([b.get().numpy() for b in boxes], axis=0)
    np.testing.assert_allclose(cfg.generate(size), expected, rtol=0, atol=1e-6)
