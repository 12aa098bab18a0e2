"""YOLO reader: the Ultralytics layout.

::

    ROOT/data.yaml            path: .   train: images/train   val: images/val   names: {0: cat, 1: dog}
    ROOT/images/train/a.jpg   ROOT/labels/train/a.txt    "class cx cy w h" per line
    (``train``/``val``/``test`` may also be list files of image paths, or lists of either)

Each image's label file is the image path with its last ``images`` folder
replaced by ``labels`` and the extension by ``.txt`` (as Ultralytics finds
them). What real exports contain is tolerated: an empty label file or a
missing one is an image without objects (a negative; a missing file is
reported), trailing spaces and blank lines are ignored, a segment (polygon)
line becomes its bounding box, and a class id out of range is a finding.

Pixel convention. YOLO coordinates are fractions of the image size: ``cx cy
w h`` of the box centre and size in the continuous frame, so the box's left
edge is ``(cx - w / 2) * width``. They enter the hub as normalized ``xyxy``
(``box_units = "normalized"``); the record writer scales them by the real
image size.

``data.yaml`` is read without a YAML library: the flat subset Ultralytics and
labelling tools write (scalars, ``[a, b]`` lists, ``- item`` lists and
``0: name`` maps, comments). Anything else is refused with the line number.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.registry import SourceFormat
from dataprep.formats.common import IMAGE_EXTENSIONS
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.textio import TextFileError, read_text
from dataprep.findings import DROPPED_BOX, ERROR, FIXED, INFO, KEPT, WARNING, Finding

SPLITS = ("train", "val", "test")
_YAML_NAMES = ("data.yaml", "data.yml")
_IMAGE_EXTS = {e.lower() for e in IMAGE_EXTENSIONS}


# -- data.yaml ---------------------------------------------------------------------

def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("", "~", "null", "None"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _strip_comment(line: str) -> str:
    quote = None
    for k, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (k == 0 or line[k - 1].isspace()):
            return line[:k].rstrip()
    return line.rstrip()


def _flow_list(text: str, where: str) -> list:
    inner = text.strip()[1:-1]
    if "[" in inner or "{" in inner:
        raise AnnotationError(f"{where}: nested lists are not supported in data.yaml")
    return [_scalar(p) for p in inner.split(",") if p.strip()]


def parse_data_yaml(text: str, source: str) -> dict:
    """The keys of an Ultralytics ``data.yaml`` (the flat subset, see the module docstring)."""
    out: dict = {}
    key = None  # the key whose block (``- item`` or ``0: name`` lines) we are in
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        where = f"{source} line {line_no}"
        indented = line[0].isspace()
        body = line.strip()
        if indented or (key is not None and body.startswith("- ")):
            if key is None:
                raise AnnotationError(f"{where}: indented line outside a block: {raw.strip()!r}")
            if body.startswith("- "):
                if not isinstance(out[key], list):
                    raise AnnotationError(f"{where}: '- item' inside the map {key!r}")
                out[key].append(_scalar(body[2:]))
            elif ":" in body:
                if out[key] == []:
                    out[key] = {}
                if not isinstance(out[key], dict):
                    raise AnnotationError(f"{where}: 'k: v' inside the list {key!r}")
                k, v = body.split(":", 1)
                out[key][_scalar(k)] = _scalar(v)
            else:
                raise AnnotationError(f"{where}: cannot read {raw.strip()!r} (expected '- item' or 'id: name')")
            continue
        if ":" not in body:
            raise AnnotationError(f"{where}: expected 'key: value', got {raw.strip()!r}")
        k, v = body.split(":", 1)
        k, v = k.strip(), v.strip()
        if v.startswith("[") and v.endswith("]"):
            out[k], key = _flow_list(v, where), None
        elif v.startswith("{"):
            raise AnnotationError(f"{where}: '{{...}}' maps are not supported in data.yaml; write one 'id: name' "
                                  "per line")
        elif v == "":
            out[k], key = [], k
        else:
            out[k], key = _scalar(v), None
    return out


def _names(data: dict, source: str) -> list[str]:
    """Class names by YOLO id (0..K-1) from ``names`` (list or ``id: name`` map)."""
    names = data.get("names")
    if isinstance(names, dict):
        ids = list(names)
        if sorted(ids) != list(range(len(ids))) or not all(isinstance(i, int) for i in ids):
            raise AnnotationError(f"{source}: names must have the ids 0..{len(ids) - 1}, got {sorted(map(str, ids))}")
        names = [names[i] for i in range(len(ids))]
    if not isinstance(names, list) or not names:
        raise AnnotationError(f"{source}: no 'names' list of classes")
    names = [str(n).strip() if n is not None else "" for n in names]
    for k, n in enumerate(names):
        if not n:
            raise AnnotationError(f"{source}: class {k} has an empty name")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise AnnotationError(f"{source}: class names repeat: {dup}")
    return names


# -- images of each split ----------------------------------------------------------

def _images_in(entry: Path) -> list[Path]:
    """The image files of one ``train:``/``val:`` entry: a folder (recursively)
    or a list file of image paths (relative to the list file's folder)."""
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_EXTS)
    if entry.is_file() and entry.suffix.lower() == ".txt":
        out = []
        try:
            text = read_text(entry, "YOLO image list")
        except TextFileError as exc:
            raise AnnotationError(str(exc)) from None
        for line in text.splitlines():
            line = line.strip()
            if line:
                p = Path(line)
                out.append(p if p.is_absolute() else entry.parent / p)
        return out
    if entry.is_file() and entry.suffix.lower() in _IMAGE_EXTS:
        return [entry]
    raise UsageError(f"{entry}: named in data.yaml but is neither an images folder nor a list file (.txt)")


def label_path(image: Path) -> Path:
    """``.../images/x/a.jpg`` -> ``.../labels/x/a.txt`` (the last ``images`` part)."""
    parts = list(image.parts)
    for k in range(len(parts) - 2, -1, -1):
        if parts[k] == "images":
            parts[k] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


# -- label lines -------------------------------------------------------------------

def _parse_label_file(path: Path, rel: str, ann: str, num_classes: int, findings: list[Finding]):
    """(class ids, cxcywh fractions, line numbers) of the usable lines; the rest are findings.
    Returns also the number of lines that were boxes but could not be kept."""
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
                                    f"not numbers: {raw.strip()!r}", DROPPED_BOX, image=rel, annotation=ann))
            dropped += 1
            continue
        cls, coords = values[0], np.asarray(values[1:], dtype=np.float64)
        if len(coords) == 4:
            box = coords
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
                                    f"{raw.strip()!r}", DROPPED_BOX, image=rel, annotation=ann))
            dropped += 1
            continue
        if cls != int(cls) or not 0 <= cls < num_classes:
            findings.append(Finding(ERROR, "yolo.class_out_of_range", item, ann,
                                    f"class id {parts[0]} is not one of 0..{num_classes - 1} in data.yaml's names",
                                    DROPPED_BOX, image=rel, annotation=ann))
            dropped += 1
            continue
        classes.append(int(cls))
        boxes.append(box)
        lines.append(line_no)
    return classes, boxes, lines, dropped


def _find_yaml(root: Path) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise UsageError(f"{root}: no such file or folder (expected a YOLO dataset folder or its data.yaml)")
    for name in _YAML_NAMES:
        if (root / name).is_file():
            return root / name
    found = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    if len(found) == 1:
        return found[0]
    raise UsageError(f"{root}: no data.yaml (the Ultralytics dataset file with names and train/val folders)"
                     + (f"; several .yaml files: {', '.join(p.name for p in found)}" if found else ""))


def is_yolo(path: Path) -> bool:
    """A folder with a data.yaml (or one other .yaml beside images/ or labels/), or a ``.yaml`` file."""
    if path.is_dir():
        if any((path / n).is_file() for n in _YAML_NAMES):
            return True
        yamls = list(path.glob("*.yaml")) + list(path.glob("*.yml"))
        return len(yamls) == 1 and ((path / "images").is_dir() or (path / "labels").is_dir())
    return path.suffix.lower() in (".yaml", ".yml") and path.is_file()


def read_yolo(root: str | Path) -> Dataset:
    """Read an Ultralytics YOLO dataset (a folder with ``data.yaml``, or the
    yaml file itself) into a :class:`Dataset`."""
    yaml_path = _find_yaml(Path(root))
    src = str(yaml_path)
    try:
        text = read_text(yaml_path, "YOLO data.yaml")
    except TextFileError as exc:
        raise AnnotationError(str(exc)) from None
    data = parse_data_yaml(text, src)
    names = _names(data, src)
    findings: list[Finding] = []
    if isinstance(data.get("nc"), int) and data["nc"] != len(names):
        findings.append(Finding(WARNING, "yolo.nc_mismatch", "nc", src,
                                f"nc is {data['nc']} but names lists {len(names)} classes; names are used", KEPT))
    base = yaml_path.parent
    if data.get("path"):
        p = Path(str(data["path"]))
        base = p if p.is_absolute() else (yaml_path.parent / p)
        if not base.is_dir():  # written for another machine (../datasets/coco8): fall back to the yaml's folder
            findings.append(Finding(INFO, "yolo.path_ignored", "path", src,
                                    f"path {data['path']!r} is not a folder here; paths are read relative to "
                                    f"{yaml_path.parent}", KEPT))
            base = yaml_path.parent
    base = base.resolve()

    img_rows, obj_cols = [], {k: [] for k in ("image_id", "index", "text", "cx", "cy", "w", "h")}
    dropped_total = 0
    seen: dict[str, str] = {}
    for split in SPLITS:
        entries = data.get(split)
        if entries is None:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            path = Path(str(entry))
            for image in _images_in(path if path.is_absolute() else base / path):
                image = Path(os.path.normpath(image if image.is_absolute() else base / image))
                rel = os.path.relpath(image, base)
                if rel in seen:
                    findings.append(Finding(WARNING, "split.conflict", rel, src,
                                            f"{rel!r} is listed in both {seen[rel]} and {split}; kept in {seen[rel]}",
                                            KEPT))
                    continue
                seen[rel] = split
                image_id = len(img_rows) + 1
                lbl = label_path(image)
                ann = os.path.relpath(lbl, base)
                img_rows.append({"image_id": image_id, "file": rel, "split": split, "annotation": ann})
                if not lbl.is_file():
                    findings.append(Finding(INFO, "yolo.no_label_file", rel, ann,
                                            f"no label file {ann}; the image is kept without objects (a negative)",
                                            KEPT, image=rel, annotation=ann))
                    continue
                classes, boxes, _, dropped = _parse_label_file(lbl, rel, ann, len(names), findings)
                dropped_total += dropped
                img_rows[-1]["reader_dropped"] = dropped  # --on-error skip skips such images
                for index, (c, b) in enumerate(zip(classes, boxes)):
                    obj_cols["image_id"].append(image_id)
                    obj_cols["index"].append(index)
                    obj_cols["text"].append(names[c])
                    for k, v in zip(("cx", "cy", "w", "h"), b):
                        obj_cols[k].append(v)
    if not img_rows:
        raise UsageError(f"{src}: no images found for {', '.join(s for s in SPLITS if data.get(s) is not None) or 'any split'} "
                         "(train/val/test name image folders or list files)")
    cxcywh = np.column_stack([np.asarray(obj_cols.pop(k), dtype=np.float64) for k in ("cx", "cy", "w", "h")]) \
        if obj_cols["cx"] else np.zeros((0, 4))
    xyxy = convert(cxcywh, "cxcywh", "xyxy")  # linear: fractions stay fractions (module docstring)
    for k in ("cx", "cy", "w", "h"):
        obj_cols.pop(k, None)
    objects = pd.DataFrame(obj_cols)
    for k, col in zip(("xmin", "ymin", "xmax", "ymax"), xyxy.T):
        objects[k] = col
    label_map = LabelMap((LabelMapItem(k + 1, n) for k, n in enumerate(names)), source=src)
    return Dataset.build(
        pd.DataFrame(img_rows), objects, base, box_units="normalized", label_map=label_map, findings=findings,
        dropped_boxes=dropped_total, assign_ids=True,
        source={"format": "yolo", "root": str(base), "data": str(yaml_path), "names": names},
    )


# -- the source registry -------------------------------------------------------------

def detect(path: Path) -> bool:
    """A folder with a ``data.yaml`` (see :func:`is_yolo`), or a ``.yaml`` file."""
    return is_yolo(path)


def open_source(spec) -> Dataset:
    return read_yolo(spec.path)


SOURCE = SourceFormat("yolo", detect, open_source, "a YOLO folder (data.yaml, images/, labels/)")
