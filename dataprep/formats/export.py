"""Write a :class:`Dataset` back out as a VOC, COCO or YOLO folder, images
included (``dataprep export-annotations`` after reading records, and the
bundled sample data).

Each format's own pixel convention, from the hub (continuous ``xyxy`` pixel
corners, :mod:`dataprep.boxes`), in this one table; each reader states the
inverse where it applies it::

    voc   <bndbox> 1-based inclusive pixel columns:  xmin = x0 + 1, ymin = y0 + 1, xmax = x1, ymax = y1
    coco  bbox [x, y, w, h], continuous:               x = x0, y = y0, w = x1 - x0, h = y1 - y0
    yolo  cx cy w h as fractions of the image size:  cx = (x0 + x1) / 2 / W, w = (x1 - x0) / W, ...

Layouts::

    voc   OUT/JPEGImages/<name>  OUT/Annotations/<stem>.xml  OUT/ImageSets/Main/<split>.txt
    coco  OUT/images/<file>      OUT/annotations/instances_<split>.json
    yolo  OUT/images/<split>/<name>  OUT/labels/<split>/<stem>.txt  OUT/data.yaml

VOC and YOLO find annotations by the image's stem: a leading ``images/`` and
split folder are dropped (the layout has its own), VOC writes a file in a
subfolder flat as ``sub_name.jpg``, and a repeated stem gets ``-2``, ``-3``.
Coordinates within 1e-4 px (plus float32 rounding) of an integer are written
as that integer; others keep six decimals.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.label_map import LabelMap
from dataprep.records.image_store import place_image

FORMATS = ("coco", "voc", "yolo")

#: hub xyxy pixels -> the format's numbers (see the module docstring).
_FROM_HUB = {
    "voc": lambda b, w, h: b + np.array([1.0, 1.0, 0.0, 0.0]),
    "coco": lambda b, w, h: convert(b, "xyxy", "xywh"),
    "yolo": lambda b, w, h: convert(b, "xyxy", "cxcywh") / np.stack([w, h, w, h], axis=1),
}


@dataclass
class ExportResult:
    out: Path
    format: str
    images: int = 0
    boxes: int = 0
    files: list[Path] = field(default_factory=list)


def image_sizes(ds: Dataset) -> pd.DataFrame:
    """``width, height`` per image; read from the image header where the
    source states none (YOLO)."""
    from PIL import Image

    images = ds.images[ds.images["error"] == ""].reset_index(drop=True)
    missing = ~(images["width"] > 0) | ~(images["height"] > 0)
    for k in np.flatnonzero(missing.to_numpy()):
        try:
            with Image.open(ds.images_root / images.at[k, "file"]) as im:
                images.at[k, "width"], images.at[k, "height"] = im.size
        except (OSError, ValueError) as exc:
            raise UsageError(f"{ds.images_root / images.at[k, 'file']}: size unknown and the image does not "
                             f"open ({exc})") from None
    return images


def pixel_boxes(ds: Dataset, images: pd.DataFrame) -> np.ndarray:
    """The objects' hub boxes in pixels, snapped to integers where they are
    integers up to float32 rounding of normalized records."""
    boxes = ds.objects[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64)
    size = images.set_index("image_id").reindex(ds.objects["image_id"])[["width", "height"]].to_numpy(np.float64)
    if ds.box_units == "normalized":
        boxes = boxes * np.concatenate([size, size], axis=1)
    tol = 1e-4 + 2.5e-7 * np.concatenate([size, size], axis=1)  # float32 fractions of W, H
    near = np.round(boxes)
    return np.where(np.abs(boxes - near) <= tol, near, boxes)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}".rstrip("0")


def _short(file: str, split: str) -> str:
    """``images/train/a.jpg`` (a YOLO source's path) -> ``a.jpg``: the split's folder is the layout's."""
    file = file.replace("\\", "/")
    for prefix in ("images/", f"{split}/"):
        if file.startswith(prefix) and len(file) > len(prefix):
            file = file[len(prefix):]
    return file


def _flat_names(images: pd.DataFrame, flat: bool = True) -> list[str]:
    """Stem-unique names (VOC and YOLO find annotations by stem), flat for VOC."""
    out, seen = [], {}
    for f, split in zip(images["file"], images["split"]):
        name = _short(f, split).replace("/", "_") if flat else _short(f, split)
        stem, ext = os.path.splitext(name)
        n = seen.get(stem.lower(), 0) + 1
        seen[stem.lower()] = n
        out.append(name if n == 1 else f"{stem}-{n}{ext}")
    return out


def _place(ds: Dataset, file: str, dest: Path, move: bool) -> None:
    """Image ``file`` of ``ds`` to ``dest``: moved, copied, or written from
    the records that hold it (a dataset read from records without staging)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if move and ds.image_store is None:
        os.replace(ds.images_root / file, dest)
    else:
        place_image(ds.image_store, ds.images_root, file, dest)


def export_annotations(ds: Dataset, out: str | Path, fmt: str, *, label_map: LabelMap | None = None,
                       move_images: bool = False) -> ExportResult:
    """Write ``ds`` (annotations and images) to ``out`` as ``fmt`` (see the
    module docstring). ``move_images`` moves the files out of the dataset's
    images root instead of copying them (for a staging folder)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    label_map = label_map or ds.label_map or LabelMap.from_names(ds.class_names())
    images = image_sizes(ds)  # the usable images only: the reader's skipped ones have no file
    objs = ds.objects[ds.objects["image_id"].isin(images["image_id"])]
    sub = Dataset(images, objs.reset_index(drop=True), ds.images_root, ds.box_units, label_map,
                  image_store=ds.image_store)
    boxes = pixel_boxes(sub, images)
    result = ExportResult(out, fmt, images=len(images), boxes=len(objs))
    writer = {"voc": _write_voc, "coco": _write_coco, "yolo": _write_yolo}[fmt]
    writer(sub, images, boxes, label_map, out, result, move_images)
    return result


def _objects_by_image(ds: Dataset, boxes: np.ndarray) -> dict:
    groups: dict = {}
    for k, image_id in enumerate(ds.objects["image_id"].to_numpy()):
        groups.setdefault(int(image_id), []).append(k)
    return groups


def _write_voc(ds, images, boxes, label_map, out, result, move):
    numbers = _FROM_HUB["voc"](boxes, None, None)
    by_image = _objects_by_image(ds, boxes)
    o = ds.objects
    splits: dict[str, list[str]] = {}
    for row, name in zip(images.itertuples(), _flat_names(images)):
        stem = os.path.splitext(name)[0]
        _place(ds, row.file, out / "JPEGImages" / name, move)
        objects = []
        for k in by_image.get(int(row.image_id), []):
            xmin, ymin, xmax, ymax = (_num(v) for v in numbers[k])
            pose = f"<pose>{escape(o['view'].iat[k])}</pose>" if o["view"].iat[k] else ""
            objects.append(
                f"  <object><name>{escape(o['text'].iat[k])}</name>{pose}"
                f"<truncated>{int(o['truncated'].iat[k])}</truncated><difficult>{int(o['difficult'].iat[k])}"
                f"</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
                f"</bndbox></object>\n")
        xml = (f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{escape(name)}</filename>\n"
               f"  <size><width>{int(row.width)}</width><height>{int(row.height)}</height><depth>3</depth></size>\n"
               f"  <segmented>0</segmented>\n{''.join(objects)}</annotation>\n")
        path = out / "Annotations" / f"{stem}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
        splits.setdefault(row.split, []).append(stem)
    main = out / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, stems in splits.items():
        (main / f"{split}.txt").write_text("".join(s + "\n" for s in stems), encoding="utf-8")
        result.files.append(main / f"{split}.txt")


def _write_coco(ds, images, boxes, label_map, out, result, move):
    from dataprep.formats.write import write_coco

    for row in images.itertuples():
        _place(ds, row.file, out / "images" / row.file, move)
    pixel = Dataset(images, ds.objects.assign(xmin=boxes[:, 0], ymin=boxes[:, 1], xmax=boxes[:, 2], ymax=boxes[:, 3]),
                    out / "images", "pixel", label_map)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split in images["split"].unique():
        result.files.append(write_coco(pixel, out / "annotations" / f"instances_{split}.json", label_map=label_map,
                                       split=split))


def _write_yolo(ds, images, boxes, label_map, out, result, move):
    size = images.set_index("image_id").reindex(ds.objects["image_id"])[["width", "height"]].to_numpy(np.float64)
    numbers = _FROM_HUB["yolo"](boxes, size[:, 0], size[:, 1]) if len(boxes) else np.zeros((0, 4))
    yolo_id = {item.name: k for k, item in enumerate(label_map)}  # YOLO ids are 0..K-1 in label-map order
    by_image = _objects_by_image(ds, boxes)
    texts = ds.objects["text"].to_numpy()
    splits = []
    for row, name in zip(images.itertuples(), _flat_names(images, flat=False)):
        stem = os.path.splitext(name)[0]
        _place(ds, row.file, out / "images" / row.split / name, move)
        lines = []
        for k in by_image.get(int(row.image_id), []):
            if texts[k] not in yolo_id:
                raise UsageError(f"{row.file}: class {texts[k]!r} is not in the label map "
                                 f"({', '.join(label_map.names)})")
            lines.append(f"{yolo_id[texts[k]]} " + " ".join(f"{v:.8g}" for v in numbers[k]) + "\n")
        path = out / "labels" / row.split / f"{stem}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines), encoding="utf-8")
        if row.split not in splits:
            splits.append(row.split)
    order = ("train", "val", "test")
    splits.sort(key=lambda s: (order.index(s) if s in order else len(order), s))
    names = "".join(f"  {k}: {_yaml_str(item.name)}\n" for k, item in enumerate(label_map))
    yaml = ("# Ultralytics YOLO dataset written by dataprep export-annotations\npath: .\n"
            + "".join(f"{s}: images/{s}\n" for s in splits) + f"nc: {len(label_map)}\nnames:\n{names}")
    (out / "data.yaml").write_text(yaml, encoding="utf-8")
    result.files.append(out / "data.yaml")


def _yaml_str(name: str) -> str:
    plain = name and name.strip() == name and not any(c in name for c in ":#'\"[]{},&*!|>%@`") \
        and name not in ("null", "~", "None") and not name.lstrip("-").isdigit()
    return name if plain else "'" + name.replace("'", "''") + "'"


def export_records(records: str | Path, out: str | Path, fmt: str, *, label_map: str | Path | None = None,
                   overwrite: bool = False) -> tuple[ExportResult, list]:
    """``dataprep export-annotations``: records (a dataprep output folder, a
    file or a glob) -> a ``fmt`` folder with the images and annotations.
    Returns the result and the reader's findings (damaged records are
    skipped and listed there)."""
    from dataprep.records.output import prepare_output
    from dataprep.formats.tfrecord import read_tfrecord

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    if label_map is None and Path(records).is_dir() and (Path(records) / "label_map.pbtxt").is_file():
        label_map = Path(records) / "label_map.pbtxt"  # a dataprep output: keep its ids and order
    prepare_output(out, overwrite)
    stage = out / ".staging"
    try:
        ds = read_tfrecord(records, label_map=label_map, images_dir=stage)
        result = export_annotations(ds, out, fmt, move_images=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result, ds.findings
