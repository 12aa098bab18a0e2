"""SSD MobileNetV2 (SSDLite) in Keras 3, composed from named parts.

    images [B, S, S, 3] float 0..255
      -> MobileNetV2 backbone: block_13_expand_relu (stride 16) and out_relu (stride 32)
      -> SSDFeatureMaps: four extra layers (1x1 conv, then 3x3 stride-2 conv) down to 1x1
      -> box head   (depthwise 3x3 + 1x1 conv per layer) -> "boxes"   [B, N, 4] box-coder offsets
      -> class head (depthwise 3x3 + 1x1 conv per layer) -> "classes" [B, N, K] sigmoid logits

``N`` is the anchor count of :class:`dataprep.train.anchor_generator.AnchorGenerator`
for the same input size, in the same order (layer, y, x, box spec), and ``K``
the number of classes (no background column: a sigmoid per class, as with the
focal loss). Only Keras layers and ``keras.ops`` are used, so the model runs
on any Keras backend.

Ref: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
CVPR 2018, Sec. 6.2 (SSDLite); TF OD API ``ssd_mobilenet_v2_feature_extractor.py``
and ``feature_map_generators.multi_resolution_feature_maps``.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import keras
from keras import layers, ops

from dataprep.errors import DataprepError

#: The two MobileNetV2 layers the TF OD API's ssd_mobilenet_v2 predicts from:
#: layer_15/expansion_output (stride 16) and layer_19 (stride 32).
BACKBONE_OUTPUTS = ("block_13_expand_relu", "out_relu")
#: Output depth of the four extra layers of ssd_mobilenet_v2 (before alpha).
EXTRA_DEPTHS = (512, 256, 256, 128)
#: ``max(int(depth * alpha), MIN_DEPTH)``, as the TF OD API's depth_fn.
MIN_DEPTH = 16
#: The initial class probability of every anchor (RetinaNet's prior, pi = 0.01).
PRIOR_PROBABILITY = 0.01
IMAGENET_URL_HINT = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"


class BackboneWeightsError(DataprepError):
    """The backbone weights cannot be loaded (offline, or a bad file)."""


def build_backbone(input_size: int, alpha: float = 1.0, weights: str | None = None) -> keras.Model:
    """MobileNetV2 from ``keras.applications`` returning the stride-16 and stride-32 maps.

    ``weights``: None (random), ``"imagenet"`` (downloaded by Keras into
    ``~/.keras/models`` on first use) or the path of a weights file. The input
    is expected in [-1, 1] (MobileNetV2's preprocessing).
    """
    try:
        with warnings.catch_warnings():
            # Keras warns that ImageNet weights of 224x224 are used for other sizes; the
            # convolution weights do not depend on the input size, so that is what we want.
            warnings.filterwarnings("ignore", message=r".*Weights for input shape \(224, 224\).*")
            base = keras.applications.MobileNetV2(
                input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False, weights=weights,
            )
    except ValueError as exc:
        if weights in (None, "imagenet"):
            raise BackboneWeightsError(f"MobileNetV2 with alpha={alpha}, input {input_size}: {exc}") from None
        raise BackboneWeightsError(f"{weights}: cannot load these MobileNetV2 weights (alpha={alpha}): {exc}") from None
    except Exception as exc:  # noqa: BLE001 -- keras.utils.get_file raises plain Exception when offline
        if weights == "imagenet":
            raise BackboneWeightsError(
                f"could not download the ImageNet weights of MobileNetV2 (alpha={alpha}) from {IMAGENET_URL_HINT}: "
                f"{exc}. Are you offline? Put the file in ~/.keras/models/, pass --backbone-weights PATH, or "
                "train from scratch with --backbone-weights none."
            ) from None
        if weights is not None:
            raise BackboneWeightsError(f"{weights}: cannot load MobileNetV2 weights: {exc}") from None
        raise
    return keras.Model(
        base.input, [base.get_layer(name).output for name in BACKBONE_OUTPUTS], name="backbone"
    )


def extra_depths(alpha: float) -> list[int]:
    """Depths of the four extra layers for width multiplier ``alpha``."""
    return [max(int(d * alpha), MIN_DEPTH) for d in EXTRA_DEPTHS]


def _conv_bn(filters: int, kernel: int, stride: int, name: str, depthwise: bool = False) -> list[layers.Layer]:
    conv = (
        layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise")
        if depthwise
        else layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")
    )
    return [conv, layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn"),
            layers.ReLU(6.0, name=f"{name}_relu6")]


class SSDFeatureMaps(layers.Layer):
    """The extra layers of ssd_mobilenet_v2: from the stride-32 map, each
    ``depth`` gets a 1x1 conv to ``depth / 2`` then a 3x3 stride-2 conv to
    ``depth`` (depthwise + 1x1 pointwise with ``use_depthwise``, SSDLite).
    ``reduce_depths`` overrides the depths of the 1x1 convs (the zoo's
    ``depth_fn(d // 2)``, which differs from ``depth // 2`` at some widths).

    SAME padding with stride 2 gives ``ceil(n / 2)``, the sizes of
    :func:`dataprep.anchors.mobilenet_v2_feature_map_sizes`.
    Input: ``[stride16, stride32]``; output: six maps, largest first.
    """

    def __init__(self, depths: Sequence[int] = EXTRA_DEPTHS, use_depthwise: bool = True,
                 reduce_depths: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.depths = [int(d) for d in depths]
        self.use_depthwise = bool(use_depthwise)
        self.reduce_depths = None if reduce_depths is None else [int(d) for d in reduce_depths]
        self.blocks = []
        for i, depth in enumerate(self.depths, start=1):
            reduced = depth // 2 if self.reduce_depths is None else self.reduce_depths[i - 1]
            block = _conv_bn(reduced, 1, 1, f"extra{i}_1x1")
            if self.use_depthwise:
                block += _conv_bn(reduced, 3, 2, f"extra{i}_3x3", depthwise=True)
                block += _conv_bn(depth, 1, 1, f"extra{i}_pointwise")
            else:
                block += _conv_bn(depth, 3, 2, f"extra{i}_3x3")
            self.blocks.append(keras.Sequential(block, name=f"extra{i}"))

    def build(self, input_shape):
        shape = tuple(input_shape[-1])
        for block, depth in zip(self.blocks, self.depths):
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.built = True

    def call(self, inputs, training=None):
        maps = list(inputs)
        x = maps[-1]
        for block in self.blocks:
            x = block(x, training=training)
            maps.append(x)
        return maps

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        batch, height, width, _ = shapes[-1]
        for depth in self.depths:
            height = None if height is None else math.ceil(height / 2)
            width = None if width is None else math.ceil(width / 2)
            shapes.append((batch, height, width, depth))
        return shapes

    def get_config(self):
        return {**super().get_config(), "depths": self.depths, "use_depthwise": self.use_depthwise,
                "reduce_depths": self.reduce_depths}


class PredictionHead(layers.Layer):
    """One SSD predictor per feature map, outputs concatenated over layers.

    For feature map ``l`` with ``A_l`` anchors per location the head predicts
    ``A_l * outputs_per_anchor`` channels, reshaped to ``[B, H*W*A_l, outputs]``
    (order y, x, anchor: that of the anchor generator) and concatenated.
    SSDLite: depthwise 3x3 + BN + ReLU6, then a 1x1 conv with bias; else one
    ``kernel_size`` conv with bias (3; the zoo's ssd_mobilenet_v2 uses 1).
    """

    def __init__(self, anchors_per_location: Sequence[int], outputs_per_anchor: int, use_depthwise: bool = True,
                 bias_init: float = 0.0, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.anchors_per_location = [int(a) for a in anchors_per_location]
        self.outputs_per_anchor = int(outputs_per_anchor)
        self.use_depthwise = bool(use_depthwise)
        self.bias_init = float(bias_init)
        self.kernel_size = int(kernel_size)
        self.towers = []
        for level, anchors in enumerate(self.anchors_per_location):
            tower = _conv_bn(0, 3, 1, f"level{level}", depthwise=True) if self.use_depthwise else []
            tower.append(layers.Conv2D(
                anchors * self.outputs_per_anchor, 1 if self.use_depthwise else self.kernel_size, padding="same",
                bias_initializer=keras.initializers.Constant(self.bias_init),
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01), name=f"level{level}_predict",
            ))
            self.towers.append(keras.Sequential(tower, name=f"level{level}"))

    def build(self, input_shape):
        for tower, shape in zip(self.towers, input_shape):
            tower.build(tuple(shape))
        self.built = True

    def call(self, inputs, training=None):
        outputs = []
        for x, tower, anchors in zip(inputs, self.towers, self.anchors_per_location):
            x = tower(x, training=training)
            height, width = x.shape[1], x.shape[2]
            # Static sizes keep the prediction count static under an unknown batch size.
            if height is not None and width is not None:
                shape = (-1, height * width * anchors, self.outputs_per_anchor)
            else:
                shape = (ops.shape(x)[0], -1, self.outputs_per_anchor)
            outputs.append(ops.reshape(x, shape))
        return ops.cast(ops.concatenate(outputs, axis=1), "float32")

    def compute_output_shape(self, input_shape):
        total = 0
        for (_, height, width, _), anchors in zip(input_shape, self.anchors_per_location):
            if height is None or width is None:
                total = None
                break
            total += height * width * anchors
        return (input_shape[0][0], total, self.outputs_per_anchor)

    def compute_output_spec(self, inputs, training=None):
        shape = self.compute_output_shape([tuple(x.shape) for x in inputs])
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "anchors_per_location": self.anchors_per_location,
                "outputs_per_anchor": self.outputs_per_anchor, "use_depthwise": self.use_depthwise,
                "bias_init": self.bias_init, "kernel_size": self.kernel_size}


class SSDMobileNetV2(keras.Model):
    """SSD MobileNetV2 detector: ``images -> {"boxes": [B, N, 4], "classes": [B, N, K]}``.

    Images are float 0..255 (uint8 values), ``[B, input_size, input_size, 3]``;
    they are scaled to [-1, 1] inside the model. ``boxes`` are box-coder
    offsets relative to the anchors, ``classes`` sigmoid logits (decode both
    with :class:`dataprep.train.decoder.DetectionDecoder`).
    """

    def __init__(self, num_classes: int, anchors_per_location: Sequence[int], input_size: int = 320,
                 alpha: float = 1.0, backbone_weights: str | None = None, use_depthwise: bool = True,
                 batchnorm_momentum: float = 0.99, **kwargs):
        backbone = build_backbone(input_size, alpha, backbone_weights)
        feature_maps = SSDFeatureMaps(extra_depths(alpha), use_depthwise, name="feature_maps")
        prior = -math.log((1.0 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY)
        box_head = PredictionHead(anchors_per_location, 4, use_depthwise, name="box_head")
        class_head = PredictionHead(anchors_per_location, num_classes, use_depthwise, bias_init=prior,
                                    name="class_head")

        images = keras.Input((input_size, input_size, 3), name="images")
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(images)
        maps = feature_maps(backbone(x))
        outputs = {"boxes": box_head(maps), "classes": class_head(maps)}
        num_predictions = int(outputs["boxes"].shape[1])
        super().__init__(inputs=images, outputs=outputs, **{"name": "ssd_mobilenet_v2", **kwargs})

        record_detector_settings(self, num_classes, anchors_per_location, input_size, alpha, backbone_weights,
                                 batchnorm_momentum)
        self.use_depthwise = bool(use_depthwise)
        self.backbone = backbone
        self.feature_maps = feature_maps
        self.box_head = box_head
        self.class_head = class_head
        self.num_predictions = num_predictions

    def feature_map_sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` of the six prediction layers."""
        shapes = self.feature_maps.compute_output_shape([tuple(t.shape) for t in self.backbone.outputs])
        return [(int(s[1]), int(s[2])) for s in shapes]

    def get_config(self):
        return {"num_classes": self.num_classes, "anchors_per_location": self.anchors_per_location,
                "input_size": self.input_size, "alpha": self.alpha, "backbone_weights": self.backbone_weights,
                "use_depthwise": self.use_depthwise, "batchnorm_momentum": self.batchnorm_momentum,
                "name": self.name}


def record_detector_settings(model, num_classes: int, anchors_per_location: Sequence[int], input_size: int,
                             alpha: float, backbone_weights, batchnorm_momentum: float) -> None:
    """Keep a detector's constructor arguments as attributes (``get_config`` and
    the checkpoint mapping read them), and give every batch norm inside it one
    momentum (keras.applications uses 0.999, which lags far behind the weights
    over the few thousand steps of a small-dataset run)."""
    model.num_classes = int(num_classes)
    model.anchors_per_location = [int(a) for a in anchors_per_location]
    model.input_size = int(input_size)
    model.alpha = float(alpha)
    model.backbone_weights = backbone_weights
    model.batchnorm_momentum = float(batchnorm_momentum)
    for layer in all_layers(model):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = model.batchnorm_momentum


def all_layers(layer):
    """Every layer nested inside ``layer`` (not ``layer`` itself)."""
    for sub in layer._flatten_layers(include_self=False, recursive=True):
        yield sub
