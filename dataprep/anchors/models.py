"""The detectors dataprep analyses and trains, as far as anchors are concerned.

One table, shared by ``dataprep stats --anchors`` and ``dataprep train``, so the
coverage a user reads is the coverage they train with. numpy only: importing
this module never imports TensorFlow or Keras.

=============================  =====  =============  ===============================
model                          input  anchors        feature-map strides (pixels)
=============================  =====  =============  ===============================
``ssdlite_mobilenet_v2``       320    SSD grid       16, 32, 64, 128, 256, 512
``ssd_mobilenet_v2``           300    SSD grid       16, 32, 64, 128, 256, 512
``ssd_mobilenet_v2_fpnlite``   320    multiscale     8, 16, 32, 64, 128
``ssd_mobilenet_v1``           300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
``ssd_mobilenet_v2_tf1``       300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
``ssdlite_mobilenet_v2_tf1``   300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
=============================  =====  =============  ===============================

The input sizes of the two zoo models are those of their TF2 detection-zoo
``pipeline.config`` (``ssd_mobilenet_v2_320x320_coco17_tpu-8`` really resizes
to 300x300; the FPNLite one to 320x320). ``ssdlite_mobilenet_v2`` is dataprep's
own default since its first trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from dataprep.anchors.generator import AnchorConfig
from dataprep.anchors.multiscale import MultiscaleAnchorConfig
from dataprep.errors import UsageError

#: Either kind of anchor settings; both have ``kind``, ``generate``, ``grid``,
#: ``num_anchors``, ``feature_maps``, ``to_dict``/``from_dict``.
AnyAnchorConfig = Union[AnchorConfig, MultiscaleAnchorConfig]

SSD_GRID = "ssd"
MULTISCALE = "multiscale"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: Square input size of the zoo config (pixels).
    input_size: int
    #: ``"ssd"`` (``ssd_anchor_generator``) or ``"multiscale"`` (``multiscale_anchor_generator``).
    anchor_kind: str
    #: Output stride of each feature map that carries anchors, finest first.
    feature_strides: tuple[int, ...]
    #: One line for help texts and suggestions.
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("ssdlite_mobilenet_v2", 320, SSD_GRID, (16, 32, 64, 128, 256, 512),
                  "MobileNetV2 + SSDLite heads (depthwise), 6 SSD feature maps"),
        ModelSpec("ssd_mobilenet_v2", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
                  "TF2 zoo 'SSD MobileNet v2 320x320': plain SSD heads, 6 feature maps"),
        ModelSpec("ssd_mobilenet_v2_fpnlite", 320, MULTISCALE, (8, 16, 32, 64, 128),
                  "TF2 zoo 'SSD MobileNet V2 FPNLite 320x320': FPN with a stride-8 level"),
        # -- TF1 models (issue 20; their builders: dataprep.train.tf1.TF1_ARCHITECTURES)
        ModelSpec("ssd_mobilenet_v1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
                  "TF1 zoo 'ssd_mobilenet_v1_coco': slim MobileNetV1, plain SSD heads, 6 feature maps"),
        ModelSpec("ssd_mobilenet_v2_tf1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
                  "TF1 zoo 'ssd_mobilenet_v2_coco': slim MobileNetV2, plain SSD heads, 6 feature maps"),
        ModelSpec("ssdlite_mobilenet_v2_tf1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
                  "TF1 zoo 'ssdlite_mobilenet_v2_coco': slim MobileNetV2, SSDLite (depthwise) layers and heads"),
    )
}

#: The model (and its input size) that ``stats --anchors`` assumes and ``train`` builds by default.
DEFAULT_MODEL = "ssdlite_mobilenet_v2"
DEFAULT_INPUT_SIZE = MODELS[DEFAULT_MODEL].input_size


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; a :class:`UsageError` lists the known models."""
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r} (known: {', '.join(MODELS)})") from None


def default_anchor_config(model: str) -> AnyAnchorConfig:
    """The anchor settings of ``model``'s zoo pipeline.config.

    >>> ssd = default_anchor_config("ssd_mobilenet_v2")
    >>> type(ssd).__name__, ssd.num_anchors(300)
    ('AnchorConfig', 1917)
    >>> default_anchor_config("ssd_mobilenet_v2_fpnlite").num_anchors(320)
    12804
    """
    spec = model_spec(model)
    if spec.anchor_kind == MULTISCALE:
        return MultiscaleAnchorConfig()
    return AnchorConfig()


def anchor_config_from_dict(data: dict) -> AnyAnchorConfig:
    """Inverse of ``config.to_dict()`` for either kind (a ``min_level`` key means multiscale)."""
    if isinstance(data, dict) and "min_level" in data:
        return MultiscaleAnchorConfig.from_dict(data)
    return AnchorConfig.from_dict(data)


def generate_anchors(
    model_or_config: str | AnyAnchorConfig, input_size: int | Sequence[int] | None = None
) -> np.ndarray:
    """``(N, 4)`` float32 anchors of a model name (its default anchors) or of anchor settings.

    ``input_size`` defaults to the model's; it is required with a config.

    >>> generate_anchors("ssd_mobilenet_v2").shape, generate_anchors("ssd_mobilenet_v2_fpnlite").shape
    ((1917, 4), (12804, 4))
    """
    if isinstance(model_or_config, str):
        config = default_anchor_config(model_or_config)
        size = model_spec(model_or_config).input_size if input_size is None else input_size
        return config.generate(size)
    if input_size is None:
        raise UsageError("generate_anchors: give input_size with an anchor config")
    return model_or_config.generate(input_size)
