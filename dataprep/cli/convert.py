"""``dataprep convert voc|coco|csv``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o

app = typer.Typer(help="Convert annotations to sharded TFRecords.", no_args_is_help=True)


def _run(read, out, label_map, num_shards, compression, workers, overwrite, on_error, strict, drop_empty, seed,
         no_decode_check, max_pixels, quiet) -> None:
    from dataprep.convert import ConvertOptions, convert

    opts = ConvertOptions(
        out=out, label_map=label_map, num_shards=num_shards,
        compression=None if compression.lower() in ("", "none") else compression.lower(),
        workers=workers, overwrite=overwrite, on_error=on_error, strict=strict, drop_empty=drop_empty, seed=seed,
        decode_check=not no_decode_check, max_pixels=max_pixels, progress=not quiet,
    )
    from dataprep.convert import prepare_output

    prepare_output(opts.out, opts.overwrite)  # fail before reading a large dataset
    ds = read()
    result = convert(ds, opts)
    for line in result.report.summary_lines():
        typer.echo(line)
    typer.echo("")
    for line in result.summary_lines():
        typer.echo(line)
    if strict and result.report.has_errors():
        raise typer.Exit(1)




@app.command("voc")
def voc(
    root: Annotated[Optional[Path], typer.Argument(help="VOC folder (Annotations/, JPEGImages/) or VOCdevkit root.")] = None,
    out: o.Out = ...,
    year: Annotated[Optional[str], typer.Option("--year", help="VOCdevkit year: ROOT/VOC{year}.")] = None,
    annotations: Annotated[Optional[Path], typer.Option("--annotations", help="Folder of XML files.")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of images.")] = None,
    label_map: o.LabelMapOpt = None, num_shards: o.NumShards = None, compression: o.Compression = "none",
    workers: o.Workers = None, overwrite: o.Overwrite = False, on_error: o.OnError = "fix", strict: o.Strict = False,
    drop_empty: o.DropEmpty = False, seed: o.Seed = 0, no_decode_check: o.NoDecode = False,
    max_pixels: o.MaxPixels = 100_000_000, quiet: o.Quiet = False,
):
    """Pascal VOC: ImageSets/Main/{train,val,test}.txt define the splits when present."""
    from dataprep.formats.voc import read_voc

    _run(lambda: read_voc(root, year=year, annotations=annotations, images=images, workers=workers,
                                  progress=not quiet), out, label_map, num_shards,
         compression, workers, overwrite, on_error, strict, drop_empty, seed, no_decode_check, max_pixels, quiet)


@app.command("coco")
def coco(
    annotations: Annotated[Path, typer.Argument(help="COCO instances JSON.")],
    images: Annotated[Path, typer.Option("--images", help="Folder the JSON's file_name values are relative to.")],
    out: o.Out = ...,
    label_map: o.LabelMapOpt = None, num_shards: o.NumShards = None, compression: o.Compression = "none",
    workers: o.Workers = None, overwrite: o.Overwrite = False, on_error: o.OnError = "fix", strict: o.Strict = False,
    drop_empty: o.DropEmpty = False, seed: o.Seed = 0, no_decode_check: o.NoDecode = False,
    max_pixels: o.MaxPixels = 100_000_000, quiet: o.Quiet = False,
):
    """COCO detection JSON; category ids are kept (1..90 with gaps)."""
    from dataprep.formats.coco import read_coco

    _run(lambda: read_coco(annotations, images=images), out, label_map, num_shards, compression, workers, overwrite,
         on_error, strict, drop_empty, seed, no_decode_check, max_pixels, quiet)


@app.command("csv")
def csv(
    file: Annotated[Path, typer.Argument(help="CSV with one row per box.")],
    images: Annotated[Path, typer.Option("--images", help="Folder the filename column is relative to.")],
    out: o.Out = ...,
    columns: Annotated[Optional[str], typer.Option(
        "--columns", help="Map roles to columns: 'class=cell_type,xmin=x1'; or all column names in order "
                          "(for files without a header, with --no-header).")] = None,
    header: Annotated[bool, typer.Option("--header/--no-header", help="Whether the first row names the columns.")] = True,
    normalized: Annotated[bool, typer.Option("--normalized", help="Coordinates are fractions of the image size.")] = False,
    box_format: Annotated[str, typer.Option("--box-format", help="xyxy (xmin,ymin,xmax,ymax) or xywh (x,y,w,h).")] = "xyxy",
    label_map: o.LabelMapOpt = None, num_shards: o.NumShards = None, compression: o.Compression = "none",
    workers: o.Workers = None, overwrite: o.Overwrite = False, on_error: o.OnError = "fix", strict: o.Strict = False,
    drop_empty: o.DropEmpty = False, seed: o.Seed = 0, no_decode_check: o.NoDecode = False,
    max_pixels: o.MaxPixels = 100_000_000, quiet: o.Quiet = False,
):
    """CSV, TF OD API layout filename,width,height,class,xmin,ymin,xmax,ymax by default."""
    from dataprep.formats.csv import parse_columns, read_csv

    mapping, names = parse_columns(columns)
    _run(lambda: read_csv(file, images=images, columns=mapping, names=names, header=header, normalized=normalized,
                          box_format=box_format),
         out, label_map, num_shards, compression, workers, overwrite, on_error, strict, drop_empty, seed,
         no_decode_check, max_pixels, quiet)
