"""The TF2 detection-zoo SSDs in Keras 3, layer for layer as the TF OD API builds them.

    images [B, S, S, 3] float 0..255
      -> preprocess: 2/255 * x - 1 (ssd_mobilenet_v2_keras_feature_extractor.preprocess)
      -> backbone: the TF OD API's MobileNetV2 (SAME padding, min_depth, depth-multiplied Conv_1)
      -> feature maps: SSD extra layers (ssd_mobilenet_v2)
      -> box head   (1x1 conv with bias per layer)      -> "boxes"   [B, N, 4]
      -> class head (1x1 conv with bias per layer)      -> "classes" [B, N, K]
         (the head predicts K + 1 columns as the zoo does, column 0 the background;
         "classes" drops it, the decoder and the loss use sigmoid scores per class)

Why not ``keras.applications.MobileNetV2``: the TF OD API builds that network
with its own layers (``models/keras_models/mobilenet_v2.py``,
``_LayersOverride``): every convolution is SAME-padded (the explicit
``ZeroPadding2D`` layers become no-ops -- for the stride-2 3x3 convolutions the
two give the same result), no convolution outside the ``*_expand`` ones has
fewer than ``min_depth`` filters, and the last 1x1 convolution (``Conv_1``) is
scaled by the depth multiplier when it is below 1. At depth multiplier 1.0 the
two networks are identical, layer for layer, so ImageNet weights of
``keras.applications`` load into this one.

The zoo ``ssd_mobilenet_v2`` (``ssd_mobilenet_v2_320x320_coco17_tpu-8``):
layers ``block_13_expand_relu`` (stride 16) and ``out_relu`` (stride 32), then
four extra layers of depth ``max(int(d * alpha), min_depth)`` for d in 512,
256, 256, 128, each a 1x1 conv to ``depth_fn(d // 2)`` + BN + ReLU6 and a 3x3
stride-2 SAME conv + BN + ReLU6 (``feature_map_generators.
KerasMultiResolutionFeatureMaps``); a ``convolutional_box_predictor`` with
kernel size 1, biases, no batch norm, the class bias initialised to -4.6.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import keras
from keras import layers

from dataprep.train.model import (
    BACKBONE_OUTPUTS,
    EXTRA_DEPTHS,
    MIN_DEPTH,
    BackboneWeightsError,
    PredictionHead,
    SSDFeatureMaps,
    _all_layers,
)

#: The class bias of the zoo configs (``class_prediction_bias_init: -4.6``, i.e. a prior near 0.01).
CLASS_BIAS_INIT = -4.6
#: Batch-norm settings of the zoo ``conv_hyperparams`` (``decay: 0.97``, ``epsilon: 0.001``).
ZOO_BATCHNORM_MOMENTUM = 0.97
BATCHNORM_EPSILON = 1e-3

# (filters, stride, expansion) of MobileNetV2's 17 inverted residual blocks (Sandler et al., Table 2).
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
           (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
           (320, 1, 6))


def make_divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor``, never more than 10 % below ``value`` (MobileNetV2's rounding)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def depth_fn(depth: int, alpha: float, min_depth: int = MIN_DEPTH) -> int:
    """``max(int(depth * alpha), min_depth)``: the TF OD API's ``get_depth_fn``."""
    return max(int(depth * alpha), min_depth)


def zoo_mobilenet_v2(input_size: int, alpha: float = 1.0, min_depth: int = MIN_DEPTH,
                     outputs: Sequence[str] = BACKBONE_OUTPUTS, name: str = "backbone") -> keras.Model:
    """MobileNetV2 as the TF OD API builds it (see the module docstring), returning ``outputs``.

    Layer names and order are those of ``keras.applications.MobileNetV2``, so
    the ``N``-th layer with weights is the zoo checkpoint's ``layer_with_weights-N``.
    """

    def filters_of(filters: int, layer_name: str) -> int:
        # [1] _LayersOverride.Conv2D: min_depth applies to every conv but the expansions.
        return min_depth if min_depth and filters < min_depth and not layer_name.endswith("expand") else filters

    def conv(x, filters, kernel, stride, layer_name):
        return layers.Conv2D(filters_of(filters, layer_name), kernel, strides=stride, padding="same",
                             use_bias=False, name=layer_name)(x)

    def bn(x, layer_name):
        return layers.BatchNormalization(epsilon=BATCHNORM_EPSILON, momentum=0.999, name=layer_name)(x)

    images = keras.Input((input_size, input_size, 3), name="preprocessed")
    x = conv(images, make_divisible(32 * alpha), 3, 2, "Conv1")
    x = layers.ReLU(6.0, name="Conv1_relu")(bn(x, "bn_Conv1"))
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        inputs = x
        in_channels = int(x.shape[-1])
        # [2] The residual test compares the real input depth with the nominal output depth
        #     (before min_depth), as keras.applications does inside the TF OD API.
        pointwise = make_divisible(int(filters * alpha))
        prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
        if block_id:
            x = conv(x, expansion * in_channels, 1, 1, prefix + "expand")
            x = layers.ReLU(6.0, name=prefix + "expand_relu")(bn(x, prefix + "expand_BN"))
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=prefix + "depthwise")(x)
        x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(bn(x, prefix + "depthwise_BN"))
        x = bn(conv(x, pointwise, 1, 1, prefix + "project"), prefix + "project_BN")
        if in_channels == pointwise and stride == 1:
            x = layers.Add(name=prefix + "add")([inputs, x])
    # [3] _LayersOverride.Conv2D: Conv_1 has 1280 filters, depth-multiplied when alpha < 1.
    last = 1280 if alpha >= 1.0 else make_divisible(1280 * alpha)
    x = conv(x, last, 1, 1, "Conv_1")
    x = layers.ReLU(6.0, name="out_relu")(bn(x, "Conv_1_bn"))
    model = keras.Model(images, x, name="mobilenet_v2")
    return keras.Model(images, [model.get_layer(n).output for n in outputs], name=name)


def weighted_layers(model: keras.Model) -> list[layers.Layer]:
    """The layers that carry weights, in model order (a checkpoint's ``layer_with_weights-N``)."""
    return [layer for layer in model.layers if layer.weights]


def load_imagenet_backbone(backbone: keras.Model, input_size: int, alpha: float, weights: str) -> None:
    """Copy ``keras.applications.MobileNetV2`` weights (``"imagenet"`` or a file) into ``backbone``, layer by layer."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*Weights for input shape \(224, 224\).*")
            base = keras.applications.MobileNetV2(input_shape=(input_size, input_size, 3), alpha=alpha,
                                                  include_top=False, weights=weights)
    except Exception as exc:  # noqa: BLE001 -- offline downloads raise plain Exception
        raise BackboneWeightsError(
            f"cannot load MobileNetV2 weights {weights!r} (alpha={alpha}): {exc}. Offline? Start from a zoo "
            "checkpoint with --init-from, or train from scratch with --backbone-weights none."
        ) from None
    ours, theirs = weighted_layers(backbone), weighted_layers(base)
    for mine, other in zip(ours, theirs):
        for a, b in zip(mine.weights, other.weights):
            if tuple(a.shape) != tuple(b.shape):
                raise BackboneWeightsError(
                    f"MobileNetV2 weights {weights!r}: layer {other.name} has {b.name} of shape {tuple(b.shape)}, "
                    f"the zoo backbone (alpha={alpha}) expects {tuple(a.shape)}; keras.applications and the TF OD "
                    "API differ below alpha 1.0 (min_depth, Conv_1)"
                )
            a.assign(b)


class ZooSSDMobileNetV2(keras.Model):
    """The zoo ``ssd_mobilenet_v2``: ``images -> {"boxes": [B, N, 4], "classes": [B, N, K]}``.

    Same interface as :class:`dataprep.train.model.SSDMobileNetV2`; the class
    head predicts ``K + 1`` columns (background first) so that a zoo
    checkpoint's head maps onto it row for row.
    """

    def __init__(self, num_classes: int, anchors_per_location: Sequence[int], input_size: int = 300,
                 alpha: float = 1.0, min_depth: int = MIN_DEPTH, backbone_weights: str | None = None,
                 batchnorm_momentum: float = ZOO_BATCHNORM_MOMENTUM, **kwargs):
        backbone = zoo_mobilenet_v2(input_size, alpha, min_depth)
        if backbone_weights is not None:
            load_imagenet_backbone(backbone, input_size, alpha, backbone_weights)
        feature_maps = SSDFeatureMaps([depth_fn(d, alpha, min_depth) for d in EXTRA_DEPTHS], use_depthwise=False,
                                      reduce_depths=[depth_fn(d // 2, alpha, min_depth) for d in EXTRA_DEPTHS],
                                      name="feature_maps")
        box_head = PredictionHead(anchors_per_location, 4, use_depthwise=False, kernel_size=1, name="box_head")
        class_head = PredictionHead(anchors_per_location, num_classes + 1, use_depthwise=False, kernel_size=1,
                                    bias_init=CLASS_BIAS_INIT, name="class_head")

        images = keras.Input((input_size, input_size, 3), name="images")
        x = layers.Rescaling(2.0 / 255.0, offset=-1.0, name="preprocess")(images)
        maps = feature_maps(backbone(x))
        with_background = class_head(maps)
        outputs = {"boxes": box_head(maps), "classes": with_background[:, :, 1:]}
        super().__init__(inputs=images, outputs=outputs, **{"name": "ssd_mobilenet_v2", **kwargs})

        self.num_classes = int(num_classes)
        self.anchors_per_location = [int(a) for a in anchors_per_location]
        self.input_size = int(input_size)
        self.alpha = float(alpha)
        self.min_depth = int(min_depth)
        self.backbone_weights = backbone_weights
        self.batchnorm_momentum = float(batchnorm_momentum)
        for layer in _all_layers(self):
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = self.batchnorm_momentum
        self.backbone = backbone
        self.feature_maps = feature_maps
        self.box_head = box_head
        self.class_head = class_head
        self.num_predictions = int(outputs["boxes"].shape[1])

    def feature_map_sizes(self) -> list[tuple[int, int]]:
        shapes = self.feature_maps.compute_output_shape([tuple(t.shape) for t in self.backbone.outputs])
        return [(int(s[1]), int(s[2])) for s in shapes]

    def predict_model(self) -> keras.Model:
        """The TF OD API's ``predict()`` outputs as a Keras model: ``feature_maps``,
        ``box_encodings`` and ``class_predictions_with_background`` (for parity checks)."""
        return keras.Model(self.input, {"feature_maps": self.feature_maps.output,
                                        "box_encodings": self.box_head.output,
                                        "class_predictions_with_background": self.class_head.output})

    def get_config(self):
        return {"num_classes": self.num_classes, "anchors_per_location": self.anchors_per_location,
                "input_size": self.input_size, "alpha": self.alpha, "min_depth": self.min_depth,
                "backbone_weights": self.backbone_weights, "batchnorm_momentum": self.batchnorm_momentum,
                "name": self.name}

