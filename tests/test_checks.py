"""Annotation checks beyond the degenerate boxes: duplicates, boxes that look
normalized, tiny boxes, classes without boxes, names that need care."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import make_jpeg
from helpers import run
from dataprep.dataset import Dataset
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records
from dataprep.validate.annotations import duplicate_boxes


def dataset(tmp_path, boxes, texts=None, size=(64, 48), ann_size=(64, 48)):
    root = tmp_path / "images"
    root.mkdir(exist_ok=True)
    (root / "a.jpg").write_bytes(make_jpeg(*size))
    images = pd.DataFrame([{"image_id": 1, "file": "a.jpg", "width": ann_size[0], "height": ann_size[1],
                            "annotation": "a.xml"}])
    objects = pd.DataFrame([{"image_id": 1, "index": k, "text": (texts or ["cat"] * len(boxes))[k],
                             "xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3]} for k, b in enumerate(boxes)])
    return Dataset.build(images, objects, root)


def written(out):
    return [decode_example(d) for p in sorted(out.glob("*.tfrecord")) for d in read_records(p)]


def test_duplicate_boxes_vectorised_matches_pairwise():
    # image 1: boxes 0 and 2 are the same cat (IoU 1), box 3 overlaps box 0 at IoU ~0.97;
    # box 1 is a dog at the same place (another class: not a duplicate); image 2 has its own copy.
    ids = np.array([1, 1, 1, 1, 2, 2])
    cls = np.array(["cat", "dog", "cat", "cat", "cat", "cat"])
    b = np.array([[0, 0, 100, 100], [0, 0, 100, 100], [0, 0, 100, 100], [0, 0, 100, 97],
                  [5, 5, 20, 20], [50, 50, 60, 60]], float)
    dup, first = duplicate_boxes(ids, cls, b)
    assert dup.tolist() == [False, False, True, True, False, False]
    assert first[2] == 0 and first[3] == 0


def test_duplicate_box_is_dropped_with_a_finding(tmp_path):
    ds = dataset(tmp_path, [(8, 12, 24, 36), (8, 12, 24, 36), (8.2, 12, 24, 36), (30, 5, 50, 20)])
    result = run(ds, tmp_path / "out")
    dups = [f for f in result.report.findings if f.code == "box.duplicate"]
    assert [f.item for f in dups] == ["a.jpg object 1 'cat'", "a.jpg object 2 'cat'"]
    assert all(f.action == "dropped box" and "repeats object 0" in f.detail for f in dups)
    (ex,) = written(tmp_path / "out")
    assert len(ex["boxes"]) == 2
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (4, 2, 2)


def test_pixel_boxes_that_look_normalized(tmp_path):
    ds = dataset(tmp_path, [(0.1, 0.2, 0.5, 0.6), (8, 12, 24, 36)])
    result = run(ds, tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "box.looks_normalized"]
    assert "--normalized" in f.detail and f.action == "dropped box" and f.item == "a.jpg object 0 'cat'"
    assert not [f for f in result.report.findings if f.code == "box.degenerate"]  # reported once
    c = result.report.counts
    assert (c.boxes_written, c.boxes_dropped) == (1, 1)


def test_tiny_box_is_kept_and_reported(tmp_path):
    ds = dataset(tmp_path, [(8, 12, 10, 30), (8, 12, 24, 36)])
    result = run(ds, tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "box.tiny"]
    assert f.severity == "info" and f.action == "kept" and "2x18 px" in f.detail
    assert len(written(tmp_path / "out")[0]["boxes"]) == 2


def test_label_map_class_without_boxes(tmp_path):
    lm = tmp_path / "lm.pbtxt"
    LabelMap([LabelMapItem(1, "cat"), LabelMapItem(2, "zebra")]).write(lm)
    result = run(dataset(tmp_path, [(8, 12, 24, 36)]), tmp_path / "out", label_map=lm)
    (f,) = [f for f in result.report.findings if f.code == "label.no_boxes"]
    assert f.item == "zebra" and "id 2" in f.detail and f.severity == "warning"


def test_case_variants_and_non_ascii_names(tmp_path):
    ds = dataset(tmp_path, [(8, 12, 24, 36), (30, 5, 50, 20), (2, 2, 20, 20)], texts=["Dog", "dog", "čaj"])
    result = run(ds, tmp_path / "out")
    (case,) = [f for f in result.report.findings if f.code == "label.case_variants"]
    assert "Dog" in case.detail and "dog" in case.detail
    (na,) = [f for f in result.report.findings if f.code == "label.non_ascii"]
    assert na.item == "čaj"
    (ex,) = written(tmp_path / "out")
    assert "čaj" in ex["texts"]  # kept as UTF-8
    assert LabelMap.read(tmp_path / "out" / "label_map.pbtxt").id_of("čaj") == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_checks_do_not_depend_on_workers(tmp_path, workers):
    ds = dataset(tmp_path, [(8, 12, 24, 36), (8, 12, 24, 36), (0.1, 0.1, 0.2, 0.2)])
    result = run(ds, tmp_path / f"out{workers}", workers=workers)
    assert result.report.by_code() == {"box.duplicate": 1, "box.looks_normalized": 1}


def test_dataset_findings_imbalance_and_outliers():
    from dataprep.validate.dataset_findings import dataset_findings

    rng = np.random.default_rng(0)
    rows = []
    for k in range(60):  # 60 cats of ~40 px, one of them a 3 px sliver-like speck, one a 1:20 sliver
        s = rng.uniform(36, 44)
        rows.append((k, "cat", 10, 10, 10 + s, 10 + s))
    rows[5] = (5, "cat", 10, 10, 13, 13)
    rows[6] = (6, "cat", 10, 10, 210, 20)
    rows += [(100 + k, "dog", 0, 0, 30, 30) for k in range(3)]  # 3 dogs: 20x fewer than cats
    objs = pd.DataFrame(rows, columns=["image_id", "text", "xmin", "ymin", "xmax", "ymax"])
    objs["index"] = 0
    files = pd.Series({i: f"img{i}.jpg" for i in objs["image_id"]})
    found = dataset_findings(objs, files)
    (imb,) = [f for f in found if f.code == "dataset.class_imbalance"]
    assert imb.severity == "warning" and "max/min 20.0" in imb.detail and "--rebalance" in imb.detail
    size = {f.item for f in found if f.code == "box.size_outlier"}
    aspect = {f.item for f in found if f.code == "box.aspect_outlier"}
    assert size == {"img5.jpg object 0 'cat'"}
    assert aspect == {"img6.jpg object 0 'cat'"}
    (odd,) = [f for f in found if f.code == "box.aspect_outlier"]
    assert "aspect ratio w/h 20 (box 200x10)" in odd.detail  # the ratio itself, not the box's sides alone
    # balanced classes: no imbalance finding; too few boxes: no outlier statistics
    assert not dataset_findings(objs[objs["text"] == "dog"], files)
