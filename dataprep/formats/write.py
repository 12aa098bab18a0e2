"""Write a :class:`Dataset` back out as COCO JSON or CSV annotations.

Used to express one dataset in every format (the bundled sample data, the
round-trip tests) and by users who want to move annotations between tools.
Boxes leave the hub with each format's convention (see the readers);
COCO's writer lives in :mod:`dataprep.formats.coco`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dataprep.dataset import Dataset
from dataprep.formats.coco import write_coco  # noqa: F401  (COCO owns its writing; kept here for the callers)


def _sizes(ds: Dataset) -> pd.DataFrame:
    return ds.images.set_index("image_id")[["file", "width", "height", "split"]]


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
