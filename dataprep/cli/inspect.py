"""``dataprep inspect OUT`` (alias ``verify``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def inspect_cmd(
    out: Annotated[str, typer.Argument(
        help="A dataprep output folder, or any tool's records (a folder, a file or a quoted glob).")],
    previews: Annotated[int, typer.Option("--previews", help="How many images to draw with their boxes.")] = 4,
    preview_dir: Annotated[Optional[Path], typer.Option("--preview-dir", help="Default: OUT/previews.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    label_map: Annotated[Optional[Path], typer.Option(
        "--label-map", help="Records without a manifest: the label map the TF OD API decoder would use "
                            "(default: label_map.pbtxt beside the records).")] = None,
):
    """Read every record back: CRCs, decoding, boxes in [0, 1], labels, counts against the manifest.
    Records without a manifest: the same checks, and the classes the TF OD API decoder would read."""
    from dataprep.cli.options import local_path
    from dataprep.records.inspect import inspect_output

    local_path(out, "OUT")

    r = inspect_output(out, previews=previews, preview_dir=preview_dir, progress=not quiet, label_map_path=label_map)
    for split, n in r.per_split.items():
        typer.echo(f"  {split:8} {n} examples")
    if r.decoder_classes:
        view = ", ".join(f"{i}: {n}" for i, n in r.decoder_classes.items())
        typer.echo(f"  TF OD API decoder view (class id: boxes): {view}")
    typer.echo(f"{r.examples} examples, {r.boxes} boxes checked; {len(r.problems)} problem(s)")
    for p in r.problems[:50]:
        typer.echo(f"  {p}")
    if len(r.problems) > 50:
        typer.echo(f"  ... and {len(r.problems) - 50} more")
    for p in r.previews:
        typer.echo(f"  preview: {p}")
    if r.problems:
        raise typer.Exit(1)
