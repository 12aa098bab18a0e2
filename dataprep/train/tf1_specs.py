"""The network shape of each TF1 detection-zoo model dataprep builds (no Keras, no TensorFlow).

A model's identity (name, input size, anchors, how its pipeline.config names it,
that its weights come from TF1 folders) is its ``ModelSpec`` in
:mod:`dataprep.models.registry`; its builder is a factory in
:mod:`dataprep.train.tf1` that builds :class:`dataprep.train.tf1.TF1SSD` with
the shape declared here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TF1Architecture:
    name: str  # the registered model name
    backbone: str  # "mobilenet_v1" or "mobilenet_v2" (slim)
    depthwise: bool  # SSDLite: depthwise extra layers (feature_extractor.use_depthwise) and heads
    head_kernel: int  # convolutional_box_predictor.kernel_size


TF1_ARCHITECTURES: dict[str, TF1Architecture] = {a.name: a for a in (
    TF1Architecture("ssd_mobilenet_v1", "mobilenet_v1", False, 1),
    TF1Architecture("ssd_mobilenet_v2_tf1", "mobilenet_v2", False, 1),
    TF1Architecture("ssdlite_mobilenet_v2_tf1", "mobilenet_v2", True, 3),
)}
