"""The anchor generator part of the detector: the same anchors as
:mod:`dataprep.anchors` (and ``dataprep stats --anchors``), checked against
the model's prediction layers.

The model's head outputs are flattened in the order layer, grid row ``y``,
grid column ``x``, box spec (fastest) -- the order of
:meth:`dataprep.anchors.AnchorConfig.generate` -- so prediction ``i`` belongs
to anchor ``i``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dataprep.anchors import AnchorConfig, AnchorConfigError, as_input_size, mobilenet_v2_feature_map_sizes
from dataprep.models import read_anchors_file, read_pipeline_config
from dataprep.models import DEFAULT_INPUT_SIZE, DEFAULT_MODEL
from dataprep.errors import UsageError

#: SSD MobileNetV2 has six prediction layers: strides 16 and 32, then four extra layers.
NUM_LAYERS = 6


@dataclass(frozen=True)
class AnchorGenerator:
    """Anchors of one model input size: ``(N, 4)`` float32 ymin, xmin, ymax, xmax."""

    config: AnchorConfig
    input_size: int

    def __post_init__(self) -> None:
        check_anchor_config(self.config, self.input_size)

    @property
    def feature_map_sizes(self) -> list[tuple[int, int]]:
        return self.config.feature_maps(self.input_size)

    @property
    def anchors_per_location(self) -> list[int]:
        return self.config.num_anchors_per_location()

    @property
    def num_anchors(self) -> int:
        return self.config.num_anchors(self.input_size)

    def anchors(self) -> np.ndarray:
        return self.config.generate(self.input_size)


def check_anchor_config(config: AnchorConfig, input_size: int | Sequence[int]) -> None:
    """Refuse anchor settings the SSD MobileNetV2 model cannot predict for."""
    from dataprep.anchors import MultiscaleAnchorConfig

    if isinstance(config, MultiscaleAnchorConfig):  # FPNLite: P3..P7, the model is built from the same levels
        if (config.min_level, config.max_level) != (3, 7):
            raise AnchorConfigError(f"the FPNLite model predicts on levels 3 to 7, but the anchor settings have "
                                    f"min_level={config.min_level}, max_level={config.max_level}")
        return
    if config.num_layers != NUM_LAYERS:
        raise AnchorConfigError(
            f"the SSD MobileNetV2 model has {NUM_LAYERS} prediction layers, but the anchor settings have "
            f"num_layers={config.num_layers}"
        )
    expected = mobilenet_v2_feature_map_sizes(input_size, NUM_LAYERS)
    if config.feature_maps(input_size) != expected:
        raise AnchorConfigError(
            f"anchor feature_map_sizes {config.feature_maps(input_size)} do not match the model's feature maps "
            f"{expected} at input size {as_input_size(input_size)}"
        )


def load_anchor_config(
    anchors_json: str | os.PathLike | None = None, pipeline_config: str | os.PathLike | None = None,
    model: str | None = None,
) -> tuple[AnchorConfig, tuple[int, int] | None]:
    """Anchor settings from ``stats --anchors`` JSON or a TF OD API pipeline.config,
    with the ``(height, width)`` input size the file names (None when it names
    none). Without either file: ``model``'s defaults. The anchor kind must be
    the model's (multiscale for FPNLite, SSD grid for the others)."""
    config, size, _ = load_anchor_file(anchors_json, pipeline_config, model)
    return config, size


def load_anchor_file(
    anchors_json: str | os.PathLike | None = None, pipeline_config: str | os.PathLike | None = None,
    model: str | None = None, model_from: str = "--model",
) -> tuple[AnchorConfig, tuple[int, int] | None, str]:
    """As :func:`load_anchor_config`, plus the model the anchors are for:
    ``model`` when given, else the one an anchors JSON names (``dataprep stats
    --anchors-out`` records it, so the analysed anchors are the trained anchors),
    else the default model. An anchors JSON that records another model than
    ``model`` (which came from ``model_from``) is a usage error."""
    from dataprep.anchors.kinds import MULTISCALE
    from dataprep.models import default_anchor_config, model_spec

    if anchors_json is not None and pipeline_config is not None:
        raise UsageError("give --anchors or --anchor-config, not both")
    if anchors_json is not None:
        saved = read_anchors_file(anchors_json)
        config, size = saved.config, saved.input_size
        if model is not None and saved.model_recorded and saved.model != model:
            raise UsageError(f"{anchors_json}: the anchors are for model {saved.model!r}, but {model_from} "
                             f"gives {model!r}; leave {model_from} out or make the anchors for {model}")
        model = model or saved.model
    elif pipeline_config is not None:
        settings = read_pipeline_config(pipeline_config)
        config, size = settings.anchor_config, settings.input_size
    else:
        model = model or DEFAULT_MODEL
        return default_anchor_config(model), None, model
    model = model or DEFAULT_MODEL
    multiscale = model_spec(model).anchor_kind == MULTISCALE
    if isinstance(config, AnchorConfig) == multiscale:
        raise UsageError(f"{anchors_json or pipeline_config} holds {config.kind} anchors; the {model} model "
                         f"predicts on {'multiscale_anchor_generator' if multiscale else 'ssd_anchor_generator'} "
                         "anchors")
    return config, size, model


def resolve_input_size(explicit: int | None, from_file: tuple[int, int] | None, source: str = "",
                       default: int = DEFAULT_INPUT_SIZE) -> int:
    """The square model input size: ``explicit`` if given, else the anchor
    file's (which must then be square), else ``default``."""
    if explicit is not None:
        return int(explicit)
    if from_file is None:
        return default
    height, width = from_file
    if height != width:
        raise AnchorConfigError(
            f"{source or 'the anchor file'}: input size {height}x{width} is not square; the trainer uses square "
            "inputs, give --input-size"
        )
    return int(height)
