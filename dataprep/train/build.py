"""``build_model``: the Keras model of a :class:`~dataprep.train.config.TrainConfig`.

It sits above both model modules (:mod:`~dataprep.train.model`, dataprep's
SSDLite, and :mod:`~dataprep.train.zoo`, the TF2 zoo architectures, which
reuses the SSDLite parts), so neither imports the other's builder.
"""

from __future__ import annotations

import keras

from dataprep.errors import UsageError
from dataprep.train.model import SSDMobileNetV2
from dataprep.train.zoo import ZooSSDMobileNetV2, ZooSSDMobileNetV2FPNLite


def build_model(config, weights: str | None | bool = True) -> keras.Model:
    """The model of a :class:`~dataprep.train.config.TrainConfig` (``config.model``). ``weights``:
    True uses ``config.backbone_weights``; False builds with random weights
    (before loading a checkpoint)."""
    backbone_weights = config.weights_path() if weights is True else (None if weights is False else weights)
    if config.model in ("ssd_mobilenet_v2", "ssd_mobilenet_v2_fpnlite"):
        zoo_class = ZooSSDMobileNetV2 if config.model == "ssd_mobilenet_v2" else ZooSSDMobileNetV2FPNLite
        return zoo_class(
            num_classes=config.num_classes,
            anchors_per_location=config.anchors.num_anchors_per_location(),
            input_size=config.input_size,
            alpha=config.alpha,
            backbone_weights=backbone_weights,
            batchnorm_momentum=config.batchnorm_momentum,
        )
    from dataprep.train.tf1 import TF1_ARCHITECTURES, TF1SSD

    if config.model in TF1_ARCHITECTURES:
        return TF1SSD(config.model, num_classes=config.num_classes,
                      anchors_per_location=config.anchors.num_anchors_per_location(), input_size=config.input_size,
                      alpha=config.alpha, backbone_weights=backbone_weights,
                      batchnorm_momentum=config.batchnorm_momentum)
    if config.model != "ssdlite_mobilenet_v2":
        raise UsageError(f"unknown model {config.model!r} (known: ssdlite_mobilenet_v2, ssd_mobilenet_v2, "
                         "ssd_mobilenet_v2_fpnlite)")
    return SSDMobileNetV2(
        num_classes=config.num_classes,
        anchors_per_location=config.anchors.num_anchors_per_location(),
        input_size=config.input_size,
        alpha=config.alpha,
        backbone_weights=backbone_weights,
        use_depthwise=config.use_depthwise,
        batchnorm_momentum=config.batchnorm_momentum,
    )
