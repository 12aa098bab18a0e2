"""The TF1 detection-zoo SSDs in Keras 3, layer for layer as the TF1 TF OD API (slim) builds them.

    images [B, S, S, 3] float 0..255
      -> preprocess: 2/255 * x - 1 (ssd_mobilenet_v{1,2}_feature_extractor.preprocess)
      -> backbone: slim MobileNetV1 (Conv2d_11_pointwise, stride 16; Conv2d_13_pointwise, stride 32)
                   or slim MobileNetV2 (layer_15/expansion_output, stride 16; layer_19, stride 32)
      -> four extra layers (feature_map_generators.multi_resolution_feature_maps, insert_1x1_conv):
         1x1 conv to depth_fn(d / 2) + BN + ReLU6, then 3x3 stride-2 conv to depth_fn(d) + BN + ReLU6
         (SSDLite: 3x3 depthwise stride 2 + BN + ReLU6, then 1x1 conv + BN + ReLU6), d in 512, 256, 256, 128
      -> convolutional_box_predictor, per feature map (BoxPredictor_i):
         box head   BoxEncodingPredictor: k x k conv with bias           -> "boxes"   [B, N, 4]
         class head ClassPredictor:       k x k conv with bias, K + 1    -> "classes" [B, N, K]
         (SSDLite: a depthwise 3x3 + BN + ReLU6 "_depthwise" before each 1x1 conv)

All convolutions are SAME-padded (``use_explicit_padding: false``, the zoo
default). Depths follow slim, which differs from the TF2 Keras networks below
depth multiplier 1 (so :mod:`dataprep.train.zoo`'s MobileNetV2 is not reused):

- MobileNetV1 (``research/slim/nets/mobilenet_v1.py``): ``max(int(d * alpha), min_depth)``
  for Conv2d_0 (32) and the 13 pointwise convs (64 ... 1024).
- MobileNetV2 (``slim/nets/mobilenet/mobilenet.py``, ``depth_multiplier`` op under the SSD's
  ``arg_scope(min_depth=min_depth)``): ``_make_divisible(d * alpha, 8, min_depth)`` for every
  op's ``num_outputs`` including ``Conv_1`` (1280); expansions ``_make_divisible(c_in * 6, 8)``,
  none in the first block (``expand_input(1)``: inner size = input depth, not larger);
  the residual is added whenever stride is 1 and the real depths match (``conv_blocks.expanded_conv``).

Variable names are the TF1 checkpoint's (``FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/
depthwise_weights``, ``.../BatchNorm/gamma``, ``BoxPredictor_0/ClassPredictor/biases``, ...):
:func:`tf1_slots` maps each Keras variable to its TF1 name. Keras layer names are the TF1
scopes with ``/`` written ``__`` (``expanded_conv_1__expand``) and ``_bn`` for the batch norm.

Ref: TF1 TF OD API (tensorflow/models research/object_detection, TF1 era):
``models/ssd_mobilenet_v1_feature_extractor.py``, ``models/ssd_mobilenet_v2_feature_extractor.py``,
``models/feature_map_generators.py``, ``predictors/convolutional_box_predictor.py``,
``predictors/heads/{box,class}_head.py``; samples/configs/ssd{,lite}_mobilenet_v{1,2}_coco.config.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from dataprep.errors import UsageError
from dataprep.train.model import MIN_DEPTH, PredictionHead, SSDFeatureMaps, record_detector_settings
from dataprep.train.tf1_specs import TF1_ARCHITECTURES, TF1Architecture  # noqa: F401  (re-exported)
from dataprep.train.zoo import BATCHNORM_EPSILON, ZOO_BATCHNORM_MOMENTUM, OdapiParts, depth_fn, make_divisible


#: Depth and stride of slim MobileNetV1's 13 depthwise-separable layers (mobilenet_v1.MOBILENETV1_CONV_DEFS).
V1_SEPARABLE = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
                 (512, 1), (512, 1), (1024, 2), (1024, 1))
#: (depth, stride) of slim MobileNetV2's 17 expanded_conv blocks (mobilenet_v2.V2_DEF); expansion 6 but the first.
V2_BLOCKS = ((16, 1), (24, 2), (24, 1), (32, 2), (32, 1), (32, 1), (64, 2), (64, 1), (64, 1), (64, 1), (96, 1),
              (96, 1), (96, 1), (160, 2), (160, 1), (160, 1), (320, 1))
#: The slim scopes: the feature extractor variable scope and the layer the extra layers grow from.
_SCOPES = {"mobilenet_v1": ("FeatureExtractor/MobilenetV1", "Conv2d_13_pointwise"),
           "mobilenet_v2": ("FeatureExtractor/MobilenetV2", "layer_19")}
EXTRA_LAYER_DEPTHS = (512, 256, 256, 128)


def tf1_architecture(name: str) -> TF1Architecture:
    try:
        return TF1_ARCHITECTURES[name]
    except KeyError:
        raise UsageError(f"{name!r} is not a TF1 model (known: {', '.join(TF1_ARCHITECTURES)})") from None


def _conv_bn(x, filters, kernel, stride, scope, relu=True, depthwise=False):
    """slim conv2d / separable_conv2d(num_outputs=None) + BatchNorm (+ ReLU6), SAME padding, no bias."""
    name = scope.replace("/", "__")
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BATCHNORM_EPSILON, name=name + "_bn")(x)
    return layers.ReLU(6.0, name=name + "_relu6")(x) if relu else x


def slim_mobilenet_v1(input_size: int, alpha: float = 1.0, min_depth: int = MIN_DEPTH) -> keras.Model:
    """slim ``mobilenet_v1_base`` up to Conv2d_13_pointwise: ``[Conv2d_11_pointwise, Conv2d_13_pointwise]``."""
    images = keras.Input((input_size, input_size, 3), name="preprocessed")
    x = _conv_bn(images, depth_fn(32, alpha, min_depth), 3, 2, "Conv2d_0")
    outputs = {}
    for i, (depth, stride) in enumerate(V1_SEPARABLE, start=1):
        x = _conv_bn(x, None, 3, stride, f"Conv2d_{i}_depthwise", depthwise=True)
        x = outputs[i] = _conv_bn(x, depth_fn(depth, alpha, min_depth), 1, 1, f"Conv2d_{i}_pointwise")
    return keras.Model(images, [outputs[11], outputs[13]], name="backbone")


def slim_mobilenet_v2(input_size: int, alpha: float = 1.0, min_depth: int = MIN_DEPTH) -> keras.Model:
    """slim ``mobilenet_v2.mobilenet_base`` up to layer_19: ``[layer_15/expansion_output, layer_19]``."""
    def depth(d):
        return make_divisible(d * alpha, 8, min_depth)

    images = keras.Input((input_size, input_size, 3), name="preprocessed")
    x = _conv_bn(images, depth(32), 3, 2, "Conv")
    stride16 = None
    for block, (filters, stride) in enumerate(V2_BLOCKS):
        scope = "expanded_conv" + (f"_{block}" if block else "")
        inputs, in_depth = x, int(x.shape[-1])
        inner = in_depth if block == 0 else make_divisible(in_depth * 6, 8)
        if inner > in_depth:
            x = _conv_bn(x, inner, 1, 1, f"{scope}/expand")
            if block == 13:  # layer_15 = the 14th expanded_conv (layer_1 is Conv)
                stride16 = x
        x = _conv_bn(x, None, 3, stride, f"{scope}/depthwise", depthwise=True)
        x = _conv_bn(x, depth(filters), 1, 1, f"{scope}/project", relu=False)
        if stride == 1 and int(x.shape[-1]) == in_depth:
            x = layers.Add(name=f"{scope}__add")([inputs, x])
    x = _conv_bn(x, depth(1280), 1, 1, "Conv_1")
    return keras.Model(images, [stride16, x], name="backbone")


class TF1SSD(OdapiParts, keras.Model):
    """A TF1 zoo SSD (see the module docstring): ``images -> {"boxes": [B, N, 4], "classes": [B, N, K]}``.

    Same interface as :class:`dataprep.train.zoo.ZooSSDMobileNetV2`; the class head
    predicts ``K + 1`` columns (background first) as the TF1 checkpoint's does.
    """

    def __init__(self, architecture: str, num_classes: int, anchors_per_location: Sequence[int],
                 input_size: int = 300, alpha: float = 1.0, min_depth: int = MIN_DEPTH,
                 backbone_weights: str | None = None, batchnorm_momentum: float = ZOO_BATCHNORM_MOMENTUM, **kwargs):
        arch = tf1_architecture(architecture)
        if backbone_weights is not None:
            raise UsageError(f"{arch.name}: no ImageNet backbone weights for the TF1 models; start from a TF1 "
                             "folder with --init-from, or from scratch with --backbone-weights none")
        build = slim_mobilenet_v1 if arch.backbone == "mobilenet_v1" else slim_mobilenet_v2
        backbone = build(input_size, alpha, min_depth)
        feature_maps = SSDFeatureMaps([depth_fn(d, alpha, min_depth) for d in EXTRA_LAYER_DEPTHS],
                                      use_depthwise=arch.depthwise,
                                      reduce_depths=[depth_fn(d // 2, alpha, min_depth) for d in EXTRA_LAYER_DEPTHS],
                                      name="feature_maps")
        box_head = PredictionHead(anchors_per_location, 4, use_depthwise=arch.depthwise,
                                  kernel_size=arch.head_kernel, name="box_head")
        class_head = PredictionHead(anchors_per_location, num_classes + 1, use_depthwise=arch.depthwise,
                                    kernel_size=arch.head_kernel, name="class_head")

        images = keras.Input((input_size, input_size, 3), name="images")
        x = layers.Rescaling(2.0 / 255.0, offset=-1.0, name="preprocess")(images)
        maps = feature_maps(backbone(x))
        with_background = class_head(maps)
        outputs = {"boxes": box_head(maps), "classes": with_background[:, :, 1:]}
        super().__init__(inputs=images, outputs=outputs, **{"name": arch.name, **kwargs})

        record_detector_settings(self, num_classes, anchors_per_location, input_size, alpha, backbone_weights,
                                 batchnorm_momentum)
        self.architecture = arch.name
        self.min_depth = int(min_depth)
        self.backbone = backbone
        self.feature_maps = feature_maps
        self.box_head = box_head
        self.class_head = class_head
        self.num_predictions = int(outputs["boxes"].shape[1])

    def get_config(self):
        return {"architecture": self.architecture, "num_classes": self.num_classes,
                "anchors_per_location": self.anchors_per_location, "input_size": self.input_size,
                "alpha": self.alpha, "min_depth": self.min_depth, "backbone_weights": self.backbone_weights,
                "batchnorm_momentum": self.batchnorm_momentum, "name": self.name}


# ------------------------------------------------------------------ registry builders
# The registry (dataprep.models.registry) calls a model's builder with the common
# keyword arguments (num_classes, anchors_per_location, input_size, alpha,
# backbone_weights, batchnorm_momentum); TF1SSD takes the model name first.
def ssd_mobilenet_v1(**kwargs) -> TF1SSD:
    """The TF1 zoo's ssd_mobilenet_v1_coco network."""
    return TF1SSD("ssd_mobilenet_v1", **kwargs)


def ssd_mobilenet_v2_tf1(**kwargs) -> TF1SSD:
    """The TF1 zoo's ssd_mobilenet_v2_coco network."""
    return TF1SSD("ssd_mobilenet_v2_tf1", **kwargs)


def ssdlite_mobilenet_v2_tf1(**kwargs) -> TF1SSD:
    """The TF1 zoo's ssdlite_mobilenet_v2_coco network."""
    return TF1SSD("ssdlite_mobilenet_v2_tf1", **kwargs)


# ------------------------------------------------------------------ TF1 variable names
#: Keras variable name -> slim variable name, by layer type.
_CONV_NAMES = {"kernel": "weights", "bias": "biases"}
_BN_NAMES = {"gamma": "BatchNorm/gamma", "beta": "BatchNorm/beta", "moving_mean": "BatchNorm/moving_mean",
             "moving_variance": "BatchNorm/moving_variance"}


def _tf1_names(layer, scope: str) -> list[tuple[str, object]]:
    """``(TF1 name, Keras variable)`` of one layer whose slim scope is ``scope``."""
    out = []
    for v in layer.weights:
        short = v.path.rsplit("/", 1)[-1]
        if isinstance(layer, layers.BatchNormalization):
            out.append((f"{scope}/{_BN_NAMES[short]}", v))
        elif isinstance(layer, layers.DepthwiseConv2D):
            out.append((f"{scope}/depthwise_weights", v))
        else:
            out.append((f"{scope}/{_CONV_NAMES[short]}", v))
    return out


def tf1_slots(model: TF1SSD) -> list[tuple[str, object, str, int]]:
    """Every variable of ``model`` as ``(TF1 name, variable, part, anchors)`` in model order; part is
    "feature-extractor", "box-head" or "class-head"; anchors > 0 for class-head variables whose last
    axis is anchors x (classes + 1)."""
    arch = tf1_architecture(model.architecture)
    fe, base = _SCOPES[arch.backbone]
    slots = []
    for layer in model.backbone.layers:
        if layer.weights:
            name = layer.name[: -len("_bn")] if layer.name.endswith("_bn") else layer.name
            slots += [(k, v, "feature-extractor", 0) for k, v in _tf1_names(layer, f"{fe}/{name.replace('__', '/')}")]
    for i, block in enumerate(model.feature_maps.blocks):
        index, depth = i + 2, model.feature_maps.depths[i]
        reduced = model.feature_maps.reduce_depths[i]
        second = f"{fe}/{base}_2_Conv2d_{index}_3x3_s2_{depth}"
        scopes = [f"{fe}/{base}_1_Conv2d_{index}_1x1_{reduced}"]
        scopes += [second + "_depthwise", second] if arch.depthwise else [second]
        for j, layer in enumerate(block.layers):  # [conv, BN, ReLU6] per scope
            slots += [(k, v, "feature-extractor", 0) for k, v in _tf1_names(layer, scopes[j // 3])]
    for head, part, tf1_name in ((model.box_head, "box-head", "BoxEncodingPredictor"),
                                 (model.class_head, "class-head", "ClassPredictor")):
        for level, tower in enumerate(head.towers):
            scope = f"BoxPredictor_{level}/{tf1_name}"
            for layer in tower.layers:
                if not layer.weights:
                    continue
                is_predictor = layer is tower.layers[-1]
                anchors = model.anchors_per_location[level] if part == "class-head" and is_predictor else 0
                slots += [(k, v, part, anchors)
                          for k, v in _tf1_names(layer, scope if is_predictor else scope + "_depthwise")]
    return slots
