"""``dataprep validate SRC``: every check of ``convert``, nothing written."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o


@o.with_options("src", "format", *o.SOURCE_OPTIONS, "report", "label_map", "workers", "on_error", "strict",
                "drop_empty", "decode_check", "max_pixels", "follow_symlinks", "progress")
def validate_cmd(
    src: Annotated[Optional[str], typer.Argument(
        help="VOC folder, COCO .json, .csv, YOLO folder (data.yaml) or TFRecords (a file, folder or quoted glob); "
             "format detected.")] = None,
    format: o.SourceFormatOpt = "auto",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the findings as JSON here.")] = None,
    **options,
):
    """Check annotations and images without writing records; exit 1 with --strict if anything is an error."""
    src = o.local_path(src, "SRC")
    from dataprep.convert import CheckOptions, validate
    from dataprep.formats.registry import open_source

    checks = o.from_cli(CheckOptions, options)
    ds = open_source(o.source_spec(src, fmt=format, workers=checks.workers, label_map=checks.label_map,
                                   **dataclasses.asdict(o.from_cli(o.SourceOptions, options))))
    result = validate(ds, checks)
    for line in result.report.summary_lines():
        typer.echo(line)
    c = result.report.counts
    typer.echo("")
    typer.echo(f"images   {c.images_read} read, {c.images_written} would be written, {c.images_skipped} skipped")
    typer.echo(f"boxes    {c.boxes_read} read, {c.boxes_written} would be written, {c.boxes_dropped} dropped")
    sev = result.report.by_severity()
    typer.echo(f"findings {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info")
    if report is not None:
        result.report.write(report)
        typer.echo(f"report   {report}")
    if checks.strict and result.report.has_errors():
        raise typer.Exit(1)
