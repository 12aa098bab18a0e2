"""COCO reader: [x, y, w, h] boxes, original category ids, crowd flags, negatives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_jpeg
from helpers import run
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.coco import read_coco
from dataprep.label_map import LabelMap
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records

CATS = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 90, "name": "toothbrush"}]


def make_coco(tmp_path: Path, images, annotations, categories=CATS, *, size=(64, 48), raw=None):
    """Write images (one JPEG per entry with a file_name) and the JSON; returns (json, images_dir)."""
    img_dir = tmp_path / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    for k, im in enumerate(images):
        if im.get("file_name"):
            p = img_dir / im["file_name"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(make_jpeg(int(im.get("width", size[0])), int(im.get("height", size[1])), seed=k))
    path = tmp_path / "instances.json"
    data = {"info": {"year": 2017}, "licenses": [], "images": images, "annotations": annotations,
            "categories": categories}
    path.write_text(raw if raw is not None else json.dumps(data, indent=1), encoding="utf-8")
    return path, img_dir


def img(id_, name, w=64, h=48):
    return {"id": id_, "file_name": name, "width": w, "height": h}


def ann(id_, image_id, cat, bbox, iscrowd=0, area=None):
    a = {"id": id_, "image_id": image_id, "category_id": cat, "bbox": bbox, "iscrowd": iscrowd}
    if area is not None:
        a["area"] = area
    return a


def examples(out: Path) -> list[dict]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [decode_example(r) for info in manifest["splits"].values() for s in info["shards"]
            for r in read_records(out / s["file"])]


def by_file(out: Path) -> dict[str, dict]:
    return {e["filename"]: e for e in examples(out)}


def assert_balanced(result):
    c = result.report.counts
    assert c.images_read == c.images_written + c.images_skipped
    assert c.boxes_read == c.boxes_written + c.boxes_dropped


def test_bbox_xywh_becomes_exact_normalized_boxes(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [ann(10, 1, 1, [8, 12, 16, 24]), ann(11, 1, 3, [0, 0, 64, 48])])
    ds = read_coco(path, images=images)
    assert ds.objects[["xmin", "ymin", "xmax", "ymax"]].to_numpy().tolist() == [[8, 12, 24, 36], [0, 0, 64, 48]]
    result = run(ds, tmp_path / "out")
    assert not [f for f in result.report.findings if f.code.startswith("box.")]
    (ex,) = examples(tmp_path / "out")
    # ymin, xmin, ymax, xmax: 12/48, 8/64, 36/48, 24/64 are exact in float32.
    assert ex["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375], [0.0, 0.0, 1.0, 1.0]]


def test_non_contiguous_category_ids_are_kept(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")],
                             [ann(1, 1, 90, [1, 1, 10, 10]), ann(2, 1, 3, [2, 2, 10, 10]), ann(3, 1, 1, [3, 3, 9, 9])])
    ds = read_coco(path, images=images)
    assert [(i.id, i.name) for i in ds.label_map] == [(1, "person"), (3, "car"), (90, "toothbrush")]
    result = run(ds, tmp_path / "out")
    assert result.manifest["label_map_origin"] == "coco categories"
    assert LabelMap.read(tmp_path / "out" / "label_map.pbtxt") == ds.label_map
    (ex,) = examples(tmp_path / "out")
    assert ex["texts"] == ["toothbrush", "car", "person"]
    assert ex["labels"] == [90, 3, 1]
    classes = result.manifest["splits"]["train"]["classes"]
    assert classes["toothbrush"] == {"id": 90, "images": 1, "boxes": 1}


def test_iscrowd_kept_and_area_written_as_box_area(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")],
                             [ann(1, 1, 1, [4, 4, 16, 24], iscrowd=1, area=123.5), ann(2, 1, 3, [0, 0, 10, 5], area=7.0)])
    ds = read_coco(path, images=images)
    # The model keeps COCO's own values ...
    assert ds.objects["is_crowd"].tolist() == [1, 0]
    assert ds.objects["area"].tolist() == [123.5, 7.0]
    run(ds, tmp_path / "out")
    (ex,) = examples(tmp_path / "out")
    assert ex["is_crowd"] == [1, 0]
    # ... but image/object/area is the written box's area in pixels (DESIGN), not the segment area.
    assert ex["area"] == [16.0 * 24.0, 10.0 * 5.0]


def test_area_is_of_the_clipped_box(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [ann(1, 1, 1, [54, 38, 20, 20], area=400)])
    result = run(read_coco(path, images=images), tmp_path / "out")
    assert "box.clipped" in [f.code for f in result.report.findings]
    (ex,) = examples(tmp_path / "out")
    assert ex["area"] == [10.0 * 10.0]


def test_image_without_annotations_kept_as_negative(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg"), img(2, "empty.jpg")], [ann(1, 1, 1, [1, 1, 10, 10])])
    result = run(read_coco(path, images=images), tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.no_objects"]
    assert f.severity == "info" and f.item == "empty.jpg" and f.action == "kept"
    got = by_file(tmp_path / "out")
    assert set(got) == {"a.jpg", "empty.jpg"}
    assert got["empty.jpg"]["boxes"].shape == (0, 4) and got["empty.jpg"]["labels"] == []
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (2, 2, 0)


def test_image_without_annotations_dropped_with_drop_empty(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg"), img(2, "empty.jpg")], [ann(1, 1, 1, [1, 1, 10, 10])])
    result = run(read_coco(path, images=images), tmp_path / "out", drop_empty=True)
    (f,) = [f for f in result.report.findings if f.code == "image.no_objects"]
    assert f.action == "skipped image" and "--drop-empty" in f.detail
    assert set(by_file(tmp_path / "out")) == {"a.jpg"}
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (2, 1, 1)
    assert_balanced(result)


def test_annotations_with_unknown_image_id_are_dropped_and_counted(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")],
                             [ann(1, 1, 1, [1, 1, 10, 10]), ann(2, 77, 1, [1, 1, 10, 10]), ann(3, 78, 3, [1, 1, 5, 5])])
    ds = read_coco(path, images=images)
    found = [f for f in ds.findings if f.code == "coco.unknown_image"]
    assert len(found) == 2
    assert found[0].item == "annotation id=2" and "image_id=77" in found[0].detail and found[0].action == "dropped box"
    assert ds.dropped_boxes == 2 and ds.num_boxes == 1
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (3, 1, 2)
    assert_balanced(result)


def test_category_id_zero_is_renumbered(tmp_path):
    cats = [{"id": 0, "name": "zebra"}, {"id": 1, "name": "ant"}]
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [ann(1, 1, 0, [1, 1, 10, 10]), ann(2, 1, 1, [2, 2, 8, 8])],
                             categories=cats)
    ds = read_coco(path, images=images)
    (f,) = [f for f in ds.findings if f.code == "label.renumbered"]
    assert f.severity == "warning" and f.action == "renamed" and "background" in f.detail
    assert [(i.id, i.name) for i in ds.label_map] == [(1, "ant"), (2, "zebra")]
    result = run(ds, tmp_path / "out")
    (ex,) = examples(tmp_path / "out")
    assert ex["texts"] == ["zebra", "ant"] and ex["labels"] == [2, 1]
    assert "label.renumbered" in [f.code for f in result.report.findings]


def test_source_id_is_the_coco_image_id(tmp_path):
    path, images = make_coco(tmp_path, [img(397133, "000000397133.jpg"), img(5, "sub/b.jpg")],
                             [ann(1, 397133, 1, [1, 1, 10, 10]), ann(2, 5, 3, [1, 1, 10, 10])])
    ds = read_coco(path, images=images)
    assert sorted(ds.images["image_id"].tolist()) == [5, 397133]
    run(ds, tmp_path / "out")
    got = by_file(tmp_path / "out")
    assert got["000000397133.jpg"]["source_id"] == "397133"
    assert got["sub/b.jpg"]["source_id"] == "5"


def test_malformed_json_names_the_file_and_line(tmp_path):
    raw = '{\n  "images": [\n    {"id": 1, "file_name": "a.jpg",}\n  ]\n}\n'
    path, images = make_coco(tmp_path, [], [], raw=raw)
    with pytest.raises(AnnotationError) as exc:
        read_coco(path, images=images)
    msg = str(exc.value)
    assert str(path) in msg and "line 3" in msg


@pytest.mark.parametrize("raw", ["[]", '{"annotations": []}'])
def test_json_that_is_not_coco_detection(tmp_path, raw):
    path, images = make_coco(tmp_path, [], [], raw=raw)
    with pytest.raises(AnnotationError, match="not a COCO detection file") as exc:
        read_coco(path, images=images)
    assert str(path) in str(exc.value)


def test_images_must_be_a_list(tmp_path):
    path, images = make_coco(tmp_path, [], [], raw='{"images": {"id": 1}}')
    with pytest.raises(AnnotationError, match="'images' must be a list"):
        read_coco(path, images=images)


def test_missing_file_or_folder_is_a_usage_error(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [])
    with pytest.raises(UsageError, match="not found"):
        read_coco(tmp_path / "nope.json", images=images)
    with pytest.raises(UsageError, match="images folder not found"):
        read_coco(path, images=tmp_path / "nope")


def test_bad_image_entries_are_reported(tmp_path):
    images_list = [img(1, "a.jpg"), {"id": "x", "file_name": "b.jpg"}, {"id": 3}, img(1, "dup.jpg")]
    path, images = make_coco(tmp_path, images_list, [ann(1, 1, 1, [1, 1, 10, 10])])
    ds = read_coco(path, images=images)
    bad = [f for f in ds.findings if f.code == "coco.bad_image_entry"]
    assert len(bad) == 3
    # Bad entries stay in the table as images read with an error (skipped, counted).
    good = ds.images[ds.images["error"] == ""]
    assert good["file"].tolist() == ["a.jpg"] and good["image_id"].tolist() == [1]
    assert len(ds.images) == 4 and (ds.images.loc[ds.images["error"] != "", "image_id"] < 0).all()


def test_bad_image_entries_are_counted_as_read_and_skipped(tmp_path):
    images_list = [img(1, "a.jpg"), {"id": None, "file_name": "b.jpg"}]
    path, images = make_coco(tmp_path, images_list, [ann(1, 1, 1, [1, 1, 10, 10])])
    result = run(read_coco(path, images=images), tmp_path / "out")
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (2, 1, 1)


def test_category_missing_from_categories_is_an_unknown_label(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [ann(1, 1, 7, [1, 1, 10, 10]), ann(2, 1, 1, [1, 1, 5, 5])])
    result = run(read_coco(path, images=images), tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "label.unknown"]
    assert "category_id=7" in f.detail and f.action == "dropped box"
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (2, 1, 1)


def test_malformed_bbox_is_a_nan_box(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")],
                             [ann(1, 1, 1, [1, 1, 10]), ann(2, 1, 1, ["a", 1, 2, 3]), ann(3, 1, 1, [1, 1, 10, 10])])
    result = run(read_coco(path, images=images), tmp_path / "out")
    assert [f.code for f in result.report.findings].count("box.nan") == 2
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (3, 1, 2)


def test_annotation_index_is_per_image(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg"), img(2, "b.jpg")],
                             [ann(1, 2, 1, [1, 1, 5, 5]), ann(2, 1, 1, [1, 1, 5, 5]), ann(3, 2, 3, [2, 2, 5, 5])])
    ds = read_coco(path, images=images)
    rows = ds.objects[["image_id", "index", "text"]].values.tolist()
    assert rows == [[1, 0, "person"], [2, 0, "person"], [2, 1, "car"]]
    assert np.all(ds.objects["is_crowd"].to_numpy() == 0)


def test_category_with_empty_name_gives_a_readable_label_map(tmp_path):
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": ""}]
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [ann(1, 1, 1, [1, 1, 10, 10]), ann(2, 1, 2, [2, 2, 8, 8])],
                             categories=cats)
    result = run(read_coco(path, images=images), tmp_path / "out")
    assert LabelMap.read(tmp_path / "out" / "label_map.pbtxt") == result.label_map


def test_non_utf8_json_names_the_file(tmp_path):
    path, images = make_coco(tmp_path, [img(1, "a.jpg")], [])
    path.write_bytes(b'{"images": [], "info": "caf\xe9"}')
    with pytest.raises(AnnotationError, match="not UTF-8 JSON") as exc:
        read_coco(path, images=images)
    assert str(path) in str(exc.value)
