"""export_annotations: each format's layout and pixel convention, and its errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import distinct_jpeg
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.formats import read_voc
from dataprep.formats.writers import export_annotations
from dataprep.formats.yolo import read_yolo
from dataprep.label_map import LabelMap


def one_image(tmp_path, *, file="sub/a.jpg", width=96.0, text="cat: big"):
    (tmp_path / "img" / "sub").mkdir(parents=True)
    (tmp_path / "img" / file).write_bytes(distinct_jpeg(0))  # 96 x 72
    images = pd.DataFrame([{"image_id": 1, "file": file, "split": "val", "width": width, "height": 72.0}])
    objects = pd.DataFrame([{"image_id": 1, "index": 0, "text": text, "xmin": 10.0, "ymin": 5.0, "xmax": 30.5,
                             "ymax": 15.0, "difficult": 1, "view": "Left"}])
    return Dataset.build(images, objects, tmp_path / "img")


def test_voc_is_one_based_inclusive_and_flat(tmp_path):
    export_annotations(one_image(tmp_path), tmp_path / "voc", "voc")
    xml = (tmp_path / "voc" / "Annotations" / "sub_a.xml").read_text()
    assert "<xmin>11</xmin><ymin>6</ymin><xmax>30.5</xmax><ymax>15</ymax>" in xml
    assert "<pose>Left</pose>" in xml and "<difficult>1</difficult>" in xml and "<filename>sub_a.jpg" in xml
    back = read_voc(tmp_path / "voc")
    assert back.objects[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [[10.0, 5.0, 30.5, 15.0]]
    assert back.images["split"].tolist() == ["val"]


def test_coco_keeps_the_path_and_xywh(tmp_path):
    export_annotations(one_image(tmp_path), tmp_path / "coco", "coco")
    data = json.loads((tmp_path / "coco" / "annotations" / "instances_val.json").read_text())
    assert data["images"][0]["file_name"] == "sub/a.jpg" and (tmp_path / "coco" / "images" / "sub" / "a.jpg").is_file()
    assert data["annotations"][0]["bbox"] == [10.0, 5.0, 20.5, 10.0]


def test_yolo_quotes_names_and_reads_unknown_sizes(tmp_path):
    ds = one_image(tmp_path, width=float("nan"))  # the size comes from the image header
    export_annotations(ds, tmp_path / "yolo", "yolo")
    assert "  0: 'cat: big'\n" in (tmp_path / "yolo" / "data.yaml").read_text()
    back = read_yolo(tmp_path / "yolo")
    assert back.objects["text"].tolist() == ["cat: big"]
    assert back.objects["xmin"].iloc[0] == pytest.approx(10 / 96)


def test_errors(tmp_path):
    ds = one_image(tmp_path)
    with pytest.raises(UsageError, match="class 'cat: big' is not in the label map"):
        export_annotations(ds, tmp_path / "y", "yolo", label_map=LabelMap.from_names(["dog"]))
    with pytest.raises(UsageError, match="--format must be one of coco, voc, yolo"):
        export_annotations(ds, tmp_path / "k", "kitti")
    ds.images["width"] = float("nan")
    (tmp_path / "img" / "sub" / "a.jpg").write_bytes(b"not an image")
    with pytest.raises(UsageError, match="size unknown and the image does not open"):
        export_annotations(ds, tmp_path / "v", "voc")
