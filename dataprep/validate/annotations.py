"""Checks on the annotation tables, as column operations over all boxes.

These need no image: missing or non-finite coordinates, inverted boxes,
boxes that look normalized in a pixel format, duplicate boxes, tiny boxes,
classes unknown to the label map (or with no boxes, or with names that need
care), images annotated twice. Checks that need
the real image size (clipping, boxes outside the image) run per image in
:mod:`dataprep.validate.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.label_map import LabelMap
from dataprep.findings import (DROPPED_BOX, ERROR, INFO, KEPT, RENAMED, SKIPPED_IMAGE, SWAPPED, WARNING,
                               Finding)

#: Boxes of one class in one image overlapping at least this much are duplicates.
DUPLICATE_IOU = 0.95


@dataclass
class AnnotationCheck:
    objects: pd.DataFrame  # the objects kept, with fixes applied and a `label` column
    skip_images: pd.Series  # image_id -> reason, for images to skip
    findings: list[Finding]
    dropped: int  # boxes dropped here


def _item(objs: pd.DataFrame) -> list[tuple[str, dict]]:
    """Per box: its display item and its structured fields (image, annotation, object index)."""
    return [(f"{f} object {i} {t!r}", {"image": f, "annotation": a, "object_index": int(i)})
            for f, i, t, a in zip(objs["file"], objs["index"], objs["text"], objs["annotation_file"])]


def duplicate_boxes(image_ids: np.ndarray, classes: np.ndarray, boxes: np.ndarray,
                    threshold: float = DUPLICATE_IOU) -> tuple[np.ndarray, np.ndarray]:
    """Boxes that repeat an earlier box of the same class in the same image
    (IoU >= ``threshold``): (mask of the repeats, index of the box each repeats).

    Vectorised: boxes are sorted by (image, class); pass ``d`` compares every
    box with the one ``d`` places later in the same group, for d = 1 .. the
    largest group size.
    """
    n = len(boxes)
    dup = np.zeros(n, dtype=bool)
    first = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return dup, first
    _, cls = np.unique(classes, return_inverse=True)
    order = np.lexsort((np.arange(n), cls, image_ids))
    img_s, cls_s, b = image_ids[order], cls[order], boxes[order]
    same_next = (img_s[1:] == img_s[:-1]) & (cls_s[1:] == cls_s[:-1])
    if not same_next.any():
        return dup, first
    starts = np.flatnonzero(np.r_[True, ~same_next])
    largest = int(np.diff(np.r_[starts, n]).max())
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    for d in range(1, largest):
        i = np.arange(n - d)
        j = i + d
        same = (img_s[i] == img_s[j]) & (cls_s[i] == cls_s[j])
        i, j = i[same], j[same]
        iw = np.minimum(b[i, 2], b[j, 2]) - np.maximum(b[i, 0], b[j, 0])
        ih = np.minimum(b[i, 3], b[j, 3]) - np.maximum(b[i, 1], b[j, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        union = area[i] + area[j] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = (union > 0) & (inter / np.where(union > 0, union, 1) >= threshold) & ~dup[j]
        # j repeats i: keep the earlier box; never drop a box that is itself kept as the original
        hit &= ~dup[i]
        dup[j[hit]] = True
        first[j[hit]] = i[hit]
    # A repeat of a repeat points at the box that is kept.
    while True:
        chained = dup & (first >= 0) & dup[np.clip(first, 0, None)]
        if not chained.any():
            break
        first[chained] = first[first[chained]]
    out_dup = np.zeros(n, dtype=bool)
    out_first = np.full(n, -1, dtype=np.int64)
    out_dup[order] = dup
    out_first[order] = np.where(first >= 0, order[np.clip(first, 0, None)], -1)
    return out_dup, out_first


def claimed_twice(images: pd.DataFrame, boxes_per_image: pd.Series) -> tuple[dict, pd.Series, list[Finding]]:
    """Image files claimed by two entries (two annotation files, two COCO
    ``images[]`` entries). Both describe that image, so a later entry's boxes
    join the first entry's (exact repeats then fall to the duplicate check)
    and the entry is not written as a second image. An entry annotated at
    another size drew its boxes on another picture: it is skipped, its boxes
    counted as dropped. Returns {later image_id: first image_id}, the later
    entries to skip (id -> reason) and the findings."""
    dup = images["file"].duplicated(keep="first")
    if not dup.any():
        return {}, pd.Series(dtype=object), []
    first = images.drop_duplicates("file").set_index("file")
    merge, reasons, findings = {}, {}, []
    for _, r in images[dup].iterrows():
        f, n = first.loc[r["file"]], int(boxes_per_image.get(r["image_id"], 0))
        sizes = [(a, b) for a, b in ((r.get("width"), f.get("width")), (r.get("height"), f.get("height")))
                 if pd.notna(a) and pd.notna(b)]
        where = {"image": r["file"], "annotation": r["annotation"]}
        if all(a == b for a, b in sizes):
            merge[r["image_id"]] = f["image_id"]
            reasons[r["image_id"]] = "annotated twice (boxes merged into the first entry)"
            findings.append(Finding(WARNING, "image.annotated_twice", r["file"], r["annotation"],
                                    f"{r['file']!r} is also annotated by {f['annotation']}; this annotation's {n} "
                                    "box(es) are merged into it (the image is written once; repeats are dropped as "
                                    "box.duplicate)", SKIPPED_IMAGE, **where))
        else:
            reasons[r["image_id"]] = "annotated twice at another size"
            findings.append(Finding(ERROR, "image.annotated_twice", r["file"], r["annotation"],
                                    f"{r['file']!r} is also annotated by {f['annotation']} at another size "
                                    f"({r.get('width'):g}x{r.get('height'):g} here, {f.get('width'):g}x"
                                    f"{f.get('height'):g} there); this annotation and its {n} box(es) are skipped",
                                    SKIPPED_IMAGE, **where))
    return merge, pd.Series(reasons, dtype=object), findings


def numeric_classes(texts, label_map: LabelMap) -> tuple[dict[str, str], list[Finding]]:
    """Class texts that are numbers where the label map has names ('2' in a
    CSV read with ``--label-map`` naming cat = 1, dog = 2): read as label-map
    ids when every such number is one, else as 0-based class indices (YOLO's
    and most trainers' convention, id = index + 1) when every number + 1 is
    one; otherwise nothing is guessed (``label.unknown``). A label map with
    names that are themselves numbers makes every reading ambiguous: nothing
    is guessed. Returns {text: the label-map name it is read as} and a
    finding per text."""
    numbers = {t: int(t.strip()) for t in texts if t.strip().isdecimal()}
    if not numbers or any(n.strip().isdecimal() for n in label_map.names):
        return {}, []
    ids = {item.id for item in label_map}
    values = set(numbers.values())
    if values <= ids:
        shift, how = 0, "label-map id"
    elif {v + 1 for v in values} <= ids:
        shift, how = 1, "0-based class index (id = index + 1)"
    else:
        return {}, []
    renamed = {t: label_map.name_of(v + shift) for t, v in numbers.items()}
    findings = [Finding(WARNING, "label.numeric_class", t, label_map.source,
                        f"class {t!r} is not a name in the label map; it is read as {how} {numbers[t]} -> "
                        f"{renamed[t]!r} (id {numbers[t] + shift}); every number here fits that reading", RENAMED,
                        value=t)
                for t in sorted(renamed)]
    return renamed, findings


def check_annotations(ds: Dataset, label_map: LabelMap, *, tiny_box: float = 4.0) -> AnnotationCheck:
    """The annotation checks, numbered as they run (each step's function says
    what it finds and does); boxes an earlier step drops are not checked again."""
    findings: list[Finding] = []
    images = ds.images.set_index("image_id")
    objs = ds.objects.copy()
    objs["file"] = images["file"].reindex(objs["image_id"]).to_numpy()
    objs["annotation_file"] = images["annotation"].reindex(objs["image_id"]).to_numpy()
    # 0. One image file claimed by two entries: see claimed_twice.
    merge, skip, twice = claimed_twice(ds.images, ds.objects["image_id"].value_counts())
    findings.extend(twice)
    if merge:
        objs["image_id"] = objs["image_id"].replace(merge)
    coords = objs[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float, copy=True)
    drop = np.zeros(len(objs), dtype=bool)

    bad = _missing_coordinates(objs, coords, findings)
    drop |= bad
    _swap_inverted(objs, coords, bad, findings)
    if ds.box_units == "pixel":
        drop |= _looks_normalized(objs, coords, images, bad, drop, findings)
    drop |= _duplicates(objs, coords, drop, findings)
    if ds.box_units == "pixel" and tiny_box > 0:
        _tiny(objs, coords, drop, tiny_box, findings)
    labels, unknown = _unknown_classes(objs, label_map, findings)
    drop |= unknown
    objs["label"] = labels
    _class_notes(objs, drop, label_map, findings)

    kept = objs[~drop].drop(columns=["file", "annotation_file"]).reset_index(drop=True)
    return AnnotationCheck(kept, skip, findings, int(drop.sum()))


def _missing_coordinates(objs: pd.DataFrame, coords: np.ndarray, findings: list) -> np.ndarray:
    """1. Missing, non-numeric or infinite coordinates: nothing to fix, drop."""
    bad = ~np.isfinite(coords).all(axis=1)
    for (item, where), ann, c in zip(_item(objs[bad]), objs.loc[bad, "annotation_file"], coords[bad]):
        findings.append(Finding(ERROR, "box.nan", item, ann,
                                f"coordinates (xmin, ymin, xmax, ymax) = ({', '.join(f'{v:g}' for v in c)}) "
                                "are missing, not numbers or infinite", DROPPED_BOX, value=c, **where))
    return bad


def _swap_inverted(objs: pd.DataFrame, coords: np.ndarray, bad: np.ndarray, findings: list) -> None:
    """2. Inverted boxes (min > max): the corners were swapped; swap them back (in ``coords`` and ``objs``)."""
    inv_x = ~bad & (coords[:, 0] > coords[:, 2])
    inv_y = ~bad & (coords[:, 1] > coords[:, 3])
    inverted = inv_x | inv_y
    for (item, where), ann, c in zip(_item(objs[inverted]), objs.loc[inverted, "annotation_file"], coords[inverted]):
        findings.append(Finding(ERROR, "box.inverted", item, ann,
                                f"min > max in (xmin, ymin, xmax, ymax) = ({', '.join(f'{v:g}' for v in c)}); "
                                "corners swapped", SWAPPED, value=c, **where))
    coords[inv_x, 0], coords[inv_x, 2] = coords[inv_x, 2].copy(), coords[inv_x, 0].copy()
    coords[inv_y, 1], coords[inv_y, 3] = coords[inv_y, 3].copy(), coords[inv_y, 1].copy()
    objs[["xmin", "ymin", "xmax", "ymax"]] = coords


def _looks_normalized(objs: pd.DataFrame, coords: np.ndarray, images: pd.DataFrame, bad: np.ndarray,
                      drop: np.ndarray, findings: list) -> np.ndarray:
    """3. Pixel boxes whose every coordinate is in [0, 1] on an image larger than
    a few pixels: normalized coordinates in a pixel format. They would be
    sub-pixel boxes; drop them and say what to pass instead."""
    size = images[["width", "height"]].reindex(objs["image_id"]).to_numpy(dtype=float)
    big = ~(size <= 2).any(axis=1)  # unknown (NaN) sizes count as big: real images are
    looks = ~bad & ~drop & big & (coords >= 0).all(axis=1) & (coords <= 1.0).all(axis=1) & \
        ((coords[:, 2] - coords[:, 0]) < 1) & ((coords[:, 3] - coords[:, 1]) < 1)
    for (item, where), ann, c in zip(_item(objs[looks]), objs.loc[looks, "annotation_file"], coords[looks]):
        findings.append(Finding(ERROR, "box.looks_normalized", item, ann,
                                f"coordinates ({', '.join(f'{v:g}' for v in c)}) are all within [0, 1] in a pixel "
                                "format; if the file holds fractions of the image size, convert with --normalized",
                                DROPPED_BOX, value=c, **where))
    return looks


def _duplicates(objs: pd.DataFrame, coords: np.ndarray, drop: np.ndarray, findings: list) -> np.ndarray:
    """4. Duplicates: a box of the same class in the same image with IoU >= 0.95
    to an earlier one is an annotation slip (double click); drop the repeat."""
    ok = ~drop
    dup_ok, first_ok = duplicate_boxes(objs["image_id"].to_numpy()[ok], objs["text"].to_numpy()[ok], coords[ok])
    dup = np.zeros(len(objs), dtype=bool)
    dup[np.flatnonzero(ok)[dup_ok]] = True
    firsts = np.flatnonzero(ok)[first_ok[dup_ok]]
    dups = objs[dup]
    for (item, where), ann, c, k in zip(_item(dups), dups["annotation_file"], coords[dup], objs["index"].to_numpy()[firsts]):
        findings.append(Finding(WARNING, "box.duplicate", item, ann,
                                f"box ({', '.join(f'{v:g}' for v in c)}) repeats object {k} of the same class "
                                f"(IoU >= {DUPLICATE_IOU:g}); the repeat was dropped", DROPPED_BOX, value=c,
                                **where))
    return dup


def _tiny(objs: pd.DataFrame, coords: np.ndarray, drop: np.ndarray, tiny_box: float, findings: list) -> None:
    """5. Tiny boxes: kept (they may be real), but few anchors can match them."""
    w = coords[:, 2] - coords[:, 0]
    h = coords[:, 3] - coords[:, 1]
    tiny = ~drop & (np.minimum(w, h) < tiny_box) & (np.minimum(w, h) >= 1)
    for (item, where), ann, ww, hh, c in zip(_item(objs[tiny]), objs.loc[tiny, "annotation_file"], w[tiny], h[tiny],
                                             coords[tiny]):
        findings.append(Finding(INFO, "box.tiny", item, ann,
                                f"box is {ww:g}x{hh:g} px, below {tiny_box:g} px; kept (check it is real)", KEPT,
                                value=c, **where))


def _unknown_classes(objs: pd.DataFrame, label_map: LabelMap, findings: list) -> tuple[np.ndarray, np.ndarray]:
    """6. Classes the label map does not know: a number where the label map has
    names is the id it plainly means (numeric_classes, renamed in ``objs``); the
    rest are dropped, naming the closest names. Returns the labels and which are unknown."""
    labels = label_map.ids_for(objs["text"].tolist())
    unknown = labels < 0
    if unknown.any():
        renamed, numeric = numeric_classes(objs.loc[unknown, "text"].unique(), label_map)
        findings.extend(numeric)
        if renamed:
            hit = unknown & objs["text"].isin(list(renamed)).to_numpy()
            objs.loc[hit, "text"] = objs.loc[hit, "text"].map(renamed)
            labels = label_map.ids_for(objs["text"].tolist())
            unknown = labels < 0
    if unknown.any():
        hints = {t: label_map.unknown_message(t) for t in objs.loc[unknown, "text"].unique()}
        for (item, where), ann, t in zip(_item(objs[unknown]), objs.loc[unknown, "annotation_file"], objs.loc[unknown, "text"]):
            findings.append(Finding(ERROR, "label.unknown", item, ann, hints[t], DROPPED_BOX, value=t, **where))
    return labels, unknown


def _class_notes(objs: pd.DataFrame, drop: np.ndarray, label_map: LabelMap, findings: list) -> None:
    """7. Label map entries without any box, and names that need care."""
    present = set(objs.loc[~drop, "text"].unique())
    for item in label_map:
        if item.name not in present and item.display_name not in present:
            findings.append(Finding(WARNING, "label.no_boxes", item.name, label_map.source,
                                    f"class {item.name!r} (id {item.id}) has no boxes in this dataset", KEPT,
                                    value=item.name))
    names = sorted(objs["text"].unique())
    folded: dict[str, list[str]] = {}
    for n in names:
        folded.setdefault(n.strip().casefold(), []).append(n)
    for variants in folded.values():
        if len(variants) > 1:
            findings.append(Finding(WARNING, "label.case_variants", " / ".join(variants), "",
                                    f"class names {variants} differ only in case or spaces; they are different "
                                    "classes unless you map them with --label-map display names", KEPT, value=variants))
    for n in names:
        if not n.isascii():
            findings.append(Finding(INFO, "label.non_ascii", n, "",
                                    f"class name {n!r} is not ASCII; kept as UTF-8 in class/text and the label map",
                                    KEPT, value=n))
