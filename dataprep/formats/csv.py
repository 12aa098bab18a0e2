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
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.registry import Argument, SourceFormat, option, require_images
from dataprep.options import csv_box_format_field, csv_columns_field, csv_header_field, csv_normalized_field
from dataprep.locations import is_url, location, url_exists
from dataprep.textio import TextFileError, read_text
from dataprep.findings import DROPPED_BOX, ERROR, KEPT, WARNING, Finding

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
        mapping = {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in parts)}
        unknown = [k for k in mapping if k not in ROLES_XYXY + ROLES_XYWH]
        if unknown:
            raise UsageError(f"--columns: unknown role {unknown[0]!r} in {spec!r}; roles are "
                             f"{', '.join(dict.fromkeys(ROLES_XYXY + ROLES_XYWH))}")
        return mapping, None
    if any("=" in p for p in parts):
        raise UsageError(f"--columns mixes 'role=column' pairs and plain names: {spec!r}")
    return {}, parts


def _physical_rows(lines: list[str], src: str, findings: list[Finding]):
    """``(line_number, fields)`` for each CSV row, with every physical line
    accounted for. A quoted field that runs over a line end is an unterminated
    quote in a file of boxes: without care it swallows every following row.
    That row is reported by the line its quote opens on, and parsing resumes on
    the next line."""
    start = 0  # 0-based index of the line the current reader began at
    while start < len(lines):
        reader = _csv.reader(itertools.islice(lines, start, None), skipinitialspace=True)
        consumed = 0
        while True:
            first = start + consumed + 1  # 1-based number of the row's first line
            try:
                row = next(reader)
            except StopIteration:
                return
            except _csv.Error as exc:
                findings.append(Finding(ERROR, "csv.bad_row", f"line {first}", src,
                                        f"line {first}: malformed CSV ({exc}): {lines[first - 1][:120]!r}",
                                        DROPPED_BOX, annotation=f"{src}:{first}"))
                start = first
                break
            if reader.line_num - consumed > 1 and any("\n" in field for field in row):
                findings.append(Finding(ERROR, "csv.unterminated_quote", f"line {first}", src,
                                        f"line {first}: a quoted field is not closed on its line (it would run "
                                        f"over {reader.line_num - consumed - 1} more lines): "
                                        f"{lines[first - 1].rstrip()[:120]!r}", DROPPED_BOX,
                                        annotation=f"{src}:{first}"))
                start = first
                break
            consumed = reader.line_num
            yield first, row


def _load_rows(path: Path, header: bool, names: list[str] | None, findings: list[Finding]):
    """The rows as a string table, their 1-based line numbers, and the number
    of malformed rows (wrong field count, unterminated quote), each reported
    as a finding."""
    src = str(path)
    try:
        text = read_text(path, "CSV file")
    except TextFileError as exc:
        raise AnnotationError(str(exc)) from None
    lines = [line + "\n" for line in text.split("\n")]  # physical lines (str.splitlines also splits at \x0c)
    if lines[-1] == "\n":
        lines.pop()
    rows, line_numbers = [], []
    columns: list[str] | None = None
    seen_header = not header
    before = len(findings)
    for line_no, row in _physical_rows(lines, src, findings):
        if not seen_header:
            columns, seen_header = row, True
            continue
        if not any(c.strip() for c in row):
            continue  # blank line
        if columns is None:
            columns = names or [str(i) for i in range(len(row))]
        if len(row) != len(columns):
            findings.append(Finding(ERROR, "csv.bad_row", f"line {line_no}", src,
                                    f"line {line_no}: {len(row)} fields, expected {len(columns)} "
                                    f"({', '.join(columns)}): {','.join(row)[:120]!r}", DROPPED_BOX,
                                    annotation=f"{src}:{line_no}"))
            continue
        rows.append(row)
        line_numbers.append(line_no)
    bad = len(findings) - before  # every finding so far is a refused row
    if header and not seen_header:
        raise AnnotationError(f"{src}: the file is empty (no header row)")
    columns = [c.strip() for c in (names or columns or [])]
    columns = _unique_columns(columns, src, findings)
    df = pd.DataFrame(rows, columns=columns, dtype=object) if columns else pd.DataFrame()
    return df, np.asarray(line_numbers, dtype=np.int64), bad


def _unique_columns(columns: list[str], src: str, findings: list[Finding]) -> list[str]:
    """Two columns of one name would make every lookup ambiguous: the first
    keeps the name, the others are renamed ``name.2``, ``name.3`` and reported."""
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        if seen[c] == 1:
            out.append(c)
            continue
        new = f"{c}.{seen[c]}"
        while new in columns or new in out:
            new += "_"
        findings.append(Finding(WARNING, "csv.duplicate_column", f"column {c!r}", src,
                                f"the header names column {c!r} more than once; the first is used, "
                                f"this one is renamed {new!r}", KEPT, annotation=src, value=c))
        out.append(new)
    return out


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
    path = location(file)  # a URL (--runner beam) is read whole by the launcher, through Beam's FileSystems
    img_dir = location(images)
    if not (url_exists(path) if is_url(path) else path.is_file()):
        raise UsageError(f"{path}: CSV file not found")
    if not is_url(img_dir) and not img_dir.is_dir():
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
                                f"line {ln}: the {mapping['filename']!r} column is empty", DROPPED_BOX,
                                annotation=f"{src}:{ln}"))
    coord_roles = roles[4:]
    raw = np.stack([col(r).to_numpy() for r in coord_roles], axis=1) if len(df) else np.zeros((0, 4), object)
    coords = np.stack([pd.to_numeric(col(r), errors="coerce").to_numpy(dtype=float) for r in coord_roles], axis=1) \
        if len(df) else np.zeros((0, 4))
    text = col("class")
    negative = (text == "").to_numpy() & (raw == "").all(axis=1) if len(df) else np.zeros(0, bool)
    bad_num = np.isnan(coords).any(axis=1) & ~negative & ~no_file.to_numpy()
    for ln, r in zip(line[bad_num], raw[bad_num]):
        findings.append(Finding(ERROR, "csv.non_numeric", f"line {ln}", src,
                                f"line {ln}: box {tuple(r)} has missing or non-numeric values", DROPPED_BOX,
                                annotation=f"{src}:{ln}", value=[str(v) for v in r]))

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


@dataclass(frozen=True)
class CsvOptions:
    """``dataprep convert csv``'s reader options."""

    images: str | None = field(default=None, metadata=option(
        "--images", help="Folder the filename column is relative to (with --runner beam also a gs://, s3:// or "
                         "hdfs:// URL).", required=True))
    columns: str | None = csv_columns_field()
    header: bool = csv_header_field()
    normalized: bool = csv_normalized_field()
    box_format: str = csv_box_format_field()


def open_source(spec) -> Dataset:
    opts = spec.options_for(CsvOptions)
    require_images(spec, opts.images, "CSV")
    mapping, names = parse_columns(opts.columns)
    return read_csv(spec.path, images=opts.images, columns=mapping, names=names, header=opts.header,
                    normalized=opts.normalized, box_format=opts.box_format)


SOURCE = SourceFormat(
    "csv", detect, open_source, "a .csv", urls=True, options=CsvOptions,
    argument=Argument("file", "CSV with one row per box (with --runner beam also a URL, read by the launcher)."),
    summary="CSV, TF OD API layout filename,width,height,class,xmin,ymin,xmax,ymax by default.")
