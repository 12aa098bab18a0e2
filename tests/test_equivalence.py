"""The same dataset expressed in VOC, COCO, CSV and YOLO converts to the same examples."""

from __future__ import annotations

import numpy as np
import pytest

from dataprep.convert import ConvertOptions, convert
from pathlib import Path

from dataprep.formats import read_coco, read_csv, read_voc
from dataprep.formats.writers import export_annotations
from dataprep.formats.yolo import read_yolo
from dataprep.formats.write import write_coco, write_csv
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records
from dataprep.synth import generate_shapes_voc


def _examples(out):
    """Examples by image name (a YOLO source's file names carry its images/<split>/ folder)."""
    exs = {}
    for shard in sorted(out.glob("*.tfrecord")):
        for data in read_records(shard):
            ex = decode_example(data)
            exs[ex["filename"].rsplit("/", 1)[-1]] = ex
    return exs


def _convert(ds, out):
    result = convert(ds, ConvertOptions(out=out, workers=1, progress=False))
    result.report.counts.check()
    return _examples(out)


@pytest.fixture(scope="module")
def three_formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    generate_shapes_voc(root, 12, width=96, height=72, seed=3, splits=None, negatives=0.2)
    ds = read_voc(root)
    coco = write_coco(ds, root / "instances.json")
    csv = write_csv(ds, root / "labels.csv")
    export_annotations(ds, root / "yolo", "yolo")
    base = tmp_path_factory.mktemp("out")
    return {
        "voc": _convert(ds, base / "voc"),
        "coco": _convert(read_coco(coco, images=root / "JPEGImages"), base / "coco"),
        "csv": _convert(read_csv(csv, images=root / "JPEGImages"), base / "csv"),
        "yolo": _convert(read_yolo(root / "yolo"), base / "yolo"),
    }


@pytest.mark.parametrize("other", ["coco", "csv", "yolo"])
def test_same_examples_in_every_format(three_formats, other):
    voc, oth = three_formats["voc"], three_formats[other]
    assert sorted(voc) == sorted(oth) and len(voc) == 12
    assert sum(len(e["boxes"]) for e in voc.values()) > 12
    assert any(len(e["boxes"]) == 0 for e in voc.values())  # negatives survive every format
    for name, a in voc.items():
        b = oth[name]
        assert a["sha256"] == b["sha256"] and a["encoded"] == b["encoded"]
        assert (a["height"], a["width"], a["format"]) == (b["height"], b["width"], b["format"])
        np.testing.assert_allclose(a["boxes"], b["boxes"], atol=1e-6, rtol=0)
        assert a["labels"] == b["labels"] and a["texts"] == b["texts"]
        np.testing.assert_allclose(a["area"], b["area"], rtol=1e-6)


def test_golden_box_in_every_format(tmp_path, write_image):
    """One box written by hand in each format's own convention: the VOC pixel
    columns 10..29 (1-based 11..30) are COCO x=10, w=20 and CSV xmin=10, xmax=30."""
    images = tmp_path / "JPEGImages"
    write_image(images / "a.jpg", 40, 30)
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height></size>"
        "<object><name>cat</name><bndbox><xmin>11</xmin><ymin>6</ymin><xmax>30</xmax><ymax>15</ymax></bndbox>"
        "</object></annotation>")
    (tmp_path / "a.json").write_text(
        '{"images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30}],'
        ' "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 5, 20, 10], "iscrowd": 0}],'
        ' "categories": [{"id": 1, "name": "cat"}]}')
    (tmp_path / "a.csv").write_text("filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,40,30,cat,10,5,30,15\n")
    expected = np.array([[5 / 30, 10 / 40, 15 / 30, 30 / 40]], np.float32)  # ymin, xmin, ymax, xmax
    for name, ds in (("voc", read_voc(tmp_path)), ("coco", read_coco(tmp_path / "a.json", images=images)),
                     ("csv", read_csv(tmp_path / "a.csv", images=images))):
        ex = _convert(ds, tmp_path / f"out-{name}")["a.jpg"]
        np.testing.assert_allclose(ex["boxes"], expected, atol=1e-7, err_msg=name)
        assert ex["labels"] == [1] and ex["area"] == [200.0], name
    assert _examples(tmp_path / "out-coco")["a.jpg"]["source_id"] == "7"  # the COCO image id


def test_bundled_sample_data_is_the_same_in_every_format(tmp_path):
    """sample_data/ (make_sample_data.py): VOC, COCO, CSV and YOLO give the same examples."""
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    voc = _convert(read_voc(sample / "voc"), tmp_path / "voc")
    others = {
        "coco": read_coco(sample / "coco_instances.json", images=sample / "voc" / "JPEGImages"),
        "csv": read_csv(sample / "labels.csv", images=sample / "voc" / "JPEGImages"),
        "yolo": read_yolo(sample / "yolo"),
    }
    for name, ds in others.items():
        other = _convert(ds, tmp_path / name)
        assert sorted(other) == sorted(voc), name
        for key, a in voc.items():
            b = other[key]
            assert a["encoded"] == b["encoded"] and a["texts"] == b["texts"] and a["labels"] == b["labels"], name
            np.testing.assert_allclose(a["boxes"], b["boxes"], atol=1e-6, rtol=0, err_msg=name)
