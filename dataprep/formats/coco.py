"""COCO reader: one ``instances_*.json`` + an images folder.

Pixel convention. COCO's ``bbox`` is ``[x, y, width, height]`` with ``(x, y)``
the top-left corner in continuous pixel coordinates, which is dataprep's hub
frame already: ``xmin = x, xmax = x + width``.

Category ids keep their original values (COCO's 1..90 with gaps) in the
label map unless the user passes ``--label-map``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.errors import AnnotationError, LabelMapError, UsageError
from dataprep.formats.registry import Argument, SourceFormat, option, require_images
from dataprep.locations import is_url, location, url_exists
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.textio import TextFileError, read_text
from dataprep.findings import DROPPED_BOX, ERROR, FIXED, IGNORED, RENAMED, SKIPPED_IMAGE, WARNING, Finding


#: COCO ids are written as int64 (``image/source_id``, the label map's int32 ids apart).
_MAX_ID = 2**63 - 1


def _frame(records, columns: list[str], what: str, source: str, findings: list[Finding]) -> tuple[pd.DataFrame, int]:
    """The entries of one COCO list as a table, and how many entries were not
    objects. Such an entry is never dropped silently: an image entry stays as an
    empty row (a bad entry, counted as skipped), any other is a finding."""
    if not isinstance(records, list):
        raise AnnotationError(f"{source}: {what!r} must be a list, got {type(records).__name__}")
    bad = [k for k, r in enumerate(records) if not isinstance(r, dict)]
    if what == "images":
        entries = [r if isinstance(r, dict) else {} for r in records]
    else:
        entries = [r for r in records if isinstance(r, dict)]
        action = DROPPED_BOX if what == "annotations" else IGNORED
        for k in bad[:100]:
            findings.append(Finding(ERROR, "coco.bad_entry", f"{what}[{k}]", source,
                                    f"{what}[{k}] is a {type(records[k]).__name__} ({str(records[k])[:60]!r}), "
                                    "not an object", action, annotation=source))
        if len(bad) > 100:
            findings.append(Finding(ERROR, "coco.bad_entry", f"{what}[...]", source,
                                    f"{len(bad) - 100} more entries of {what!r} are not objects", action,
                                    annotation=source))
    df = pd.DataFrame(entries)
    for c in columns:
        if c not in df.columns:
            df[c] = np.nan
    return df, len(bad)


def _category_zero(cats: pd.DataFrame, anns: pd.DataFrame, src: str, findings: list[Finding]) -> pd.DataFrame:
    """Category id 0 is the background in every TF label map. Exports that
    start at 0 often use it for a supercategory no box refers to (Roboflow's
    ``{"id": 0, "name": "cells", "supercategory": "none"}``): drop it and keep
    the other ids. A used id 0 moves to the first free id; the others keep theirs."""
    ids = pd.to_numeric(cats["id"], errors="coerce")
    zero = (ids == 0).to_numpy()
    if not zero.any():
        return cats
    used = set(pd.to_numeric(anns["category_id"], errors="coerce").dropna().tolist()) if len(anns) else set()
    name = str(cats.loc[zero, "name"].iloc[0])
    if 0 not in used:
        findings.append(Finding(WARNING, "coco.category_zero_dropped", "category id=0", src,
                                f"category id=0 {name!r} has no annotations (a supercategory?) and id 0 is the "
                                "background: left out of the label map; the other ids are kept", IGNORED,
                                annotation=src))
        return cats[~zero].reset_index(drop=True)
    new_id = int(np.nanmax(ids.to_numpy(dtype=float))) + 1
    findings.append(Finding(WARNING, "label.renumbered", "category id=0", src,
                            f"category id=0 {name!r} is used by annotations but id 0 is the background: "
                            f"it becomes id {new_id}; the other ids are kept", RENAMED, annotation=src))
    cats = cats.copy()
    cats["source_id"] = ids
    cats.loc[zero, "id"] = new_id
    return cats


def _iscrowd(values: pd.Series, ann_ids: pd.Series, src: str, findings: list[Finding]) -> np.ndarray:
    """COCO ``iscrowd`` is 0 or 1; anything else is reported and read as 1
    when it is a non-zero number (0 when missing), never wrapped."""
    v = pd.to_numeric(values, errors="coerce")
    odd = v.notna() & ~v.isin([0, 1])
    for aid, raw in list(zip(ann_ids[odd], values[odd]))[:100]:
        findings.append(Finding(WARNING, "coco.bad_iscrowd", f"annotation id={aid}", src,
                                f"annotation id={aid}: iscrowd={raw!r} is not 0 or 1; read as 1", FIXED,
                                annotation=src, value=raw))
    v[odd] = 1
    return v.fillna(0).astype("int8").to_numpy()


def read_coco(annotations: str | Path, *, images: str | Path) -> Dataset:
    """Read a COCO detection JSON into a :class:`Dataset`."""
    path, img_dir, data = _load(annotations, images)
    src = str(path)
    findings: list[Finding] = []

    imgs, _ = _frame(data.get("images", []), ["id", "file_name", "width", "height"], "images", src, findings)
    anns, bad_annotation_entries = _frame(data.get("annotations", []),
                                          ["image_id", "category_id", "bbox", "iscrowd", "area", "id"],
                                          "annotations", src, findings)
    cats, _ = _frame(data.get("categories", []), ["id", "name"], "categories", src, findings)
    label_map, cat_name = _categories(cats, anns, src, findings)
    images_df = _images(imgs, src, findings)
    objects_df, orphan = _objects(anns, images_df, cat_name, src, findings)
    return Dataset.build(images_df, objects_df, img_dir, label_map=label_map, findings=findings,
                         dropped_boxes=bad_annotation_entries + orphan,
                         source={"format": "coco", "annotations": src, "images": str(img_dir)})


def _load(annotations: str | Path, images: str | Path):
    """The JSON file's path, the images folder and the parsed JSON (a clear error for each way it fails)."""
    path = location(annotations)  # a URL (--runner beam) is read whole by the launcher, through Beam's FileSystems
    img_dir = location(images)
    if not (url_exists(path) if is_url(path) else path.is_file()):
        raise UsageError(f"{path}: COCO annotation file not found")
    if not is_url(img_dir) and not img_dir.is_dir():
        raise UsageError(f"{img_dir}: images folder not found")
    try:
        data = json.loads(read_text(path, "COCO annotation file", "JSON"))
    except TextFileError as exc:
        raise AnnotationError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise AnnotationError(f"{path}: JSON nested too deeply to be a COCO file") from None
    if not isinstance(data, dict) or "images" not in data:
        raise AnnotationError(f"{path}: not a COCO detection file (no top-level 'images' list)")
    return path, img_dir, data


def _categories(cats: pd.DataFrame, anns: pd.DataFrame, src: str, findings: list):
    """The label map (None without categories) and category id -> name."""
    # Categories -> label map with the original ids. Id 0 cannot be kept (it is
    # the background): renumber from names and say so.
    label_map = None
    if len(cats):
        empty = cats["name"].isna() | (cats["name"].astype(str).str.strip() == "")
        for cid in cats.loc[empty, "id"]:
            findings.append(Finding(WARNING, "label.empty_name", f"category id={cid}", src,
                                    f"category id={cid} has an empty name; named 'category_{cid}'", RENAMED,
                                    annotation=src, value=cid))
        cats.loc[empty, "name"] = ["category_" + str(c) for c in cats.loc[empty, "id"]]
        cats = _category_zero(cats, anns, src, findings)
        try:
            label_map = LabelMap(
                (LabelMapItem(int(i), str(n)) for i, n in zip(cats["id"], cats["name"])), source=f"{src} categories"
            )
        except (LabelMapError, ValueError, TypeError) as exc:
            label_map = LabelMap.from_names(cats["name"].astype(str))
            findings.append(Finding(WARNING, "label.renumbered", "categories", src,
                                    f"{exc}; classes renumbered 1..{len(label_map)} by sorted name", RENAMED,
                                    annotation=src))
    cat_name = dict(zip(pd.to_numeric(cats["id"], errors="coerce"), cats["name"].astype(str))) if len(cats) else {}
    if len(cats) and "source_id" in cats.columns:  # a category whose id moved: its boxes follow it
        cat_name.update(zip(pd.to_numeric(cats["source_id"], errors="coerce"), cats["name"].astype(str)))
    return label_map, cat_name


def _images(imgs: pd.DataFrame, src: str, findings: list) -> pd.DataFrame:
    """The images table."""
    # Images. Ids must be integers, unique; file names present. A bad entry
    # stays in the table (it is an image read) with an error, so it is counted
    # as skipped; it gets a negative placeholder id no annotation can refer to.
    imgs = imgs.reset_index(drop=True)
    imgs["id"] = pd.to_numeric(imgs["id"], errors="coerce")
    bad = (imgs["id"].isna() | imgs["file_name"].isna() | (imgs["id"] % 1 != 0) | (imgs["id"] < 0)
           | (imgs["id"] > _MAX_ID) | imgs["id"].duplicated()).to_numpy()
    for k in np.flatnonzero(bad):
        r = imgs.iloc[k]
        findings.append(Finding(ERROR, "coco.bad_image_entry", f"images[{k}]", src,
                                f"image entry {k} (id={r.get('id')!r}, file_name={r.get('file_name')!r}) is missing "
                                "a non-negative integer id below 2^63 or a file name, or repeats an id",
                                SKIPPED_IMAGE, annotation=src))
    file_name = imgs["file_name"].astype(object).where(imgs["file_name"].notna(),
                                                       pd.Series([f"<images[{k}]>" for k in range(len(imgs))]))
    ids = imgs["id"].where(~bad, 0).fillna(0).to_numpy(dtype=np.int64, copy=True)
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

    return images_df


def _objects(anns: pd.DataFrame, images_df: pd.DataFrame, cat_name: dict, src: str, findings: list):
    """The objects table, and how many annotations refer to no image (dropped)."""
    # Annotations.
    orphan = 0
    if len(anns):
        anns = anns.reset_index(drop=True)
        anns["image_id"] = pd.to_numeric(anns["image_id"], errors="coerce")
        # Id 0 is a valid COCO image id (Roboflow exports start there); bad
        # entries carry negative placeholder ids no annotation can match.
        unknown = ~anns["image_id"].isin(images_df.loc[images_df["image_id"] >= 0, "image_id"])
        for i, r in anns[unknown].head(1000).iterrows():
            findings.append(Finding(ERROR, "coco.unknown_image", f"annotation id={r.get('id')}", src,
                                    f"annotation {i} refers to image_id={r['image_id']!r}, which is not in 'images'",
                                    DROPPED_BOX, annotation=src, value=r["image_id"]))
        if unknown.sum() > 1000:
            findings.append(Finding(ERROR, "coco.unknown_image", "...", src,
                                    f"{int(unknown.sum()) - 1000} more annotations refer to unknown images",
                                    DROPPED_BOX, annotation=src, value=int(unknown.sum()) - 1000))
        orphan += int(unknown.sum())
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
            "is_crowd": _iscrowd(anns["iscrowd"], anns["id"], src, findings),
            "area": pd.to_numeric(anns["area"], errors="coerce").to_numpy(),
        })
    else:
        objects_df = pd.DataFrame(columns=["image_id", "index", "text", "xmin", "ymin", "xmax", "ymax"])
    return objects_df, orphan


# -- the source registry's declaration (see dataprep.formats.registry) -----------------

def detect(path: Path) -> bool:
    """A ``.json`` file."""
    return path.suffix.lower() == ".json" and not path.is_dir()


@dataclass(frozen=True)
class CocoOptions:
    """``dataprep convert coco``'s reader options."""

    images: str | None = field(default=None, metadata=option(
        "--images", help="Folder the JSON's file_name values are relative to (with --runner beam also a gs://, "
                         "s3:// or hdfs:// URL).", required=True))


def open_source(spec) -> Dataset:
    opts = spec.options_for(CocoOptions)
    require_images(spec, opts.images, "COCO")
    return read_coco(spec.path, images=opts.images)


# -- writing (export-annotations) -------------------------------------------------------

def from_hub(boxes: np.ndarray) -> np.ndarray:
    """Hub ``xyxy`` pixel corners -> ``bbox`` ``[x, y, w, h]``, continuous (module docstring)."""
    return convert(boxes, "xyxy", "xywh")


def write_coco(ds: Dataset, path: str | Path, *, label_map: LabelMap | None = None, split: str | None = None) -> Path:
    """COCO detection JSON (``bbox`` = ``[x, y, w, h]`` in the hub frame)."""
    if ds.box_units != "pixel":
        raise ValueError("write_coco needs pixel boxes")
    label_map = label_map or ds.label_map or LabelMap.from_names(ds.class_names())
    images = ds.images if split is None else ds.images[ds.images["split"] == split]
    objs = ds.objects[ds.objects["image_id"].isin(images["image_id"])]
    xywh = from_hub(objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy())
    ids = label_map.ids_for(objs["text"].tolist())
    data = {
        "images": [{"id": int(r.image_id), "file_name": r.file, "width": int(r.width), "height": int(r.height)}
                   for r in images.itertuples()],
        "annotations": [
            {"id": k + 1, "image_id": int(i), "category_id": int(c), "bbox": [float(v) for v in b],
             "area": float(b[2] * b[3]), "iscrowd": int(crowd)}
            for k, (i, c, b, crowd) in enumerate(zip(objs["image_id"], ids, xywh, objs["is_crowd"]))
        ],
        "categories": [{"id": i.id, "name": i.name, "supercategory": ""} for i in label_map],
    }
    path = Path(path)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_coco_folder(ds, images, boxes, label_map, out, result, move):
    """``OUT/images/<file>``, ``OUT/annotations/instances_<split>.json`` (bbox: :func:`from_hub`)."""
    from dataprep.formats.writers import place

    for row in images.itertuples():
        place(ds, row.file, out / "images" / row.file, move)
    pixel = Dataset(images, ds.objects.assign(xmin=boxes[:, 0], ymin=boxes[:, 1], xmax=boxes[:, 2], ymax=boxes[:, 3]),
                    out / "images", "pixel", label_map)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split in images["split"].unique():
        result.files.append(write_coco(pixel, out / "annotations" / f"instances_{split}.json", label_map=label_map,
                                       split=split))


SOURCE = SourceFormat(
    "coco", detect, open_source, "a COCO .json", urls=True, options=CocoOptions,
    argument=Argument("annotations", "COCO instances JSON (with --runner beam also a URL, read by the launcher)."),
    summary="COCO detection JSON; category ids are kept (1..90 with gaps).", write=write_coco_folder)
