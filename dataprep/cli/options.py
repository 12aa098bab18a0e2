"""The command line's options, built from their declarations.

Options are declared once, as dataclass fields with their default, flags and
help (:func:`dataprep.options.option`): the option groups of ``convert``,
``validate`` and ``split`` in :mod:`dataprep.convert.options`, each reader's
options in its format module, and here :class:`SourceOptions`, the source
options of the commands that take any format. :func:`declared` and
:func:`with_options` make a command's parameters from them, :func:`from_cli`
turns the parsed values back into the options dataclass, and
:func:`source_spec` into the registry's
:class:`~dataprep.formats.registry.SourceSpec`.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.models.registry import DEFAULT_MODEL, model_names
from dataprep.options import (SAME, SOURCE_PANEL, csv_box_format_field, csv_columns_field, csv_header_field,
                              csv_normalized_field, option)

def cli_type(hint, required: bool = False):
    """The command-line type of a field's type: ``str | None`` -> ``Optional[str]``
    (what typer reads); a required option's without ``None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in args:
        inner = next(t for t in args if t is not type(None))
        return inner if required else Optional[inner]
    return hint


def parameter(f: dataclasses.Field, hint, *, kind=inspect.Parameter.KEYWORD_ONLY, annotation=None) -> inspect.Parameter:
    """The CLI parameter a declared field (:func:`dataprep.options.option`) becomes:
    its name, type, default, flags and help as declared (``annotation``: the
    command's own type and option instead, where it says more, e.g. URLs)."""
    cli = f.metadata["cli"]
    if cli["required"]:
        default = ...
    else:
        default = f.default if cli["default"] is SAME else cli["default"]
    if annotation is None:
        annotation = Annotated[cli["type"] or cli_type(hint, cli["required"]),
                               typer.Option(*cli["flags"], help=cli["help"], rich_help_panel=cli["panel"])]
    return inspect.Parameter(cli["name"] or f.name, kind, annotation=annotation, default=default)


def _declarations() -> dict[str, tuple[dataclasses.Field, object]]:
    """Every declared option of the commands' groups by field name: (field, type)."""
    from dataprep.options import DECLARED, GROUPS

    hints = {}
    for cls in (*GROUPS, SourceOptions):
        hints.update({k: v for k, v in typing.get_type_hints(cls).items() if k not in hints})
    return {**{n: (f, hints[n]) for n, f in DECLARED.items() if "cli" in f.metadata},
            **{f.name: (f, hints[f.name]) for f in dataclasses.fields(SourceOptions)}}


def declared(*names: str, **annotations) -> list[inspect.Parameter]:
    """The CLI parameters of the declared options ``names`` (field names), in
    that order; ``annotations``: a command's own type and option for a name."""
    known = _declarations()
    return [parameter(*known[n], annotation=annotations.get(n)) for n in names]


def annotated(name: str):
    """A declared option as a type for a hand-written signature (``quiet: o.Quiet = False``)."""
    return declared(name)[0].annotation


def from_cli(cls, values: dict):
    """``cls`` (an options dataclass) from the CLI's values by parameter name:
    each declared field from its parameter (``--no-decode-check`` -> ``decode_check``)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        cli = f.metadata.get("cli")
        if cli is None or (cli["name"] or f.name) not in values:
            continue
        value = values[cli["name"] or f.name]
        kwargs[f.name] = cli["parse"](value) if cli["parse"] else value
    return cls(**kwargs)


def with_options(*order: str, **annotations):
    """A command whose signature is ``order``: its own parameters where it
    declares them, the declared options (:func:`declared`) for the others, which
    reach it in ``**options`` by parameter name."""
    def wrap(command):
        own = {n: q for n, q in inspect.signature(command).parameters.items() if q.kind != q.VAR_KEYWORD}
        hints = typing.get_type_hints(command, include_extras=True)
        known = _declarations()
        params = []
        for n in order:
            if n in own:
                params.append(own[n].replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[n]))
            else:
                params.append(parameter(*known[n], annotation=annotations.get(n)))
        command.__signature__ = inspect.Signature(params)
        return command
    return wrap


def check_output_path(option: str, path: Path | None, kind: str) -> None:
    """Refuse an output ``path`` that cannot become a ``kind`` ("file" or
    "folder") before any work is done: a clear usage error instead of an
    ``IsADirectoryError`` after a long run."""
    from dataprep.errors import UsageError

    if path is None:
        return
    if kind == "file" and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file; give a folder")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")


# -- the source options, declared once -------------------------------------------------

SourceFormatOpt = Annotated[str, typer.Option(
    "--format", help="auto (detected), or a reader: voc, coco, csv, yolo, tfrecord (any tool's records; "
              "stats and split also take a dataprep output as records).")]


@dataclass(frozen=True)
class SourceOptions:
    """The source options of the commands that take any format (``validate``,
    ``stats``, ``split``): every reader's options, with help that names the
    readers each applies to (``convert <format>`` has each reader's own)."""

    images: Path | None = field(default=None, metadata=option(
        "--images", help="Images folder (COCO and CSV; VOC with --annotations).", panel=SOURCE_PANEL))
    annotations: Path | None = field(default=None, metadata=option(
        "--annotations", help="VOC folder of XML files (with --images).", panel=SOURCE_PANEL))
    year: str | None = field(default=None, metadata=option(
        "--year", help="VOCdevkit year: SRC/VOC{year}.", panel=SOURCE_PANEL))
    columns: str | None = csv_columns_field()
    header: bool = csv_header_field()
    normalized: bool = csv_normalized_field()
    box_format: str = csv_box_format_field()


#: The names of the source options, in their order on the command line.
SOURCE_OPTIONS = tuple(f.name for f in dataclasses.fields(SourceOptions))

def local_path(value, name: str) -> Path | None:
    """A command's local-only input: a URL is refused by name (before ``Path()``
    folds its ``//`` into a misleading "no such file")."""
    from dataprep.errors import UsageError
    from dataprep.locations import is_url

    if value is None:
        return None
    if is_url(value):
        raise UsageError(f"{name} {value}: this command reads local files only; URLs are read by "
                         "`dataprep convert voc|coco|csv URL --runner beam` (or copy the data to local disk)")
    return Path(value)


def source_spec(src, *, fmt: str = "auto", workers=None, progress: bool = False, label_map=None, parse_files=None,
                **options):
    """The registry's description of the source the options name: ``options``
    are reader options by name (each reader takes the ones its dataclass declares)."""
    from dataprep.formats.registry import SourceSpec
    from dataprep.locations import location

    return SourceSpec(location(src) if src is not None else None, format=fmt, workers=workers, progress=progress,
                      label_map=label_map, parse_files=parse_files, options=options)


# -- where the per-image work runs ----------------------------------------------------

Runner = Annotated[str, typer.Option(
    "--runner", help="local: worker processes on this machine; beam: an Apache Beam pipeline "
                     "(pip install 'dataprep[beam]'), in-process unless --beam-option runner=... names another.")]
BeamOption = Annotated[Optional[list[str]], typer.Option(
    "--beam-option", help="With --runner beam: a Beam pipeline option KEY=VALUE (repeatable), "
                          "e.g. runner=DataflowRunner, project=my-project, region=europe-west1.")]
BeamPipelineOptions = Annotated[Optional[str], typer.Option(
    "--beam-pipeline-options", help="With --runner beam: Beam's flags as one string, "
                                    "e.g. '--runner=DataflowRunner --project=p --temp_location=gs://b/tmp'.")]


# -- which model, input size and anchors: `stats --anchors` and `train` resolve them alike ------------
# (dataprep.models.resolve.resolve_model; the anchors JSON is --anchors-json in stats, --anchors in train)

MODEL_PANEL = "Model and anchors"
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", help=f"{model_names(', ')} (default {DEFAULT_MODEL}; with --init-from the folder's, with an "
    "anchors file or --anchor-config the file's). train also takes auto: the model, input size and anchors "
    "`stats --anchors --suggest` advises for the train split.", rich_help_panel=MODEL_PANEL)]
InitFromOpt = Annotated[Optional[Path], typer.Option(
    "--init-from", help="A TF2 detection-zoo folder (pipeline.config + checkpoint/), a TF1 model folder "
    "(model.ckpt or frozen_inference_graph.pb + pipeline.config) or a dataprep run folder: the model, input size "
    "and anchors come from it (train also starts from its weights).", rich_help_panel=MODEL_PANEL)]
InputSizeOpt = Annotated[Optional[str], typer.Option(
    "--input-size", help="Model input: 300, 320 or HxW (train: square). Default: the anchors file's or "
    "--anchor-config's, else the model's (320 for the default model).", rich_help_panel=MODEL_PANEL)]
AnchorConfigOpt = Annotated[Optional[Path], typer.Option(
    "--anchor-config", help="TF OD API pipeline.config: its anchor generator, image resizer, input size, model "
    "and num_classes.", rich_help_panel=MODEL_PANEL)]


def square_size(value: str | None, option: str = "--input-size") -> int | None:
    """A square input size: ``320`` or ``320x320`` -> 320; anything else is a usage error."""
    from dataprep.errors import UsageError

    if value is None:
        return None
    parts = str(value).lower().replace(" ", "").split("x")
    if len(parts) in (1, 2) and all(p.isdigit() and int(p) > 0 for p in parts) and len(set(parts)) == 1:
        return int(parts[0])
    raise UsageError(f"{option} {value}: expected a square size in pixels, e.g. 320 or 320x320")


# -- the declared options as types, for hand-written signatures -------------------------

Out = annotated("out")
LabelMapOpt = annotated("label_map")
Overwrite = annotated("overwrite")
Quiet = annotated("progress")
Workers = annotated("workers")
Images, Annotations, Year, Columns, Header, Normalized, BoxFormat = (annotated(n) for n in SOURCE_OPTIONS)
