"""Model-level settings read from a TF OD API pipeline.config, and anchors from genuine configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataprep.anchors import AnchorConfig, AnchorConfigError, MultiscaleAnchorConfig, render_anchor_generator
from dataprep.models import parse_pipeline_config, read_anchors_json, read_pipeline_config, write_anchors_json

FIXTURE = Path(__file__).parent / "data" / "odapi_anchors.npz"

# The shape of the TF2 zoo FPNLite config, written for this test.
FPNLITE = """
model {
  ssd {
    num_classes: 90
    image_resizer { fixed_shape_resizer { height: 320 width: 320 } }
    anchor_generator {
      multiscale_anchor_generator {
        min_level: 3 max_level: 7 anchor_scale: 4.0
        aspect_ratios: [1.0, 2.0, 0.5]
        scales_per_octave: 2
      }
    }
    box_predictor {
      weight_shared_convolutional_box_predictor { depth: 128 num_layers_before_predictor: 4
        share_prediction_tower: true use_depthwise: true kernel_size: 3 }
    }
    feature_extractor {
      type: 'ssd_mobilenet_v2_fpn_keras'
      use_depthwise: true
      fpn { min_level: 3 max_level: 7 additional_layer_depth: 128 }
      min_depth: 16
      depth_multiplier: 1.0
      conv_hyperparams { activation: RELU_6, batch_norm { scale: true, decay: 0.997, epsilon: 0.001, } }
      override_base_feature_extractor_hyperparams: true
    }
  }
}
train_config: {
  fine_tune_checkpoint_version: V2
  fine_tune_checkpoint: "zoo/checkpoint/ckpt-0"
  fine_tune_checkpoint_type: "detection"
  batch_size: 16
  num_steps: 2500
}
train_input_reader: {
  label_map_path: "records/label_map.pbtxt"
  tf_record_input_reader { input_path: "records/train-?????-of-00004.tfrecord" }
}
eval_input_reader: {
  label_map_path: "records/label_map.pbtxt"
  tf_record_input_reader { input_path: "records/val-?????-of-00001.tfrecord" }
}
"""

SSD = """
model { ssd {
  num_classes: 3
  image_resizer { fixed_shape_resizer { height: 300 width: 300 } }
  anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95
    aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 } }
  box_predictor { convolutional_box_predictor { kernel_size: 1 %(predictor)s } }
  feature_extractor { type: '%(type)s' depth_multiplier: 0.75 min_depth: 8 %(extractor)s }
} }
"""


def ssd(type_: str = "ssd_mobilenet_v2_keras", predictor: str = "", extractor: str = "") -> str:
    return SSD % {"type": type_, "predictor": predictor, "extractor": extractor}


def test_fpnlite_model_settings():
    s = parse_pipeline_config(FPNLITE, "zoo/pipeline.config")
    assert s.model == "ssd_mobilenet_v2_fpnlite" and s.require_model() == "ssd_mobilenet_v2_fpnlite"
    assert s.input_size == (320, 320) and s.num_classes == 90
    assert s.anchor_config == MultiscaleAnchorConfig()
    assert s.anchor_config.num_anchors(s.input_size) == 12804
    assert (s.depth_multiplier, s.min_depth, s.pad_to_multiple, s.use_depthwise) == (1.0, 16, 1, True)
    assert s.box_predictor == "weight_shared_convolutional_box_predictor"
    assert (s.fine_tune_checkpoint, s.fine_tune_checkpoint_type) == ("zoo/checkpoint/ckpt-0", "detection")
    assert s.label_map_path == "records/label_map.pbtxt"
    assert s.train_input_paths == ("records/train-?????-of-00004.tfrecord",)
    assert s.eval_input_paths == ("records/val-?????-of-00001.tfrecord",)
    assert (s.batch_size, s.num_steps) == (16, 2500)


@pytest.mark.parametrize(
    "text, model",
    [
        (ssd(), "ssd_mobilenet_v2"),
        # TF1 names: the slim networks (their depths differ from the Keras ones below depth 1)
        (ssd("ssd_mobilenet_v2"), "ssd_mobilenet_v2_tf1"),
        (ssd("ssd_mobilenet_v2", extractor="use_depthwise: true", predictor="use_depthwise: true"),
         "ssdlite_mobilenet_v2_tf1"),
        (ssd("ssd_mobilenet_v1"), "ssd_mobilenet_v1"),
        (ssd(predictor="use_depthwise: true"), "ssdlite_mobilenet_v2"),
        (ssd(extractor="use_depthwise: true", predictor="use_depthwise: true"), "ssdlite_mobilenet_v2"),
    ],
)
def test_ssd_model_names(text, model):
    s = parse_pipeline_config(text)
    assert s.model == model and s.model_problem is None
    assert (s.depth_multiplier, s.min_depth) == (0.75, 8)
    assert isinstance(s.anchor_config, AnchorConfig) and s.anchor_config.num_anchors(300) == 1917
    assert s.fine_tune_checkpoint is None and s.train_input_paths == () and s.batch_size is None


@pytest.mark.parametrize(
    "text, problem",
    [
        (ssd("ssd_mobilenet_v1_keras"), "'ssd_mobilenet_v1_keras' is not a model dataprep builds"),
        (ssd("ssd_mobilenet_v1", extractor="use_depthwise: true", predictor="use_depthwise: true"),
         "SSDLite MobileNetV1"),
        (ssd("ssd_mobilenet_v2", predictor="use_depthwise: true"), "use_depthwise: true in both the feature extractor and the box predictor"),
        (ssd().replace("convolutional_box_predictor", "weight_shared_convolutional_box_predictor"),
         "box predictor"),
        (FPNLITE.replace("use_depthwise: true\n      fpn", "fpn"), "full FPN, not FPNLite"),
        (FPNLITE.replace("fpn { min_level: 3 max_level: 7", "fpn { min_level: 2 max_level: 7"), "levels (2, 7)"),
        (FPNLITE.replace("weight_shared_convolutional_box_predictor", "convolutional_box_predictor"), "not FPNLite"),
        (FPNLITE.replace("ssd_mobilenet_v2_fpn_keras", "ssd_mobilenet_v2_keras")
         .replace("weight_shared_convolutional_box_predictor", "convolutional_box_predictor"), "multiscale anchors"),
    ],
)
def test_unknown_models_are_clear_errors_listing_the_supported_ones(tmp_path, text, problem):
    s = parse_pipeline_config(text)  # anchors alone can still be read
    assert s.model is None and problem in s.model_problem
    path = tmp_path / "pipeline.config"
    path.write_text(text)
    assert read_pipeline_config(path).model is None
    with pytest.raises(AnchorConfigError) as info:
        read_pipeline_config(path, require_model=True)
    message = str(info.value)
    assert message.startswith(str(path)) and problem in message
    for name in ("ssd_mobilenet_v2_keras", "ssdlite_mobilenet_v2", "ssd_mobilenet_v2_fpnlite"):
        assert name in message


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("min_level: x aspect_ratios: 1.0", "'x'"),
        ("min_level: 3 max_level: 2 aspect_ratios: 1.0", "min_level <= max_level"),
        ("aspect_ratios: 1.0 scales: 2", "unknown field 'scales'"),
        ("min_level: 3", "no aspect_ratios"),
        ("aspect_ratios: 0.0", "positive"),
    ],
)
def test_multiscale_errors_name_file_and_value(body, fragment):
    text = "model { ssd { anchor_generator { multiscale_anchor_generator { " + body + " } } } }"
    with pytest.raises(AnchorConfigError) as info:
        parse_pipeline_config(text, "my/pipeline.config")
    assert str(info.value).startswith("my/pipeline.config") and fragment in str(info.value)


def test_extractor_value_errors():
    with pytest.raises(AnchorConfigError, match="pad_to_multiple must be >= 1, got 0"):
        parse_pipeline_config(ssd(extractor="pad_to_multiple: 0"))
    with pytest.raises(AnchorConfigError, match="depth_multiplier must be > 0"):
        parse_pipeline_config(ssd().replace("depth_multiplier: 0.75", "depth_multiplier: 0"))
    with pytest.raises(AnchorConfigError, match="'eight'"):
        parse_pipeline_config(ssd().replace("min_depth: 8", "min_depth: eight"))


def test_pad_to_multiple_reaches_the_anchors():
    s = parse_pipeline_config(ssd(extractor="pad_to_multiple: 32"))
    assert s.pad_to_multiple == 32 and s.anchor_config.pad_to_multiple == 32
    assert s.anchor_config.feature_maps(300)[0] == (20, 20)
    assert s.anchor_config.num_anchors(300) == 2034


@pytest.mark.parametrize(
    "config", [AnchorConfig(min_scale=0.1), MultiscaleAnchorConfig(anchor_scale=3.0, scales_per_octave=3)]
)
def test_render_either_kind_round_trips(config):
    text = "model {\n  ssd {\n" + render_anchor_generator(config, indent=4) + "\n  }\n}\n"
    assert parse_pipeline_config(text).anchor_config == config


def test_anchors_json_of_either_kind(tmp_path):
    path = tmp_path / "anchors.json"
    cfg = MultiscaleAnchorConfig(aspect_ratios=(1.0, 0.5), pad_to_multiple=32)
    write_anchors_json(path, cfg, 320)
    data = json.loads(path.read_text())
    assert data["kind"] == "multiscale" and data["num_anchors"] == 2134 * 4
    assert read_anchors_json(path) == (cfg, (320, 320))
    data["kind"] = "yolo"
    path.write_text(json.dumps(data))
    with pytest.raises(AnchorConfigError, match="unknown anchors kind 'yolo'"):
        read_anchors_json(path)
    del data["kind"]  # files of older versions hold SSD settings only
    data["anchor_config"] = AnchorConfig().to_dict()
    data["num_anchors"] = 2034
    path.write_text(json.dumps(data))
    # the file still names the FPNLite model, whose anchors are multiscale: inconsistent
    with pytest.raises(AnchorConfigError, match="holds ssd anchors but the ssd_mobilenet_v2_fpnlite model"):
        read_anchors_json(path)
    del data["model"]  # nor did older files record the model
    path.write_text(json.dumps(data))
    assert read_anchors_json(path) == (AnchorConfig(), (320, 320))


# ------------------------------------------- genuine configs -> genuine anchors
def _genuine():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize(
    "name", ["ssd_mobilenet_v2_300", "ssd_mobilenet_v2_300_pad32", "fpnlite_320", "fpnlite_300_pad32"]
)
def test_genuine_model_config_gives_the_genuine_models_anchors(name):
    """The model config the TF OD API built (stored in the fixture) -> our reader -> the same anchors."""
    genuine = _genuine()
    s = parse_pipeline_config("model {" + str(genuine[f"model/{name}/config"]) + "}", name)
    size = tuple(int(v) for v in genuine[f"model/{name}/size"])
    assert s.input_size == size
    np.testing.assert_array_equal(s.anchor_config.generate(size), genuine[f"model/{name}"])


@pytest.mark.parametrize("name", ["multiscale_fpnlite_320", "multiscale_custom_256x384", "ssd_default_300",
                                  "ssd_scales_300x500"])
def test_genuine_generator_proto_gives_the_genuine_anchors(name):
    genuine = _genuine()
    text = "model { ssd { anchor_generator {" + str(genuine[f"gen/{name}/proto"]) + "} } }"
    size = tuple(int(v) for v in genuine[f"gen/{name}/size"])
    np.testing.assert_array_equal(parse_pipeline_config(text).anchor_config.generate(size), genuine[f"gen/{name}"])
