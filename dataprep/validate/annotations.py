"""Checks on the annotation tables, as column operations over all boxes.

These need no image: missing or non-finite coordinates, inverted boxes,
classes unknown to the label map, images annotated twice. Checks that need
the real image size (clipping, boxes outside the image) run per image in
:mod:`dataprep.validate.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.label_map import LabelMap
from dataprep.validate.findings import DROPPED_BOX, ERROR, SKIPPED_IMAGE, SWAPPED, Finding


@dataclass
class AnnotationCheck:
    objects: pd.DataFrame  # the objects kept, with fixes applied and a `label` column
    skip_images: pd.Series  # image_id -> reason, for images to skip
    findings: list[Finding]
    dropped: int  # boxes dropped here


def _item(objs: pd.DataFrame) -> list[str]:
    return [f"{f} object {i} {t!r}" for f, i, t in zip(objs["file"], objs["index"], objs["text"])]


def check_annotations(ds: Dataset, label_map: LabelMap) -> AnnotationCheck:
    findings: list[Finding] = []
    images = ds.images.set_index("image_id")
    objs = ds.objects.copy()
    objs["file"] = images["file"].reindex(objs["image_id"]).to_numpy()
    objs["annotation_file"] = images["annotation"].reindex(objs["image_id"]).to_numpy()
    coords = objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float, copy=True)
    drop = np.zeros(len(objs), dtype=bool)

    # 1. Missing, non-numeric or infinite coordinates: nothing to fix, drop.
    bad = ~np.isfinite(coords).all(axis=1)
    for item, ann, c in zip(_item(objs[bad]), objs.loc[bad, "annotation_file"], coords[bad]):
        findings.append(Finding(ERROR, "box.nan", item, ann,
                                f"coordinates (xmin, ymin, xmax, ymax) = ({', '.join(f'{v:g}' for v in c)}) "
                                "are missing, not numbers or infinite", DROPPED_BOX))
    drop |= bad

    # 2. Inverted boxes (min > max): the corners were swapped; swap them back.
    inv_x = ~bad & (coords[:, 0] > coords[:, 2])
    inv_y = ~bad & (coords[:, 1] > coords[:, 3])
    inverted = inv_x | inv_y
    for item, ann, c in zip(_item(objs[inverted]), objs.loc[inverted, "annotation_file"], coords[inverted]):
        findings.append(Finding(ERROR, "box.inverted", item, ann,
                                f"min > max in (xmin, ymin, xmax, ymax) = ({', '.join(f'{v:g}' for v in c)}); "
                                "corners swapped", SWAPPED))
    coords[inv_x, 0], coords[inv_x, 2] = coords[inv_x, 2].copy(), coords[inv_x, 0].copy()
    coords[inv_y, 1], coords[inv_y, 3] = coords[inv_y, 3].copy(), coords[inv_y, 1].copy()
    objs[["xmin", "ymin", "xmax", "ymax"]] = coords

    # 3. Classes the label map does not know: drop, naming the closest names.
    labels = label_map.ids_for(objs["text"].tolist())
    unknown = labels < 0
    if unknown.any():
        hints = {t: label_map.unknown_message(t) for t in objs.loc[unknown, "text"].unique()}
        for item, ann, t in zip(_item(objs[unknown]), objs.loc[unknown, "annotation_file"], objs.loc[unknown, "text"]):
            findings.append(Finding(ERROR, "label.unknown", item, ann, hints[t], DROPPED_BOX))
    drop |= unknown
    objs["label"] = labels

    # 4. One image file annotated by two entries: keep the first.
    dup = ds.images["file"].duplicated(keep="first")
    skip = pd.Series(dtype=object)
    if dup.any():
        first = ds.images.drop_duplicates("file").set_index("file")["annotation"]
        rows = ds.images[dup]
        for _, r in rows.iterrows():
            findings.append(Finding(ERROR, "image.annotated_twice", r["file"], r["annotation"],
                                    f"{r['file']!r} is already annotated by {first[r['file']]}; this annotation "
                                    "is skipped", SKIPPED_IMAGE))
        skip = pd.Series("annotated twice", index=rows["image_id"].to_numpy())
    kept = objs[~drop].drop(columns=["file", "annotation_file"]).reset_index(drop=True)
    return AnnotationCheck(kept, skip, findings, int(drop.sum()))
