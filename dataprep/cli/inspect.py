"""``dataprep inspect OUT`` (alias ``verify``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def inspect_cmd(
    out: Annotated[Path, typer.Argument(help="A dataprep output folder.")],
    previews: Annotated[int, typer.Option("--previews", help="How many images to draw with their boxes.")] = 4,
    preview_dir: Annotated[Optional[Path], typer.Option("--preview-dir", help="Default: OUT/previews.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
):
    """Read every record back: CRCs, decoding, boxes in [0, 1], labels, counts against the manifest."""
    from dataprep.records.inspect import inspect_output

    r = inspect_output(out, previews=previews, preview_dir=preview_dir, progress=not quiet)
    for split, n in r.per_split.items():
        typer.echo(f"  {split:8} {n} examples")
    typer.echo(f"{r.examples} examples, {r.boxes} boxes checked; {len(r.problems)} problem(s)")
    for p in r.problems[:50]:
        typer.echo(f"  {p}")
    if len(r.problems) > 50:
        typer.echo(f"  ... and {len(r.problems) - 50} more")
    for p in r.previews:
        typer.echo(f"  preview: {p}")
    if r.problems:
        raise typer.Exit(1)
