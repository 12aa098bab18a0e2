"""One resolver: ``--model``, ``--input-size``, ``--anchors``, ``--anchor-config`` and
``--init-from`` -> the model, its anchors and its input size.

``stats --anchors``, ``train``, ``config`` and ``export`` all call
:func:`resolve_model`, so the same arguments mean the same model everywhere
(the anchors ``stats`` analyses are the anchors ``train`` builds)::

    --init-from DIR     a TF2 zoo folder (pipeline.config), a TF1 one (pipeline.config of a
                        TF1 model) or a dataprep run (config.json)
    --anchors FILE      dataprep's anchors JSON (stats --anchors-out)       } one of them
    --anchor-config P   a TF OD API pipeline.config                         }
    --model NAME        a registered model
    --input-size S      pixels

Rules, each source in turn:

1. Model: ``--model``; else the one ``--init-from`` holds; else the one the
   anchor file names (an anchors JSON records it; a pipeline.config's network
   is recognised by :func:`~dataprep.models.registry.model_from_pipeline`);
   else, for an anchors JSON of an older version, the default model of its
   anchor kind; else :data:`~dataprep.models.registry.DEFAULT_MODEL`. Two
   sources naming different models are a usage error, never a silent pick.
2. Anchors: the anchor file's; else ``--init-from``'s; else the model's defaults.
   Their kind must be the model's.
3. Input size: ``--input-size``; else the anchor file's; else ``--init-from``'s;
   else the model's.
4. Width (depth multiplier) and ``min_depth``: ``--init-from``'s, else 1.0 and 16.

A pipeline.config of a network dataprep does not build still gives anchors
and a size; with ``need_model`` (everything but ``stats``) the model is then
the default of its anchor kind, and a note says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from dataprep.anchors.generator import AnchorConfigError, Size, as_input_size
from dataprep.anchors.kinds import AnyAnchorConfig, anchor_config_from_dict
from dataprep.errors import UsageError
from dataprep.models.anchors_file import read_anchors_file
from dataprep.models.pipeline_config import PipelineSettings, read_pipeline_config
from dataprep.models.registry import DEFAULT_MODEL, default_model_for_kind, model_spec

PathLike = Union[str, "os.PathLike[str]"]

#: The settings file of a ``dataprep train`` run folder (its model part is read here;
#: :class:`dataprep.train.config.TrainConfig` owns the whole file).
RUN_CONFIG_FILE = "config.json"
ZOO_CONFIG_FILE = "pipeline.config"


@dataclass(frozen=True)
class InitFolder:
    """The model described by an ``--init-from`` folder (its weights are :mod:`dataprep.train.restore`'s job)."""

    path: Path
    #: "zoo" (pipeline.config + checkpoint/), "tf1" (pipeline.config of a model with
    #: ``tf1_checkpoint``: model.ckpt[-N] or a frozen graph) or "run" (a dataprep run folder)
    kind: str
    model: str
    input_size: Size
    alpha: float
    anchors: AnyAnchorConfig
    min_depth: int = 16
    #: The zoo folder's pipeline.config (None for a run folder).
    pipeline: PipelineSettings | None = None


def _read_run_folder(folder: Path) -> InitFolder:
    path = folder / RUN_CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = model_spec(data.get("model", DEFAULT_MODEL)).name
        size = int(data.get("input_size", model_spec(model).input_size))
        anchors = anchor_config_from_dict(data["anchor_config"]) if "anchor_config" in data else \
            model_spec(model).anchors()
        alpha = float(data.get("alpha", 1.0))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: cannot read the training config: {exc}") from None
    return InitFolder(folder, "run", model, (size, size), alpha, anchors)


def _read_zoo_folder(folder: Path) -> InitFolder:
    path = folder / ZOO_CONFIG_FILE
    settings = read_pipeline_config(path, require_model=True)
    size = settings.input_size
    if size is None or settings.resizer != "fixed_shape_resizer":
        raise UsageError(f"{path}: the model input size is not fixed; the zoo models dataprep builds need a "
                         f"square fixed_shape_resizer, got {settings.resizer} {size}")
    model = settings.require_model()
    kind = "tf1" if model_spec(model).tf1_checkpoint else "zoo"
    return InitFolder(folder, kind, model, size, settings.depth_multiplier, settings.anchor_config,
                      settings.min_depth, settings)


def read_init_folder(folder: PathLike) -> InitFolder:
    """The model of ``--init-from DIR``: a dataprep run folder (``config.json``) or an
    extracted TF2 or TF1 zoo folder (``pipeline.config``; TF1 training folders too)."""
    folder = Path(folder)
    if (folder / RUN_CONFIG_FILE).is_file():
        return _read_run_folder(folder)
    if (folder / ZOO_CONFIG_FILE).is_file():
        return _read_zoo_folder(folder)
    raise UsageError(f"{folder}: neither a TF2 zoo model folder ({ZOO_CONFIG_FILE} + checkpoint/), a TF1 one "
                     f"({ZOO_CONFIG_FILE} + model.ckpt[-N] or frozen_inference_graph.pb) nor a dataprep run "
                     f"folder ({RUN_CONFIG_FILE})")


@dataclass(frozen=True)
class ResolvedModel:
    """What :func:`resolve_model` decided, and from where."""

    #: A registered model; None only without ``need_model`` for a pipeline.config of another network.
    model: str | None
    input_size: Size
    anchors: AnyAnchorConfig
    #: Where the anchors came from, for reports ("defaults of ssdlite_mobilenet_v2", "pipeline.config P", ...).
    origin: str
    alpha: float = 1.0
    min_depth: int = 16
    init: InitFolder | None = None
    #: The ``--anchor-config`` file's settings (resizer, num_classes ...), when one was given.
    pipeline: PipelineSettings | None = None
    #: Where the input size came from ("--input-size", a file, "defaults of M").
    size_origin: str = ""
    notes: tuple[str, ...] = field(default=())

    def square_size(self) -> int:
        """The input size as one side; an :class:`AnchorConfigError` when it is not square."""
        height, width = self.input_size
        if height != width:
            raise AnchorConfigError(f"{self.size_origin or 'the anchor file'}: input size {height}x{width} is not "
                                    "square; the trainer uses square inputs, give --input-size")
        return int(height)


@dataclass(frozen=True)
class _AnchorSource:
    """An anchors JSON or a pipeline.config, read."""

    path: str
    anchors: AnyAnchorConfig
    input_size: Size | None
    model: str | None  # the model it names (None: none recorded or not recognised)
    pipeline: PipelineSettings | None = None


def _anchor_source(anchors: PathLike | None, anchor_config: PathLike | None) -> _AnchorSource | None:
    if anchors is not None and anchor_config is not None:
        raise UsageError("give --anchors or --anchor-config, not both")
    if anchors is not None:
        saved = read_anchors_file(anchors)  # checks its model's anchor kind
        return _AnchorSource(os.fspath(anchors), saved.config, saved.input_size,
                             saved.model if saved.model_recorded else None)
    if anchor_config is not None:
        p = read_pipeline_config(anchor_config)
        return _AnchorSource(os.fspath(anchor_config), p.anchor_config, p.input_size, p.model, p)
    return None


def _pick_model(model: str | None, init: InitFolder | None, source: _AnchorSource | None,
                need_model: bool) -> tuple[str | None, list[str]]:
    """Rule 1 of the module docstring: the model and any note about how it was chosen."""
    if model is not None:
        model_spec(model)  # UsageError listing the known models
    if init is not None and model is not None and model != init.model:
        raise UsageError(f"--model {model} but --init-from {init.path} holds a {init.model} model")
    given, given_by = (model, "--model") if model is not None else (
        (init.model, f"--init-from {init.path}") if init is not None else (None, ""))
    if source is not None and source.model is not None:
        if given is not None and source.model != given:
            raise UsageError(f"{source.path}: the anchors are for model {source.model!r}, but {given_by} gives "
                             f"{given!r}; leave {given_by} out or make the anchors for {given}")
        given = source.model
    if given is not None:
        return given, []
    if source is None:
        return DEFAULT_MODEL, []
    if source.pipeline is not None and not need_model:
        return None, []  # stats analyses the anchors of a network dataprep does not build
    name = default_model_for_kind(source.anchors.kind)
    if source.pipeline is not None:
        return name, [f"{source.path} describes a network dataprep does not build "
                      f"({source.pipeline.model_problem}); using {name}, whose anchors are of the same kind"]
    return name, []


def resolve_model(
    model: str | None = None,
    *,
    input_size: int | Sequence[int] | None = None,
    anchors: PathLike | None = None,
    anchor_config: PathLike | None = None,
    init_from: PathLike | InitFolder | None = None,
    alpha: float | None = None,
    need_model: bool = True,
) -> ResolvedModel:
    """Model, anchors and input size of the arguments (rules in the module docstring)."""
    init = init_from if isinstance(init_from, InitFolder) or init_from is None else read_init_folder(init_from)
    source = _anchor_source(anchors, anchor_config)
    name, notes = _pick_model(model, init, source, need_model)
    if source is not None:
        config, origin = source.anchors, (f"pipeline.config {source.path}" if source.pipeline is not None
                                          else f"anchors JSON {source.path}")
    elif init is not None:
        config, origin = init.anchors, f"settings of {init.path}"
    else:
        config, origin = model_spec(name or DEFAULT_MODEL).anchors(), f"defaults of {name}"
    if name is not None and config.kind != model_spec(name).anchor_kind:
        where = source.path if source is not None else os.fspath(init.path if init else "")
        raise UsageError(f"{where} holds {config.kind} anchors, but {name} uses "
                         f"{model_spec(name).anchor_kind} anchors")
    if input_size is not None:
        size, size_origin = as_input_size(input_size), "--input-size"
    elif source is not None and source.input_size is not None:
        size, size_origin = source.input_size, source.path
    elif init is not None:
        size, size_origin = init.input_size, os.fspath(init.path)
    else:
        side = model_spec(name or default_model_for_kind(config.kind)).input_size
        size, size_origin = (side, side), f"defaults of {name}"
    width = alpha if alpha is not None else (init.alpha if init is not None else 1.0)
    return ResolvedModel(model=name, input_size=size, anchors=config, origin=origin, alpha=float(width),
                         min_depth=init.min_depth if init is not None else 16, init=init,
                         pipeline=source.pipeline if source is not None else None, size_origin=size_origin,
                         notes=tuple(notes))
