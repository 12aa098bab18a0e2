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


def make_yolo(tmp: Path) -> SourceSpec:
    root = tmp / "yolo"
    write_images(root / "images" / "train")
    (root / "labels" / "train").mkdir(parents=True)
    names = ["cat", "dog"]
    for name, w, h, boxes in GOLDEN:
        # YOLO: class cx cy w h, fractions of the image size.
        lines = [f"{names.index(c)} {(x0 + x1) / 2 / w!r} {(y0 + y1) / 2 / h!r} {(x1 - x0) / w!r} {(y1 - y0) / h!r}\n"
                 for c, x0, y0, x1, y1 in boxes]
        (root / "labels" / "train" / f"{Path(name).stem}.txt").write_text("".join(lines), encoding="utf-8")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat, dog]\n", encoding="utf-8")
    return SourceSpec(root)


def make_tfrecord(tmp: Path) -> SourceSpec:
    from dataprep.records.example import ExampleData, encode_example
    from dataprep.records.framing import frame

    write_images(tmp / "images")
    path = tmp / "train.tfrecord"
    records = []
    for k, (name, w, h, boxes) in enumerate(GOLDEN):
        # Records: ymin, xmin, ymax, xmax as fractions of the image size.
        yxyx = np.array([[y0 / h, x0 / w, y1 / h, x1 / w] for _, x0, y0, x1, y1 in boxes])
        n = len(boxes)
        records.append(frame(encode_example(ExampleData(
            encoded=(tmp / "images" / name).read_bytes(), format="jpeg", height=h, width=w, filename=name,
            source_id=k + 1, boxes=yxyx, texts=[b[0] for b in boxes], labels=[1 + (b[0] == "dog") for b in boxes],
            difficult=[0] * n, truncated=[0] * n, is_crowd=[0] * n, area=[0.0] * n, view=[""] * n))))
    path.write_bytes(b"".join(records))
    return SourceSpec(path)


MAKERS = {"voc": make_voc, "coco": make_coco, "csv": make_csv, "yolo": make_yolo, "tfrecord": make_tfrecord}
#: Readers whose boxes enter the hub as fractions of the image size (``box_units == "normalized"``).
NORMALIZED = {"yolo", "tfrecord"}


def test_every_registered_reader_has_a_fixture():
    assert set(MAKERS) == set(READERS) == set(formats())


@pytest.mark.parametrize("name", READERS)
def test_reader_yields_the_golden_table(tmp_path, name):
    spec = MAKERS[name](tmp_path)
    assert detect_format(spec.path) == name
    ds = open_source(spec)
    assert ds.findings == [] or all(f.severity != "error" for f in ds.findings)
    images = ds.images.set_index("image_id")
    images["file"] = images["file"].str.rsplit("/", n=1).str[-1]  # YOLO: images/train/a.jpg
    size = {n: (w, h) for n, w, h, _ in GOLDEN}
    scale = (lambda f: size[f] * 2) if name in NORMALIZED else (lambda f: (1, 1, 1, 1))
    got = sorted((f, r.text, *(v * s for v, s in zip((r.xmin, r.ymin, r.xmax, r.ymax), scale(f))))
                 for r in ds.objects.itertuples() for f in [images.loc[r.image_id, "file"]])
    want = sorted((n, c, x0, y0, x1, y1) for n, _, _, boxes in GOLDEN for c, x0, y0, x1, y1 in boxes)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want])
    assert sorted(images["file"]) == [g[0] for g in GOLDEN]
    if name != "yolo":  # YOLO states no image size
        assert ds.images["width"].tolist() == [64.0, 64.0] and ds.images["height"].tolist() == [48.0, 48.0]
    assert ds.box_units == ("normalized" if name in NORMALIZED else "pixel")
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
    assert len(open_source(SourceSpec(spec.path, format="auto", images=spec.options["images"])).objects) == 3
    with pytest.raises(UsageError, match="--format must be one of auto, voc, coco, csv, yolo, tfrecord, got 'kitti'"):
        open_source(SourceSpec(spec.path, format="kitti", images=spec.options["images"]))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match=r"notes.txt: unknown kind of file; expected a Pascal VOC folder .*a COCO "
                                         r"\.json; a \.csv; a YOLO folder .*; TFRecords .*; or give --format "
                                         r"voc\|coco\|csv\|yolo\|tfrecord"):
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
