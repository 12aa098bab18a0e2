"""dataprep: object-detection annotations (Pascal VOC, COCO, CSV) to validated,
sharded TFRecords with label maps; dataset statistics and SSD anchor coverage;
an SSD MobileNetV2 trainer.

Importing ``dataprep`` is cheap: TensorFlow is imported only by the functions
that need it (:func:`load_dataset`, :func:`parse_example`, training).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_dataset", "parse_example", "read_voc", "read_coco", "read_csv", "LabelMap"]


def __getattr__(name: str):
    # Lazy attributes keep `import dataprep` free of TensorFlow and pandas.
    if name in ("load_dataset", "parse_example"):
        from dataprep.records import tfdata  # imports TensorFlow

        return getattr(tfdata, name)
    if name in ("read_voc", "read_coco", "read_csv"):
        from dataprep import formats

        return getattr(formats, name)
    if name == "LabelMap":
        from dataprep.label_map import LabelMap

        return LabelMap
    raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
