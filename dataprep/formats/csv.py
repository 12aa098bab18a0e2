"""CSV reader: one row per box.

Default layout is the TF Object Detection API's (``generate_tfrecord.py``):
``filename,width,height,class,xmin,ymin,xmax,ymax``. Other layouts map their
column names onto these roles (``columns={"class": "cell_type"}``), can give
``x,y,w,h`` boxes (``box_format="xywh"``) and normalized coordinates.

Pixel convention. CSV coordinates are read as continuous pixel corners
(``xmin`` is the box's left edge), which is how ``generate_tfrecord.py``
normalizes them (``xmin / width``); they enter the hub unchanged.

A row whose class and coordinates are all empty declares an image without
objects (a negative).
"""

from __future__ import annotations

import csv as _csv
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.registry import SourceFormat, require_images
from dataprep.validate.findings import DROPPED_BOX, ERROR, Finding

ROLES_XYXY = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
ROLES_XYWH = ("filename", "width", "height", "class", "x", "y", "w", "h")
OPTIONAL = ("width", "height")


def parse_columns(spec: str | None) -> tuple[dict[str, str], list[str] | None]:
    """``"class=cell_type,xmin=x1"`` -> role mapping; ``"filename,cell_type,..."``
    (no ``=``) -> names for the file's columns in order (a headerless file, or a
    renaming of all columns)."""
    if not spec:
        return {}, None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if all("=" in p for p in parts):
        return dict(p.split("=", 1) for p in parts), None
    if any("=" in p for p in parts):
        raise UsageError(f"--columns mixes 'role=column' pairs and plain names: {spec!r}")
    return {}, parts


def _load_rows(path: Path, header: bool, names: list[str] | None, findings: list[Finding]):
    """The rows as a string table, their 1-based line numbers, and the number
    of malformed rows (wrong field count), each reported as a finding."""
    src = str(path)
    rows, lines, bad = [], [], 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = _csv.reader(f, skipinitialspace=True)
            columns = next(reader, None) if header else None
            if header and columns is None:
                raise AnnotationError(f"{src}: the file is empty (no header row)")
            columns = [c.strip() for c in (names or columns or [])]
            for row in reader:
                if not any(c.strip() for c in row):
                    continue  # blank line
                if not columns:
                    columns = [str(i) for i in range(len(row))]
                if len(row) != len(columns):
                    bad += 1
                    findings.append(Finding(ERROR, "csv.bad_row", f"line {reader.line_num}", src,
                                            f"line {reader.line_num}: {len(row)} fields, expected {len(columns)} "
                                            f"({', '.join(columns)}): {','.join(row)[:120]!r}", DROPPED_BOX))
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{src}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except _csv.Error as exc:
        raise AnnotationError(f"{src}: malformed CSV: {exc}") from None
    df = pd.DataFrame(rows, columns=columns, dtype=object) if columns else pd.DataFrame()
    return df, np.asarray(lines, dtype=np.int64), bad


def read_csv(
    file: str | Path,
    *,
    images: str | Path,
    columns: dict[str, str] | None = None,
    names: list[str] | None = None,
    header: bool = True,
    normalized: bool = False,
    box_format: str = "xyxy",
) -> Dataset:
    """Read a one-row-per-box CSV into a :class:`Dataset`.

    ``columns`` maps roles (``filename, width, height, class, xmin, ymin,
    xmax, ymax`` or ``x, y, w, h``) to the file's column names; ``names`` gives
    the file's column names in order (for files without a header row, or to
    rename every column).
    """
    path = Path(file)
    img_dir = Path(images)
    if not path.is_file():
        raise UsageError(f"{path}: CSV file not found")
    if not img_dir.is_dir():
        raise UsageError(f"{img_dir}: images folder not found")
    if box_format not in ("xyxy", "xywh"):
        raise UsageError(f"--box-format must be xyxy or xywh, got {box_format!r}")
    roles = ROLES_XYXY if box_format == "xyxy" else ROLES_XYWH
    src = str(path)
    findings: list[Finding] = []
    df, line, bad_rows = _load_rows(path, header, names, findings)
    mapping = {role: role for role in roles}
    mapping.update(columns or {})
    missing = [f"{role} (column {col!r})" for role, col in mapping.items()
               if col not in df.columns and role not in OPTIONAL]
    if missing:
        raise UsageError(f"{src}: missing columns {', '.join(missing)}; the file has {', '.join(df.columns)}. "
                         "Map them with --columns role=column,...")

    def col(role):
        name = mapping[role]
        return df[name].str.strip() if name in df.columns else pd.Series([""] * len(df), index=df.index)

    files = col("filename")
    no_file = files == ""
    for ln in line[no_file.to_numpy()]:
        findings.append(Finding(ERROR, "csv.missing_filename", f"line {ln}", src,
                                f"line {ln}: the {mapping['filename']!r} column is empty", DROPPED_BOX))
    coord_roles = roles[4:]
    raw = np.stack([col(r).to_numpy() for r in coord_roles], axis=1) if len(df) else np.zeros((0, 4), object)
    coords = np.stack([pd.to_numeric(col(r), errors="coerce").to_numpy(dtype=float) for r in coord_roles], axis=1) \
        if len(df) else np.zeros((0, 4))
    text = col("class")
    negative = (text == "").to_numpy() & (raw == "").all(axis=1) if len(df) else np.zeros(0, bool)
    bad_num = np.isnan(coords).any(axis=1) & ~negative & ~no_file.to_numpy()
    for ln, r in zip(line[bad_num], raw[bad_num]):
        findings.append(Finding(ERROR, "csv.non_numeric", f"line {ln}", src,
                                f"line {ln}: box {tuple(r)} has missing or non-numeric values", DROPPED_BOX))

    dropped_per_file = files[bad_num].value_counts()
    width = pd.to_numeric(col("width"), errors="coerce")
    height = pd.to_numeric(col("height"), errors="coerce")
    keep = ~no_file.to_numpy()
    table = pd.DataFrame({"file": files, "width": width, "height": height, "line": line})[keep]
    images_df = table.groupby("file", sort=True, as_index=False).agg(
        width=("width", "first"), height=("height", "first"), line=("line", "first"))
    images_df["image_id"] = np.arange(1, len(images_df) + 1)
    images_df["annotation"] = src + ":" + images_df["line"].astype(str)
    images_df["split"] = "train"
    images_df["reader_dropped"] = images_df["file"].map(dropped_per_file).fillna(0).astype("int32")
    id_of = dict(zip(images_df["file"], images_df["image_id"]))

    box_rows = keep & ~negative & ~bad_num
    xyxy = convert(coords[box_rows], box_format, "xyxy") if box_rows.any() else np.zeros((0, 4))
    rows = df[box_rows]
    objects_df = pd.DataFrame({
        "image_id": files[box_rows].map(id_of).to_numpy(),
        "index": rows.groupby(files[box_rows]).cumcount().to_numpy(),
        "text": text[box_rows].to_numpy(),
        "xmin": xyxy[:, 0], "ymin": xyxy[:, 1], "xmax": xyxy[:, 2], "ymax": xyxy[:, 3],
    })
    return Dataset.build(
        images_df.drop(columns="line"), objects_df, img_dir, findings=findings,
        dropped_boxes=int(no_file.sum() + bad_num.sum()) + bad_rows, box_units="normalized" if normalized else "pixel",
        source={"format": "csv", "file": src, "images": str(img_dir), "columns": mapping,
                "normalized": normalized, "box_format": box_format},
    )


# -- the source registry's declaration (see dataprep.formats.registry) -----------------

def detect(path: Path) -> bool:
    """A ``.csv`` file."""
    return path.suffix.lower() == ".csv" and not path.is_dir()


def open_source(spec) -> Dataset:
    require_images(spec, "CSV")
    mapping, names = parse_columns(spec.columns)
    return read_csv(spec.path, images=spec.images, columns=mapping, names=names, header=spec.header,
                    normalized=spec.normalized, box_format=spec.box_format)


SOURCE = SourceFormat("csv", detect, open_source, "a .csv")
