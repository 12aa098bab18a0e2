"""The SSD MobileNetV2 model: its predictions line up with dataprep.anchors,
its parts are named, and backbone-weight failures give clear messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from dataprep.anchors import AnchorConfig, AnchorConfigError, mobilenet_v2_feature_map_sizes  # noqa: E402
from dataprep.models import write_anchors_json  # noqa: E402
from dataprep.errors import UsageError  # noqa: E402
from dataprep.models.resolve import resolve_model  # noqa: E402
from dataprep.train.anchor_generator import AnchorGenerator  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402
from dataprep.train.build import build_model  # noqa: E402
from dataprep.train.model import BackboneWeightsError, build_backbone, extra_depths  # noqa: E402


def tiny_config(input_size=96, **kw) -> TrainConfig:
    kw = {"alpha": 0.35, "backbone_weights": "none", "class_ids": (1, 3, 90),
          "class_names": ("cat", "dog", "toothbrush"), **kw}
    return TrainConfig(input_size=input_size, **kw)


@pytest.mark.parametrize("input_size", [320, 96, 100])
def test_predictions_line_up_with_the_anchors(input_size):
    config = tiny_config(input_size)
    model = build_model(config)
    anchors = AnchorGenerator(config.anchors, input_size)
    assert model.feature_map_sizes() == mobilenet_v2_feature_map_sizes(input_size)
    assert model.num_predictions == anchors.num_anchors == AnchorConfig().num_anchors(input_size)
    assert anchors.anchors().shape == (anchors.num_anchors, 4)
    out = model(np.zeros((1, input_size, input_size, 3), np.float32))
    assert tuple(out["boxes"].shape) == (1, anchors.num_anchors, 4)
    assert tuple(out["classes"].shape) == (1, anchors.num_anchors, 3)
    # The class head starts at the focal-loss prior (p = 0.01).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sigmoid(out["classes"])).mean(), 0.01, atol=2e-3)


def test_custom_anchor_settings_change_the_heads():
    cfg = AnchorConfig(aspect_ratios=(1.0, 2.0), reduce_boxes_in_lowest_layer=False)
    config = tiny_config(128, anchor_config=cfg.to_dict())
    model = build_model(config)
    assert config.anchors.num_anchors_per_location() == [3] * 6
    assert model.num_predictions == cfg.num_anchors(128)


def test_named_parts_and_config():
    model = build_model(tiny_config())
    names = [layer.name for layer in model.layers]
    assert {"backbone", "feature_maps", "box_head", "class_head"} <= set(names)
    assert model.backbone.get_layer("block_13_expand_relu") is not None
    config = model.get_config()
    assert config["num_classes"] == 3 and config["alpha"] == 0.35 and config["input_size"] == 96
    assert extra_depths(0.35) == [179, 89, 89, 44] and extra_depths(0.01) == [16] * 4
    assert model.feature_maps.get_config()["depths"] == extra_depths(0.35)


def test_imagenet_offline_gives_a_clear_message(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] name resolution")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    with pytest.raises(BackboneWeightsError, match="offline.*--backbone-weights none"):
        build_backbone(96, 0.35, "imagenet")


def test_bad_weights_file_names_the_file(tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(BackboneWeightsError, match="weights.h5"):
        build_backbone(96, 0.35, str(bad))


def test_anchor_settings_the_model_cannot_use():
    with pytest.raises(AnchorConfigError, match="6 prediction layers"):
        AnchorGenerator(AnchorConfig(num_layers=5), 96)
    wrong = AnchorConfig(feature_map_sizes=((5, 5), (3, 3), (2, 2), (1, 1), (1, 1), (1, 1)))
    with pytest.raises(AnchorConfigError, match="do not match the model's feature maps"):
        AnchorGenerator(wrong, 96)


def test_anchor_files(tmp_path):
    cfg = AnchorConfig(min_scale=0.1, aspect_ratios=(1.0, 2.0, 0.5))
    write_anchors_json(tmp_path / "anchors.json", cfg, 256)
    resolved = resolve_model(anchors=tmp_path / "anchors.json")
    assert resolved.anchors == cfg and resolved.input_size == (256, 256) and resolved.square_size() == 256
    assert resolve_model(anchors=tmp_path / "anchors.json", input_size=192).square_size() == 192
    assert resolve_model().square_size() == 320
    write_anchors_json(tmp_path / "wide.json", cfg, (300, 400))
    with pytest.raises(AnchorConfigError, match="wide.json: input size 300x400 is not square"):
        resolve_model(anchors=tmp_path / "wide.json").square_size()
    (tmp_path / "pipeline.config").write_text(
        "model { ssd { num_classes: 3 image_resizer { fixed_shape_resizer { height: 192 width: 192 } }\n"
        "  anchor_generator { ssd_anchor_generator { min_scale: 0.15 aspect_ratios: [1.0, 2.0] } } } }\n")
    resolved = resolve_model(anchor_config=tmp_path / "pipeline.config")
    assert resolved.anchors.min_scale == 0.15 and resolved.anchors.aspect_ratios == (1.0, 2.0)
    assert resolved.input_size == (192, 192)
    with pytest.raises(UsageError, match="not both"):
        resolve_model(anchors=tmp_path / "anchors.json", anchor_config=tmp_path / "pipeline.config")
    from dataprep.anchors import MultiscaleAnchorConfig

    write_anchors_json(tmp_path / "ms.json", MultiscaleAnchorConfig(), 320)
    # the file names its model (FPNLite), so it loads as that model's anchors ...
    resolved = resolve_model(anchors=tmp_path / "ms.json")
    assert (resolved.model, resolved.anchors, resolved.input_size) == (
        "ssd_mobilenet_v2_fpnlite", MultiscaleAnchorConfig(), (320, 320))
    # ... and not as another model's
    with pytest.raises(UsageError, match="anchors are for model 'ssd_mobilenet_v2_fpnlite'"):
        resolve_model("ssdlite_mobilenet_v2", anchors=tmp_path / "ms.json")
    data = json.loads((tmp_path / "ms.json").read_text())
    del data["model"]  # an older file: no model, the anchor kind must still be the model's
    (tmp_path / "ms.json").write_text(json.dumps(data))
    with pytest.raises(UsageError, match="ms.json holds multiscale anchors"):
        resolve_model("ssdlite_mobilenet_v2", anchors=tmp_path / "ms.json")


def test_train_config_round_trip_and_checks(tmp_path):
    config = tiny_config(hard_negative_ratio=3.0)
    config.save(tmp_path)
    assert TrainConfig.load(tmp_path) == config
    assert json.loads((tmp_path / "config.json").read_text())["class_ids"] == [1, 3, 90]
    with pytest.raises(UsageError, match="optimizer"):
        tiny_config(optimizer="rmsprop")
    with pytest.raises(UsageError, match="input_size"):
        tiny_config(16)
    with pytest.raises(UsageError, match="unknown training setting"):
        TrainConfig.from_dict({"input_sise": 320})
    with pytest.raises(UsageError, match="not a training run folder"):
        TrainConfig.load(tmp_path / "nowhere")
    assert tiny_config().weights_path() is None
    assert tiny_config(backbone_weights="imagenet").weights_path() == "imagenet"
