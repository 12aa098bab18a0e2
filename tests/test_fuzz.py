"""Fuzzing the readers with random bytes, XML, JSON and CSV: no crash, no hang,
and every input accounted for (a clear DataprepError, or a dataset whose
conversion balances images and boxes)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_jpeg
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import DataprepError
from dataprep.formats import read_coco, read_csv, read_voc

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JPEG = make_jpeg(32, 24)


def _check(ds, expect_images=None):
    if not len(ds.images):  # nothing to convert: a clear error, never an empty output (issue 14 item 5)
        with pytest.raises(DataprepError, match="no images to convert"):
            convert(ds, ConvertOptions(out=Path("."), workers=1, progress=False, dry_run=True))
        return None
    with tempfile.TemporaryDirectory() as out:
        result = convert(ds, ConvertOptions(out=Path(out), workers=1, progress=False, dry_run=True))
    c = result.report.counts
    c.check()
    if expect_images is not None:
        assert c.images_read == expect_images
    return result


numbers = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                    st.text(max_size=6), st.just(""))
names = st.one_of(st.sampled_from(["cat", "dog", "Dog", "čaj", ""]), st.text(max_size=8))


@st.composite
def voc_xml(draw):
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    objs = "".join(
        f"<object><name>{draw(names)}</name><difficult>{draw(numbers)}</difficult><bndbox>"
        + "".join(f"<{k}>{draw(numbers)}</{k}>" for k in draw(st.permutations(["xmin", "ymin", "xmax", "ymax"]))
                  if draw(st.booleans()) or True)
        + f"</bndbox>{'<part><bndbox><xmin>1</xmin></bndbox></part>' if draw(st.booleans()) else ''}</object>"
        for _ in range(draw(st.integers(0, 4))))
    size = f"<size><width>{draw(numbers)}</width><height>{draw(numbers)}</height></size>" if draw(st.booleans()) else ""
    text = f"<annotation><filename>{draw(st.text(max_size=10))}</filename>{size}{objs}</annotation>"
    text = text.replace("&", "&amp;").replace("\x00", "")
    if draw(st.booleans()):  # cut it anywhere
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text.encode("utf-8", "replace")


@SETTINGS
@given(voc_xml(), st.one_of(st.just(JPEG), st.binary(max_size=200)))
def test_voc_reader_survives_anything(xml, image):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "Annotations").mkdir()
        (root / "JPEGImages").mkdir()
        (root / "Annotations" / "a.xml").write_bytes(xml)
        (root / "JPEGImages" / "a.jpg").write_bytes(image)
        ds = read_voc(root)
        _check(ds, expect_images=1)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


@st.composite
def coco_json(draw):
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    images = draw(st.lists(st.fixed_dictionaries(
        {"id": st.one_of(st.integers(-2, 5), st.text(max_size=2), st.none()),
         "file_name": st.one_of(st.just("a.jpg"), st.just("../etc/passwd"), st.text(max_size=5)),
         "width": json_values, "height": json_values}), max_size=4))
    anns = draw(st.lists(st.fixed_dictionaries(
        {"image_id": st.one_of(st.integers(-2, 5), st.text(max_size=2)),
         "category_id": st.one_of(st.integers(0, 3), st.none()),
         "bbox": st.one_of(st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-5, 50)), max_size=5), json_values),
         "iscrowd": st.one_of(st.integers(0, 1), st.text(max_size=2))}), max_size=6))
    cats = draw(st.lists(st.fixed_dictionaries({"id": st.integers(0, 3), "name": names}), max_size=3))
    return json.dumps({"images": images, "annotations": anns, "categories": cats}).encode()


@SETTINGS
@given(coco_json())
def test_coco_reader_survives_anything(data):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "img").mkdir()
        (root / "img" / "a.jpg").write_bytes(JPEG)
        (root / "a.json").write_bytes(data)
        try:
            ds = read_coco(root / "a.json", images=root / "img")
        except DataprepError:
            return  # a clear error naming the file is an acceptable answer
        _check(ds, expect_images=len(ds.images))


cells = st.one_of(st.just("a.jpg"), st.just("cat"), numbers, st.text(max_size=4))


@SETTINGS
@given(st.one_of(
    st.binary(max_size=200).map(lambda b: b),
    st.lists(st.lists(cells, min_size=0, max_size=9), max_size=6).map(
        lambda rows: ("filename,width,height,class,xmin,ymin,xmax,ymax\n"
                      + "\n".join(",".join(r) for r in rows)).encode("utf-8", "replace"))))
def test_csv_reader_survives_anything(data):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "img").mkdir()
        (root / "img" / "a.jpg").write_bytes(JPEG)
        (root / "a.csv").write_bytes(data)
        try:
            ds = read_csv(root / "a.csv", images=root / "img")
        except DataprepError:
            return
        result = _check(ds)
        if result is not None:
            c = result.report.counts
            assert c.boxes_read >= c.boxes_written
