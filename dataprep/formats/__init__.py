"""Readers: each turns one annotation format into a :class:`dataprep.dataset.Dataset`.

Readers never write records; they report what they cannot read as findings.
``export.py`` is the way back out (a dataset as a VOC, COCO or YOLO folder).
Each reader module ends with its declaration for the source registry
(:mod:`dataprep.formats.registry`: ``detect``, ``open_source``, ``SOURCE``),
through which every command opens sources.
"""

from dataprep.formats.coco import read_coco
from dataprep.formats.csv import read_csv
from dataprep.formats.tfrecord import read_tfrecord
from dataprep.formats.voc import read_voc
from dataprep.formats.yolo import read_yolo

__all__ = ["read_voc", "read_coco", "read_csv", "read_yolo", "read_tfrecord"]
