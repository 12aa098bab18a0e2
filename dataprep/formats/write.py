"""Write a :class:`Dataset` back out as COCO JSON or CSV annotations.

Used to express one dataset in every format (the bundled sample data, the
round-trip tests) and by users who want to move annotations between tools.
Boxes leave the hub with each format's convention (see the readers).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dataprep.boxes import convert
from dataprep.dataset import Dataset
from dataprep.label_map import LabelMap


def _sizes(ds: Dataset) -> pd.DataFrame:
    return ds.images.set_index("image_id")[["file", "width", "height", "split"]]


def write_coco(ds: Dataset, path: str | Path, *, label_map: LabelMap | None = None, split: str | None = None) -> Path:
    """COCO detection JSON (``bbox`` = ``[x, y, w, h]`` in the hub frame)."""
    if ds.box_units != "pixel":
        raise ValueError("write_coco needs pixel boxes")
    label_map = label_map or ds.label_map or LabelMap.from_names(ds.class_names())
    images = ds.images if split is None else ds.images[ds.images["split"] == split]
    objs = ds.objects[ds.objects["image_id"].isin(images["image_id"])]
    xywh = convert(objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(), "xyxy", "xywh")
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


def write_csv(ds: Dataset, path: str | Path, *, split: str | None = None) -> Path:
    """TF OD API CSV (``filename,width,height,class,xmin,ymin,xmax,ymax``,
    continuous pixel corners); an image without boxes gets one row with an
    empty class and empty coordinates."""
    if ds.box_units != "pixel":
        raise ValueError("write_csv needs pixel boxes")
    sizes = _sizes(ds)
    if split is not None:
        sizes = sizes[sizes["split"] == split]
    objs = ds.objects[ds.objects["image_id"].isin(sizes.index)]
    info = sizes.reindex(objs["image_id"])
    rows = pd.DataFrame({
        "filename": info["file"].to_numpy(),
        "width": info["width"].to_numpy(),
        "height": info["height"].to_numpy(),
        "class": objs["text"].to_numpy(),
        **{k: objs[k].to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")},
    })
    empty = sizes[~sizes.index.isin(objs["image_id"])]
    if len(empty):
        rows = pd.concat([rows, pd.DataFrame({"filename": empty["file"].to_numpy(), "width": empty["width"].to_numpy(),
                                              "height": empty["height"].to_numpy()})], ignore_index=True)
    for c in ("width", "height"):
        rows[c] = rows[c].map(lambda v: "" if v != v else f"{v:g}")
    for c in ("xmin", "ymin", "xmax", "ymax"):
        rows[c] = rows[c].map(lambda v: "" if v != v else repr(float(v)))
    rows["class"] = rows["class"].fillna("")
    path = Path(path)
    rows.to_csv(path, index=False)
    return path
