"""``dataprep convert voc|coco|csv``.

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

app = typer.Typer(help="Convert annotations to sharded TFRecords.", no_args_is_help=True)


def _common_parameters() -> list[inspect.Parameter]:
    def p(name, annotation, default):
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    return [
        p("out", o.Out, ...),
        p("label_map", o.LabelMapOpt, None),
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
        _run(command(**kwargs), **shared)

    visible = [q for q in own if q.name not in ("workers", "progress")]
    wrapper.__signature__ = inspect.Signature(visible + common)
    wrapper.__annotations__ = {q.name: q.annotation for q in visible + common}
    del wrapper.__wrapped__
    return wrapper


def _run(read, *, out, label_map, num_shards, compression, workers, overwrite, on_error, strict, drop_empty, seed,
         no_decode_check, max_pixels, follow_symlinks, split, group_by, rebalance, repeat_threshold, max_per_class, negative_ratio,
         quiet) -> None:
    from dataprep.convert import ConvertOptions, convert, prepare_output

    opts = ConvertOptions(
        out=out, label_map=label_map, num_shards=num_shards,
        compression=o.parse_compression(compression),
        workers=workers, overwrite=overwrite, on_error=on_error, strict=strict, drop_empty=drop_empty, seed=seed,
        decode_check=not no_decode_check, max_pixels=max_pixels, follow_symlinks=follow_symlinks, progress=not quiet,
        split=split, group_by=group_by, rebalance=rebalance, repeat_threshold=o.parse_threshold(repeat_threshold),
        max_per_class=max_per_class, negative_ratio=negative_ratio,
    )
    prepare_output(opts.out, opts.overwrite)  # fail before reading a large dataset
    echo_result(convert(read(), opts), strict)


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
    root: Annotated[Optional[Path], typer.Argument(help="VOC folder (Annotations/, JPEGImages/) or VOCdevkit root.")] = None,
    year: Annotated[Optional[str], typer.Option("--year", help="VOCdevkit year: ROOT/VOC{year}.")] = None,
    annotations: Annotated[Optional[Path], typer.Option("--annotations", help="Folder of XML files.")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of images.")] = None,
    workers: Optional[int] = None,
    progress: bool = True,
):
    """Pascal VOC: ImageSets/Main/{train,val,test}.txt define the splits when present."""
    from dataprep.formats.voc import read_voc

    return lambda: read_voc(root, year=year, annotations=annotations, images=images, workers=workers,
                            progress=progress)


@app.command("coco")
@_with_common_options
def coco(
    annotations: Annotated[Path, typer.Argument(help="COCO instances JSON.")],
    images: Annotated[Path, typer.Option("--images", help="Folder the JSON's file_name values are relative to.")],
):
    """COCO detection JSON; category ids are kept (1..90 with gaps)."""
    from dataprep.formats.coco import read_coco

    return lambda: read_coco(annotations, images=images)


@app.command("csv")
@_with_common_options
def csv(
    file: Annotated[Path, typer.Argument(help="CSV with one row per box.")],
    images: Annotated[Path, typer.Option("--images", help="Folder the filename column is relative to.")],
    columns: Annotated[Optional[str], typer.Option(
        "--columns", help="Map roles to columns: 'class=cell_type,xmin=x1'; or all column names in order "
                          "(for files without a header, with --no-header).")] = None,
    header: Annotated[bool, typer.Option("--header/--no-header", help="Whether the first row names the columns.")] = True,
    normalized: Annotated[bool, typer.Option("--normalized", help="Coordinates are fractions of the image size.")] = False,
    box_format: Annotated[str, typer.Option("--box-format", help="xyxy (xmin,ymin,xmax,ymax) or xywh (x,y,w,h).")] = "xyxy",
):
    """CSV, TF OD API layout filename,width,height,class,xmin,ymin,xmax,ymax by default."""
    from dataprep.formats.source import read_source

    return lambda: read_source(file, format="csv", images=images, columns=columns, header=header,
                               normalized=normalized, box_format=box_format)
