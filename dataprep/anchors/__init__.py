"""Anchors (SSD grid and FPN multiscale): generation, kinds, pipeline.config text, coverage, suggestions.

Pure numpy; importing this package never imports TensorFlow. Which model uses
which anchors, and reading pipeline.config / anchors JSON files, is
:mod:`dataprep.models`.

>>> from dataprep.anchors import AnchorConfig, ssd_anchors, anchor_coverage
>>> ssd_anchors(300).shape
(1917, 4)
"""

from dataprep.anchors.coverage import (
    SIZE_BUCKETS,
    CoverageReport,
    GroupCoverage,
    anchor_coverage,
    coco_size_buckets,
    iou_matrix,
    scan_boxes,
)
from dataprep.anchors.generator import (
    AnchorConfig,
    AnchorConfigError,
    AnchorGrid,
    LayerGrid,
    as_input_size,
    box_specs,
    layer_scales,
    mobilenet_v2_feature_map_sizes,
    padded_input_size,
    ssd_anchors,
)
from dataprep.anchors.kinds import ANCHOR_KINDS, AnyAnchorConfig, anchor_config_from_dict
from dataprep.anchors.multiscale import MultiscaleAnchorConfig, multiscale_anchors
from dataprep.anchors.render import (
    render_anchor_generator,
    render_multiscale_anchor_generator,
    render_ssd_anchor_generator,
)
from dataprep.anchors.suggest import SuggestionResult, kmeans_iou, suggest_anchors, suggest_multiscale_anchors

__all__ = [
    "ANCHOR_KINDS",
    "AnchorConfig",
    "AnchorConfigError",
    "AnchorGrid",
    "AnyAnchorConfig",
    "CoverageReport",
    "GroupCoverage",
    "LayerGrid",
    "MultiscaleAnchorConfig",
    "SIZE_BUCKETS",
    "SuggestionResult",
    "anchor_config_from_dict",
    "anchor_coverage",
    "as_input_size",
    "box_specs",
    "coco_size_buckets",
    "iou_matrix",
    "kmeans_iou",
    "layer_scales",
    "mobilenet_v2_feature_map_sizes",
    "multiscale_anchors",
    "padded_input_size",
    "render_anchor_generator",
    "render_multiscale_anchor_generator",
    "render_ssd_anchor_generator",
    "scan_boxes",
    "ssd_anchors",
    "suggest_anchors",
    "suggest_multiscale_anchors",
]
