"""``dataprep export-annotations RECORDS --format coco|voc|yolo --out DIR``: the formats
with a writer in the source registry (:mod:`dataprep.formats.registry`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import options as o


#: ``--format``'s help: the formats of the registry with a writer (checked against the
#: registry by tests/test_format_plugins.py; written out so that the CLI starts
#: without importing every reader).
FORMAT_HELP = "coco, voc or yolo."


def format_help(names: tuple[str, ...]) -> str:
    """``coco, voc or yolo.`` for the writers' names."""
    *rest, last = names
    return f"{', '.join(rest)} or {last}." if rest else f"{last}."


def export_annotations_cmd(
    records: Annotated[str, typer.Argument(
        help="Records: a dataprep output folder, a TFRecord file or a quoted glob (any tool's records).",
        show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the images and annotations to.",
                                      show_default=False)],
    label_map: o.LabelMapOpt = None,
    overwrite: o.Overwrite = False,
):
    """Write the images and annotations of records back out as COCO JSON, Pascal VOC or YOLO."""
    from dataprep.formats.writers import export_records

    o.local_path(records, "RECORDS")
    from dataprep.findings import Report

    result, findings = export_records(records, out, fmt, label_map=label_map, overwrite=overwrite)
    if findings:
        for line in Report(findings).summary_lines():
            typer.echo(line)
        typer.echo("")
    typer.echo(f"Wrote {result.out} ({result.format}): {result.images} images, {result.boxes} boxes")
    skipped = sum(f.code == "record.corrupt" for f in findings)
    if skipped:
        typer.echo(f"  {skipped} damaged record(s) skipped (listed above)")
