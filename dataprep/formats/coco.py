"""COCO reader: one ``instances_*.json`` + an images folder.

Pixel convention. COCO's ``bbox`` is ``[x, y, width, height]`` with ``(x, y)``
the top-left corner in continuous pixel coordinates, which is dataprep's hub
frame already: ``xmin = x, xmax = x + width``.

Category ids keep their original values (COCO's 1..90 with gaps) in the
label map unless the user passes ``--label-map``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import AnnotationError, LabelMapError, UsageError
from dataprep.formats.registry import SourceFormat, require_images
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.validate.findings import DROPPED_BOX, ERROR, RENAMED, SKIPPED_IMAGE, WARNING, Finding


def _frame(records, columns: list[str], what: str, source: str) -> pd.DataFrame:
    if not isinstance(records, list):
        raise AnnotationError(f"{source}: {what!r} must be a list, got {type(records).__name__}")
    df = pd.DataFrame([r for r in records if isinstance(r, dict)])
    for c in columns:
        if c not in df.columns:
            df[c] = np.nan
    return df


def read_coco(annotations: str | Path, *, images: str | Path) -> Dataset:
    """Read a COCO detection JSON into a :class:`Dataset`."""
    path = Path(annotations)
    img_dir = Path(images)
    if not path.is_file():
        raise UsageError(f"{path}: COCO annotation file not found")
    if not img_dir.is_dir():
        raise UsageError(f"{img_dir}: images folder not found")
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict) or "images" not in data:
        raise AnnotationError(f"{path}: not a COCO detection file (no top-level 'images' list)")
    src = str(path)
    findings: list[Finding] = []

    imgs = _frame(data.get("images", []), ["id", "file_name", "width", "height"], "images", src)
    anns = _frame(data.get("annotations", []), ["image_id", "category_id", "bbox", "iscrowd", "area", "id"],
                  "annotations", src)
    cats = _frame(data.get("categories", []), ["id", "name"], "categories", src)

    # Categories -> label map with the original ids. Id 0 cannot be kept (it is
    # the background): renumber from names and say so.
    label_map = None
    if len(cats):
        empty = cats["name"].isna() | (cats["name"].astype(str).str.strip() == "")
        for cid in cats.loc[empty, "id"]:
            findings.append(Finding(WARNING, "label.empty_name", f"category id={cid}", src,
                                    f"category id={cid} has an empty name; named 'category_{cid}'", RENAMED))
        cats.loc[empty, "name"] = ["category_" + str(c) for c in cats.loc[empty, "id"]]
        try:
            label_map = LabelMap(
                (LabelMapItem(int(i), str(n)) for i, n in zip(cats["id"], cats["name"])), source=f"{src} categories"
            )
        except (LabelMapError, ValueError, TypeError) as exc:
            label_map = LabelMap.from_names(cats["name"].astype(str))
            findings.append(Finding(WARNING, "label.renumbered", "categories", src,
                                    f"{exc}; classes renumbered 1..{len(label_map)} by sorted name", RENAMED))
    cat_name = dict(zip(pd.to_numeric(cats["id"], errors="coerce"), cats["name"].astype(str))) if len(cats) else {}

    # Images. Ids must be integers, unique; file names present. A bad entry
    # stays in the table (it is an image read) with an error, so it is counted
    # as skipped; it gets a negative placeholder id no annotation can refer to.
    imgs = imgs.reset_index(drop=True)
    imgs["id"] = pd.to_numeric(imgs["id"], errors="coerce")
    bad = (imgs["id"].isna() | imgs["file_name"].isna() | (imgs["id"] % 1 != 0) | (imgs["id"] < 0)
           | imgs["id"].duplicated()).to_numpy()
    for k in np.flatnonzero(bad):
        r = imgs.iloc[k]
        findings.append(Finding(ERROR, "coco.bad_image_entry", f"images[{k}]", src,
                                f"image entry {k} (id={r.get('id')!r}, file_name={r.get('file_name')!r}) is missing "
                                "a non-negative integer id or a file name, or repeats an id", SKIPPED_IMAGE))
    file_name = imgs["file_name"].astype(object).where(imgs["file_name"].notna(),
                                                       pd.Series([f"<images[{k}]>" for k in range(len(imgs))]))
    ids = imgs["id"].fillna(0).to_numpy(dtype=np.int64, copy=True)
    ids[bad] = -(np.flatnonzero(bad) + 1)
    images_df = pd.DataFrame({
        "image_id": ids,
        "file": file_name.astype(str),
        "split": "train",
        "width": pd.to_numeric(imgs["width"], errors="coerce"),
        "height": pd.to_numeric(imgs["height"], errors="coerce"),
        "annotation": src,
        "error": np.where(bad, "bad entry in the COCO images list", ""),
    })
    # A placeholder file name must not collide with a real one.
    images_df.loc[bad & images_df["file"].duplicated(keep=False).to_numpy(), "file"] = [
        f"<images[{k}]>" for k in np.flatnonzero(bad & images_df["file"].duplicated(keep=False).to_numpy())]

    # Annotations.
    orphan = 0
    if len(anns):
        anns = anns.reset_index(drop=True)
        anns["image_id"] = pd.to_numeric(anns["image_id"], errors="coerce")
        unknown = ~anns["image_id"].isin(images_df.loc[images_df["image_id"] > 0, "image_id"])
        for i, r in anns[unknown].head(1000).iterrows():
            findings.append(Finding(ERROR, "coco.unknown_image", f"annotation id={r.get('id')}", src,
                                    f"annotation {i} refers to image_id={r['image_id']!r}, which is not in 'images'",
                                    DROPPED_BOX))
        if unknown.sum() > 1000:
            findings.append(Finding(ERROR, "coco.unknown_image", "...", src,
                                    f"{int(unknown.sum()) - 1000} more annotations refer to unknown images",
                                    DROPPED_BOX))
        orphan = int(unknown.sum())
        anns = anns[~unknown]
        bbox = np.full((len(anns), 4), np.nan)
        for k, b in enumerate(anns["bbox"].tolist()):
            if isinstance(b, (list, tuple)) and len(b) == 4:
                try:
                    bbox[k] = [float(v) for v in b]
                except (TypeError, ValueError):
                    pass
        xyxy = convert(bbox, "xywh", "xyxy")  # COCO [x, y, w, h] is in the hub frame already
        cid = pd.to_numeric(anns["category_id"], errors="coerce")
        text = cid.map(cat_name)
        # An id with no category keeps its id as text so the finding names it.
        text = text.where(text.notna(), "category_id=" + anns["category_id"].astype(str))
        objects_df = pd.DataFrame({
            "image_id": anns["image_id"].astype("int64").to_numpy(),
            "index": anns.groupby("image_id").cumcount().to_numpy(),
            "text": text.to_numpy(),
            "xmin": xyxy[:, 0], "ymin": xyxy[:, 1], "xmax": xyxy[:, 2], "ymax": xyxy[:, 3],
            "is_crowd": pd.to_numeric(anns["iscrowd"], errors="coerce").fillna(0).astype("int8").to_numpy(),
            "area": pd.to_numeric(anns["area"], errors="coerce").to_numpy(),
        })
    else:
        objects_df = pd.DataFrame(columns=["image_id", "index", "text", "xmin", "ymin", "xmax", "ymax"])
    return Dataset.build(images_df, objects_df, img_dir, label_map=label_map, findings=findings,
                         dropped_boxes=orphan, source={"format": "coco", "annotations": src, "images": str(img_dir)})


# -- the source registry's declaration (see dataprep.formats.registry) -----------------

def detect(path: Path) -> bool:
    """A ``.json`` file."""
    return path.suffix.lower() == ".json" and not path.is_dir()


def open_source(spec) -> Dataset:
    require_images(spec, "COCO")
    return read_coco(spec.path, images=spec.images)


SOURCE = SourceFormat("coco", detect, open_source, "a COCO .json")
