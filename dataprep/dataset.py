"""The one in-memory dataset model every reader fills and every consumer takes.

Two pandas tables:

``images`` (one row per input image; ``image_id`` unique)
    image_id   int64   the record's ``image/source_id``: the COCO image id for
                       COCO sources, otherwise 1..N in order of file name, so it
                       is stable across runs of the same input
    file       str     path relative to ``images_root`` (``image/filename``)
    split      str     train / val / test / trainval ...
    width, height  float64  size the annotation states (NaN when unknown)
    annotation str     the annotation file (and row/line) it came from, for messages
    error      str     empty, or why the reader already knows the image is unusable
                       (e.g. its XML is malformed); such images are skipped and reported
    reader_dropped int32 boxes of this image the reader could not parse (each has a
                       finding); ``--on-error skip`` skips such images

``objects`` (one row per box)
    image_id   int64
    index      int32   the box's position in its annotation (0-based), for messages
    text       str     class name as written in the annotation
    xmin, ymin, xmax, ymax  float64  hub format (see :mod:`dataprep.boxes`):
                       continuous pixel corners, or fractions of the image size
                       when ``box_units == "normalized"``
    difficult, truncated, is_crowd  int8  (0 when unknown)
    area       float64 NaN when unknown (recomputed from the written box)
    view       str     VOC pose, "" when unknown

Image bytes are never part of the model: they stream from disk to the shard
writer. Readers only fill the tables; :meth:`Dataset.build` checks them here,
in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.locations import location
from dataprep.label_map import LabelMap
from dataprep.findings import Finding

#: The usual splits, in the order outputs, summaries and manifests list them;
#: any other split name follows, sorted.
SPLIT_ORDER = ("train", "val", "test", "trainval")


def split_names(names) -> list[str]:
    """The distinct split names of ``names`` (any iterable), in :data:`SPLIT_ORDER`."""
    present = {n for n in names}
    return [s for s in SPLIT_ORDER if s in present] + sorted(present - set(SPLIT_ORDER))


IMAGE_COLUMNS: dict[str, object] = {
    "image_id": "int64",
    "file": object,
    "split": object,
    "width": "float64",
    "height": "float64",
    "annotation": object,
    "error": object,
    "reader_dropped": "int32",
}
OBJECT_COLUMNS: dict[str, object] = {
    "image_id": "int64",
    "index": "int32",
    "text": object,
    "xmin": "float64",
    "ymin": "float64",
    "xmax": "float64",
    "ymax": "float64",
    "difficult": "int8",
    "truncated": "int8",
    "is_crowd": "int8",
    "area": "float64",
    "view": object,
}
_DEFAULTS = {"difficult": 0, "truncated": 0, "is_crowd": 0, "area": np.nan, "view": "", "error": "",
             "width": np.nan, "height": np.nan, "annotation": "", "split": "train", "index": 0, "reader_dropped": 0}


@dataclass
class Dataset:
    images: pd.DataFrame
    objects: pd.DataFrame
    images_root: Path | str  # a URL (gs://...) stays a string: only --runner beam reads it
    box_units: str = "pixel"
    #: A label map the source itself defines (COCO categories), or None.
    label_map: LabelMap | None = None
    #: Findings of the reader (malformed files, unknown ids ...).
    findings: list[Finding] = field(default_factory=list)
    #: Boxes the reader read but could not keep (no image, unparseable row);
    #: each has a finding and counts as read and dropped.
    dropped_boxes: int = 0
    #: What was read, for the manifest.
    source: dict = field(default_factory=dict)
    #: Where the image bytes are read from when not files under ``images_root``
    #: (``read(path)``, ``sizes(root, files)``, ``read_name(file)``: records read by
    #: :mod:`dataprep.formats.tfrecord` keep their images inside the record files,
    #: :class:`dataprep.records.image_store.RecordImageStore`). None: the files.
    image_store: object = None

    @classmethod
    def build(
        cls,
        images: pd.DataFrame,
        objects: pd.DataFrame,
        images_root: str | Path,
        *,
        box_units: str = "pixel",
        label_map: LabelMap | None = None,
        findings: list[Finding] | None = None,
        dropped_boxes: int = 0,
        source: dict | None = None,
        assign_ids: bool = False,
        image_store: object = None,
    ) -> "Dataset":
        """Normalise column types, fill defaults and check the invariants.

        With ``assign_ids`` the readers' provisional ``image_id`` values are
        replaced by 1..N in order of ``file`` (objects remapped accordingly).
        """
        if box_units not in ("pixel", "normalized"):
            raise ValueError(f"Expected box_units 'pixel' or 'normalized', got {box_units!r}")
        images = _conform(images, IMAGE_COLUMNS, "images")
        objects = _conform(objects, OBJECT_COLUMNS, "objects")
        images = images.sort_values("file", kind="stable").reset_index(drop=True)
        if assign_ids:
            new_ids = np.arange(1, len(images) + 1, dtype=np.int64)
            mapping = pd.Series(new_ids, index=images["image_id"].to_numpy())
            if mapping.index.has_duplicates:
                raise ValueError("provisional image ids must be unique")
            objects["image_id"] = mapping.reindex(objects["image_id"].to_numpy()).to_numpy()
            images["image_id"] = new_ids
        if images["image_id"].duplicated().any():
            dup = images.loc[images["image_id"].duplicated(keep=False)].head(4)
            raise ValueError(f"image ids must be unique; duplicated: {dup[['image_id', 'file']].to_dict('records')}")
        known = np.isin(objects["image_id"].to_numpy(), images["image_id"].to_numpy())
        if not known.all():
            raise ValueError(f"{int((~known).sum())} objects refer to image ids not in the images table")
        # Objects grouped by image in image order, stable within an image.
        order = pd.Series(np.arange(len(images)), index=images["image_id"].to_numpy())
        objects["_pos"] = order.reindex(objects["image_id"].to_numpy()).to_numpy()
        objects = objects.sort_values(["_pos", "index"], kind="stable").drop(columns="_pos").reset_index(drop=True)
        return cls(
            images=images,
            objects=objects,
            images_root=location(images_root),
            box_units=box_units,
            label_map=label_map,
            findings=list(findings or []),
            dropped_boxes=int(dropped_boxes),
            source=dict(source or {}),
            image_store=image_store,
        )

    def require_images(self) -> None:
        """Refuse a dataset with no image at all (a CSV with only its header, a
        file where nothing could be read): converting it would write an empty
        label map and report success. The message names the source and the
        first reasons found."""
        if len(self.images):
            return
        from dataprep.errors import DataprepError

        where = next((str(v) for k, v in self.source.items() if k in ("file", "annotations", "root", "pattern")),
                     "the source")
        why = "; ".join(f.message() for f in self.findings[:3])
        more = f" (and {len(self.findings) - 3} more findings)" if len(self.findings) > 3 else ""
        raise DataprepError(f"{where}: no images to convert: {why + more if why else 'it lists no images'}")

    @property
    def num_images(self) -> int:
        return len(self.images)

    @property
    def num_boxes(self) -> int:
        return len(self.objects)

    def class_names(self) -> list[str]:
        return sorted(self.objects["text"].unique().tolist())


def _conform(df: pd.DataFrame, columns: dict[str, object], what: str) -> pd.DataFrame:
    df = df.copy()
    for name, dtype in columns.items():
        if name not in df.columns:
            if name not in _DEFAULTS:
                raise ValueError(f"the {what} table needs a {name!r} column")
            df[name] = _DEFAULTS[name]
        if dtype is object:
            df[name] = df[name].fillna(_DEFAULTS.get(name, "")).astype(str).astype(object)
        else:
            df[name] = df[name].fillna(_DEFAULTS.get(name, 0)).astype(dtype) if dtype != "float64" else df[name].astype(dtype)
    return df[list(columns)].reset_index(drop=True)
