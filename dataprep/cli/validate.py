"""``dataprep validate SRC``: every check of ``convert``, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o


def validate_cmd(
    src: Annotated[Optional[str], typer.Argument(
        help="VOC folder, COCO .json, .csv, YOLO folder (data.yaml) or TFRecords (a file, folder or quoted glob); "
             "format detected.")] = None,
    format: o.SourceFormatOpt = "auto",
    images: o.Images = None,
    annotations: o.Annotations = None,
    year: o.Year = None,
    columns: o.Columns = None,
    header: o.Header = True,
    normalized: o.Normalized = False,
    box_format: o.BoxFormat = "xyxy",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the findings as JSON here.")] = None,
    label_map: o.LabelMapOpt = None, workers: o.Workers = None, on_error: o.OnError = "fix", strict: o.Strict = False,
    drop_empty: o.DropEmpty = False, no_decode_check: o.NoDecode = False, max_pixels: o.MaxPixels = 100_000_000,
    follow_symlinks: o.FollowSymlinks = False, quiet: o.Quiet = False,
):
    """Check annotations and images without writing records; exit 1 with --strict if anything is an error."""
    src = o.local_path(src, "SRC")
    from dataprep.convert import CheckOptions, validate
    from dataprep.formats.registry import open_source

    checks = CheckOptions(label_map=label_map, workers=workers, on_error=on_error, strict=strict,
                          drop_empty=drop_empty, decode_check=not no_decode_check, max_pixels=max_pixels,
                          follow_symlinks=follow_symlinks, progress=not quiet)
    ds = open_source(o.source_spec(src, fmt=format, images=images, annotations=annotations, year=year,
                                   columns=columns, header=header, normalized=normalized, box_format=box_format,
                                   workers=workers, label_map=label_map))
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
    if strict and result.report.has_errors():
        raise typer.Exit(1)
