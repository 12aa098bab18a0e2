"""YOLO datasets as the tools that make them write them, each with its COCO twin.

One golden table of images and pixel boxes (:data:`GOLDEN`) is written in the
layout, file names, number formatting and class files of each exporter, and
as a COCO JSON over the same image files (the twin: ``bbox = [x, y, w, h]`` in
pixels). ``tests/test_yolo_exports.py`` converts both and checks every box
within 1 px. Run ``python tests/yolo_exports.py OUT`` to write them all into
OUT to look at.

Where each layout rule comes from:

- Roboflow "YOLOv5/YOLOv8 PyTorch" export (Roboflow's export docs and its
  exported data.yaml files): ``data.yaml`` with no ``path:``, ``train:
  ../train/images``, ``val: ../valid/images``, ``test: ../test/images``
  (written even when the export has no test split), ``nc``, ``names: [...]``
  and a ``roboflow:`` block; folders ``train/``, ``valid/``, ``test/`` each
  with ``images/`` and ``labels/``; images renamed ``<stem>_jpg.rf.<hash>.jpg``;
  a README.roboflow.txt.
- Ultralytics ``yolo`` CLI datasets (``ultralytics/cfg/datasets/coco8.yaml``):
  ``path: ../datasets/<name>`` (relative to the author's working
  directory), ``train: images/train``, ``val: images/val``, an empty ``test:``,
  ``names:`` as indented ``id: name`` lines; labels written by Ultralytics'
  ``convert_coco`` with ``"%g "`` per number.
- Ultralytics HUB zips (``HUBDatasetStats`` and ``find_dataset_yaml`` in
  ``ultralytics/data/utils.py``): a folder named like the dataset holding
  ``<name>.yaml`` (not data.yaml) with ``path`` blanked, ``images/{train,val}``,
  ``labels/{train,val}``.
- CVAT "Ultralytics YOLO Detection" (datumaro ``YoloUltralyticsExporter``):
  ``data.yaml`` with ``train: train.txt``, ``val: val.txt`` and ``names: {id:
  name}`` (yaml.safe_dump), list files of ``./images/<subset>/<image>`` lines,
  labels ``"%.6f"``.
- CVAT "YOLO 1.1" (CVAT docs "format-yolo"; datumaro ``YoloExporter``):
  ``obj.data`` (``classes = 2``, ``train = data/train.txt``, ``valid =
  data/valid.txt``, ``names = data/obj.names``, ``backup = backup/``),
  ``obj.names``, ``train.txt``/``valid.txt`` of ``data/obj_<subset>_data/<image>``
  lines, each label file beside its image, ``"%.6f"``; only the subsets
  ``train`` and ``valid``.
- Label Studio "YOLO" (label-studio-converter ``Converter.convert_to_yolo``):
  ``classes.txt``, ``notes.json`` (``categories`` with ids), ``images/`` with
  uploaded names ``<8 hex>-<name>``, ``labels/<image stem>.txt`` with the
  percent values converted as ``(x + width / 2) / 100`` and written with
  ``f"{value}"``; a task without boxes gets no label file; one split.
- LabelImg in YOLO mode (``libs/yolo_io.py``): ``"%d %.6f %.6f %.6f %.6f"``
  lines and ``classes.txt`` in the folder the labels are saved to.
- A plain Ultralytics tree with no yaml at all: ``images/{train,val}``,
  ``labels/{train,val}``; no class names (named ``class_<id>``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from conftest import distinct_jpeg

CLASSES = ("cat", "dog")
#: stem, split, (width, height), [(YOLO class id, xmin, ymin, xmax, ymax) in pixels (continuous frame)]
GOLDEN = [
    ("street_01", "train", (96, 72), [(0, 10, 8, 50, 40), (1, 60.5, 30, 95, 71)]),
    ("street_02", "train", (80, 60), [(1, 0, 0, 20, 15)]),
    ("park_03", "train", (96, 72), []),
    ("park_04", "val", (64, 48), [(0, 5, 6, 40, 44), (0, 30, 2, 63, 20)]),
    ("home_05", "val", (96, 72), [(1, 12, 12, 36, 60)]),
    ("home_06", "test", (80, 60), [(0, 1, 1, 79, 59)]),
]


def _cxcywh(box, size):
    _, x0, y0, x1, y1 = box
    w, h = size
    return (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h


def _write_image(path: Path, seed: int, size) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(distinct_jpeg(seed, size))


def _write_labels(path: Path, boxes, size, fmt) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(fmt(b[0], *_cxcywh(b, size)) + "\n" for b in boxes), encoding="utf-8")


def _full(c, *v):  # Python's shortest repr (Roboflow, Label Studio)
    return " ".join([str(c), *(str(x) for x in v)])


def _six(c, *v):  # "%s %.6f %.6f %.6f %.6f" (datumaro / CVAT, LabelImg)
    return f"{c} " + " ".join("%.6f" % x for x in v)


def _g(c, *v):  # ("%g " * 5).rstrip() (Ultralytics convert_coco)
    return ("%g " * 5).rstrip() % (c, *v)


def roboflow(root: Path, *, with_test: bool = True) -> list:
    written = []
    for seed, (stem, split, size, boxes) in enumerate(GOLDEN):
        if split == "test" and not with_test:
            continue
        folder = {"val": "valid"}.get(split, split)
        name = f"{stem}_jpg.rf.{hashlib.md5(stem.encode()).hexdigest()}"
        _write_image(root / folder / "images" / f"{name}.jpg", seed, size)
        _write_labels(root / folder / "labels" / f"{name}.txt", boxes, size, _full)
        written.append((f"{folder}/images/{name}.jpg", split, size, boxes))
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\n"
        f"nc: {len(CLASSES)}\nnames: {list(CLASSES)}\n\n"
        "roboflow:\n  workspace: demo\n  project: pets\n  version: 3\n  license: CC BY 4.0\n"
        "  url: https://universe.roboflow.com/demo/pets/dataset/3\n", encoding="utf-8")
    (root / "README.roboflow.txt").write_text("Pets - v3\nThis dataset was exported via roboflow.com\n")
    return written


def _ultralytics_tree(root: Path, fmt, splits=("train", "val")) -> list:
    written = []
    for seed, (stem, split, size, boxes) in enumerate(GOLDEN):
        split = split if split in splits else "val"
        _write_image(root / "images" / split / f"{stem}.jpg", seed, size)
        if boxes:  # convert_coco writes a label file only for images with boxes
            _write_labels(root / "labels" / split / f"{stem}.txt", boxes, size, fmt)
        written.append((f"images/{split}/{stem}.jpg", split, size, boxes))
    return written


def _names_map() -> str:
    return "names:\n" + "".join(f"  {k}: {n}\n" for k, n in enumerate(CLASSES))


def ultralytics_cli(root: Path) -> list:
    written = _ultralytics_tree(root, _g)
    (root / "pets.yaml").write_text(
        "# Ultralytics YOLO, example dataset\n"
        "path: ../datasets/pets # dataset root dir\ntrain: images/train # train images (relative to 'path')\n"
        "val: images/val # val images (relative to 'path')\ntest: # test images (optional)\n\n# Classes\n"
        + _names_map(), encoding="utf-8")
    return written


def ultralytics_hub(root: Path) -> list:
    """``root`` is what pets.zip unzips to (a folder named pets/, see :func:`source_folder`)."""
    written = _ultralytics_tree(root, _g)
    (root / "pets.yaml").write_text("path: # blank for HUB\ntrain: images/train\nval: images/val\n" + _names_map(),
                                    encoding="utf-8")
    (root / "pets-extra.yaml").write_text("# another yaml in the zip: the one named after the folder is used\n")
    return written


def cvat_ultralytics(root: Path) -> list:
    written = _ultralytics_tree(root, _six)
    for split in ("train", "val"):
        (root / f"{split}.txt").write_text("".join(f"./{f}\n" for f, s, _, _ in written if s == split))
    (root / "data.yaml").write_text("train: train.txt\nval: val.txt\n" + _names_map(), encoding="utf-8")
    return written


def cvat_yolo11(root: Path) -> list:
    written, lists = [], {"train": [], "valid": []}
    for seed, (stem, split, size, boxes) in enumerate(GOLDEN):
        subset = "train" if split == "train" else "valid"
        folder = root / f"obj_{subset}_data"
        _write_image(folder / f"{stem}.jpg", seed, size)
        _write_labels(folder / f"{stem}.txt", boxes, size, _six)  # an empty file for an image without boxes
        lists[subset].append(f"data/obj_{subset}_data/{stem}.jpg")
        written.append((f"obj_{subset}_data/{stem}.jpg", "train" if subset == "train" else "val", size, boxes))
    for subset, lines in lists.items():
        (root / f"{subset}.txt").write_text("".join(f"{line}\n" for line in lines))
    (root / "obj.names").write_text("".join(f"{n}\n" for n in CLASSES))
    (root / "obj.data").write_text(f"classes = {len(CLASSES)}\ntrain = data/train.txt\nvalid = data/valid.txt\n"
                                   "names = data/obj.names\nbackup = backup/\n")
    return written


def _ls_line(c, box, size):
    _, x0, y0, x1, y1 = box
    w, h = size
    x, y, bw, bh = x0 / w * 100, y0 / h * 100, (x1 - x0) / w * 100, (y1 - y0) / h * 100  # LS stores percent
    return _full(c, (x + bw / 2) / 100, (y + bh / 2) / 100, bw / 100, bh / 100)


def label_studio(root: Path) -> list:
    written = []
    for seed, (stem, _, size, boxes) in enumerate(GOLDEN):
        name = f"{hashlib.md5(stem.encode()).hexdigest()[:8]}-{stem}"
        _write_image(root / "images" / f"{name}.jpg", seed, size)
        if boxes:  # convert_to_yolo skips a task without boxes
            (root / "labels").mkdir(parents=True, exist_ok=True)
            (root / "labels" / f"{name}.txt").write_text("".join(_ls_line(b[0], b, size) + "\n" for b in boxes))
        written.append((f"images/{name}.jpg", "train", size, boxes))
    (root / "classes.txt").write_text("".join(f"{n}\n" for n in CLASSES))
    (root / "notes.json").write_text(json.dumps({
        "categories": [{"id": k, "name": n} for k, n in enumerate(CLASSES)],
        "info": {"year": 2026, "version": "1.0", "contributor": "Label Studio"}}, indent=2))
    return written


def labelimg(root: Path) -> list:
    written = []
    for seed, (stem, _, size, boxes) in enumerate(GOLDEN):
        _write_image(root / "images" / f"{stem}.jpg", seed, size)
        _write_labels(root / "labels" / f"{stem}.txt", boxes, size, lambda c, *v: _six(c, *v))
        written.append((f"images/{stem}.jpg", "train", size, boxes))
    (root / "labels" / "classes.txt").write_text("".join(f"{n}\n" for n in CLASSES))
    return written


def plain_tree(root: Path) -> list:
    return _ultralytics_tree(root, _full)


#: exporter -> (writer, the class names the twin carries)
EXPORTERS = {
    "roboflow": (roboflow, CLASSES),
    "ultralytics_cli": (ultralytics_cli, CLASSES),
    "ultralytics_hub": (ultralytics_hub, CLASSES),
    "cvat_ultralytics": (cvat_ultralytics, CLASSES),
    "cvat_yolo11": (cvat_yolo11, CLASSES),
    "label_studio": (label_studio, CLASSES),
    "labelimg": (labelimg, CLASSES),
    "plain_tree": (plain_tree, ("class_0", "class_1")),
}


def source_folder(out: Path, name: str) -> Path:
    """Where exporter ``name``'s dataset is written under ``out`` (HUB zips unzip to a folder named like them)."""
    return out / name / "pets" if name == "ultralytics_hub" else out / name


def coco_twin(path: Path, written: list, names) -> Path:
    """The same images and boxes as a COCO JSON (file names relative to the YOLO root)."""
    images, annotations = [], []
    for image_id, (file, _, (w, h), boxes) in enumerate(written, start=1):
        images.append({"id": image_id, "file_name": file, "width": w, "height": h})
        for c, x0, y0, x1, y1 in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": c + 1,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)]}))
    return path


def write_all(out: Path) -> None:
    for name, (writer, names) in EXPORTERS.items():
        written = writer(source_folder(out, name))
        coco_twin(out / f"{name}.coco.json", written, names)


if __name__ == "__main__":
    write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "yolo_exports"))
