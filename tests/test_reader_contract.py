"""The reader contract, once for every registered reader.

One golden table of boxes is written by hand in each format (tiny fixtures in
``tmp_path``); every reader, opened through the source registry, must
recognise its own source and no other, and yield the same dataset model:
same files, same classes, same boxes in the hub frame (continuous pixel
corners), each reader applying its own pixel convention.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_jpeg
from dataprep.errors import UsageError
from dataprep.formats.registry import READERS, SourceSpec, detect_format, formats, open_source

#: file, width, height, then (class, xmin, ymin, xmax, ymax) in the hub frame.
GOLDEN = [
    ("a.jpg", 64, 48, [("cat", 4.0, 6.0, 30.0, 40.0), ("dog", 10.0, 2.0, 60.0, 20.0)]),
    ("b.jpg", 64, 48, [("cat", 0.0, 0.0, 64.0, 48.0)]),
]


def write_images(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for k, (name, w, h, _) in enumerate(GOLDEN):
        (root / name).write_bytes(make_jpeg(w, h, seed=k))


def make_voc(tmp: Path) -> SourceSpec:
    root = tmp / "voc"
    write_images(root / "JPEGImages")
    (root / "Annotations").mkdir()
    for name, w, h, boxes in GOLDEN:
        # VOC: 1-based inclusive pixel indices: xmin = hub xmin + 1, xmax = hub xmax.
        objs = "".join(f"<object><name>{c}</name><bndbox><xmin>{x0 + 1:g}</xmin><ymin>{y0 + 1:g}</ymin>"
                       f"<xmax>{x1:g}</xmax><ymax>{y1:g}</ymax></bndbox></object>" for c, x0, y0, x1, y1 in boxes)
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height></size>"
            f"{objs}</annotation>", encoding="utf-8")
    return SourceSpec(root)


def make_coco(tmp: Path) -> SourceSpec:
    write_images(tmp / "images")
    cats = {"cat": 1, "dog": 2}
    boxes = [(k + 1, *box) for k, (_, _, _, image_boxes) in enumerate(GOLDEN) for box in image_boxes]
    # COCO: [x, y, width, height] in the hub frame already.
    anns = [{"id": i + 1, "image_id": k, "category_id": cats[c], "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0,
             "area": (x1 - x0) * (y1 - y0)} for i, (k, c, x0, y0, x1, y1) in enumerate(boxes)]
    data = {"images": [{"id": k + 1, "file_name": n, "width": w, "height": h} for k, (n, w, h, _) in enumerate(GOLDEN)],
            "annotations": anns, "categories": [{"id": i, "name": n} for n, i in cats.items()]}
    path = tmp / "instances.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return SourceSpec(path, images=tmp / "images")


def make_csv(tmp: Path) -> SourceSpec:
    write_images(tmp / "images")
    rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    rows += [f"{n},{w},{h},{c},{x0:g},{y0:g},{x1:g},{y1:g}" for n, w, h, boxes in GOLDEN for c, x0, y0, x1, y1 in boxes]
    path = tmp / "labels.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return SourceSpec(path, images=tmp / "images")


MAKERS = {"voc": make_voc, "coco": make_coco, "csv": make_csv}


def test_every_registered_reader_has_a_fixture():
    assert set(MAKERS) == set(READERS) == set(formats())


@pytest.mark.parametrize("name", READERS)
def test_reader_yields_the_golden_table(tmp_path, name):
    spec = MAKERS[name](tmp_path)
    assert detect_format(spec.path) == name
    ds = open_source(spec)
    assert ds.findings == [] or all(f.severity != "error" for f in ds.findings)
    images = ds.images.set_index("image_id")
    got = sorted((images.loc[r.image_id, "file"], r.text, r.xmin, r.ymin, r.xmax, r.ymax)
                 for r in ds.objects.itertuples())
    want = sorted((n, c, x0, y0, x1, y1) for n, _, _, boxes in GOLDEN for c, x0, y0, x1, y1 in boxes)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want])
    assert sorted(ds.images["file"]) == [g[0] for g in GOLDEN]
    assert ds.images["width"].tolist() == [64.0, 64.0] and ds.images["height"].tolist() == [48.0, 48.0]
    assert ds.box_units == "pixel"
    assert ds.images["annotation"].str.len().min() > 0  # every image names where it was annotated


@pytest.mark.parametrize("name", READERS)
def test_reader_detects_only_its_own(tmp_path, name):
    for other, make in MAKERS.items():
        spec = make(tmp_path / other)
        assert formats()[name].detect(spec.path) == (other == name), (name, other)


@pytest.mark.parametrize("name", ["coco", "csv"])
def test_readers_of_relative_names_need_images(tmp_path, name):
    spec = MAKERS[name](tmp_path)
    with pytest.raises(UsageError, match=rf"{spec.path.name}: a {name.upper()} source needs --images DIR"):
        open_source(SourceSpec(spec.path))


def test_format_auto_and_unknown(tmp_path):
    spec = make_csv(tmp_path)
    assert len(open_source(SourceSpec(spec.path, format="auto", images=spec.images)).objects) == 3
    with pytest.raises(UsageError, match="--format must be one of auto, voc, coco, csv, got 'yolo'"):
        open_source(SourceSpec(spec.path, format="yolo", images=spec.images))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match=r"notes.txt: unknown kind of file; expected a Pascal VOC folder .*a COCO "
                                         r"\.json; a \.csv; or give --format voc\|coco\|csv"):
        detect_format(tmp_path / "notes.txt")


def test_coco_empty_category_name_is_renamed(tmp_path):
    """label.empty_name: a COCO category with an empty name gets category_<id>, as a warning."""
    spec = make_coco(tmp_path)
    data = json.loads(spec.path.read_text())
    data["categories"][1]["name"] = ""
    spec.path.write_text(json.dumps(data))
    ds = open_source(spec)
    (f,) = [f for f in ds.findings if f.code == "label.empty_name"]
    assert f.severity == "warning" and f.action == "renamed" and "category id=2" in f.detail
    assert sorted(ds.objects["text"].unique()) == ["cat", "category_2"]
