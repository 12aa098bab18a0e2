"""YOLO (Ultralytics layout) reader: what real exports contain, and the round
trip YOLO -> records -> YOLO."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import distinct_jpeg
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.writers import export_annotations
from dataprep.formats.tfrecord import read_tfrecord
from dataprep.formats.yolo import label_path, parse_data_yaml, read_yolo


def make_yolo(root, labels: dict, *, names="names: [cat, dog]\n", splits=None, size=(96, 72)):
    """A YOLO folder: ``labels`` maps 'split/stem' to the label file text (None: no label file)."""
    for k, (key, text) in enumerate(sorted(labels.items())):
        split, stem = key.split("/")
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / f"{stem}.jpg").write_bytes(distinct_jpeg(k, size))
        if text is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{stem}.txt").write_text(text)
    present = sorted({key.split("/")[0] for key in labels})
    yaml = "path: .\n" + "".join(f"{s}: images/{s}\n" for s in (splits or present)) + names
    (root / "data.yaml").write_text(yaml)
    return root


def codes(ds):
    return sorted(f.code for f in ds.findings)


def test_boxes_enter_the_hub_as_fractions(tmp_path):
    make_yolo(tmp_path, {"train/a": "1 0.5 0.25 0.2 0.1\n"})
    ds = read_yolo(tmp_path)
    assert ds.box_units == "normalized"
    assert ds.images["file"].tolist() == ["images/train/a.jpg"]
    o = ds.objects.iloc[0]
    assert o["text"] == "dog"
    np.testing.assert_allclose([o["xmin"], o["ymin"], o["xmax"], o["ymax"]], [0.4, 0.2, 0.6, 0.3])
    assert [(i.id, i.name) for i in ds.label_map] == [(1, "cat"), (2, "dog")]  # YOLO id k -> label id k + 1


def test_what_real_exports_contain(tmp_path):
    make_yolo(tmp_path, {
        "train/empty": "",
        "train/missing": None,
        "train/spaces": "0 0.5 0.5 0.2 0.2   \n\n  \n",
        "train/polygon": "1 0.1 0.2 0.3 0.2 0.3 0.6 0.1 0.6\n",
        "val/bad": "7 0.5 0.5 0.1 0.1\n0 0.5 0.5\nx 1 2 3 4\n1.5 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n",
    })
    ds = read_yolo(tmp_path)
    assert len(ds.images) == 5 and set(ds.images["split"]) == {"train", "val"}
    assert codes(ds) == ["yolo.class_out_of_range", "yolo.class_out_of_range", "yolo.malformed_line",
                         "yolo.malformed_line", "yolo.no_label_file", "yolo.segment"]
    assert ds.dropped_boxes == 4
    per_file = ds.objects.merge(ds.images[["image_id", "file"]])
    assert per_file["file"].value_counts().to_dict() == {
        "images/train/spaces.jpg": 1, "images/train/polygon.jpg": 1, "images/val/bad.jpg": 1}
    poly = per_file[per_file["file"] == "images/train/polygon.jpg"].iloc[0]
    np.testing.assert_allclose([poly["xmin"], poly["ymin"], poly["xmax"], poly["ymax"]], [0.1, 0.2, 0.3, 0.6])
    bad = [f for f in ds.findings if f.code == "yolo.class_out_of_range"]
    assert "class id 7 is not one of 0..1" in bad[0].detail and bad[0].item == "images/val/bad.jpg line 1"


def test_convert_accounts_for_every_image_and_box(tmp_path):
    make_yolo(tmp_path / "y", {"train/a": "0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.2 0.2\n", "train/b": None,
                               "val/c": "1 0.3 0.3 0.2 0.2\n"})
    result = convert(read_yolo(tmp_path / "y"), ConvertOptions(out=tmp_path / "out", workers=1, progress=False))
    c = result.report.counts
    assert (c.images_read, c.images_written, c.boxes_read, c.boxes_written, c.boxes_dropped) == (3, 3, 3, 2, 1)
    assert set(result.manifest["splits"]) == {"train", "val"}


def test_list_files_names_as_map_and_nc(tmp_path):
    make_yolo(tmp_path, {"all/a": "1 0.5 0.5 0.2 0.2\n", "all/b": "0 0.5 0.5 0.2 0.2\n"},
              names="nc: 3\nnames:\n  0: cat   # a comment\n  1: 'dog''s'\n", splits=[])
    (tmp_path / "train.txt").write_text("./images/all/a.jpg\n")
    (tmp_path / "val.txt").write_text("images/all/b.jpg\n\n")
    yaml = (tmp_path / "data.yaml").read_text().replace("path: .\n", "path: ../elsewhere\ntrain: train.txt\nval: val.txt\n")
    (tmp_path / "data.yaml").write_text(yaml)
    ds = read_yolo(tmp_path / "data.yaml")
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"images/all/a.jpg": "train", "images/all/b.jpg": "val"}
    assert sorted(ds.objects["text"]) == ["cat", "dog's"]
    assert codes(ds) == ["yolo.nc_mismatch", "yolo.path_ignored"]


def test_data_yaml_subset():
    assert parse_data_yaml("train: a  # c\nnames: ['x', \"y#z\"]\n", "d") == {"train": "a", "names": ["x", "y#z"]}
    assert parse_data_yaml("names:\n- a\n- b\n", "d") == {"names": ["a", "b"]}
    with pytest.raises(AnnotationError, match="d line 1: '{...}' maps are not supported"):
        parse_data_yaml("names: {0: a}\n", "d")
    with pytest.raises(AnnotationError, match="d line 2: expected 'key: value'"):
        parse_data_yaml("train: a\nnonsense\n", "d")
    with pytest.raises(AnnotationError, match="indented line outside a block"):
        parse_data_yaml("  x: 1\n", "d")


@pytest.mark.parametrize("names, message", [
    ("nc: two\n", "no 'names' list"),
    ("names: [a, a]\n", "class names repeat"),
    ("names:\n  0: a\n  2: b\n", "ids 0..1"),
])
def test_bad_names_are_refused(tmp_path, names, message):
    make_yolo(tmp_path, {"train/a": ""}, names=names)
    with pytest.raises(AnnotationError, match=message):
        read_yolo(tmp_path)


def test_missing_yaml_and_images(tmp_path):
    with pytest.raises(UsageError, match="no data.yaml"):
        read_yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [a]\n")
    with pytest.raises(UsageError, match="no images found for train .*; train: 'images/train' is not there"):
        read_yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("train: data.yaml\nnames: [a]\n")
    with pytest.raises(UsageError, match="neither an images folder nor a list file"):
        read_yolo(tmp_path)


def test_label_path_replaces_the_last_images_folder(tmp_path):
    assert label_path(tmp_path / "images" / "x" / "images" / "a.png") == tmp_path / "images" / "x" / "labels" / "a.txt"


def test_round_trip_yolo_records_yolo(tmp_path):
    """YOLO -> records -> YOLO: the same boxes (1e-6) and class names."""
    make_yolo(tmp_path / "src", {
        "train/a": "1 0.5 0.25 0.2 0.1\n0 0.123457 0.654321 0.0625 0.2\n",
        "train/b": "",
        "val/c": "0 0.75 0.5 0.5 0.999\n",
    }, size=(160, 90))
    src = read_yolo(tmp_path / "src")
    result = convert(src, ConvertOptions(out=tmp_path / "rec", workers=1, progress=False))
    result.report.counts.check()
    back = read_tfrecord(tmp_path / "rec")
    export_annotations(back, tmp_path / "again", "yolo")
    again = read_yolo(tmp_path / "again")
    assert again.label_map.names == src.label_map.names == ["cat", "dog"]

    def table(ds):
        t = ds.objects.merge(ds.images[["image_id", "file", "split"]])
        t["name"] = t["file"].str.rsplit("/", n=1).str[-1]
        return t.sort_values(["name", "xmin"]).reset_index(drop=True)

    a, b = table(src), table(again)
    assert a[["name", "split", "text"]].values.tolist() == b[["name", "split", "text"]].values.tolist()
    cols = ["xmin", "ymin", "xmax", "ymax"]
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), atol=1e-6, rtol=0)
    assert sorted(again.images["file"]) == ["images/train/a.jpg", "images/train/b.jpg", "images/val/c.jpg"]


@pytest.mark.parametrize("text, message", [
    ("names:\n  0: a\n  - b\n", "'- item' inside the map 'names'"),
    ("names:\n  - a\n  1: b\n", "'k: v' inside the list 'names'"),
    ("names:\n  just words\n", "cannot read 'just words'"),
    ("names: [[a], b]\n", "nested lists are not supported"),
])
def test_data_yaml_blocks_that_are_refused(text, message):
    with pytest.raises(AnnotationError, match=message):
        parse_data_yaml(text, "d")


def test_an_image_in_two_splits_is_kept_in_the_first(tmp_path):
    make_yolo(tmp_path, {"all/a": "0 0.5 0.5 0.2 0.2\n"}, splits=[])
    (tmp_path / "data.yaml").write_text("train: images/all\nval: [images/all]\nnames: ['', b]\n")
    with pytest.raises(AnnotationError, match="class 0 has an empty name"):
        read_yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("train: images/all\nval: [images/all]\nnames: [a, b]\n")
    ds = read_yolo(tmp_path)
    assert ds.images["split"].tolist() == ["train"] and codes(ds) == ["split.conflict"]
    (tmp_path / "data.yaml").write_text("train: images/none\nnames: [a]\n")
    (tmp_path / "images" / "none").mkdir()
    with pytest.raises(UsageError, match="no images found for train"):
        read_yolo(tmp_path)


def test_on_error_skip_skips_an_image_with_a_dropped_line(tmp_path):
    make_yolo(tmp_path / "y", {"train/a": "0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.2 0.2\n", "train/b": "1 0.5 0.5 0.2 0.2\n"})
    ds = read_yolo(tmp_path / "y")
    assert dict(zip(ds.images["file"], ds.images["reader_dropped"])) == {"images/train/a.jpg": 1,
                                                                          "images/train/b.jpg": 0}
    (bad,) = [f for f in ds.findings if f.code == "yolo.class_out_of_range"]
    assert (bad.image, bad.annotation) == ("images/train/a.jpg", "labels/train/a.txt")
    result = convert(ds, ConvertOptions(out=tmp_path / "out", workers=1, progress=False, on_error="skip"))
    c = result.report.counts
    c.check()
    assert (c.images_written, c.images_skipped) == (1, 1)


def test_a_plain_darknet_folder_is_read_whole(tmp_path):
    """Images with their label files beside them and a ``<name>.names`` file, as
    YOLO-mark and the labelers that feed darknet leave them (e.g. the public
    jekhor/aerial-cars-dataset): no obj.data, stale list files, and label files
    whose image was never committed. Every image is read as train; the lists
    and the orphan labels (with their box count) are reported."""
    (tmp_path / "aerial.names").write_text("car\ntruck\n")
    for k, stem in enumerate(("a", "b", "c")):
        (tmp_path / f"{stem}.jpg").write_bytes(distinct_jpeg(k, (96, 72)))
        (tmp_path / f"{stem}.txt").write_text(f"{k % 2} 0.5 0.5 0.2 0.2\n")
    (tmp_path / "gone.txt").write_text("0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n")  # its image is not there
    (tmp_path / "train.txt").write_text("aerial/a.jpg\n")  # a stale list, written from the folder above
    (tmp_path / "test3.txt").write_text("aerial/b.jpg\naerial/c.jpg\n")
    ds = read_yolo(tmp_path)
    assert sorted(ds.images["file"]) == ["a.jpg", "b.jpg", "c.jpg"]
    assert set(ds.images["split"]) == {"train"}
    assert [i.name for i in ds.label_map] == ["car", "truck"]
    assert ds.objects["text"].tolist() == ["car", "truck", "car"]
    by_code = {f.code: f for f in ds.findings}
    assert by_code["yolo.lists_unused"].value == ["test3.txt", "train.txt"]
    assert by_code["yolo.label_without_image"].value == ["gone.txt"]
    assert "their 2 box(es) are not read" in by_code["yolo.label_without_image"].detail
    # the same folder without a names file is not taken for YOLO (a folder of images and notes)
    (tmp_path / "aerial.names").unlink()
    with pytest.raises(UsageError, match="classes.txt / .names file"):
        read_yolo(tmp_path)
