"""Open a source annotation set whatever its format: the keyword form of
:func:`dataprep.formats.registry.open_source` (the registry holds the rules)."""

from __future__ import annotations

from pathlib import Path

from dataprep.dataset import Dataset
from dataprep.formats.registry import SourceSpec, detect_format, format_names, open_source
from dataprep.locations import location

FORMATS = format_names()

__all__ = ["FORMATS", "detect_format", "read_source"]


def read_source(
    src: str | Path | None,
    *,
    format: str = "auto",
    images: str | Path | None = None,
    annotations: str | Path | None = None,
    year: str | None = None,
    columns: str | None = None,
    header: bool = True,
    normalized: bool = False,
    box_format: str = "xyxy",
    workers: int | None = None,
    progress: bool = False,
) -> Dataset:
    """Read any supported source into a :class:`Dataset`."""
    return open_source(SourceSpec(
        location(src) if src is not None else None, format=format, workers=workers, progress=progress,
        options=dict(images=images, annotations=annotations, year=year, columns=columns, header=header,
                     normalized=normalized, box_format=box_format)))
