"""CSV reader: the TF OD API layout, custom layouts, headerless, normalized, xywh."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_jpeg
from helpers import run
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.csv import parse_columns, read_csv
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records


def make_csv(tmp_path: Path, text: str, files=("a.jpg", "b.jpg"), size=(64, 48)):
    img_dir = tmp_path / "images"
    img_dir.mkdir(exist_ok=True)
    for k, f in enumerate(files):
        (img_dir / f).write_bytes(make_jpeg(size[0], size[1], seed=k))
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    return path, img_dir


def by_file(out: Path) -> dict[str, dict]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    exs = [decode_example(r) for info in manifest["splits"].values() for s in info["shards"]
           for r in read_records(out / s["file"])]
    return {e["filename"]: e for e in exs}


def assert_balanced(result):
    c = result.report.counts
    assert c.images_read == c.images_written + c.images_skipped
    assert c.boxes_read == c.boxes_written + c.boxes_dropped


def boxes_of(ds):
    return ds.objects[["xmin", "ymin", "xmax", "ymax"]].to_numpy().tolist()


DEFAULT = """filename,width,height,class,xmin,ymin,xmax,ymax
a.jpg,64,48,cat,8,12,24,36
a.jpg,64,48,dog,0,0,32,24
b.jpg,64,48,cat,16,0,64,48
"""


def test_default_tf_od_api_layout(tmp_path):
    path, images = make_csv(tmp_path, DEFAULT)
    ds = read_csv(path, images=images)
    assert ds.images[["image_id", "file", "width", "height"]].values.tolist() == [[1, "a.jpg", 64, 48],
                                                                                 [2, "b.jpg", 64, 48]]
    assert ds.images["annotation"].tolist() == [f"{path}:2", f"{path}:4"]
    assert ds.objects["text"].tolist() == ["cat", "dog", "cat"]
    assert ds.objects["index"].tolist() == [0, 1, 0]
    assert boxes_of(ds) == [[8, 12, 24, 36], [0, 0, 32, 24], [16, 0, 64, 48]]
    result = run(ds, tmp_path / "out")
    assert result.label_map.to_dict() == {"cat": 1, "dog": 2}
    got = by_file(tmp_path / "out")
    # xmin / width, as generate_tfrecord.py normalizes.
    assert got["a.jpg"]["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375], [0.0, 0.0, 0.5, 0.5]]
    assert got["a.jpg"]["labels"] == [1, 2]
    assert got["b.jpg"]["boxes"].tolist() == [[0.0, 0.25, 1.0, 1.0]]
    assert result.report.counts.boxes_written == 3


def test_custom_layout_with_parse_columns(tmp_path):
    text = "filename,cell_type,xmin,xmax,ymin,ymax\na.jpg,RBC,8,24,12,36\nb.jpg,WBC,0,32,0,24\n"
    path, images = make_csv(tmp_path, text)
    mapping, names = parse_columns("class=cell_type")
    assert (mapping, names) == ({"class": "cell_type"}, None)
    ds = read_csv(path, images=images, columns=mapping, names=names)
    assert ds.objects["text"].tolist() == ["RBC", "WBC"]
    assert boxes_of(ds) == [[8, 12, 24, 36], [0, 0, 32, 24]]
    assert ds.images["width"].isna().all()  # no width/height columns: taken from the image
    result = run(ds, tmp_path / "out")
    assert not [f for f in result.report.findings if f.severity != "info"]
    got = by_file(tmp_path / "out")
    assert got["a.jpg"]["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375]]
    assert got["b.jpg"]["texts"] == ["WBC"]


def test_parse_columns_forms():
    assert parse_columns(None) == ({}, None)
    assert parse_columns("") == ({}, None)
    assert parse_columns("class=label, xmin=x1") == ({"class": "label", "xmin": "x1"}, None)
    assert parse_columns("filename,class,xmin,ymin,xmax,ymax") == (
        {}, ["filename", "class", "xmin", "ymin", "xmax", "ymax"])
    with pytest.raises(UsageError, match="mixes"):
        parse_columns("filename,class=label")


def test_headerless_file_with_names(tmp_path):
    text = "a.jpg,cat,8,12,24,36\nb.jpg,dog,0,0,32,24\nb.jpg,cat,1,1,2,oops\n"
    path, images = make_csv(tmp_path, text)
    mapping, names = parse_columns("filename,class,xmin,ymin,xmax,ymax")
    ds = read_csv(path, images=images, columns=mapping, names=names, header=False)
    assert ds.objects["text"].tolist() == ["cat", "dog"]
    assert boxes_of(ds) == [[8, 12, 24, 36], [0, 0, 32, 24]]
    # Without a header, row k is line k (1-based).
    assert ds.images["annotation"].tolist() == [f"{path}:1", f"{path}:2"]
    (f,) = [f for f in ds.findings if f.code == "csv.non_numeric"]
    assert f.item == "line 3"


def test_normalized_coordinates(tmp_path):
    text = "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,,,cat,0.125,0.25,0.375,0.75\n"
    path, images = make_csv(tmp_path, text, files=("a.jpg",))
    ds = read_csv(path, images=images, normalized=True)
    assert ds.box_units == "normalized"
    assert boxes_of(ds) == [[0.125, 0.25, 0.375, 0.75]]
    result = run(ds, tmp_path / "out")
    assert not [f for f in result.report.findings if f.code.startswith("box.")]
    ex = by_file(tmp_path / "out")["a.jpg"]
    assert ex["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375]]
    assert ex["area"] == [16.0 * 24.0]  # pixels of the real 64 x 48 image


def test_xywh_boxes(tmp_path):
    text = "filename,width,height,class,x,y,w,h\na.jpg,64,48,cat,8,12,16,24\n"
    path, images = make_csv(tmp_path, text, files=("a.jpg",))
    ds = read_csv(path, images=images, box_format="xywh")
    assert boxes_of(ds) == [[8, 12, 24, 36]]
    run(ds, tmp_path / "out")
    assert by_file(tmp_path / "out")["a.jpg"]["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375]]


def test_xywh_with_an_xyxy_header_lists_the_missing_roles(tmp_path):
    path, images = make_csv(tmp_path, DEFAULT)
    with pytest.raises(UsageError) as exc:
        read_csv(path, images=images, box_format="xywh")
    assert "x (column 'x')" in str(exc.value) and "h (column 'h')" in str(exc.value)


def test_unknown_box_format_is_a_usage_error(tmp_path):
    path, images = make_csv(tmp_path, DEFAULT)
    with pytest.raises(UsageError, match="xyxy or xywh"):
        read_csv(path, images=images, box_format="cxcywh")


def test_non_numeric_row_is_a_finding_with_its_line(tmp_path):
    text = DEFAULT + "b.jpg,64,48,dog,12,abc,20,30\nb.jpg,64,48,dog,12,,20,30\n"
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    found = [f for f in ds.findings if f.code == "csv.non_numeric"]
    assert [f.item for f in found] == ["line 5", "line 6"]
    assert "line 5" in found[0].detail and "'abc'" in found[0].detail and found[0].action == "dropped box"
    assert found[0].file == str(path)
    assert ds.num_boxes == 3 and ds.dropped_boxes == 2
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (5, 3, 2)
    assert (c.images_read, c.images_written) == (2, 2)
    assert_balanced(result)


def test_row_with_empty_class_and_coords_is_a_negative_image(tmp_path):
    text = DEFAULT + "neg.jpg,64,48,,,,,\n"
    path, images = make_csv(tmp_path, text, files=("a.jpg", "b.jpg", "neg.jpg"))
    ds = read_csv(path, images=images)
    assert "neg.jpg" in ds.images["file"].tolist()
    assert ds.num_boxes == 3 and ds.findings == []
    result = run(ds, tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.no_objects"]
    assert f.item == "neg.jpg" and f.action == "kept"
    got = by_file(tmp_path / "out")
    assert got["neg.jpg"]["boxes"].shape == (0, 4)
    c = result.report.counts
    assert (c.images_read, c.images_written, c.boxes_read, c.boxes_written) == (3, 3, 3, 3)


def test_row_with_empty_filename_is_dropped(tmp_path):
    text = DEFAULT + ",64,48,cat,1,1,5,5\n"
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    (f,) = [f for f in ds.findings if f.code == "csv.missing_filename"]
    assert f.item == "line 5"
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.images_read, c.boxes_read, c.boxes_written, c.boxes_dropped) == (2, 4, 3, 1)


def test_missing_required_column_lists_columns(tmp_path):
    text = "filename,width,height,label,xmin,ymin,xmax,ymax\na.jpg,64,48,cat,1,1,5,5\n"
    path, images = make_csv(tmp_path, text)
    with pytest.raises(UsageError) as exc:
        read_csv(path, images=images)
    msg = str(exc.value)
    assert str(path) in msg
    assert "class (column 'class')" in msg  # what is missing
    assert "filename, width, height, label, xmin, ymin, xmax, ymax" in msg  # what the file has
    assert "--columns" in msg


def test_missing_file_or_folder(tmp_path):
    path, images = make_csv(tmp_path, DEFAULT)
    with pytest.raises(UsageError, match="CSV file not found"):
        read_csv(tmp_path / "nope.csv", images=images)
    with pytest.raises(UsageError, match="images folder not found"):
        read_csv(path, images=tmp_path / "nope")


def test_rows_with_the_wrong_field_count_are_findings(tmp_path):
    text = DEFAULT + "b.jpg,64,48,dog,1,1,5\nb.jpg,64,48,dog,1,1,5,5,9\n"
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    found = [f for f in ds.findings if f.code == "csv.bad_row"]
    assert [f.item for f in found] == ["line 5", "line 6"]
    assert "7 fields, expected 8" in found[0].detail and found[0].file == str(path)
    assert found[0].action == "dropped box"
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.images_read, c.images_written, c.boxes_read, c.boxes_written, c.boxes_dropped) == (2, 2, 5, 3, 2)
    assert_balanced(result)


def test_unterminated_quote_is_a_bad_row(tmp_path):
    text = 'filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,64,48,cat,1,1,5,5\nb.jpg,64,48,"cat,1,1,5,5\n'
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    assert [f.code for f in ds.findings] == ["csv.bad_row"]
    assert ds.num_boxes == 1 and ds.dropped_boxes == 1


def test_empty_or_non_utf8_file_names_the_file(tmp_path):
    path, images = make_csv(tmp_path, "")
    with pytest.raises(AnnotationError, match="empty") as exc:
        read_csv(path, images=images)
    assert str(path) in str(exc.value)
    path.write_bytes(b"filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,64,48,caf\xe9,1,1,5,5\n")
    with pytest.raises(AnnotationError, match="not UTF-8") as exc:
        read_csv(path, images=images)
    assert str(path) in str(exc.value)


def test_excel_byte_order_mark_is_tolerated(tmp_path):
    path, images = make_csv(tmp_path, "")
    path.write_text(DEFAULT, encoding="utf-8-sig")
    ds = read_csv(path, images=images)
    assert ds.images["file"].tolist() == ["a.jpg", "b.jpg"]


def test_whitespace_around_values_is_tolerated(tmp_path):
    text = "filename , width, height, class, xmin, ymin, xmax, ymax\n a.jpg , 64, 48, cat , 8, 12, 24, 36\n"
    path, images = make_csv(tmp_path, text, files=("a.jpg",))
    ds = read_csv(path, images=images)
    assert ds.images["file"].tolist() == ["a.jpg"]
    assert ds.objects["text"].tolist() == ["cat"]
    assert boxes_of(ds) == [[8, 12, 24, 36]]


def test_image_ids_follow_file_names(tmp_path):
    text = "filename,width,height,class,xmin,ymin,xmax,ymax\nb.jpg,64,48,cat,1,1,5,5\na.jpg,64,48,cat,1,1,5,5\n"
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    assert ds.images[["image_id", "file"]].values.tolist() == [[1, "a.jpg"], [2, "b.jpg"]]
    assert np.array_equal(ds.objects["image_id"].to_numpy(), [1, 2])


def test_row_with_empty_class_but_coordinates_is_not_a_class(tmp_path):
    # Only a row with *everything* empty is a negative; an empty class on a real
    # box must not become a class "" in the derived label map (it would shift the
    # ids and make label_map.pbtxt unreadable: an item needs a name).
    text = DEFAULT + "b.jpg,64,48,,1,1,10,10\n"
    path, images = make_csv(tmp_path, text)
    result = run(read_csv(path, images=images), tmp_path / "out")
    assert result.label_map.to_dict() == {"cat": 1, "dog": 2}
    (f,) = [f for f in result.report.findings if f.code == "label.unknown"]
    assert f.item == "b.jpg object 1 ''" and f.action == "dropped box"
    from dataprep.label_map import LabelMap

    assert LabelMap.read(tmp_path / "out" / "label_map.pbtxt") == result.label_map
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (4, 3, 1)
    assert_balanced(result)


def test_line_numbers_count_blank_lines(tmp_path):
    text = DEFAULT + "\nb.jpg,64,48,dog,12,abc,20,30\n"
    path, images = make_csv(tmp_path, text)
    ds = read_csv(path, images=images)
    (f,) = [f for f in ds.findings if f.code == "csv.non_numeric"]
    assert f.item == "line 6"


def test_on_error_skip_skips_the_image_of_a_non_numeric_row(tmp_path):
    path, images = make_csv(tmp_path, DEFAULT + "b.jpg,64,48,dog,12,abc,20,30\n")
    result = run(read_csv(path, images=images), tmp_path / "out", on_error="skip")
    assert set(by_file(tmp_path / "out")) == {"a.jpg"}
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (2, 1, 1)
