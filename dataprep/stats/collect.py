"""Gather the columnar box and image tables that ``dataprep stats`` summarises.

Two sources fill the same :class:`BoxTable`:

* records (a dataprep output folder, a folder or glob of TFRecord files, any
  TF OD API-style records): streamed one example at a time with the
  TensorFlow-free reader; image bytes are dropped as soon as an example is
  decoded, so memory holds only a few numbers per box and per image;
* a source annotation set, through the readers (:func:`read_voc`,
  :func:`read_coco`, :func:`read_csv`) and the dataset model.

Boxes are stored normalized (``ymin, xmin, ymax, xmax`` as fractions of the
image) with the image size in pixels beside them, so pixel sizes are one
multiplication away and the model-input frame of the anchor analysis is too.
"""

from __future__ import annotations

import glob
import io
import os
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from dataprep.dataset import split_names
from dataprep.errors import UsageError
from dataprep.formats.registry import READERS
from dataprep.records.naming import looks_like_records
from dataprep.records.recordset import RecordSet

#: What ``dataprep stats`` reads: records, or any format of the source registry.
FORMATS = ("auto", "records", *READERS)
#: Boxes buffered as Python values before they are packed into numpy chunks.
_CHUNK = 1 << 16


@dataclass
class BoxTable:
    """Every box and image of a dataset as columns.

    ``images`` has one row per image: ``split`` (categorical over
    ``split_names``), ``file``, ``width``, ``height`` (pixels) and
    ``num_boxes``. Box arrays are aligned: ``image`` is the box's row in
    ``images``, ``label`` its index into ``class_names``, ``boxes`` the
    normalized ``ymin, xmin, ymax, xmax`` (float32, the precision of records:
    1e-4 px on a 1000 px image).
    """

    images: pd.DataFrame
    image: np.ndarray  # (M,) int64
    label: np.ndarray  # (M,) int32
    boxes: np.ndarray  # (M, 4) float32, as records store them
    class_names: list[str]
    split_names: list[str]
    source: dict = field(default_factory=dict)
    #: Images the source lists but that cannot be used (unreadable annotation,
    #: unknown size, in no split); their boxes are not counted.
    skipped_images: int = 0
    #: Boxes that are not a box (NaN, or max <= min); left out of the tables.
    invalid_boxes: int = 0

    @property
    def num_images(self) -> int:
        return len(self.images)

    @property
    def num_boxes(self) -> int:
        return int(self.image.shape[0])

    def image_split(self) -> np.ndarray:
        """Split code (index into ``split_names``) per image."""
        return self.images["split"].cat.codes.to_numpy().astype(np.int64)

    def box_split(self) -> np.ndarray:
        """Split code per box."""
        return self.image_split()[self.image]

    def pixel_size(self) -> tuple[np.ndarray, np.ndarray]:
        """Box width and height in pixels of the image as stored (float64)."""
        w_img = self.images["width"].to_numpy(dtype=np.float64)[self.image]
        h_img = self.images["height"].to_numpy(dtype=np.float64)[self.image]
        b = self.boxes
        width = b[:, 3].astype(np.float64) - b[:, 1]
        width *= w_img
        height = b[:, 2].astype(np.float64) - b[:, 0]
        height *= h_img
        return width, height

    def select_split(self, name: str) -> "BoxTable":
        """Only the images and boxes of one split."""
        if name not in self.split_names:
            raise UsageError(f"--split {name!r}: no such split; the data has {', '.join(self.split_names) or 'none'}")
        keep_img = self.image_split() == self.split_names.index(name)
        new_row = np.cumsum(keep_img) - 1
        keep_box = keep_img[self.image]
        images = self.images.loc[keep_img].reset_index(drop=True)
        images["split"] = pd.Categorical(images["split"].astype(str), categories=[name])
        return replace(self, images=images, image=new_row[self.image[keep_box]], label=self.label[keep_box],
                       boxes=self.boxes[keep_box], split_names=[name])


def order_splits(names: Iterable[str]) -> list[str]:
    return split_names(names)


def _make_table(split: np.ndarray, file: list[str], width: np.ndarray, height: np.ndarray, image: np.ndarray,
                text_codes: np.ndarray, texts: list[str], boxes: np.ndarray, split_names: list[str] | None = None,
                **extra) -> BoxTable:
    """Build a table; classes are renumbered in sorted name order."""
    names = sorted(set(np.asarray(texts, dtype=object)[np.unique(text_codes)].tolist())) if len(text_codes) else []
    remap = np.array([names.index(t) if t in names else -1 for t in texts], dtype=np.int32)
    label = remap[text_codes] if len(text_codes) else np.zeros(0, np.int32)
    split_names = split_names or order_splits(split)
    num_boxes = np.bincount(image, minlength=len(file)).astype(np.int64) if len(file) else np.zeros(0, np.int64)
    images = pd.DataFrame({
        "split": pd.Categorical(np.asarray(split, dtype=object), categories=split_names),
        "file": pd.Series(file, dtype=object),
        "width": np.asarray(width, dtype=np.float64),
        "height": np.asarray(height, dtype=np.float64),
        "num_boxes": num_boxes,
    })
    return BoxTable(images=images, image=np.asarray(image, np.int64), label=label.astype(np.int32),
                    boxes=np.asarray(boxes, np.float32).reshape(-1, 4), class_names=names, split_names=split_names,
                    **extra)


# --------------------------------------------------------------------- records
def _label_names(records: RecordSet) -> dict[int, str]:
    """id -> name from the label map beside the records, for records without class/text."""
    path = records.label_map_path()
    if path is None:
        return {}
    from dataprep.errors import DataprepError
    from dataprep.label_map import LabelMap

    try:
        return {item.id: item.name for item in LabelMap.read(path)}
    except DataprepError:
        return {}


class _Growing:
    """A column filled from Python lists and packed into numpy chunks of about
    :data:`_CHUNK` values, so the temporaries stay small."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.buffer: list = []
        self.parts: list[np.ndarray] = []

    def extend(self, values) -> None:
        self.buffer.extend(values)
        if len(self.buffer) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.parts.append(np.array(self.buffer, dtype=self.dtype))
            self.buffer = []

    def array(self) -> np.ndarray:
        self.flush()
        out = np.concatenate(self.parts) if self.parts else np.zeros(0, self.dtype)
        self.parts = []
        return out


def _header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the image header; the pixels are not decoded."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


_STATS_KEYS = ("image/height", "image/width", "image/filename", "image/object/bbox/ymin", "image/object/bbox/xmin",
               "image/object/bbox/ymax", "image/object/bbox/xmax", "image/object/class/text",
               "image/object/class/label")


def collect_records(src: str | Path, *, split: str | None = None, progress: bool = False,
                    max_examples: int | None = None) -> BoxTable:
    """Stream TFRecords of ``tf.train.Example`` (TF OD API keys) into a table.

    Image sizes come from ``image/width`` and ``image/height`` (the image
    header when they are missing); class names from ``image/object/class/text``,
    else the label map beside the records, else ``id N``. ``max_examples``:
    stop after that many (a sample: dataprep writes its shards in a shuffled order).
    """
    from dataprep.records.example import decode_example
    from dataprep.records.framing import RecordError

    records = RecordSet.find(src, split)
    for f in records.files:
        if not f.path.is_file():
            raise UsageError(f"{f.path}: record file listed in the manifest is missing")
    id_names = _label_names(records)
    manifest = records.manifest or {}
    total = sum(int(info.get("examples", 0)) for s, info in manifest.get("splits", {}).items()
                if split is None or s == split) or None

    codes: dict[str, int] = {}
    split_codes: dict[str, int] = {}
    ymin, xmin, ymax, xmax = (_Growing(np.float32) for _ in range(4))
    image_col, text_col = _Growing(np.int64), _Growing(np.int32)
    width_col, height_col, split_col = _Growing(np.float64), _Growing(np.float64), _Growing(np.int32)
    file_names: list[str] = []

    from dataprep.progress import progress_bar

    bar = progress_bar(total, "stats", "ex", progress)
    n_images = n_boxes = 0
    try:
        for f in records.files:  # every file's split, in reading order, even one with no record
            split_codes.setdefault(f.split, len(split_codes))
        for file, k, rec in records.scan(strict=True):
            if max_examples is not None and n_images >= max_examples:
                break
            path, data, s_code = file.path, rec.data, split_codes[file.split]
            try:
                ex = decode_example(data, _STATS_KEYS)
            except Exception as exc:  # protobuf DecodeError, bad UTF-8
                raise RecordError(f"{path}: record {k} is not a tf.train.Example "
                                  f"({type(exc).__name__}: {exc})") from None
            w, h = ex["width"], ex["height"]
            if w <= 0 or h <= 0:
                try:
                    w, h = _header_size(decode_example(data, ("image/encoded",))["encoded"])
                except Exception as exc:
                    raise RecordError(f"{path}: record {k} has no image/width, image/height and its image "
                                      f"header is unreadable ({type(exc).__name__}: {exc})") from None
            feats = ex["features"]
            n = len(feats.get("image/object/bbox/ymin", ()))
            texts = ex["texts"]
            if len(texts) != n:
                labels = ex["labels"]
                texts = ([id_names.get(lbl, f"id {lbl}") for lbl in labels] if len(labels) == n
                         else ["(no class)"] * n)
            ymin.extend(feats.get("image/object/bbox/ymin", ()))
            xmin.extend(feats.get("image/object/bbox/xmin", ()))
            ymax.extend(feats.get("image/object/bbox/ymax", ()))
            xmax.extend(feats.get("image/object/bbox/xmax", ()))
            text_col.extend([codes.setdefault(t, len(codes)) for t in texts])
            image_col.extend(repeat(n_images, n))
            width_col.extend((w,))
            height_col.extend((h,))
            split_col.extend((s_code,))
            file_names.append(ex["filename"] or ex["source_id"])
            n_images += 1
            n_boxes += n
            bar.update(1)
    finally:
        bar.close()
    boxes = np.empty((n_boxes, 4), np.float32)
    for j, column in enumerate((ymin, xmin, ymax, xmax)):
        boxes[:, j] = column.array()
    image = image_col.array()
    text_codes = text_col.array()
    split_list = list(split_codes)
    split_of_image = np.asarray(split_list, dtype=object)[split_col.array()] if n_images else np.zeros(0, object)
    valid = _valid(boxes)
    invalid = int(boxes.shape[0] - valid.sum())
    if invalid:
        boxes, image, text_codes = boxes[valid], image[valid], text_codes[valid]
    source = {"kind": "records", "path": os.fspath(src), "files": len(records.files)}
    return _make_table(split_of_image, file_names, width_col.array(), height_col.array(), image, text_codes,
                       list(codes), boxes, split_names=order_splits(split_list) if split is None else [split],
                       source=source, invalid_boxes=invalid)


def _valid(boxes: np.ndarray) -> np.ndarray:
    """Boxes that are boxes: finite, ymax > ymin and xmax > xmin."""
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


# ---------------------------------------------------------------------- sources
def collect_dataset(ds, *, split: str | None = None) -> BoxTable:
    """A :class:`~dataprep.dataset.Dataset` (what the readers return) as a table.

    Boxes are in pixels of the annotated size (the ``width``/``height``
    columns; the image header's size where the annotation has none), or
    fractions of it for ``box_units == "normalized"``. Images the reader
    already knows to be unusable are counted in ``skipped_images``.
    """
    images = ds.images
    usable = (images["error"] == "").to_numpy().copy()
    width = images["width"].to_numpy(dtype=np.float64).copy()
    height = images["height"].to_numpy(dtype=np.float64).copy()
    unknown = usable & ~(np.isfinite(width) & np.isfinite(height) & (width > 0) & (height > 0))
    from dataprep.validate.images import safe_join

    for pos in np.flatnonzero(unknown):  # only images whose annotation states no usable size
        path = safe_join(Path(ds.images_root), images["file"].iat[pos])  # never outside the images folder
        try:
            if path is None:
                raise ValueError("outside the images folder")
            with open(path, "rb") as f:
                width[pos], height[pos] = _header_size(f.read(1 << 20))
        except Exception:
            usable[pos] = False
    wanted = np.ones(len(images), bool)
    if split is not None:
        wanted = (images["split"] == split).to_numpy()
        if not (usable & wanted).any():
            known = order_splits(images.loc[usable, "split"].astype(str))
            raise UsageError(f"--split {split!r}: no such split; the data has {', '.join(known) or 'none'}")
    skipped = int((~usable & wanted).sum())
    usable &= wanted
    new_row = np.cumsum(usable) - 1
    pos_of = pd.Series(np.arange(len(images)), index=images["image_id"].to_numpy())
    objs = ds.objects
    obj_pos = pos_of.reindex(objs["image_id"].to_numpy()).to_numpy()
    keep = usable[obj_pos]
    obj_pos = obj_pos[keep]
    xyxy = objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64)[keep]
    if ds.box_units == "pixel":
        # Hub pixel corners -> fractions of the annotated size.
        xyxy = xyxy / np.stack([width, height, width, height], axis=1)[obj_pos]
    boxes = xyxy[:, [1, 0, 3, 2]]
    valid = _valid(boxes)
    texts, text_codes = np.unique(objs["text"].to_numpy(dtype=object)[keep][valid].astype(str), return_inverse=True)
    fmt = ds.source.get("format", "source")
    path = ds.source.get("root") or ds.source.get("annotations") or ds.source.get("file") or ""
    return _make_table(
        images["split"].to_numpy(dtype=object)[usable], images["file"].to_numpy(dtype=object)[usable].tolist(),
        width[usable], height[usable], new_row[obj_pos[valid]], text_codes.reshape(-1), texts.tolist(),
        boxes[valid], split_names=[split] if split is not None else None,
        source={"kind": fmt, "path": str(path)}, skipped_images=skipped, invalid_boxes=int((~valid).sum()),
    )


# ---------------------------------------------------------------- detection
def detect_format(src: str) -> str:
    """What ``SRC`` is: ``records``, or an annotation format of the source registry.

    A folder with manifest.json or TFRecord files, a TFRecord-named or gzip
    file, or a glob -> records; otherwise the registry decides
    (:func:`dataprep.formats.registry.detect_format`: a VOC folder, a COCO
    ``.json``, a ``.csv`` ...).
    """
    from dataprep.formats.registry import detect_format as detect_source

    path = Path(src)
    if path.is_dir():
        if (path / "manifest.json").is_file():
            return "records"
        try:
            return detect_source(path)
        except UsageError:
            if any(p.is_file() and looks_like_records(p.name) for p in path.iterdir()):
                return "records"
            raise
    if path.is_file():
        if path.name == "manifest.json" or looks_like_records(path.name):
            return "records"
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":  # gzip: compressed TFRecords
                return "records"
    elif glob.has_magic(src):
        return "records"
    return detect_source(path)


def collect(
    src: str | Path,
    *,
    fmt: str = "auto",
    images: Path | None = None,
    year: str | None = None,
    annotations: Path | None = None,
    split: str | None = None,
    csv_columns: str | None = None,
    csv_header: bool = True,
    csv_normalized: bool = False,
    csv_box_format: str = "xyxy",
    progress: bool = False,
) -> BoxTable:
    """The table of any ``SRC`` ``dataprep stats`` accepts (see :func:`detect_format`)."""
    src = os.fspath(src)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "auto":
        fmt = detect_format(src)
    if fmt in ("records", "tfrecord"):  # any tool's records stream as records: no image is staged
        return collect_records(src, split=split, progress=progress)
    from dataprep.formats.registry import SourceSpec, open_source

    ds = open_source(SourceSpec(Path(src), format=fmt, images=images, annotations=annotations, year=year,
                                columns=csv_columns, header=csv_header, normalized=csv_normalized,
                                box_format=csv_box_format))
    table = collect_dataset(ds, split=split)
    table.source["format"] = fmt
    return table
