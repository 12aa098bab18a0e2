"""dataprep's anchors JSON: the anchor settings, their kind, the input size and the model.

``dataprep stats --anchors --anchors-out FILE`` writes it; ``train --anchors``,
``config --anchors`` and ``stats --anchors-json`` read it, so the analysed
anchors are the trained ones::

    {"format": "dataprep.anchors", "version": 1, "model": "ssdlite_mobilenet_v2",
     "kind": "ssd", "input_size": [320, 320], "num_anchors": 2034,
     "num_anchors_per_location": [3, 6, 6, 6, 6, 6], "anchor_config": {"kind": "ssd", ...}}

Files of older versions lack ``model`` (read as the default model of their
anchor kind) and may lack ``kind`` (read as ``"ssd"``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Union

from dataprep.anchors.generator import AnchorConfig, AnchorConfigError, Size, as_input_size
from dataprep.anchors.kinds import AnyAnchorConfig, anchor_class
from dataprep.errors import DataprepError
from dataprep.models.registry import default_model_for_kind, model_spec

PathLike = Union[str, "os.PathLike[str]"]

#: ``format`` value of dataprep's anchors JSON file, and its version.
ANCHORS_JSON_FORMAT = "dataprep.anchors"
ANCHORS_JSON_VERSION = 1


@dataclass(frozen=True)
class AnchorsFile:
    """What an anchors JSON holds: the settings, the input size and the model."""

    config: AnyAnchorConfig
    input_size: Size
    #: The detector the anchors are for; files written before it was recorded
    #: read as the default model of their anchor kind (:func:`default_model_for`).
    model: str
    #: False for such older files: their ``model`` is a default, not a record.
    model_recorded: bool = True


def default_model_for(config: AnyAnchorConfig) -> str:
    """The model an anchors file without ``model`` is for: the default model
    for SSD-grid settings, the first multiscale model for multiscale ones."""
    return default_model_for_kind(config.kind)


def anchors_json_dict(config: AnyAnchorConfig, input_size: int | tuple[int, int],
                      model: str | None = None) -> dict[str, Any]:
    """The content of dataprep's anchors JSON file for ``config`` at ``input_size``."""
    size = as_input_size(input_size)
    return {
        "format": ANCHORS_JSON_FORMAT,
        "version": ANCHORS_JSON_VERSION,
        "model": model or default_model_for(config),
        "kind": config.kind,
        "input_size": list(size),
        "num_anchors": config.num_anchors(size),
        "num_anchors_per_location": config.num_anchors_per_location(),
        "anchor_config": config.to_dict(),
    }


def write_anchors_json(path: PathLike, config: AnyAnchorConfig, input_size: int | tuple[int, int],
                       model: str | None = None) -> None:
    """Write dataprep's anchors JSON (model, anchor kind, input size, settings)
    to ``path``: everything ``dataprep train --anchors`` needs to build the
    analysed anchors."""
    data = anchors_json_dict(config, input_size, model)
    with open(os.fspath(path), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")


def read_anchors_json(path: PathLike) -> tuple[AnyAnchorConfig, Size]:
    """Read a file written by :func:`write_anchors_json`: ``(config, (height, width))``."""
    saved = read_anchors_file(path)
    return saved.config, saved.input_size


def read_anchors_file(path: PathLike) -> AnchorsFile:
    """Read a file written by :func:`write_anchors_json`, model included.

    ``kind`` (``"ssd"`` when absent, as in files of older versions) says which
    kind of anchor settings it holds; ``model`` (absent in older files) names
    the detector, by default that of the anchor kind (:func:`default_model_for`).
    The model's anchor kind must be the file's.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnchorConfigError(f"{source}: cannot read anchors JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != ANCHORS_JSON_FORMAT:
        raise AnchorConfigError(f"{source}: not a dataprep anchors file (format must be {ANCHORS_JSON_FORMAT!r})")
    if data.get("version") != ANCHORS_JSON_VERSION:
        raise AnchorConfigError(f"{source}: unsupported anchors file version {data.get('version')!r}")
    try:
        size = as_input_size(data.get("input_size"))
        config = anchor_class(data.get("kind", AnchorConfig.kind)).from_dict(data.get("anchor_config"))
    except AnchorConfigError as exc:
        raise AnchorConfigError(f"{source}: {exc}") from None
    expected = data.get("num_anchors")
    if expected is not None and expected != config.num_anchors(size):
        raise AnchorConfigError(
            f"{source}: num_anchors is {expected!r} but the settings give {config.num_anchors(size)}"
        )
    recorded = "model" in data
    model = data.get("model", default_model_for(config))
    if not isinstance(model, str):
        raise AnchorConfigError(f"{source}: model must be a model name, got {model!r}")
    try:
        spec = model_spec(model)
    except DataprepError as exc:
        raise AnchorConfigError(f"{source}: {exc}") from None
    if spec.anchor_kind != config.kind:
        raise AnchorConfigError(f"{source}: holds {config.kind} anchors but the {model} model "
                                f"predicts on {spec.anchor_kind} anchors")
    return AnchorsFile(config=config, input_size=size, model=model, model_recorded=recorded)
