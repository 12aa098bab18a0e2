"""Regenerate sample_data/ (run from the repository root):

    python sample_data/make_sample_data.py

A small VOC folder of synthetic shapes made by dataprep itself, and the same
annotations expressed as COCO JSON, as CSV and as a YOLO (Ultralytics) folder,
so every converter can be tried on the bundled data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dataprep.formats import read_voc
from dataprep.formats.writers import export_annotations
from dataprep.formats.write import write_coco, write_csv
from dataprep.synth import generate_shapes_voc

HERE = Path(__file__).resolve().parent


def main() -> None:
    voc = HERE / "voc"
    if voc.exists():
        shutil.rmtree(voc)
    generate_shapes_voc(voc, 24, width=320, height=240, seed=2026, splits={"train": 0.75, "val": 0.25},
                        negatives=0.1, jpeg_quality=85)
    ds = read_voc(voc)
    write_coco(ds, HERE / "coco_instances.json")
    write_csv(ds, HERE / "labels.csv")
    if (HERE / "yolo").exists():
        shutil.rmtree(HERE / "yolo")
    export_annotations(ds, HERE / "yolo", "yolo")


if __name__ == "__main__":
    main()
