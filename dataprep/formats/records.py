"""Records as a registered format: a dataprep output folder (sharded
TFRecords + ``manifest.json`` + ``label_map.pbtxt``).

Not one of the annotation readers that ``auto`` detects for ``convert`` and
``validate`` (a folder of records is read there by the ``tfrecord`` reader,
as any tool's records); ``split`` and ``stats`` take ``--format records`` and
detect it first (:func:`dataprep.formats.registry.format_names` with
``records=True``). Read as a source, the folder's own label map names its
classes, keeping their ids and order.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataprep.dataset import Dataset
from dataprep.formats.registry import SourceFormat


def detect(path: Path) -> bool:
    """A folder with a ``manifest.json``."""
    path = Path(path)
    return path.is_dir() and (path / "manifest.json").is_file()


def open_source(spec) -> Dataset:
    from dataprep.formats.tfrecord import read_tfrecord

    path = Path(spec.path)
    label_map = spec.label_map
    if label_map is None and (path / "label_map.pbtxt").is_file():
        label_map = path / "label_map.pbtxt"  # a dataprep output: keep its ids and order
    return read_tfrecord(os.fspath(path), label_map=label_map)


SOURCE = SourceFormat("records", detect, open_source, "a dataprep output folder (manifest.json)")
