"""The TF1 detection-zoo models dataprep builds: one declaration each (no Keras, no TensorFlow).

Their networks are :class:`dataprep.train.tf1.TF1SSD`; their anchors and input sizes are the
``ModelSpec`` entries of :mod:`dataprep.anchors.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

# ============================================================================================
# TF1 MODEL DECLARATIONS (issue 20). One entry per model; the coordinator moves these into the
# model registry (dataprep.anchors.models.ModelSpec + builder) at merge. Nothing else in this
# module names a model.
# ============================================================================================
@dataclass(frozen=True)
class TF1Architecture:
    name: str  # dataprep's model name
    backbone: str  # "mobilenet_v1" or "mobilenet_v2" (slim)
    extractor_type: str  # the TF1 pipeline.config feature_extractor.type
    depthwise: bool  # SSDLite: depthwise extra layers (feature_extractor.use_depthwise) and heads
    head_kernel: int  # convolutional_box_predictor.kernel_size
    input_size: int  # the TF1 zoo config's fixed_shape_resizer


TF1_ARCHITECTURES: dict[str, TF1Architecture] = {a.name: a for a in (
    TF1Architecture("ssd_mobilenet_v1", "mobilenet_v1", "ssd_mobilenet_v1", False, 1, 300),
    TF1Architecture("ssd_mobilenet_v2_tf1", "mobilenet_v2", "ssd_mobilenet_v2", False, 1, 300),
    TF1Architecture("ssdlite_mobilenet_v2_tf1", "mobilenet_v2", "ssd_mobilenet_v2", True, 3, 300),
)}
# ============================================================================================
