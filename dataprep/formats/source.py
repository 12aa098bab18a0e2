"""Open a source annotation set whatever its format: ``dataprep validate SRC``
and ``dataprep stats SRC`` take the same sources as ``convert``."""

from __future__ import annotations

from pathlib import Path

from dataprep.dataset import Dataset
from dataprep.errors import UsageError

FORMATS = ("auto", "voc", "coco", "csv")


def detect_format(src: Path) -> str:
    """``voc`` for a folder with Annotations/ (or a VOCdevkit root), ``coco``
    for a .json file, ``csv`` for a .csv file."""
    if src.is_dir():
        if (src / "Annotations").is_dir() or any(p.is_dir() and (p / "Annotations").is_dir() for p in src.glob("VOC*")):
            return "voc"
        raise UsageError(f"{src}: a folder without Annotations/; expected a VOC folder, a COCO .json or a .csv")
    suffix = src.suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix in (".csv", ".txt"):
        return "csv"
    if not src.exists():
        raise UsageError(f"{src}: no such file or folder")
    raise UsageError(f"{src}: cannot tell the annotation format from the name; pass --format voc|coco|csv")


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
) -> Dataset:
    """Read any supported source into a :class:`Dataset`."""
    from dataprep.formats import read_coco, read_csv, read_voc
    from dataprep.formats.csv import parse_columns

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(src) if src is not None else None
    if format == "auto":
        if path is None:
            format = "voc"
        else:
            format = detect_format(path)
    if format == "voc":
        return read_voc(path, year=year, annotations=annotations, images=images, workers=workers)
    if path is None:
        raise UsageError(f"give the {format} annotation file")
    if images is None:
        raise UsageError(f"{path}: {format} annotations need --images DIR (the folder the file names are relative to)")
    if format == "coco":
        return read_coco(path, images=images)
    mapping, names = parse_columns(columns)
    return read_csv(path, images=images, columns=mapping, names=names, header=header, normalized=normalized,
                    box_format=box_format)
