"""Anchors (SSD grid and FPN multiscale): generation, pipeline.config I/O, coverage, suggestions.

Pure numpy; importing this package never imports TensorFlow.

>>> from dataprep.anchors import AnchorConfig, ssd_anchors, anchor_coverage
>>> ssd_anchors(300).shape
(1917, 4)
"""

from dataprep.anchors.config import (
    PipelineSettings,
    parse_pipeline_config,
    AnchorsFile,
    read_anchors_file,
    read_anchors_json,
    read_pipeline_config,
    render_anchor_generator,
    render_multiscale_anchor_generator,
    render_ssd_anchor_generator,
    write_anchors_json,
)
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
from dataprep.anchors.models import (
    AnyAnchorConfig,
    anchor_config_from_dict,
    default_anchor_config,
    generate_anchors,
)
from dataprep.anchors.multiscale import MultiscaleAnchorConfig, multiscale_anchors
from dataprep.anchors.suggest import SuggestionResult, kmeans_iou, suggest_anchors, suggest_multiscale_anchors

__all__ = [
    "AnchorConfig",
    "AnchorConfigError",
    "AnchorGrid",
    "AnyAnchorConfig",
    "CoverageReport",
    "GroupCoverage",
    "LayerGrid",
    "MultiscaleAnchorConfig",
    "PipelineSettings",
    "SIZE_BUCKETS",
    "SuggestionResult",
    "anchor_config_from_dict",
    "anchor_coverage",
    "as_input_size",
    "box_specs",
    "coco_size_buckets",
    "default_anchor_config",
    "generate_anchors",
    "iou_matrix",
    "kmeans_iou",
    "layer_scales",
    "mobilenet_v2_feature_map_sizes",
    "multiscale_anchors",
    "padded_input_size",
    "parse_pipeline_config",
    "AnchorsFile",
    "read_anchors_file",
    "read_anchors_json",
    "read_pipeline_config",
    "render_anchor_generator",
    "render_multiscale_anchor_generator",
    "render_ssd_anchor_generator",
    "scan_boxes",
    "ssd_anchors",
    "suggest_anchors",
    "suggest_multiscale_anchors",
    "write_anchors_json",
]
