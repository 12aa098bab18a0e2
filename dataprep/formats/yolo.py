"""YOLO reader: label files of ``class cx cy w h`` lines, in any of the
layouts the tools that write YOLO datasets use (Ultralytics, Roboflow, CVAT
"YOLO 1.1", Label Studio, plain trees: :mod:`dataprep.formats.yolo_layout`
finds the images and class names)::

    ROOT/data.yaml            path: .   train: images/train   val: images/val   names: {0: cat, 1: dog}
    ROOT/images/train/a.jpg   ROOT/labels/train/a.txt    "class cx cy w h" per line

Each image's label file is the image path with its last ``images`` folder
replaced by ``labels`` and the extension by ``.txt`` (Ultralytics
``img2label_paths``), or beside the image when there is no ``images`` folder
(CVAT). What real exports contain is tolerated: an empty label file or a
missing one is an image without objects (a negative; a missing file is
reported), trailing spaces and blank lines are ignored, a segment (polygon)
line becomes its bounding box, and a class id out of range is a finding. A
pose dataset's lines (its data.yaml has ``kpt_shape: [K, D]``) are a box
followed by K * D keypoint numbers: the box is read (``yolo.keypoints``),
not a polygon through box and keypoints.
Where a name can be read two ways the plausible reading is taken and
reported: a label file named but for case (``A.txt`` for ``a.jpg``) or
``a.jpg.txt`` is used (``yolo.name_resolved``); one label file for two
images that differ only in extension annotates both, as Ultralytics reads it
(``yolo.label_shared``).

Pixel convention. YOLO coordinates are fractions of the image size: ``cx cy
w h`` of the box centre and size in the continuous frame, so the box's left
edge is ``(cx - w / 2) * width``. They enter the hub as normalized ``xyxy``
(``box_units = "normalized"``); the record writer scales them by the real
image size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.formats.registry import Argument, SourceFormat
from dataprep.formats.yolo_layout import (  # noqa: F401  (parse_data_yaml, is_yolo: this reader's API)
    Layout,
    find_layout,
    images_in,
    is_yolo,
    parse_data_yaml,
    resolve_name,
)
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.findings import DROPPED_BOX, ERROR, FIXED, INFO, KEPT, RENAMED, WARNING, Finding



def label_path(image: Path) -> Path:
    """``.../images/x/a.jpg`` -> ``.../labels/x/a.txt``: the last ``images`` folder
    becomes ``labels``, the extension ``.txt`` (Ultralytics ``img2label_paths``);
    without an ``images`` folder, the label file is beside the image (CVAT)."""
    parts = list(image.parts)
    for k in range(len(parts) - 2, -1, -1):
        if parts[k] == "images":
            parts[k] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


# -- label lines -------------------------------------------------------------------

def _parse_label_file(path: Path, rel: str, ann: str, num_classes: int, findings: list[Finding],
                      keypoints: int = 0):
    """(class ids, cxcywh fractions, line numbers) of the usable lines; the rest are findings.
    Returns also the number of lines that were boxes but could not be kept.
    ``keypoints``: the numbers of keypoints after each box (a pose dataset's
    ``kpt_shape``: ``class cx cy w h`` + keypoints), else 0."""
    classes, boxes, lines, dropped = [], [], [], 0
    text = path.read_text(encoding="utf-8", errors="replace")
    for line_no, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        item = f"{rel} line {line_no}"
        try:
            values = [float(p) for p in parts]
        except ValueError:
            findings.append(Finding(ERROR, "yolo.malformed_line", item, ann,
                                    f"not numbers: {raw.strip()!r}", DROPPED_BOX, image=rel, annotation=ann,
                                    value=raw.strip()))
            dropped += 1
            continue
        cls, coords = values[0], np.asarray(values[1:], dtype=np.float64)
        if len(coords) == 4 or (keypoints and len(coords) == 4 + keypoints):
            box = coords[:4]  # a pose line's keypoints are not boxes (module docstring)
        elif len(coords) >= 6 and len(coords) % 2 == 0:
            # A segment (polygon x1 y1 x2 y2 ...): its bounding box, in cx cy w h.
            xs, ys = coords[0::2], coords[1::2]
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            box = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])
            findings.append(Finding(INFO, "yolo.segment", item, ann,
                                    f"a polygon of {len(xs)} points; its bounding box is used", FIXED,
                                    image=rel, annotation=ann))
        else:
            findings.append(Finding(ERROR, "yolo.malformed_line", item, ann,
                                    f"expected 'class cx cy w h' or a polygon, got {len(values)} numbers: "
                                    f"{raw.strip()!r}", DROPPED_BOX, image=rel, annotation=ann, value=raw.strip()))
            dropped += 1
            continue
        if not np.isfinite(cls) or cls != int(cls) or not 0 <= cls < num_classes:
            findings.append(Finding(ERROR, "yolo.class_out_of_range", item, ann,
                                    f"class id {parts[0]} is not one of 0..{num_classes - 1} (the class names' ids)",
                                    DROPPED_BOX, image=rel, annotation=ann, value=cls))
            dropped += 1
            continue
        classes.append(int(cls))
        boxes.append(box)
        lines.append(line_no)
    return classes, boxes, lines, dropped


#: Class ids a tree without class names may use (named ``class_<id>``).
MAX_UNNAMED_CLASSES = 1000


class _Reader:
    """The images and objects tables of a YOLO dataset, filled one image at a time."""

    def __init__(self, layout: Layout):
        self.layout, self.base = layout, layout.base
        self.findings = layout.findings
        self.images: list[dict] = []
        self.objects: dict[str, list] = {k: [] for k in ("image_id", "index", "cls", "cx", "cy", "w", "h")}
        self.dropped = 0
        self.seen: dict[str, str] = {}  # image -> split
        self.labels: dict[Path, str] = {}  # label file -> the first image it annotates
        self.listing: dict = {}  # folder -> its names, for case/extension look-ups

    def _label_for(self, image: Path, rel: str) -> Path:
        """The image's label file (:func:`label_path` below the dataset root), or
        the one whose name differs only in case, or ``a.jpg.txt``."""
        inside = not rel.startswith("..")
        lbl = self.base / label_path(Path(rel)) if inside else label_path(image)
        if lbl.is_file():
            return lbl
        full = lbl.with_name(image.name + ".txt")  # a.jpg.txt
        if full.is_file():
            self.findings.append(Finding(INFO, "yolo.name_resolved", rel, os.path.relpath(full, self.base),
                                         f"label file {lbl.name!r} is not there; {full.name!r} (the image's whole "
                                         "name + .txt) is read", FIXED, image=rel,
                                         annotation=os.path.relpath(full, self.base), value=lbl.name))
            return full
        return resolve_name(lbl, "label file", rel, os.path.relpath(lbl, self.base), self.listing, self.findings,
                            image=rel)

    def add(self, split: str, image: Path) -> None:
        image = Path(os.path.normpath(image if image.is_absolute() else self.base / image))
        rel = os.path.relpath(image, self.base)
        src = str(self.layout.descriptor)
        if rel in self.seen:
            self.findings.append(Finding(WARNING, "split.conflict", rel, src,
                                         f"{rel!r} is listed in both {self.seen[rel]} and {split}; kept in "
                                         f"{self.seen[rel]}", KEPT, annotation=src, value=rel))
            return
        self.seen[rel] = split
        image_id = len(self.images) + 1
        lbl = self._label_for(image, rel)
        ann = os.path.relpath(lbl, self.base)
        self.images.append({"image_id": image_id, "file": rel, "split": split, "annotation": ann})
        if not lbl.is_file():
            self.findings.append(Finding(INFO, "yolo.no_label_file", rel, ann,
                                         f"no label file {ann}; the image is kept without objects (a negative)",
                                         KEPT, image=rel, annotation=ann))
            return
        if lbl in self.labels:
            self.findings.append(Finding(WARNING, "yolo.label_shared", rel, ann,
                                         f"{ann} is also the label file of {self.labels[lbl]} (two images share a "
                                         "name but for the extension); its boxes are read for both, as Ultralytics "
                                         "reads them", KEPT, image=rel, annotation=ann,
                                         value=self.labels[lbl]))
        self.labels.setdefault(lbl, rel)
        names = self.layout.names
        limit = len(names) if names is not None else MAX_UNNAMED_CLASSES
        classes, boxes, _, dropped = _parse_label_file(lbl, rel, ann, limit, self.findings, self.layout.keypoints)
        self.dropped += dropped
        self.images[-1]["reader_dropped"] = dropped  # --on-error skip skips such images
        for index, (c, b) in enumerate(zip(classes, boxes)):
            for k, v in zip(("image_id", "index", "cls", "cx", "cy", "w", "h"), (image_id, index, c, *b)):
                self.objects[k].append(v)

    def names(self) -> list[str]:
        """The class names; for a tree without any, ``class_<id>`` up to the highest id used (reported)."""
        if self.layout.names is not None:
            return self.layout.names
        count = max(self.objects["cls"], default=-1) + 1
        names = [f"class_{i}" for i in range(max(count, 1))]
        self.findings.append(Finding(WARNING, "yolo.names_missing", "names", str(self.layout.descriptor),
                                     f"no class names (no data.yaml, classes.txt or obj.names); the {len(names)} "
                                     f"class ids used are named class_0..class_{len(names) - 1}", RENAMED,
                                     value=len(names)))
        return names

    def objects_table(self, names: list[str]) -> pd.DataFrame:
        cols = self.objects
        cxcywh = np.column_stack([np.asarray(cols[k], dtype=np.float64) for k in ("cx", "cy", "w", "h")]) \
            if cols["cx"] else np.zeros((0, 4))
        xyxy = convert(cxcywh, "cxcywh", "xyxy")  # linear: fractions stay fractions (module docstring)
        objects = pd.DataFrame({"image_id": cols["image_id"], "index": cols["index"],
                                "text": [names[c] for c in cols["cls"]]})
        for k, col in zip(("xmin", "ymin", "xmax", "ymax"), xyxy.T):
            objects[k] = col
        return objects


def read_yolo(root: str | Path) -> Dataset:
    """Read a YOLO dataset into a :class:`Dataset`: a folder (or its data.yaml,
    any ``.yaml``, or obj.data) in any layout of :mod:`dataprep.formats.yolo_layout`."""
    layout = find_layout(Path(root))
    reader = _Reader(layout)
    for split, entries in layout.splits:
        for entry in entries:
            for image in images_in(entry, layout.base, layout.findings):
                reader.add(split, image)
    if not reader.images:
        asked = ", ".join(s for s, _ in layout.splits) or "any split"
        raise UsageError(f"{layout.descriptor}: no images found for {asked} (train/val/test name image folders or "
                         "list files)" + (f"; {'; '.join(layout.missing)}" if layout.missing else ""))
    names = reader.names()
    label_map = LabelMap((LabelMapItem(k + 1, n) for k, n in enumerate(names)), source=str(layout.descriptor))
    return Dataset.build(
        pd.DataFrame(reader.images), reader.objects_table(names), layout.base, box_units="normalized",
        label_map=label_map, findings=layout.findings, dropped_boxes=reader.dropped, assign_ids=True,
        source={"format": "yolo", "layout": layout.kind, "root": str(layout.base), "data": str(layout.descriptor),
                "names": names},
    )


# -- the source registry -------------------------------------------------------------

def detect(path: Path) -> bool:
    """A folder with a ``data.yaml`` (see :func:`is_yolo`), or a ``.yaml`` file."""
    return is_yolo(path)


def open_source(spec) -> Dataset:
    return read_yolo(spec.path)


# -- writing (export-annotations) -------------------------------------------------------

def from_hub(boxes: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Hub ``xyxy`` pixel corners -> ``cx cy w h`` as fractions of the image size."""
    return convert(boxes, "xyxy", "cxcywh") / np.stack([width, height, width, height], axis=1)


def write_yolo(ds, images, boxes, label_map, out, result, move):
    """``OUT/images/<split>/<name>``, ``OUT/labels/<split>/<stem>.txt``, ``OUT/data.yaml``."""
    from dataprep.formats.writers import flat_names, objects_by_image, place

    size = images.set_index("image_id").reindex(ds.objects["image_id"])[["width", "height"]].to_numpy(np.float64)
    numbers = from_hub(boxes, size[:, 0], size[:, 1]) if len(boxes) else np.zeros((0, 4))
    yolo_id = {item.name: k for k, item in enumerate(label_map)}  # YOLO ids are 0..K-1 in label-map order
    by_image = objects_by_image(ds, boxes)
    texts = ds.objects["text"].to_numpy()
    splits = []
    for row, name in zip(images.itertuples(), flat_names(images, flat=False)):
        stem = os.path.splitext(name)[0]
        place(ds, row.file, out / "images" / row.split / name, move)
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


SOURCE = SourceFormat(
    "yolo", detect, open_source, "a YOLO folder (data.yaml, obj.data, or images/ with labels/ or classes.txt)",
    argument=Argument("root", "YOLO dataset folder (with data.yaml) or the data.yaml itself (local disk only)."),
    summary="YOLO, Ultralytics layout: data.yaml (names; train/val/test image folders or list files) + "
            "labels/*.txt.", write=write_yolo)
