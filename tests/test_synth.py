"""Tests for the synthetic shapes dataset generator (dataprep.synth)."""

from __future__ import annotations

import io
import pathlib
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from dataprep.synth import generate_shapes_voc, render_shapes_image, shape_for_class
from dataprep.synth.shapes import SHAPE_KINDS, split_counts

SMALL = {"width": 120, "height": 90}


def _stems(root: pathlib.Path, sub: str, ext: str) -> list[str]:
    files = sorted((root / sub).iterdir())
    assert all(f.suffix == ext for f in files), files
    return [f.stem for f in files]


def _objects(xml_path: pathlib.Path) -> list[tuple[str, int, int, int, int]]:
    root = ET.parse(xml_path).getroot()
    out = []
    for obj in root.findall("object"):
        bb = obj.find("bndbox")
        out.append((obj.findtext("name"),) + tuple(int(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")))
    return out


def _tree_bytes(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _diff_box(a: Image.Image, b: Image.Image, threshold: int = 0):
    """VOC (1-based inclusive) box of the pixels where a and b differ by more than threshold."""
    d = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max(axis=2) > threshold
    ys, xs = np.nonzero(d)
    if xs.size == 0:
        return None
    return (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1)


def test_layout_names_and_xml(tmp_path):
    root = generate_shapes_voc(tmp_path / "ds", 12, seed=3, **SMALL)
    assert root == tmp_path / "ds"
    expected = [f"shapes_{i:06d}" for i in range(1, 13)]
    assert _stems(root, "Annotations", ".xml") == expected
    assert _stems(root, "JPEGImages", ".jpg") == expected
    for stem in expected:
        ann = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
        assert ann.tag == "annotation"
        assert ann.findtext("folder") == "JPEGImages"
        assert ann.findtext("filename") == f"{stem}.jpg"
        assert ann.findtext("size/width") == "120"
        assert ann.findtext("size/height") == "90"
        assert ann.findtext("size/depth") == "3"
        assert ann.findtext("segmented") == "0"
        for obj in ann.findall("object"):
            assert obj.findtext("pose") == "Unspecified"
            assert obj.findtext("truncated") == "0"
            assert obj.findtext("difficult") == "0"
        with Image.open(root / "JPEGImages" / f"{stem}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (120, 90)


def test_imagesets_partition(tmp_path):
    splits = {"train": 0.7, "val": 0.2, "test": 0.1}
    root = generate_shapes_voc(tmp_path, 23, splits=splits, **SMALL)
    stems = set(_stems(root, "Annotations", ".xml"))
    sets = root / "ImageSets" / "Main"
    assert sorted(p.name for p in sets.iterdir()) == ["test.txt", "train.txt", "val.txt"]
    seen: list[str] = []
    for name, frac in splits.items():
        lines = (sets / f"{name}.txt").read_text().splitlines()
        assert lines == sorted(lines)
        assert abs(len(lines) - frac * 23) < 1
        seen += lines
    assert len(seen) == len(set(seen)) == 23  # disjoint
    assert set(seen) == stems  # covers every image
    assert [len((sets / f"{n}.txt").read_text().splitlines()) for n in splits] == [16, 5, 2]


def test_split_counts_rounding():
    assert split_counts(10, [0.8, 0.2]) == [8, 2]
    assert split_counts(7, [0.5, 0.5]) == [4, 3]
    assert split_counts(0, [0.8, 0.2]) == [0, 0]
    for n in range(1, 40):
        c = split_counts(n, [0.6, 0.3, 0.1])
        assert sum(c) == n and all(abs(k - f * n) < 1 for k, f in zip(c, [0.6, 0.3, 0.1]))


def test_no_imagesets_when_splits_none(tmp_path):
    root = generate_shapes_voc(tmp_path, 3, splits=None, **SMALL)
    assert not (root / "ImageSets").exists()
    assert len(list((root / "Annotations").iterdir())) == 3


def test_deterministic_and_independent_of_workers(tmp_path):
    kw = dict(seed=11, negatives=0.2, **SMALL)
    a = _tree_bytes(generate_shapes_voc(tmp_path / "a", 16, **kw))
    b = _tree_bytes(generate_shapes_voc(tmp_path / "b", 16, **kw))
    c = _tree_bytes(generate_shapes_voc(tmp_path / "c", 16, workers=2, **kw))
    assert len(a) == 16 * 2 + 2
    assert a == b
    assert a == c
    d = _tree_bytes(generate_shapes_voc(tmp_path / "d", 16, **{**kw, "seed": 12}))
    assert d.keys() == a.keys()
    assert all(d[k] != a[k] for k in a if k.startswith("JPEGImages"))


def test_prefix_of_larger_dataset_is_identical(tmp_path):
    # Image i depends only on (seed, i): a bigger dataset starts with the same images.
    a = generate_shapes_voc(tmp_path / "a", 3, splits=None, **SMALL)
    b = generate_shapes_voc(tmp_path / "b", 5, splits=None, **SMALL)
    for sub in ("Annotations/shapes_000003.xml", "JPEGImages/shapes_000003.jpg"):
        assert (a / sub).read_bytes() == (b / sub).read_bytes()


@pytest.mark.parametrize("background", ["plain", "photo"])
def test_box_is_tight_box_of_drawn_pixels(background):
    # The background is drawn before the objects from the same stream, so the
    # negative rendering of an index is exactly the image's background.
    classes = tuple(shape_for_class(["circle", "square", "triangle", "diamond", "hexagon", "star", "cross"]))
    kinds_seen = set()
    for i in range(40):
        kw = dict(width=160, height=120, classes=classes, objects_per_image=(1, 1),
                  size_range=(0.05, 0.9), aspect_range=(0.3, 3.0), background=background)
        img, objs = render_shapes_image(5, i, **kw)
        bg, none = render_shapes_image(5, i, negative=True, **kw)
        assert none == []
        assert len(objs) == 1
        o = objs[0]
        kinds_seen.add(shape_for_class(classes)[o["name"]])
        assert _diff_box(img, bg) == (o["xmin"], o["ymin"], o["xmax"], o["ymax"]), (i, o)
    assert kinds_seen == set(SHAPE_KINDS)


def test_box_matches_pixels_in_written_jpeg(tmp_path):
    kw = dict(width=200, height=150, objects_per_image=(1, 1), seed=2)
    root = generate_shapes_voc(tmp_path, 8, splits=None, **kw)
    for i in range(8):
        (name, x0, y0, x1, y1), = _objects(root / "Annotations" / f"shapes_{i + 1:06d}.xml")
        bg, _ = render_shapes_image(2, i, negative=True, width=200, height=150)
        with Image.open(root / "JPEGImages" / f"shapes_{i + 1:06d}.jpg") as im:
            decoded = im.convert("RGB")
        got = _diff_box(decoded, bg, threshold=40)  # JPEG noise stays well under 40
        assert got is not None
        assert all(abs(g - e) <= 2 for g, e in zip(got, (x0, y0, x1, y1))), (i, got, (x0, y0, x1, y1))
        # the object's box centre differs clearly from the background for filled shapes
        if name in ("circle", "square"):
            cx, cy = (x0 + x1) // 2 - 1, (y0 + y1) // 2 - 1
            diff = np.abs(np.asarray(decoded.getpixel((cx, cy)), int) - np.asarray(bg.getpixel((cx, cy)), int))
            assert diff.sum() > 60


def test_boxes_in_bounds_and_object_counts(tmp_path):
    root = generate_shapes_voc(tmp_path, 40, objects_per_image=(2, 4), seed=7, **SMALL)
    counts = []
    for xml in sorted((root / "Annotations").iterdir()):
        objs = _objects(xml)
        counts.append(len(objs))
        for name, x0, y0, x1, y1 in objs:
            assert name in ("circle", "square", "triangle")
            assert 1 <= x0 <= x1 <= 120 and 1 <= y0 <= y1 <= 90
            assert x1 - x0 >= 2 and y1 - y0 >= 2
    assert min(counts) >= 2 and max(counts) <= 4
    assert {2, 4} <= set(counts)  # both ends of the inclusive range occur


def test_many_objects_still_placed(tmp_path):
    img, objs = render_shapes_image(0, 0, width=100, height=80, objects_per_image=(12, 12))
    assert len(objs) == 12
    img, objs = render_shapes_image(0, 1, width=100, height=80, objects_per_image=(0, 0))
    assert objs == []


def test_negatives_fraction(tmp_path):
    root = generate_shapes_voc(tmp_path, 20, negatives=0.25, objects_per_image=(1, 3), **SMALL)
    empty = [x.stem for x in sorted((root / "Annotations").iterdir()) if not _objects(x)]
    assert len(empty) == 5
    for stem in empty:
        assert b"<object>" not in (root / "Annotations" / f"{stem}.xml").read_bytes()
        assert (root / "JPEGImages" / f"{stem}.jpg").stat().st_size > 0


def test_custom_classes_and_escaping(tmp_path):
    classes = ("cat", "dog & co", "circle")
    mapping = shape_for_class(classes)
    assert mapping["circle"] == "ellipse"
    assert len(set(mapping.values())) == 3
    root = generate_shapes_voc(tmp_path, 20, classes=classes, objects_per_image=(3, 3), **SMALL)
    names = {o[0] for x in (root / "Annotations").iterdir() for o in _objects(x)}
    assert names == set(classes)
    assert b"dog &amp; co" in b"".join(x.read_bytes() for x in (root / "Annotations").iterdir())


def test_realistic_jpeg_size():
    sizes = []
    for i in range(3):
        img, _ = render_shapes_image(0, i)
        assert img.size == (500, 375)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        sizes.append(buf.tell())
    assert all(15_000 < s < 90_000 for s in sizes), sizes


@pytest.mark.parametrize("kwargs", [
    {"splits": {"train": 0.5, "val": 0.2}},
    {"splits": {"train": 1.2, "val": -0.2}},
    {"objects_per_image": (3, 1)},
    {"size_range": (0.0, 0.5)},
    {"aspect_range": (2.0, 0.5)},
    {"negatives": 1.5},
    {"classes": ()},
    {"classes": ("a", "a")},
    {"seed": -1},
    {"background": "stripes"},
])
def test_invalid_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_shapes_voc(tmp_path, 2, **kwargs)
