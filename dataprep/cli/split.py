"""``dataprep split SRC --out NEW --split train=0.8,val=0.2``: a new split of an
existing output (its records are copied, no image is re-read) or of a source
annotation set (the same as ``dataprep convert ... --split``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o



def split_cmd(
    src: Annotated[str, typer.Argument(
        help="A dataprep output folder (with manifest.json: its records are re-split and copied unchanged) or a "
             "source annotation set (VOC folder, COCO .json, .csv, YOLO folder, or another tool's TFRecords: "
             "converted with --split).", show_default=False)],
    out: o.Out,
    split: o.Split = None,
    group_by: o.GroupBy = None,
    rebalance: o.Rebalance = None,
    repeat_threshold: o.RepeatThreshold = "auto",
    max_per_class: o.MaxPerClass = None,
    negative_ratio: o.NegativeRatio = None,
    seed: o.Seed = 0,
    num_shards: o.NumShards = None,
    compression: o.Compression = "none",
    workers: o.Workers = None,
    overwrite: o.Overwrite = False,
    quiet: o.Quiet = False,
    fmt: Annotated[str, typer.Option(
        "--format", help="auto (records if SRC has a manifest.json), records, or a reader: voc, coco, csv, yolo, "
                        "tfrecord (any tool's records, converted with --split).",
        rich_help_panel=o.SOURCE_PANEL)] = "auto",
    images: o.Images = None,
    annotations: o.Annotations = None,
    year: o.Year = None,
    columns: o.Columns = None,
    header: o.Header = True,
    normalized: o.Normalized = False,
    box_format: o.BoxFormat = "xyxy",
    label_map: o.LabelMapOpt = None,
    on_error: o.OnError = "fix",
    strict: o.Strict = False,
    drop_empty: o.DropEmpty = False,
    no_decode_check: o.NoDecode = False,
    max_pixels: o.MaxPixels = 100_000_000,
    follow_symlinks: o.FollowSymlinks = False,
):
    """Split (and optionally rebalance) an existing output or a source into a new output folder."""
    src = o.local_path(src, "SRC")
    from dataprep.convert.resplit import is_records_output, resplit
    from dataprep.convert import ConvertOptions, convert, prepare_output
    from dataprep.errors import UsageError

    if split is None:
        raise UsageError("dataprep split needs --split, e.g. --split train=0.8,val=0.1,test=0.1")
    from dataprep.formats.registry import READERS, open_source

    if fmt not in ("auto", "records", *READERS):
        raise UsageError(f"--format must be one of {', '.join(('auto', 'records', *READERS))}, got {fmt!r}")
    records = fmt == "records" or (fmt == "auto" and is_records_output(src))
    opts = ConvertOptions(
        out=out, label_map=label_map, num_shards=num_shards, compression=o.parse_compression(compression), workers=workers,
        overwrite=overwrite, on_error=on_error, strict=strict, drop_empty=drop_empty, seed=seed,
        decode_check=not no_decode_check, max_pixels=max_pixels, follow_symlinks=follow_symlinks,
        progress=not quiet, split=split, group_by=group_by,
        rebalance=rebalance, repeat_threshold=o.parse_threshold(repeat_threshold), max_per_class=max_per_class,
        negative_ratio=negative_ratio,
    )
    if records:
        given = [name for name, value in (("--images", images), ("--annotations", annotations), ("--year", year),
                                          ("--columns", columns)) if value is not None]
        if given:
            raise UsageError(f"{src} holds records; {', '.join(given)} only apply to annotation sources")
        result = resplit(src, opts)
        for line in result.report.summary_lines():
            typer.echo(line)
        typer.echo("")
        for line in result.log:
            if line.startswith("dedupe:"):
                typer.echo(line)
        for line in result.summary_lines():
            typer.echo(line)
        return

    prepare_output(opts.out, opts.overwrite)  # fail before reading a large dataset
    ds = open_source(o.source_spec(src, fmt=fmt, images=images, annotations=annotations, year=year, columns=columns,
                                   header=header, normalized=normalized, box_format=box_format, workers=workers,
                                   label_map=label_map))
    from dataprep.cli.convert import echo_result

    echo_result(convert(ds, opts), strict)

