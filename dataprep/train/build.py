"""``build_model``: the Keras model of a :class:`~dataprep.train.config.TrainConfig`.

The model's :class:`~dataprep.models.registry.ModelSpec` names its Keras class
(``builder``) and the extra settings it takes (``builder_options``); every
model takes the common ones below. Adding a model is one declaration in the
registry, not a branch here.
"""

from __future__ import annotations

import keras

from dataprep.models.registry import load_builder, model_spec


def build_model(config, weights: str | None | bool = True) -> keras.Model:
    """The model of a :class:`~dataprep.train.config.TrainConfig` (``config.model``). ``weights``:
    True uses ``config.backbone_weights``; False builds with random weights
    (before loading a checkpoint)."""
    spec = model_spec(config.model)  # UsageError listing the known models
    backbone_weights = config.weights_path() if weights is True else (None if weights is False else weights)
    options = {name: getattr(config, name) for name in spec.builder_options}
    return load_builder(spec)(
        num_classes=config.num_classes,
        anchors_per_location=config.anchors.num_anchors_per_location(),
        input_size=config.input_size,
        alpha=config.alpha,
        backbone_weights=backbone_weights,
        batchnorm_momentum=config.batchnorm_momentum,
        **options,
    )
