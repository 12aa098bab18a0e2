"""Write a :class:`Dataset` back out as a VOC, COCO or YOLO folder, images
included (``dataprep export-annotations`` after reading records, and the
bundled sample data).

Each format owns its writer and pixel convention (``from_hub``: the hub's
continuous ``xyxy`` pixel corners, :mod:`dataprep.boxes`, to the format's
numbers, beside the reader's inverse) in its module, and registers the writer
as ``SourceFormat.write`` (:mod:`dataprep.formats.registry`). This module holds
what every writer shares: the usable images and their sizes, pixel boxes,
stem-unique names, placing the image files. Layouts::

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

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.label_map import LabelMap
from dataprep.records.image_store import place_image

def formats() -> tuple[str, ...]:
    """The formats ``export-annotations`` writes: those of the registry with a writer."""
    from dataprep.formats.registry import writers

    return tuple(sorted(writers()))


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


def number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}".rstrip("0")


def _short(file: str, split: str) -> str:
    """``images/train/a.jpg`` (a YOLO source's path) -> ``a.jpg``: the split's folder is the layout's."""
    file = file.replace("\\", "/")
    for prefix in ("images/", f"{split}/"):
        if file.startswith(prefix) and len(file) > len(prefix):
            file = file[len(prefix):]
    return file


def flat_names(images: pd.DataFrame, flat: bool = True) -> list[str]:
    """Stem-unique names (VOC and YOLO find annotations by stem), flat for VOC."""
    out, seen = [], {}
    for f, split in zip(images["file"], images["split"]):
        name = _short(f, split).replace("/", "_") if flat else _short(f, split)
        stem, ext = os.path.splitext(name)
        n = seen.get(stem.lower(), 0) + 1
        seen[stem.lower()] = n
        out.append(name if n == 1 else f"{stem}-{n}{ext}")
    return out


def place(ds: Dataset, file: str, dest: Path, move: bool) -> None:
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
    from dataprep.formats.registry import writers

    known = writers()
    if fmt not in known:
        raise UsageError(f"--format must be one of {', '.join(sorted(known))}, got {fmt!r}")
    out = Path(out)
    label_map = label_map or ds.label_map or LabelMap.from_names(ds.class_names())
    images = image_sizes(ds)  # the usable images only: the reader's skipped ones have no file
    objs = ds.objects[ds.objects["image_id"].isin(images["image_id"])]
    sub = Dataset(images, objs.reset_index(drop=True), ds.images_root, ds.box_units, label_map,
                  image_store=ds.image_store)
    boxes = pixel_boxes(sub, images)
    result = ExportResult(out, fmt, images=len(images), boxes=len(objs))
    known[fmt].write(sub, images, boxes, label_map, out, result, move_images)
    return result


def objects_by_image(ds: Dataset, boxes: np.ndarray) -> dict:
    groups: dict = {}
    for k, image_id in enumerate(ds.objects["image_id"].to_numpy()):
        groups.setdefault(int(image_id), []).append(k)
    return groups


def export_records(records: str | Path, out: str | Path, fmt: str, *, label_map: str | Path | None = None,
                   overwrite: bool = False) -> tuple[ExportResult, list]:
    """``dataprep export-annotations``: records (a dataprep output folder, a
    file or a glob) -> a ``fmt`` folder with the images and annotations.
    Returns the result and the reader's findings (damaged records are
    skipped and listed there)."""
    from dataprep.records.output import prepare_output
    from dataprep.formats.tfrecord import read_tfrecord

    if fmt not in formats():
        raise UsageError(f"--format must be one of {', '.join(formats())}, got {fmt!r}")
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
