"""The detectors dataprep knows, and the files that describe them (numpy only, no TensorFlow).

- :mod:`~dataprep.models.registry`         one ``ModelSpec`` per model: builder, anchors, input size,
                                           zoo recipe, pipeline.config and checkpoint signatures
- :mod:`~dataprep.models.textproto`        protobuf text format, read without protobuf
- :mod:`~dataprep.models.pipeline_config`  a TF OD API ``pipeline.config``: anchors, resizer, model
- :mod:`~dataprep.models.anchors_file`     dataprep's anchors JSON (``stats --anchors-out``)
- :mod:`~dataprep.models.resolve`          ``--model``, ``--input-size``, ``--anchors``, ``--anchor-config``,
                                           ``--init-from`` -> model + anchors + input size (every command)

It sits above :mod:`dataprep.anchors` (the anchor math) and below ``stats`` and
``train``, which both resolve their model here.
"""

from dataprep.models.anchors_file import AnchorsFile, read_anchors_file, read_anchors_json, write_anchors_json
from dataprep.models.pipeline_config import PipelineSettings, parse_pipeline_config, read_pipeline_config
from dataprep.models.registry import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_MODEL,
    MODELS,
    ModelSpec,
    default_anchor_config,
    generate_anchors,
    model_spec,
)

__all__ = [
    "AnchorsFile",
    "DEFAULT_INPUT_SIZE",
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "PipelineSettings",
    "default_anchor_config",
    "generate_anchors",
    "model_spec",
    "parse_pipeline_config",
    "read_anchors_file",
    "read_anchors_json",
    "read_pipeline_config",
    "write_anchors_json",
]
