"""Pascal VOC reader: the tolerance list, one test each, plus splits and folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_jpeg
from helpers import run
from dataprep.errors import UsageError
from dataprep.formats.voc import parse_voc_xml, read_voc
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records


# -- helpers --------------------------------------------------------------------------

def voc_xml(filename="a.jpg", size=(64, 48), objects=(), extra="", size_xml=None):
    """A VOC annotation. ``objects``: dicts with name, box=(xmin, ymin, xmax, ymax)
    and optional pose / truncated / difficult / inner (raw XML inside <object>)."""
    parts = ["<annotation>", "<folder>VOC2007</folder>", f"<filename>{filename}</filename>"]
    if size_xml is not None:
        parts.append(size_xml)
    elif size is not None:
        parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    parts.append(extra)
    for o in objects:
        parts.append("<object>")
        parts.append(f"<name>{o['name']}</name>")
        for tag in ("pose", "truncated", "difficult"):
            if tag in o:
                parts.append(f"<{tag}>{o[tag]}</{tag}>")
        if "box" in o:
            x0, y0, x1, y1 = o["box"]
            parts.append(f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>")
        parts.append(o.get("inner", ""))
        parts.append("</object>")
    parts.append("</annotation>")
    return "\n".join(parts)


CAT = {"name": "cat", "box": (5, 6, 20, 30), "pose": "Left", "truncated": 0, "difficult": 0}


def make_voc(root: Path, stems=("a",), *, xml=None, size=(64, 48), objects=(CAT,), splits=None,
             image_dir="JPEGImages", ann_dir="Annotations") -> Path:
    """A VOC folder: one image + one XML per stem; ``xml`` maps stems to custom XML
    text; ``splits`` maps split file names to lists of stems."""
    (root / ann_dir).mkdir(parents=True, exist_ok=True)
    (root / image_dir).mkdir(parents=True, exist_ok=True)
    for k, stem in enumerate(stems):
        (root / image_dir / f"{stem}.jpg").write_bytes(make_jpeg(size[0], size[1], seed=k))
        text = (xml or {}).get(stem) or voc_xml(f"{stem}.jpg", size, objects)
        (root / ann_dir / f"{stem}.xml").write_text(text, encoding="utf-8")
    if splits is not None:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True, exist_ok=True)
        for name, listed in splits.items():
            (main / f"{name}.txt").write_text("".join(f"{s}\n" for s in listed), encoding="utf-8")
    return root


def records(out: Path) -> dict[str, list[dict]]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    got = {}
    for split, info in manifest["splits"].items():
        got[split] = [decode_example(r) for s in info["shards"] for r in read_records(out / s["file"])]
    return got


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def assert_balanced(result):
    c = result.report.counts
    assert c.images_read == c.images_written + c.images_skipped
    assert c.boxes_read == c.boxes_written + c.boxes_dropped


# -- the tolerance list ---------------------------------------------------------------

def test_float_coordinates_and_sizes(tmp_path):
    text = voc_xml("a.jpg", ("320.0", "240.0"), [{"name": "cat", "box": ("12.5", "20.25", "100.0", "60.5")}])
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": text}, size=(64, 48)))
    img = ds.images.iloc[0]
    assert (img["width"], img["height"]) == (320.0, 240.0)
    obj = ds.objects.iloc[0]
    # 1-based VOC -> continuous corners: min - 1, max unchanged.
    assert (obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]) == (11.5, 19.25, 100.0, 60.5)


def test_missing_size_is_nan_and_the_real_size_is_used(tmp_path):
    text = voc_xml("a.jpg", None, [{"name": "cat", "box": (1, 1, 32, 24)}])
    root = make_voc(tmp_path / "voc", xml={"a": text})
    ds = read_voc(root)
    assert np.isnan(ds.images.loc[0, "width"]) and np.isnan(ds.images.loc[0, "height"])
    result = run(ds, tmp_path / "out")
    assert "image.size_mismatch" not in codes(result.report.findings)
    (ex,) = records(tmp_path / "out")["train"]
    assert (ex["width"], ex["height"]) == (64, 48)
    np.testing.assert_allclose(ex["boxes"][0], [0.0, 0.0, 0.5, 0.5], atol=1e-7)


def test_missing_pose_truncated_difficult_default_to_empty_and_zero(tmp_path):
    text = voc_xml("a.jpg", (64, 48), [{"name": "cat", "box": (1, 1, 10, 10)}])
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": text}))
    obj = ds.objects.iloc[0]
    assert (obj["view"], obj["truncated"], obj["difficult"], obj["is_crowd"]) == ("", 0, 0, 0)
    run(ds, tmp_path / "out")
    (ex,) = records(tmp_path / "out")["train"]
    assert ex["view"] == [""] and ex["truncated"] == [0] and ex["difficult"] == [0] and ex["is_crowd"] == [0]


def test_flags_and_pose_are_read(tmp_path):
    objs = [{"name": "cat", "box": (1, 1, 10, 10), "pose": "Frontal", "truncated": "1", "difficult": "1.0"},
            {"name": "dog", "box": (2, 2, 12, 12), "pose": "Unspecified", "truncated": "0", "difficult": "0"}]
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": voc_xml("a.jpg", (64, 48), objs)}))
    assert ds.objects["view"].tolist() == ["Frontal", "Unspecified"]
    assert ds.objects["truncated"].tolist() == [1, 0]
    assert ds.objects["difficult"].tolist() == [1, 0]
    run(ds, tmp_path / "out")
    (ex,) = records(tmp_path / "out")["train"]
    assert ex["texts"] == ["cat", "dog"] and ex["view"] == ["Frontal", "Unspecified"]
    assert ex["difficult"] == [1, 0] and ex["truncated"] == [1, 0]


def test_extra_unknown_tags_are_ignored(tmp_path):
    extra = ("<source><database>The VOC2007 Database</database><flickrid>341012865</flickrid></source>"
             "<owner><name>Fried Camels</name></owner><segmented>0</segmented><path>/home/x/a.jpg</path>")
    objs = [{"name": "cat", "box": (5, 6, 20, 30), "inner": "<occluded>1</occluded><attributes><a>b</a></attributes>"}]
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": voc_xml("a.jpg", (64, 48), objs, extra=extra)}))
    assert ds.objects["text"].tolist() == ["cat"]  # <owner><name> is not an object
    assert ds.objects[["xmin", "ymin", "xmax", "ymax"]].to_numpy().tolist() == [[4.0, 5.0, 20.0, 30.0]]
    assert ds.findings == []


def test_parts_with_their_own_bndbox_are_not_objects(tmp_path):
    parts = ("<part><name>head</name><bndbox><xmin>10</xmin><ymin>2</ymin><xmax>20</xmax><ymax>12</ymax></bndbox></part>"
             "<part><name>hand</name><bndbox><xmin>1</xmin><ymin>20</ymin><xmax>5</xmax><ymax>25</ymax></bndbox></part>")
    objs = [{"name": "person", "box": (1, 1, 30, 40), "inner": parts}]
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": voc_xml("a.jpg", (64, 48), objs)}))
    assert ds.num_boxes == 1
    obj = ds.objects.iloc[0]
    assert obj["text"] == "person"
    assert (obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]) == (0.0, 0.0, 30.0, 40.0)
    result = run(ds, tmp_path / "out")
    assert result.label_map.names == ["person"]
    assert result.report.counts.boxes_written == 1


def test_filename_tag_disagreeing_with_xml_name_image_chosen_by_stem(tmp_path):
    text = voc_xml("IMG_9999.JPG", (64, 48), [CAT])
    root = make_voc(tmp_path / "voc", stems=("a",), xml={"a": text})
    ds = read_voc(root)
    assert ds.images["file"].tolist() == ["a.jpg"]
    (f,) = [f for f in ds.findings if f.code == "voc.filename_mismatch"]
    assert f.severity == "info" and "IMG_9999.JPG" in f.detail and "a.jpg" in f.detail
    run(ds, tmp_path / "out")
    (ex,) = records(tmp_path / "out")["train"]
    assert ex["filename"] == "a.jpg"


def test_filename_tag_with_other_extension_is_not_a_mismatch(tmp_path):
    text = voc_xml("a.png", (64, 48), [CAT])  # same stem: labelling tools change extensions
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": text}))
    assert ds.images["file"].tolist() == ["a.jpg"]
    assert "voc.filename_mismatch" not in codes(ds.findings)


def test_filename_tag_used_when_no_image_has_the_stem(tmp_path):
    root = make_voc(tmp_path / "voc", stems=())
    (root / "JPEGImages" / "photo.jpg").write_bytes(make_jpeg(64, 48))
    (root / "Annotations" / "ann1.xml").write_text(voc_xml("photo.jpg", (64, 48), [CAT]), encoding="utf-8")
    ds = read_voc(root)
    assert ds.images["file"].tolist() == ["photo.jpg"]
    # The tag names the image used, so there is nothing to report.
    assert "voc.filename_mismatch" not in codes(ds.findings)


def test_one_based_pixel_convention(tmp_path):
    # A box over every pixel column of a 10-px-wide image: VOC xmin=1, xmax=10.
    objs = [{"name": "cat", "box": (1, 1, 10, 8)}, {"name": "cat", "box": (3, 2, 5, 4)}]
    root = make_voc(tmp_path / "voc", xml={"a": voc_xml("a.jpg", (10, 8), objs)}, size=(10, 8))
    ds = read_voc(root)
    result = run(ds, tmp_path / "out")
    assert not [f for f in result.report.findings if f.code.startswith("box.") and f.code != "box.tiny"]
    (ex,) = records(tmp_path / "out")["train"]
    ymin, xmin, ymax, xmax = ex["boxes"][0]
    assert (xmin, xmax, ymin, ymax) == (0.0, 1.0, 0.0, 1.0)
    # Columns 2..4 (0-based) -> [2, 5) -> 0.2 .. 0.5; rows 1..3 -> [1, 4) of 8.
    np.testing.assert_allclose(ex["boxes"][1], [1 / 8, 0.2, 4 / 8, 0.5], rtol=1e-6)
    np.testing.assert_allclose(ex["area"], [80.0, 9.0])


# -- splits ---------------------------------------------------------------------------

def test_imagesets_train_val_test_define_the_splits(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b", "c", "d"),
                    splits={"train": ["a", "b"], "val": ["c"], "test": ["d"]})
    ds = read_voc(root)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"a.jpg": "train", "b.jpg": "train",
                                                                 "c.jpg": "val", "d.jpg": "test"}
    result = run(ds, tmp_path / "out")
    assert list(result.manifest["splits"]) == ["train", "val", "test"]
    got = records(tmp_path / "out")
    assert sorted(e["filename"] for e in got["train"]) == ["a.jpg", "b.jpg"]
    assert [e["filename"] for e in got["val"]] == ["c.jpg"]
    assert [e["filename"] for e in got["test"]] == ["d.jpg"]
    assert (tmp_path / "out" / "val-00000-of-00001.tfrecord").is_file()


def test_split_files_with_class_flag_columns(tmp_path):
    # Class-specific files write "stem  1"; the stem is the first field.
    root = make_voc(tmp_path / "voc", stems=("a", "b"), splits={"train": ["a  1"], "val": [" ", "b -1"]})
    ds = read_voc(root)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"a.jpg": "train", "b.jpg": "val"}


def test_trainval_used_only_when_train_and_val_absent(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b", "c"), splits={"trainval": ["a", "b"], "test": ["c"]})
    ds = read_voc(root)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"a.jpg": "trainval", "b.jpg": "trainval",
                                                                 "c.jpg": "test"}
    result = run(ds, tmp_path / "out")
    assert set(result.manifest["splits"]) == {"trainval", "test"}
    assert result.manifest["splits"]["trainval"]["examples"] == 2
    assert (tmp_path / "out" / "trainval-00000-of-00001.tfrecord").is_file()


def test_trainval_never_written_twice_when_train_and_val_exist(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b", "c"),
                    splits={"train": ["a"], "val": ["b"], "trainval": ["a", "b"], "test": ["c"]})
    ds = read_voc(root)
    result = run(ds, tmp_path / "out")
    assert set(result.manifest["splits"]) == {"train", "val", "test"}
    got = records(tmp_path / "out")
    names = [e["filename"] for split in got.values() for e in split]
    assert sorted(names) == ["a.jpg", "b.jpg", "c.jpg"]  # each image exactly once
    assert not list((tmp_path / "out").glob("trainval-*"))
    assert result.report.counts.images_written == 3


def test_stem_in_two_split_files_kept_in_the_first(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b"), splits={"train": ["a", "b"], "val": ["b"]})
    ds = read_voc(root)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"a.jpg": "train", "b.jpg": "train"}
    (f,) = [f for f in ds.findings if f.code == "split.conflict"]
    assert "'b'" in f.detail and "val.txt" in f.file


def test_annotation_listed_in_no_split_file_is_skipped(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b", "orphan"), splits={"train": ["a"], "val": ["b"]})
    ds = read_voc(root)
    (f,) = [f for f in ds.findings if f.code == "split.unlisted"]
    assert f.item == "orphan" and f.action == "skipped image" and "orphan.xml" in f.file
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (3, 2, 1)
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (3, 2, 1)
    assert_balanced(result)
    names = [e["filename"] for split in records(tmp_path / "out").values() for e in split]
    assert "orphan.jpg" not in names


def test_listed_stem_without_xml_is_reported(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a",), splits={"train": ["a", "ghost"]})
    ds = read_voc(root)
    (f,) = [f for f in ds.findings if f.code == "split.missing_annotation"]
    assert f.item == "ghost" and "train.txt" in f.detail and "Annotations/ghost.xml" in f.detail
    assert ds.num_images == 1
    result = run(ds, tmp_path / "out")
    assert result.report.counts.images_read == 1
    assert_balanced(result)


def test_no_split_files_means_everything_is_train(tmp_path):
    ds = read_voc(make_voc(tmp_path / "voc", stems=("a", "b")))
    assert set(ds.images["split"]) == {"train"}
    assert ds.source["split_files"] is False


# -- folders --------------------------------------------------------------------------

def test_vocdevkit_root_with_year(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    make_voc(devkit / "VOC2007", stems=("a", "b"))
    make_voc(devkit / "VOC2012", stems=("x",))
    ds = read_voc(devkit, year="2007")
    assert ds.images["file"].tolist() == ["a.jpg", "b.jpg"]
    assert ds.images_root == devkit / "VOC2007" / "JPEGImages"
    assert ds.source["year"] == "2007"
    ds12 = read_voc(devkit, year="2012")
    assert ds12.images["file"].tolist() == ["x.jpg"]


def test_vocdevkit_root_with_wrong_year(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    make_voc(devkit / "VOC2007")
    with pytest.raises(UsageError, match="no VOC2010/Annotations"):
        read_voc(devkit, year="2010")


def test_vocdevkit_root_without_year_lists_years(tmp_path):
    devkit = tmp_path / "VOCdevkit"
    make_voc(devkit / "VOC2007")
    make_voc(devkit / "VOC2012")
    with pytest.raises(UsageError, match="--year") as exc:
        read_voc(devkit)
    assert "VOC2007" in str(exc.value) and "VOC2012" in str(exc.value)


def test_folder_without_annotations_is_a_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no Annotations/ folder"):
        read_voc(tmp_path / "empty")
    with pytest.raises(UsageError, match="give a VOC folder"):
        read_voc()


def test_annotations_and_images_with_other_folder_names(tmp_path):
    root = make_voc(tmp_path / "labelimg", stems=("a", "b"), image_dir="pics", ann_dir="xmls")
    # Split files next to them are ignored when the folders are given explicitly.
    ds = read_voc(annotations=root / "xmls", images=root / "pics")
    assert ds.images["file"].tolist() == ["a.jpg", "b.jpg"]
    assert ds.images_root == root / "pics"
    result = run(ds, tmp_path / "out")
    assert result.report.counts.images_written == 2
    with pytest.raises(UsageError, match="go together"):
        read_voc(annotations=root / "xmls")
    with pytest.raises(UsageError, match="images folder not found"):
        read_voc(annotations=root / "xmls", images=root / "nope")


# -- bad and hostile XML --------------------------------------------------------------

def test_malformed_xml_is_a_finding_and_the_run_continues(tmp_path):
    broken = "<annotation><filename>b.jpg</filename><object><name>cat</name>"  # cut off
    root = make_voc(tmp_path / "voc", stems=("a", "b", "c"), xml={"b": broken})
    ds = read_voc(root)
    (f,) = [f for f in ds.findings if f.code == "annotation.malformed"]
    assert f.severity == "error" and f.item == "b" and f.file.endswith("b.xml") and f.action == "skipped image"
    result = run(ds, tmp_path / "out")
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped) == (3, 2, 1)
    assert_balanced(result)
    assert sorted(e["filename"] for e in records(tmp_path / "out")["train"]) == ["a.jpg", "c.jpg"]
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["by_code"]["annotation.malformed"] == 1


def test_xml_that_is_not_a_voc_annotation(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b"), xml={"b": "<svg><object/></svg>"})
    ds = read_voc(root)
    (f,) = [f for f in ds.findings if f.code == "annotation.malformed"]
    assert "<svg>" in f.detail


def test_external_entity_is_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    text = (f'<?xml version="1.0"?>\n<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            + voc_xml("a.jpg", (64, 48), [{"name": "cat&xxe;", "box": (1, 1, 10, 10), "pose": "&xxe;"}]))
    root = make_voc(tmp_path / "voc", stems=("a", "b"), xml={"a": text})
    ds = read_voc(root)
    assert "TOPSECRET" not in ds.objects.to_string()
    assert "TOPSECRET" not in " ".join(f.detail for f in ds.findings)
    result = run(ds, tmp_path / "out")
    assert_balanced(result)
    for path in (tmp_path / "out").iterdir():
        assert b"TOPSECRET" not in path.read_bytes()


def test_billion_laughs_is_not_expanded(tmp_path):
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    ]
    text = ('<?xml version="1.0"?>\n<!DOCTYPE annotation [' + "\n".join(ents) + "]>\n"
            + voc_xml("a.jpg", (64, 48), [{"name": "cat&lol9;", "box": (1, 1, 10, 10)}]))
    try:
        parsed = parse_voc_xml(text.encode(), "a.xml")
    except ValueError:
        parsed = None  # refused as malformed: also fine, nothing was expanded
    if parsed is not None:
        assert len(parsed["objects"][0]["text"]) < 100
    root = make_voc(tmp_path / "voc", stems=("a", "b"), xml={"a": text})
    ds = read_voc(root)
    assert ds.objects["text"].str.len().max() < 100
    result = run(ds, tmp_path / "out")
    assert_balanced(result)
    assert result.report.counts.images_read == 2
    assert "b.jpg" in [e["filename"] for e in records(tmp_path / "out")["train"]]


def test_image_ids_are_one_to_n_by_file_name_and_stable(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("c", "a", "b"))
    first = read_voc(root)
    assert first.images[["image_id", "file"]].values.tolist() == [[1, "a.jpg"], [2, "b.jpg"], [3, "c.jpg"]]
    again = read_voc(root)
    assert again.images["image_id"].tolist() == first.images["image_id"].tolist()
    run(first, tmp_path / "out")
    got = {e["filename"]: e["source_id"] for e in records(tmp_path / "out")["train"]}
    assert got == {"a.jpg": "1", "b.jpg": "2", "c.jpg": "3"}


def test_filename_tag_cannot_escape_the_images_root(tmp_path):
    root = make_voc(tmp_path / "voc", stems=())
    (root / "outside.jpg").write_bytes(make_jpeg(64, 48))  # beside JPEGImages/, not in it
    (root / "Annotations" / "x.xml").write_text(voc_xml("../outside.jpg", (64, 48), [CAT]), encoding="utf-8")
    ds = read_voc(root)
    result = run(ds, tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.path_escapes_root"]
    assert "../outside.jpg" in f.detail and f.action == "skipped image"
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped, c.boxes_dropped) == (1, 0, 1, 1)
    assert_balanced(result)


def test_object_with_empty_name_is_dropped_not_a_class(tmp_path):
    objs = [CAT, {"name": "", "box": (1, 1, 10, 10)}, {"name": "  ", "box": (2, 2, 10, 10)}]
    ds = read_voc(make_voc(tmp_path / "voc", xml={"a": voc_xml("a.jpg", (64, 48), objs)}))
    result = run(ds, tmp_path / "out")
    assert result.label_map.names == ["cat"]
    found = [f for f in result.report.findings if f.code == "label.unknown"]
    assert [f.item for f in found] == ["a.jpg object 1 ''", "a.jpg object 2 ''"]
    from dataprep.label_map import LabelMap

    assert LabelMap.read(tmp_path / "out" / "label_map.pbtxt") == result.label_map
    (ex,) = records(tmp_path / "out")["train"]
    assert ex["texts"] == ["cat"] and ex["labels"] == [1]
    assert_balanced(result)


def test_unlisted_images_do_not_make_an_empty_split(tmp_path):
    root = make_voc(tmp_path / "voc", stems=("a", "b", "orphan"), splits={"train": ["a"], "val": ["b"]})
    result = run(read_voc(root), tmp_path / "out")
    assert list(result.manifest["splits"]) == ["train", "val"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["splits"]) == ["train", "val"]
    assert not [line for line in result.summary_lines() if line.strip().startswith("0 examples")]


def test_missing_annotation_or_image_folders(tmp_path):
    root = make_voc(tmp_path / "voc")
    with pytest.raises(UsageError, match="annotations folder not found"):
        read_voc(annotations=tmp_path / "nope", images=root / "JPEGImages")
    (root / "JPEGImages" / "a.jpg").unlink()
    (root / "JPEGImages").rmdir()
    with pytest.raises(UsageError, match="JPEGImages: images folder not found"):
        read_voc(root)


def test_trainval_minus_train_is_val_when_val_txt_is_missing(tmp_path, write_image):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    for stem in ("a", "b", "c"):
        write_image(root / "JPEGImages" / f"{stem}.jpg", 32, 24)
        (root / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><object><name>cat</name><bndbox><xmin>2</xmin>"
            "<ymin>2</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object></annotation>")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("a\nb\n")
    (main / "trainval.txt").write_text("a\nb\nc\n")
    ds = read_voc(root)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"a.jpg": "train", "b.jpg": "train", "c.jpg": "val"}
    (f,) = [f for f in ds.findings if f.code == "split.derived"]
    assert "1 images" in f.detail and not [f for f in ds.findings if f.code == "split.unlisted"]
