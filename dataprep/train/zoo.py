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

The zoo ``ssd_mobilenet_v2_fpnlite`` (``ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8``)::

    block_5_add (C3, stride 8), block_12_add (C4, 16), out_relu (C5, 32)
      -> FPN top-down (KerasFpnTopDownFeatureMaps, depth d = depth_fn(128)):
         P5 = 1x1 conv(C5); P4 = smooth(up2(P5) + 1x1 conv(C4)); P3 = smooth(up2(P4) + 1x1 conv(C3))
         smooth = separable 3x3 + BN + ReLU6; up2 = nearest neighbour
      -> P6, P7: separable 3x3 stride 2 + BN + ReLU6 from P5, then P6 (_coarse_feature_layers)
      -> one prediction tower shared by all levels and by both heads: 4 x (separable 3x3 to 128,
         a batch norm per level, ReLU6) (WeightSharedConvolutionalBoxPredictor, share_prediction_tower)
      -> box head and class head: one separable 3x3 with bias each, shared by the levels
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import keras
from keras import layers, ops

from dataprep.errors import UsageError
from dataprep.train.model import (
    BACKBONE_OUTPUTS,
    EXTRA_DEPTHS,
    MIN_DEPTH,
    BackboneWeightsError,
    PredictionHead,
    SSDFeatureMaps,
    record_detector_settings,
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


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """The nearest multiple of ``divisor``, never more than 10 % below ``value`` and never below
    ``min_value`` (default ``divisor``): MobileNetV2's rounding (slim ``mobilenet._make_divisible``)."""
    new = max(divisor if min_value is None else min_value, int(value + divisor / 2) // divisor * divisor)
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
    names = {layer.name for layer in model.layers}
    # [4] ssd_mobilenet_v2_fpn_keras_feature_extractor: block_N_add, or block_N_project_BN where
    #     the block has no residual (possible at small depth multipliers).
    outputs = [n if n in names or not n.endswith("_add") else n[: -len("add")] + "project_BN" for n in outputs]
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


class OdapiParts:
    """What the detectors built as the TF OD API builds them (the two zoo models
    here, the TF1 ones in :mod:`dataprep.train.tf1`) share through their named
    parts ``backbone``, ``feature_maps``, ``box_head`` and ``class_head``."""

    def feature_map_sizes(self) -> list[tuple[int, int]]:
        shapes = self.feature_maps.compute_output_shape([tuple(t.shape) for t in self.backbone.outputs])
        return [(int(s[1]), int(s[2])) for s in shapes]

    def predict_model(self) -> keras.Model:
        """The TF OD API's ``predict()`` outputs as a Keras model: ``feature_maps``,
        ``box_encodings`` and ``class_predictions_with_background`` (for parity checks)."""
        return keras.Model(self.input, {"feature_maps": self.feature_maps.output,
                                        "box_encodings": self.box_head.output,
                                        "class_predictions_with_background": self.class_head.output})


class ZooSSDMobileNetV2(OdapiParts, keras.Model):
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

        record_detector_settings(self, num_classes, anchors_per_location, input_size, alpha, backbone_weights,
                                 batchnorm_momentum)
        self.min_depth = int(min_depth)
        self.backbone = backbone
        self.feature_maps = feature_maps
        self.box_head = box_head
        self.class_head = class_head
        self.num_predictions = int(outputs["boxes"].shape[1])

    def get_config(self):
        return {"num_classes": self.num_classes, "anchors_per_location": self.anchors_per_location,
                "input_size": self.input_size, "alpha": self.alpha, "min_depth": self.min_depth,
                "backbone_weights": self.backbone_weights, "batchnorm_momentum": self.batchnorm_momentum,
                "name": self.name}



# ---------------------------------------------------------------------------- FPNLite
#: The MobileNetV2 layers FPNLite builds its pyramid on (strides 8, 16, 32).
FPN_BACKBONE_OUTPUTS = ("block_5_add", "block_12_add", "out_relu")
#: ``fpn { additional_layer_depth }`` and ``weight_shared_convolutional_box_predictor { depth }`` of the zoo config.
FPN_DEPTH = 128
PREDICTOR_DEPTH = 128
TOWER_LAYERS = 4


def _separable_bn_relu(depth: int, stride: int, name: str) -> keras.Sequential:
    """``create_conv_block(use_depthwise=True)``: separable 3x3 (no bias) + BN + ReLU6."""
    return keras.Sequential([
        layers.SeparableConv2D(depth, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_separable"),
        layers.BatchNormalization(epsilon=BATCHNORM_EPSILON, name=f"{name}_bn"),
        layers.ReLU(6.0, name=f"{name}_relu6"),
    ], name=name)


class FPNLiteFeatureMaps(layers.Layer):
    """FPN top-down pathway on ``[C3, C4, C5]`` plus ``num_coarse`` stride-2 levels: ``[P3, ..., P7]``.

    [1] P5 = conv1x1(C5); P_l = smooth(up2(P_{l+1}) + conv1x1(C_l)) for l = 4, 3
        (Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017, Sec. 3;
        TF OD API ``KerasFpnTopDownFeatureMaps``, separable "smoothing" convs in FPNLite).
    [2] P6 = coarse(P5), P7 = coarse(P6) (``_coarse_feature_layers``).
    """

    def __init__(self, depth: int = FPN_DEPTH, num_coarse: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)
        self.num_coarse = int(num_coarse)
        self.top = layers.Conv2D(self.depth, 1, padding="same", name="projection_3")
        # Order of the TF OD API lists: levels reversed(range(num_levels - 1)) = C4 first, then C3.
        self.residuals = [layers.Conv2D(self.depth, 1, padding="same", name=f"projection_{level + 1}")
                          for level in (1, 0)]
        self.smoothing = [_separable_bn_relu(self.depth, 1, f"smoothing_{level + 1}") for level in (1, 0)]
        self.coarse = [_separable_bn_relu(self.depth, 2, f"bottom_up_{i}") for i in range(self.num_coarse)]

    def build(self, input_shape):
        c3, c4, c5 = (tuple(s) for s in input_shape)
        self.top.build(c5)
        for conv, shape in zip(self.residuals, (c4, c3)):
            conv.build(shape)
        for block, shape in zip(self.smoothing, (c4, c3)):
            block.build(shape[:3] + (self.depth,))
        shape = c5[:3] + (self.depth,)
        for block in self.coarse:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.built = True

    def call(self, inputs, training=None):
        c3, c4, c5 = inputs
        top_down = [self.top(c5)]
        for conv, smooth, c in zip(self.residuals, self.smoothing, (c4, c3)):
            up = ops.repeat(ops.repeat(top_down[-1], 2, axis=1), 2, axis=2)  # nearest neighbour x2
            top_down.append(smooth(up + conv(c), training=training))
        maps = top_down[::-1]
        x = maps[-1]
        for block in self.coarse:
            x = block(x, training=training)
            maps.append(x)
        return maps

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s[:3]) + (self.depth,) for s in input_shape]
        batch, height, width, _ = shapes[-1]
        for _ in range(self.num_coarse):
            height = None if height is None else math.ceil(height / 2)
            width = None if width is None else math.ceil(width / 2)
            shapes.append((batch, height, width, self.depth))
        return shapes

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "num_coarse": self.num_coarse}


class WeightSharedTower(layers.Layer):
    """The prediction tower shared by every level and both heads: ``num_layers`` separable 3x3
    convs (weights shared over levels) each followed by a batch norm of its own per level and ReLU6."""

    def __init__(self, num_levels: int, depth: int = PREDICTOR_DEPTH, num_layers: int = TOWER_LAYERS, **kwargs):
        super().__init__(**kwargs)
        self.num_levels = int(num_levels)
        self.depth = int(depth)
        self.num_layers = int(num_layers)
        self.convs = [layers.SeparableConv2D(self.depth, 3, padding="same", use_bias=False, name=f"conv{i}")
                      for i in range(self.num_layers)]
        # batch_norms[level * num_layers + i]: the batch norm after conv i on level ``level``
        self.batch_norms = [layers.BatchNormalization(epsilon=BATCHNORM_EPSILON, name=f"level{level}_bn{i}")
                            for level in range(self.num_levels) for i in range(self.num_layers)]

    def build(self, input_shape):
        shape = tuple(input_shape[0])
        for conv in self.convs:
            conv.build(shape)
            shape = shape[:3] + (self.depth,)
        for bn in self.batch_norms:
            bn.build(shape)
        self.built = True

    def call(self, inputs, training=None):
        outputs = []
        for level, x in enumerate(inputs):
            for i, conv in enumerate(self.convs):
                x = self.batch_norms[level * self.num_layers + i](conv(x), training=training)
                x = ops.relu6(x)
            outputs.append(x)
        return outputs

    def compute_output_shape(self, input_shape):
        return [tuple(s[:3]) + (self.depth,) for s in input_shape]

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels, "depth": self.depth,
                "num_layers": self.num_layers}


class WeightSharedHead(layers.Layer):
    """One separable 3x3 conv with bias, shared by all levels, predicting ``anchors * outputs``
    channels per location; reshaped to ``[B, H*W*anchors, outputs]`` and concatenated over levels."""

    def __init__(self, anchors_per_location: int, outputs_per_anchor: int, bias_init: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.anchors_per_location = int(anchors_per_location)
        self.outputs_per_anchor = int(outputs_per_anchor)
        self.bias_init = float(bias_init)
        self.conv = layers.SeparableConv2D(
            self.anchors_per_location * self.outputs_per_anchor, 3, padding="same",
            bias_initializer=keras.initializers.Constant(self.bias_init), name="predict")

    def build(self, input_shape):
        self.conv.build(tuple(input_shape[0]))
        self.built = True

    def call(self, inputs):
        outputs = []
        for x in inputs:
            x = self.conv(x)
            height, width = x.shape[1], x.shape[2]
            if height is not None and width is not None:
                shape = (-1, height * width * self.anchors_per_location, self.outputs_per_anchor)
            else:
                shape = (ops.shape(x)[0], -1, self.outputs_per_anchor)
            outputs.append(ops.reshape(x, shape))
        return ops.cast(ops.concatenate(outputs, axis=1), "float32")

    def compute_output_shape(self, input_shape):
        total = 0
        for _, height, width, _ in input_shape:
            if height is None or width is None:
                return (input_shape[0][0], None, self.outputs_per_anchor)
            total += height * width * self.anchors_per_location
        return (input_shape[0][0], total, self.outputs_per_anchor)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([tuple(x.shape) for x in inputs]), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "anchors_per_location": self.anchors_per_location,
                "outputs_per_anchor": self.outputs_per_anchor, "bias_init": self.bias_init}


class ZooSSDMobileNetV2FPNLite(OdapiParts, keras.Model):
    """The zoo ``ssd_mobilenet_v2_fpnlite``: ``images -> {"boxes": [B, N, 4], "classes": [B, N, K]}``
    over the five levels P3..P7 (strides 8 to 128) of the multiscale anchor generator."""

    def __init__(self, num_classes: int, anchors_per_location: Sequence[int], input_size: int = 320,
                 alpha: float = 1.0, min_depth: int = MIN_DEPTH, backbone_weights: str | None = None,
                 batchnorm_momentum: float = ZOO_BATCHNORM_MOMENTUM, **kwargs):
        per_location = sorted({int(a) for a in anchors_per_location})
        if len(per_location) != 1 or len(anchors_per_location) != 5:
            raise UsageError(
                f"FPNLite predicts the same number of anchors on each of 5 levels, got {list(anchors_per_location)}")
        if input_size % 32:
            raise UsageError(f"FPNLite needs an input size that is a multiple of 32 (its top-down "
                                       f"pathway doubles stride-32 maps), got {input_size}")
        backbone = zoo_mobilenet_v2(input_size, alpha, min_depth, FPN_BACKBONE_OUTPUTS)
        if backbone_weights is not None:
            load_imagenet_backbone(backbone, input_size, alpha, backbone_weights)
        feature_maps = FPNLiteFeatureMaps(depth_fn(FPN_DEPTH, alpha, min_depth), name="feature_maps")
        tower = WeightSharedTower(len(anchors_per_location), name="tower")
        box_head = WeightSharedHead(per_location[0], 4, name="box_head")
        class_head = WeightSharedHead(per_location[0], num_classes + 1, bias_init=CLASS_BIAS_INIT,
                                      name="class_head")

        images = keras.Input((input_size, input_size, 3), name="images")
        x = layers.Rescaling(2.0 / 255.0, offset=-1.0, name="preprocess")(images)
        maps = feature_maps(backbone(x))
        towers = tower(maps)
        with_background = class_head(towers)
        outputs = {"boxes": box_head(towers), "classes": with_background[:, :, 1:]}
        super().__init__(inputs=images, outputs=outputs, **{"name": "ssd_mobilenet_v2_fpnlite", **kwargs})

        record_detector_settings(self, num_classes, anchors_per_location, input_size, alpha, backbone_weights,
                                 batchnorm_momentum)
        self.min_depth = int(min_depth)
        self.backbone = backbone
        self.feature_maps = feature_maps
        self.tower = tower
        self.box_head = box_head
        self.class_head = class_head
        self.num_predictions = int(outputs["boxes"].shape[1])

    def get_config(self):
        return {"num_classes": self.num_classes, "anchors_per_location": self.anchors_per_location,
                "input_size": self.input_size, "alpha": self.alpha, "min_depth": self.min_depth,
                "backbone_weights": self.backbone_weights, "batchnorm_momentum": self.batchnorm_momentum,
                "name": self.name}
