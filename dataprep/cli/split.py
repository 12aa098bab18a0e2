"""``dataprep split SRC --out NEW --split train=0.8,val=0.2``: a new split of an
existing output (its records are copied, no image is re-read) or of a source
annotation set (the same as ``dataprep convert ... --split``)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from dataprep.cli import options as o


@o.with_options(
    "src", "out", "split", "group_by", "rebalance", "repeat_threshold", "max_per_class", "negative_ratio", "seed",
    "num_shards", "compression", "workers", "overwrite", "progress", "fmt", *o.SOURCE_OPTIONS, "label_map",
    "on_error", "strict", "drop_empty", "decode_check", "max_pixels", "follow_symlinks")
def split_cmd(
    src: Annotated[str, typer.Argument(
        help="A dataprep output folder (with manifest.json: its records are re-split and copied unchanged) or a "
             "source annotation set (VOC folder, COCO .json, .csv, YOLO folder, or another tool's TFRecords: "
             "converted with --split).", show_default=False)],
    fmt: Annotated[str, typer.Option(
        "--format", help="auto (records if SRC has a manifest.json), records, or a reader: voc, coco, csv, yolo, "
                        "tfrecord (any tool's records, converted with --split).",
        rich_help_panel=o.SOURCE_PANEL)] = "auto",
    **options,
):
    """Split (and optionally rebalance) an existing output or a source into a new output folder."""
    src = o.local_path(src, "SRC")
    from dataprep.convert.resplit import resplit
    from dataprep.convert import ConvertOptions, convert, prepare_output
    from dataprep.errors import UsageError

    if options["split"] is None:
        raise UsageError("dataprep split needs --split, e.g. --split train=0.8,val=0.1,test=0.1")
    from dataprep.formats.registry import RECORDS, format_names, open_source, records_format

    if fmt not in format_names(records=True):
        raise UsageError(f"--format must be one of {', '.join(format_names(records=True))}, got {fmt!r}")
    records = fmt == RECORDS or (fmt == "auto" and records_format().detect(src))
    opts = o.from_cli(ConvertOptions, options)
    source = o.from_cli(o.SourceOptions, options)
    if records:
        given = [name for name, value in (("--images", source.images), ("--annotations", source.annotations),
                                          ("--year", source.year), ("--columns", source.columns)) if value is not None]
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
    ds = open_source(o.source_spec(src, fmt=fmt, workers=opts.workers, label_map=opts.label_map,
                                   **dataclasses.asdict(source)))
    from dataprep.cli.convert import echo_result

    echo_result(convert(ds, opts), opts.strict)

