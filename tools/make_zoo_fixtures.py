"""Make the TF2 detection-zoo parity fixtures with the genuine TF OD API.

Run once, with a venv holding the TF OD API (TF2) -- not dataprep's own:

    TF_USE_LEGACY_KERAS=1 PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python \\
        /path/to/odapi-venv/bin/python tools/make_zoo_fixtures.py tests/data/zoo

For each zoo architecture this builds the model with
``object_detection.builders.model_builder`` from the model section of the zoo
``pipeline.config`` (reduced: depth multiplier 0.25, input 128 unless told
otherwise), gives every variable random values (batch-norm statistics too, so
that a mix-up of gamma/beta/mean/variance cannot go unnoticed), and writes a
zoo-shaped folder::

    OUT/<model>/pipeline.config
    OUT/<model>/label_map.pbtxt       (reduced fixtures only: the first COCO classes; else the zoo's mscoco)
    OUT/<model>/checkpoint/ckpt-0.index, ckpt-0.data-00000-of-00001   (tf.train.Checkpoint(model=...))
    OUT/<model>/outputs.npz   image (uint8), feature_map_<i>,
                              box_encodings, class_predictions_with_background, anchors,
                              detection_boxes/scores/classes (0-based class index), num_detections (postprocess())

``--full`` builds the zoo sizes (depth multiplier 1.0, input 300 / 320) instead;
the slow parity test uses that in a temporary folder. dataprep never imports
this script nor the TF OD API.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from object_detection.builders import model_builder
from object_detection.protos import pipeline_pb2

# The model sections of research/object_detection/configs/tf2/ssd_mobilenet_v2_320x320_coco17_tpu-8.config and
# ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8.config, with NUM_CLASSES, SIZE and DEPTH_MULTIPLIER left open.
CONV_HYPERPARAMS = """
      conv_hyperparams {{
        activation: RELU_6,
        regularizer {{ l2_regularizer {{ weight: 0.00004 }} }}
        initializer {{ {initializer} {{ stddev: {stddev} mean: 0.0 }} }}
        batch_norm {{ {train} scale: true, center: true, decay: {decay}, epsilon: 0.001 }}
      }}"""

COMMON = """
    num_classes: {num_classes}
    box_coder {{ faster_rcnn_box_coder {{ y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 }} }}
    matcher {{ argmax_matcher {{ matched_threshold: 0.5 unmatched_threshold: 0.5 ignore_thresholds: false
      negatives_lower_than_unmatched: true force_match_for_each_row: true use_matmul_gather: true }} }}
    similarity_calculator {{ iou_similarity {{ }} }}
    encode_background_as_zeros: true
    image_resizer {{ fixed_shape_resizer {{ height: {size} width: {size} }} }}
    normalize_loss_by_num_matches: true
    normalize_loc_loss_by_codesize: true
    post_processing {{
      batch_non_max_suppression {{ score_threshold: 1e-8 iou_threshold: 0.6 max_detections_per_class: 100
        max_total_detections: 100 }}
      score_converter: SIGMOID
    }}"""

SSD = """model {{
  ssd {{
    inplace_batchnorm_update: true
    freeze_batchnorm: false""" + COMMON + """
    anchor_generator {{
      ssd_anchor_generator {{
        num_layers: 6
        min_scale: 0.2
        max_scale: 0.95
        aspect_ratios: 1.0
        aspect_ratios: 2.0
        aspect_ratios: 0.5
        aspect_ratios: 3.0
        aspect_ratios: 0.3333
      }}
    }}
    box_predictor {{
      convolutional_box_predictor {{
        min_depth: 0
        max_depth: 0
        num_layers_before_predictor: 0
        use_dropout: false
        dropout_keep_probability: 0.8
        kernel_size: 1
        box_code_size: 4
        apply_sigmoid_to_scores: false
        class_prediction_bias_init: -4.6""" + CONV_HYPERPARAMS.format(
    initializer="random_normal_initializer", stddev=0.01, train="train: true,", decay=0.97).replace(
    "{", "{{").replace("}", "}}") + """
      }}
    }}
    feature_extractor {{
      type: 'ssd_mobilenet_v2_keras'
      min_depth: 16
      depth_multiplier: {depth_multiplier}""" + CONV_HYPERPARAMS.format(
    initializer="truncated_normal_initializer", stddev=0.03, train="train: true,", decay=0.97).replace(
    "{", "{{").replace("}", "}}") + """
      override_base_feature_extractor_hyperparams: true
    }}
    loss {{
      classification_loss {{ weighted_sigmoid_focal {{ alpha: 0.75, gamma: 2.0 }} }}
      localization_loss {{ weighted_smooth_l1 {{ delta: 1.0 }} }}
      classification_weight: 1.0
      localization_weight: 1.0
    }}
  }}
}}
"""

FPNLITE = """model {{
  ssd {{
    inplace_batchnorm_update: true
    freeze_batchnorm: false""" + COMMON + """
    anchor_generator {{
      multiscale_anchor_generator {{
        min_level: 3
        max_level: 7
        anchor_scale: 4.0
        aspect_ratios: [1.0, 2.0, 0.5]
        scales_per_octave: 2
      }}
    }}
    box_predictor {{
      weight_shared_convolutional_box_predictor {{
        depth: 128
        class_prediction_bias_init: -4.6""" + CONV_HYPERPARAMS.format(
    initializer="random_normal_initializer", stddev=0.01, train="", decay=0.997).replace(
    "{", "{{").replace("}", "}}") + """
        num_layers_before_predictor: 4
        share_prediction_tower: true
        use_depthwise: true
        kernel_size: 3
      }}
    }}
    feature_extractor {{
      type: 'ssd_mobilenet_v2_fpn_keras'
      use_depthwise: true
      fpn {{ min_level: 3 max_level: 7 additional_layer_depth: 128 }}
      min_depth: 16
      depth_multiplier: {depth_multiplier}""" + CONV_HYPERPARAMS.format(
    initializer="random_normal_initializer", stddev=0.01, train="", decay=0.997).replace(
    "{", "{{").replace("}", "}}") + """
      override_base_feature_extractor_hyperparams: true
    }}
    loss {{
      classification_loss {{ weighted_sigmoid_focal {{ alpha: 0.25 gamma: 2.0 }} }}
      localization_loss {{ weighted_smooth_l1 {{ }} }}
      classification_weight: 1.0
      localization_weight: 1.0
    }}
  }}
}}
"""

TRAIN = """train_config {{
  batch_size: 8
  num_steps: 1000
  fine_tune_checkpoint: "checkpoint/ckpt-0"
  fine_tune_checkpoint_type: "detection"
  fine_tune_checkpoint_version: V2
}}
train_input_reader {{
  label_map_path: "{label_map}"
  tf_record_input_reader {{ input_path: "train-?????-of-?????.tfrecord" }}
}}
"""

#: Label map of the reduced fixtures: their classes are the first COCO ones, with the COCO ids.
SMALL_LABEL_MAP = ("person", "bicycle", "car", "motorcycle", "airplane", "bus")

MODELS = {"ssd_mobilenet_v2": (SSD, 300), "ssd_mobilenet_v2_fpnlite": (FPNLITE, 320)}


def pipeline_text(name: str, num_classes: int, size: int, depth_multiplier: float, label_map: str) -> str:
    template, _ = MODELS[name]
    return (template.format(num_classes=num_classes, size=size, depth_multiplier=depth_multiplier)
            + TRAIN.format(label_map=label_map))


def randomize(model, rng: np.random.Generator) -> None:
    """Random values for every variable, batch-norm statistics included, of a scale that keeps
    activations in a useful range through the network."""
    for var in model.variables:
        name, shape = var.name, tuple(var.shape)
        if "moving_variance" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in name or "beta" in name or "bias" in name:
            value = rng.normal(0.0, 0.1, shape)
        elif "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        else:  # conv kernels: He-like scale over the fan-in
            fan_in = int(np.prod(shape[:-1])) if "depthwise" not in name else int(np.prod(shape[:2]))
            value = rng.normal(0.0, np.sqrt(1.0 / max(fan_in, 1)), shape)
        var.assign(value.astype(np.float32))


def make(name: str, out: Path, size: int, depth_multiplier: float, num_classes: int, seed: int = 0) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = pipeline_text(name, num_classes, size, depth_multiplier, "label_map.pbtxt")
    config = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Merge(text, config)
    model = model_builder.build(config.model, is_training=False)
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, size, size, 3)).astype(np.float32)  # whole numbers: stored as uint8
    preprocessed, true_shapes = model.preprocess(tf.constant(image))
    model.predict(preprocessed, true_shapes)  # builds every variable
    randomize(model, rng)
    prediction = model.predict(preprocessed, true_shapes)
    arrays = {"image": image.astype(np.uint8),
              "box_encodings": prediction["box_encodings"].numpy(),
              "class_predictions_with_background": prediction["class_predictions_with_background"].numpy(),
              "anchors": prediction["anchors"].numpy()}
    for i, fmap in enumerate(prediction["feature_maps"]):
        arrays[f"feature_map_{i}"] = fmap.numpy()
    detections = model.postprocess(prediction, true_shapes)  # sigmoid + batch_non_max_suppression
    for key in ("detection_boxes", "detection_scores", "detection_classes", "num_detections"):
        arrays[key] = detections[key].numpy()
    np.savez_compressed(out / "outputs.npz", **arrays)
    (out / "pipeline.config").write_text(text, encoding="utf-8")
    if num_classes <= len(SMALL_LABEL_MAP):
        (out / "label_map.pbtxt").write_text("".join(
            f'item {{\n  name: "{n}"\n  id: {i}\n}}\n' for i, n in enumerate(SMALL_LABEL_MAP[:num_classes], 1)))
    tf.train.Checkpoint(model=model).write(os.fspath(out / "checkpoint" / "ckpt-0"))
    print(f"{name}: {out} -- {len(model.variables)} variables, anchors {arrays['anchors'].shape}, "
          f"classes {arrays['class_predictions_with_background'].shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--full", action="store_true", help="zoo sizes: depth multiplier 1.0, input 300/320")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--depth-multiplier", type=float, default=0.25)
    parser.add_argument("--num-classes", type=int, default=None,
                        help="default: 90 (the zoo's COCO classes) with --full, else 6")
    args = parser.parse_args()
    for name in args.models:
        if args.full:
            make(name, args.out / name, MODELS[name][1], 1.0, args.num_classes or 90)
        else:
            make(name, args.out / name, 128, args.depth_multiplier, args.num_classes or 6)


if __name__ == "__main__":
    main()
