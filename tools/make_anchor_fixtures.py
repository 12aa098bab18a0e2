"""Make tests/data/odapi_anchors.npz with the genuine TF OD API (run once, commit the output).

Run in a venv with the TF OD API (TF2), e.g. one made by the shared
``odapi-tf2-venv.sh``::

    TF_USE_LEGACY_KERAS=1 PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python \\
        /work/odapi-venv/bin/python tools/make_anchor_fixtures.py

Every array is what the TF OD API itself produces, through the same path a
``pipeline.config`` takes (text format -> proto -> builder), so proto float32
rounding is included:

* ``gen/<name>``: ``anchor_generator_builder.build(AnchorGenerator proto)``
  then ``generate(feature_map_shape_list, im_height, im_width)``; the
  feature maps, input size and proto text are stored beside it
  (``<name>/fmaps``, ``<name>/size``, ``<name>/proto``).
* ``model/<name>``: the ``anchors`` output of ``model.predict`` of a model
  built by ``model_builder.build`` (depth multiplier 0.35: anchors do not
  depend on it), so the feature-map sizes are the real network's, including
  ``pad_to_multiple``. ``<name>/config`` holds the model proto text.

dataprep itself never imports this script or the TF OD API.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "odapi_anchors.npz")

# (name, anchor_generator proto text, input (h, w), feature map strides or None for SSD MobileNetV2 sizes)
GENERATOR_CASES = [
    ("multiscale_fpnlite_320",
     "multiscale_anchor_generator { min_level: 3 max_level: 7 anchor_scale: 4.0 "
     "aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 }", (320, 320)),
    ("multiscale_fpnlite_300",
     "multiscale_anchor_generator { min_level: 3 max_level: 7 anchor_scale: 4.0 "
     "aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 }", (300, 300)),
    ("multiscale_custom_256x384",
     "multiscale_anchor_generator { min_level: 3 max_level: 6 anchor_scale: 3.0 "
     "aspect_ratios: [1.0, 3.0, 0.3333] scales_per_octave: 3 }", (256, 384)),
    ("multiscale_unnormalized_320",
     "multiscale_anchor_generator { min_level: 3 max_level: 5 anchor_scale: 4.0 "
     "aspect_ratios: [1.0] scales_per_octave: 1 normalize_coordinates: false }", (320, 320)),
    ("ssd_default_300",
     "ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 aspect_ratios: 1.0 "
     "aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 }", (300, 300)),
    ("ssd_default_320",
     "ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 aspect_ratios: 1.0 "
     "aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 }", (320, 320)),
    ("ssd_scales_300x500",
     "ssd_anchor_generator { num_layers: 6 scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87] "
     "aspect_ratios: [1.0, 2.0, 0.5, 3.0, 0.3333] interpolated_scale_aspect_ratio: 1.3 }", (300, 500)),
]

MODEL_TEMPLATE = """
ssd {
  num_classes: 3
  image_resizer { fixed_shape_resizer { height: %(size)d width: %(size)d } }
  feature_extractor {
    type: '%(extractor)s'
    depth_multiplier: 0.35
    min_depth: 16
    pad_to_multiple: %(pad)d
    %(fpn)s
    conv_hyperparams {
      activation: RELU_6
      regularizer { l2_regularizer { weight: 0.00004 } }
      initializer { truncated_normal_initializer { stddev: 0.03 } }
      batch_norm { scale: true decay: 0.97 epsilon: 0.001 }
    }
    override_base_feature_extractor_hyperparams: true
  }
  box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }
  matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 } }
  similarity_calculator { iou_similarity { } }
  anchor_generator { %(anchors)s }
  box_predictor {
    convolutional_box_predictor {
      kernel_size: 1
      conv_hyperparams {
        activation: RELU_6
        regularizer { l2_regularizer { weight: 0.00004 } }
        initializer { truncated_normal_initializer { stddev: 0.03 } }
      }
    }
  }
  loss {
    classification_loss { weighted_sigmoid_focal { alpha: 0.75 gamma: 2.0 } }
    localization_loss { weighted_smooth_l1 { } }
  }
  post_processing {
    batch_non_max_suppression { score_threshold: 1e-8 iou_threshold: 0.6
      max_detections_per_class: 10 max_total_detections: 10 }
    score_converter: SIGMOID
  }
}
"""

SSD_ANCHORS = GENERATOR_CASES[4][1]
FPN_ANCHORS = GENERATOR_CASES[0][1]
FPN = "fpn { min_level: 3 max_level: 7 additional_layer_depth: 128 }"

# (name, extractor type, input size, pad_to_multiple, fpn block, anchors). FPNLite
# at 300 without padding does not build in the TF OD API (the top-down add
# meets 19x19 and 20x20 maps), so it appears only with pad_to_multiple 32.
MODEL_CASES = [
    ("ssd_mobilenet_v2_300", "ssd_mobilenet_v2_keras", 300, 1, "", SSD_ANCHORS),
    ("ssd_mobilenet_v2_300_pad32", "ssd_mobilenet_v2_keras", 300, 32, "", SSD_ANCHORS),
    ("fpnlite_320", "ssd_mobilenet_v2_fpn_keras", 320, 1, FPN, FPN_ANCHORS),
    ("fpnlite_300_pad32", "ssd_mobilenet_v2_fpn_keras", 300, 32, FPN, FPN_ANCHORS),
]


def _ssd_fmaps(height: int, width: int) -> list[tuple[int, int]]:
    sizes = [(math.ceil(height / 16), math.ceil(width / 16)), (math.ceil(height / 32), math.ceil(width / 32))]
    while len(sizes) < 6:
        sizes.append((math.ceil(sizes[-1][0] / 2), math.ceil(sizes[-1][1] / 2)))
    return sizes


def main() -> int:
    import tensorflow as tf
    from google.protobuf import text_format
    from object_detection.builders import anchor_generator_builder, model_builder
    from object_detection.protos import anchor_generator_pb2, model_pb2

    out: dict[str, np.ndarray] = {}
    for name, text, (height, width) in GENERATOR_CASES:
        proto = text_format.Parse(text, anchor_generator_pb2.AnchorGenerator())
        generator = anchor_generator_builder.build(proto)
        if proto.WhichOneof("anchor_generator_oneof") == "multiscale_anchor_generator":
            ms = proto.multiscale_anchor_generator
            fmaps = [(math.ceil(height / 2**lv), math.ceil(width / 2**lv))
                     for lv in range(ms.min_level, ms.max_level + 1)]
        else:
            fmaps = _ssd_fmaps(height, width)
        boxes = generator.generate(fmaps, im_height=height, im_width=width)
        anchors = np.concatenate([b.get().numpy() for b in boxes], axis=0)
        out[f"gen/{name}"] = anchors.astype(np.float32)
        out[f"gen/{name}/fmaps"] = np.array(fmaps, dtype=np.int32)
        out[f"gen/{name}/size"] = np.array([height, width], dtype=np.int32)
        out[f"gen/{name}/proto"] = np.array(text)
        print(f"gen/{name}: {anchors.shape}", flush=True)

    for name, extractor, size, pad, fpn, anchors_text in MODEL_CASES:
        text = MODEL_TEMPLATE % dict(size=size, extractor=extractor, pad=pad, fpn=fpn, anchors=anchors_text)
        config = text_format.Parse(text, model_pb2.DetectionModel())
        model = model_builder.build(config, is_training=False)
        image = tf.zeros([1, size, size, 3], tf.float32)
        preprocessed, shapes = model.preprocess(image)
        prediction = model.predict(preprocessed, shapes)
        anchors = prediction["anchors"].numpy().astype(np.float32)
        fmaps = [tuple(int(v) for v in f.shape[1:3]) for f in prediction["feature_maps"]]
        out[f"model/{name}"] = anchors
        out[f"model/{name}/fmaps"] = np.array(fmaps, dtype=np.int32)
        out[f"model/{name}/size"] = np.array([size, size], dtype=np.int32)
        out[f"model/{name}/config"] = np.array(text)
        print(f"model/{name}: {anchors.shape} feature maps {fmaps}", flush=True)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
