"""The anchor generator part of the detector: the same anchors as
:mod:`dataprep.anchors` (and ``dataprep stats --anchors``), checked against
the model's prediction layers.

The model's head outputs are flattened in the order layer, grid row ``y``,
grid column ``x``, box spec (fastest) -- the order of
:meth:`dataprep.anchors.AnchorConfig.generate` -- so prediction ``i`` belongs
to anchor ``i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dataprep.anchors import AnchorConfig, AnchorConfigError, as_input_size, mobilenet_v2_feature_map_sizes

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
