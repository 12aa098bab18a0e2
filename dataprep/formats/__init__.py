"""Readers: each turns one annotation format into a :class:`dataprep.dataset.Dataset`.

Readers never write records; they report what they cannot read as findings.
"""

from dataprep.formats.coco import read_coco
from dataprep.formats.csv import read_csv
from dataprep.formats.voc import read_voc

__all__ = ["read_voc", "read_coco", "read_csv"]
