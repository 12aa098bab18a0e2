"""``dataprep convert voc|coco|csv|yolo|tfrecord``.

Each command declares only its format's arguments and returns a function that
reads the source; :func:`_with_common_options` adds the options every format
shares and runs the conversion.
"""

import functools
import inspect
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o
from dataprep.locations import is_url

#: --out of convert: a path, or a URL (gs://, s3://, hdfs://) with --runner beam (Path would fold its //).
OutLocation = Annotated[str, typer.Option(
    "--out", "-o", help="Output folder for the records (with --runner beam also a gs://, s3:// or hdfs:// URL).")]
LabelMapLocation = Annotated[Optional[str], typer.Option(
    "--label-map", help="StringIntLabelMap .pbtxt to use (with --runner beam also a URL); default: derived from the "
                        "data (sorted names, ids from 1).")]
VocImages = Annotated[Optional[str], typer.Option(
    "--images", help="Images folder, with --annotations (with --runner beam also a URL).",
    rich_help_panel=o.SOURCE_PANEL)]
VocAnnotations = Annotated[Optional[str], typer.Option(
    "--annotations", help="Folder of XML files, with --images (with --runner beam also a URL).",
    rich_help_panel=o.SOURCE_PANEL)]

app = typer.Typer(help="Convert annotations to sharded TFRecords.", no_args_is_help=True)


def _common_parameters() -> list[inspect.Parameter]:
    def p(name, annotation, default):
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    return [
        p("out", OutLocation, ...),
        p("label_map", LabelMapLocation, None),
        p("num_shards", o.NumShards, None),
        p("compression", o.Compression, "none"),
        p("workers", o.Workers, None),
        p("overwrite", o.Overwrite, False),
        p("on_error", o.OnError, "fix"),
        p("strict", o.Strict, False),
        p("drop_empty", o.DropEmpty, False),
        p("seed", o.Seed, 0),
        p("no_decode_check", o.NoDecode, False),
        p("max_pixels", o.MaxPixels, 100_000_000),
        p("follow_symlinks", o.FollowSymlinks, False),
        p("split", o.Split, None),
        p("group_by", o.GroupBy, None),
        p("rebalance", o.Rebalance, None),
        p("repeat_threshold", o.RepeatThreshold, "auto"),
        p("max_per_class", o.MaxPerClass, None),
        p("negative_ratio", o.NegativeRatio, None),
        p("quiet", o.Quiet, False),
        p("runner", o.Runner, "local"),
        p("beam_option", o.BeamOption, None),
        p("beam_pipeline_options", o.BeamPipelineOptions, None),
    ]


def _with_common_options(command):
    """Give ``command`` (which returns a reader) the shared options and run it."""
    own = list(inspect.signature(command).parameters.values())
    common = _common_parameters()
    names = {c.name for c in common}

    @functools.wraps(command)
    def wrapper(**kwargs):
        shared = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        if "workers" in inspect.signature(command).parameters:
            kwargs.update(workers=shared["workers"], progress=not shared["quiet"])
        if "label_map" in inspect.signature(command).parameters:  # a reader that names classes by it
            kwargs.update(label_map=shared["label_map"])
        _check_urls(command.__name__, [v for v in kwargs.values() if is_url(v)], shared)
        _run(command(**kwargs), **shared)

    visible = [q for q in own if q.name not in ("workers", "progress", "label_map")]
    wrapper.__signature__ = inspect.Signature(visible + common)
    wrapper.__annotations__ = {q.name: q.annotation for q in visible + common}
    del wrapper.__wrapped__
    return wrapper


def _check_urls(fmt: str, source_urls: list[str], shared: dict) -> None:
    """URLs before anything is read: a reader of local disk only refuses one,
    and only the Beam runner reads or writes them (through Beam's FileSystems)."""
    from dataprep.errors import UsageError
    from dataprep.formats.registry import refuse_url

    for url in source_urls:
        refuse_url(fmt, url)
    if shared["runner"] == "local":
        url = next((u for u in [*source_urls, shared["label_map"], shared["out"]] if is_url(u)), None)
        if url is not None:
            raise UsageError(f"{url}: URLs are read and written through Apache Beam's file systems: add --runner beam")


def _run(read, *, out, label_map, num_shards, compression, workers, overwrite, on_error, strict, drop_empty, seed,
         no_decode_check, max_pixels, follow_symlinks, split, group_by, rebalance, repeat_threshold, max_per_class,
         negative_ratio, quiet, runner, beam_option, beam_pipeline_options) -> None:
    from dataprep.convert import ConvertOptions, convert, prepare_output

    executor = _executor(runner, beam_option, beam_pipeline_options, quiet)

    opts = ConvertOptions(
        out=out, label_map=label_map, num_shards=num_shards,
        compression=o.parse_compression(compression),
        workers=workers, overwrite=overwrite, on_error=on_error, strict=strict, drop_empty=drop_empty, seed=seed,
        decode_check=not no_decode_check, max_pixels=max_pixels, follow_symlinks=follow_symlinks, progress=not quiet,
        split=split, group_by=group_by, rebalance=rebalance, repeat_threshold=o.parse_threshold(repeat_threshold),
        max_per_class=max_per_class, negative_ratio=negative_ratio,
    )
    if not is_url(opts.out):  # a URL: checked by the Beam runner's writer, before any pipeline runs
        prepare_output(opts.out, opts.overwrite)  # fail before reading a large dataset
    echo_result(convert(read(executor), opts, executor=executor), strict)


def _executor(runner: str, beam_option, beam_pipeline_options, quiet: bool = False):
    """None (the local worker pool) or a Beam executor; Beam is imported only here.
    Beam's log lines reach the terminal only with ``dataprep --debug``."""
    from dataprep.cli import debug_enabled
    from dataprep.errors import UsageError

    if runner not in ("local", "beam"):
        raise UsageError(f"--runner must be local or beam, got {runner!r}")
    if runner == "local":
        if beam_option or beam_pipeline_options:
            raise UsageError("--beam-option and --beam-pipeline-options only apply with --runner beam")
        return None
    from dataprep.beam import BeamExecutor
    from dataprep.beam.options import pipeline_flags

    return BeamExecutor(pipeline_flags(beam_option, beam_pipeline_options), progress=not quiet,
                        show_logs=debug_enabled())


def echo_result(result, strict: bool) -> None:
    """The findings table, then the summary; exit 1 under --strict if any error."""
    for line in result.report.summary_lines():
        typer.echo(line)
    typer.echo("")
    for line in result.summary_lines():
        typer.echo(line)
    if strict and result.report.has_errors():
        raise typer.Exit(1)


@app.command("voc")
@_with_common_options
def voc(
    root: Annotated[Optional[str], typer.Argument(
        help="VOC folder (Annotations/, JPEGImages/) or VOCdevkit root (with --runner beam also a gs://, s3:// or "
             "hdfs:// URL).")] = None,
    year: o.Year = None,
    annotations: VocAnnotations = None,
    images: VocImages = None,
    workers: Optional[int] = None,
    progress: bool = True,
):
    """Pascal VOC: ImageSets/Main/{train,val,test}.txt define the splits when present."""
    from dataprep.formats.registry import open_source

    # On the Beam runner, its workers parse the XML files (a VOC set can be millions of them).
    return lambda executor=None: open_source(o.source_spec(
        root, fmt="voc", year=year, annotations=annotations, images=images, workers=workers, progress=progress,
        parse_annotations=getattr(executor, "parse_annotations", None)))


@app.command("coco")
@_with_common_options
def coco(
    annotations: Annotated[str, typer.Argument(help="COCO instances JSON (with --runner beam also a URL, read by "
                                                    "the launcher).")],
    images: Annotated[str, typer.Option("--images", help="Folder the JSON's file_name values are relative to "
                                        "(with --runner beam also a gs://, s3:// or hdfs:// URL).")],
):
    """COCO detection JSON; category ids are kept (1..90 with gaps)."""
    from dataprep.formats.registry import open_source

    return lambda executor=None: open_source(o.source_spec(annotations, fmt="coco", images=images))


@app.command("csv")
@_with_common_options
def csv(
    file: Annotated[str, typer.Argument(help="CSV with one row per box (with --runner beam also a URL, read by the "
                                             "launcher).")],
    images: Annotated[str, typer.Option("--images", help="Folder the filename column is relative to "
                                        "(with --runner beam also a gs://, s3:// or hdfs:// URL).")],
    columns: o.Columns = None,
    header: o.Header = True,
    normalized: o.Normalized = False,
    box_format: o.BoxFormat = "xyxy",
):
    """CSV, TF OD API layout filename,width,height,class,xmin,ymin,xmax,ymax by default."""
    from dataprep.formats.registry import open_source

    return lambda executor=None: open_source(o.source_spec(file, fmt="csv", images=images, columns=columns,
                                                           header=header, normalized=normalized,
                                                           box_format=box_format))


@app.command("yolo")
@_with_common_options
def yolo(
    root: Annotated[str, typer.Argument(help="YOLO dataset folder (with data.yaml) or the data.yaml itself "
                                             "(local disk only).")],
):
    """YOLO, Ultralytics layout: data.yaml (names; train/val/test image folders or list files) + labels/*.txt."""
    from dataprep.formats.registry import open_source

    return lambda executor=None: open_source(o.source_spec(root, fmt="yolo"))


@app.command("tfrecord")
@_with_common_options
def tfrecord(
    pattern: Annotated[str, typer.Argument(
        help="TFRecords written by any tool: a file, a folder or a quoted glob ('in/train-*.tfrecord'); "
             "GZIP detected per file (local disk only).")],
    label_map: Optional[Path] = None,
):
    """TFRecords of any tool (TF OD API keys): repaired, checked like any source and rewritten to the contract.
    Classes come from --label-map, or from the records' class/text + class/label."""
    from dataprep.formats.registry import open_source

    return lambda executor=None: open_source(o.source_spec(pattern, fmt="tfrecord", label_map=label_map))
