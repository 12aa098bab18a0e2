"""Fuzzing the readers with random bytes, XML, JSON and CSV: no crash, no hang,
and every input accounted for (a clear DataprepError, or a dataset whose
conversion balances images and boxes)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_jpeg
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import DataprepError
from dataprep.formats import read_coco, read_csv, read_voc
from dataprep.formats.yolo import read_yolo

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


# --- mutations of valid inputs: every source format, records, manifests (issue 14, "Done when") -------------------
#
# `pytest -m fuzz` runs only these; DATAPREP_FUZZ_EXAMPLES=2000 runs them longer.

MUTATION_SETTINGS = settings(max_examples=int(os.environ.get("DATAPREP_FUZZ_EXAMPLES", "25")), deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

VALID_VOC = (b"<annotation><filename>a.jpg</filename><size><width>32</width><height>24</height></size>"
             b"<object><name>cat</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax>"
             b"<ymax>18</ymax></bndbox></object><object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
             b"<xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>")
VALID_COCO = json.dumps({
    "images": [{"id": 0, "file_name": "a.jpg", "width": 32, "height": 24},
               {"id": 7, "file_name": "b.jpg", "width": 32, "height": 24}],
    "annotations": [{"id": 1, "image_id": 0, "category_id": 1, "bbox": [2, 3, 10, 10], "iscrowd": 0},
                    {"id": 2, "image_id": 7, "category_id": 2, "bbox": [1, 1, 5, 5], "iscrowd": 0}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}).encode()
VALID_CSV = (b"filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,32,24,cat,2,3,20,18\n"
             b"a.jpg,32,24,dog,1,1,9,9\nb.jpg,32,24,cat,1,1,9,9\n")
VALID_YOLO_LABELS = b"0 0.5 0.5 0.25 0.25\n1 0.1 0.2 0.3 0.2 0.3 0.6 0.1 0.6\n"
VALID_YOLO_YAML = (b"path: .\ntrain: images/train\nval: ../images/val # Roboflow style\ntest: train.txt\n"
                   b"nc: 2\nnames:\n  0: cat\n  1: '1'\n")


@st.composite
def mutated(draw, data: bytes):
    """``data`` after a few byte-level edits: flips, inserts (including the
    bytes that matter to parsers: quotes, brackets, newlines), deletions, cuts."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "duplicate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            out[at:at] = draw(st.one_of(st.sampled_from([b'"', b"'", b"\n", b"\r", b",", b"<", b"]", b"}", b"\x00",
                                                         b"\xef\xbb\xbf", b"\xff", b"1e400", b"-1", b"0"]),
                                        st.binary(min_size=1, max_size=4)))
        elif op == "delete" and out:
            del out[at:at + draw(st.integers(1, 8))]
        elif op == "cut":
            del out[at:]
        elif op == "duplicate" and out:
            out[at:at] = out[at:at + draw(st.integers(1, 40))]
    return bytes(out)


def _source_dir(d: str) -> Path:
    root = Path(d)
    for sub in ("img", "Annotations", "JPEGImages"):
        (root / sub).mkdir()
    for name in ("a.jpg", "b.jpg"):
        (root / "img" / name).write_bytes(JPEG)
        (root / "JPEGImages" / name).write_bytes(JPEG)
    return root


@pytest.mark.fuzz
@MUTATION_SETTINGS
@given(st.sampled_from(["voc", "coco", "csv", "yolo", "yolo_yaml"]).flatmap(
    lambda kind: st.tuples(st.just(kind), mutated({"voc": VALID_VOC, "coco": VALID_COCO, "csv": VALID_CSV,
                                                   "yolo": VALID_YOLO_LABELS, "yolo_yaml": VALID_YOLO_YAML}[kind]))))
def test_mutated_sources_never_crash_or_lose_an_image(case):
    """Random mutations of a valid VOC, COCO, CSV and YOLO source (a label
    file, a data.yaml): a clear DataprepError, or a dataset whose every image
    and box is accounted for."""
    kind, data = case
    with tempfile.TemporaryDirectory() as d:
        root = _source_dir(d)
        try:
            if kind.startswith("yolo"):
                ds = read_yolo(_yolo_dir(root, data, kind))
            elif kind == "voc":
                (root / "Annotations" / "a.xml").write_bytes(data)
                ds = read_voc(root)
            elif kind == "coco":
                (root / "a.json").write_bytes(data)
                ds = read_coco(root / "a.json", images=root / "img")
            else:
                (root / "a.csv").write_bytes(data)
                ds = read_csv(root / "a.csv", images=root / "img")
        except DataprepError:
            return
        result = _check(ds, expect_images=len(ds.images))
        if result is not None:
            c = result.report.counts
            assert c.boxes_read == c.boxes_written + c.boxes_dropped


def _yolo_dir(root: Path, data: bytes, kind: str) -> Path:
    """A YOLO dataset in ``root/yolo`` whose label file (``kind`` yolo) or data.yaml (yolo_yaml) is ``data``."""
    y = root / "yolo"
    for split in ("train", "val"):
        (y / "images" / split).mkdir(parents=True)
        (y / "labels" / split).mkdir(parents=True)
        (y / "images" / split / "a.jpg").write_bytes(JPEG)
        (y / "labels" / split / "a.txt").write_bytes(data if kind == "yolo" else VALID_YOLO_LABELS)
    (y / "train.txt").write_text("./images/train/A.JPG\nimages/val/a.png\n")
    (y / "data.yaml").write_bytes(data if kind == "yolo_yaml" else VALID_YOLO_YAML)
    return y


def _variant(name: str, how: int) -> str:
    """``name`` as a user or another tool may have written it: as is, upper-cased, with another image extension."""
    stem, ext = os.path.splitext(name)
    return [name, name.upper(), stem + ".png", stem.upper() + ".JPEG"][how]


@pytest.mark.fuzz
@MUTATION_SETTINGS
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans(), st.sampled_from(["train", "val"])),
                min_size=1, max_size=6),
       st.sampled_from(["[cat, dog]", "['0', '1']", "[1, 0]"]))
def test_ambiguous_yolo_names_never_lose_an_image_or_box(images, names):
    """List files and label files that disagree with the images on case or
    extension, numeric class names, an image listed in two splits: every
    image on disk is read once and every box kept, and each decision is a
    finding."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        lists = {"train": [], "val": []}
        (root / "images").mkdir()
        (root / "labels").mkdir()
        for k, (how, upper_label, twice, split) in enumerate(images):
            name = f"img{k}.jpg"
            (root / "images" / name).write_bytes(JPEG)
            label = f"img{k}.txt".upper() if upper_label else f"img{k}.txt"
            (root / "labels" / label).write_text(f"{k % 2} 0.5 0.5 0.25 0.25\n")
            lists[split].append(f"./images/{_variant(name, how)}")
            if twice:
                lists["val" if split == "train" else "train"].append(f"images/{name}")
        for split, lines in lists.items():
            (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
        (root / "data.yaml").write_text(f"train: train.txt\nval: val.txt\nnames: {names}\n")
        ds = read_yolo(root)
        assert sorted(ds.images["file"]) == sorted(f"images/img{k}.jpg" for k in range(len(images)))
        assert len(ds.objects) == len(images) and ds.dropped_boxes == 0
        found = [f.code for f in ds.findings]
        renamed = sum(how > 0 for how, *_ in images) + sum(up for _, up, _, _ in images)
        assert found.count("yolo.name_resolved") == renamed
        assert found.count("split.conflict") == sum(twice for *_, twice, _ in images)
        assert ("yolo.numeric_names" in found) == (names != "[cat, dog]")
        result = _check(ds, expect_images=len(images))
        assert result.report.counts.boxes_written == len(images)


_RECORDS: dict[str, bytes] = {}


def _valid_records() -> dict[str, bytes]:
    """The files of a small, valid records folder (made once)."""
    if not _RECORDS:
        with tempfile.TemporaryDirectory() as d:
            root = _source_dir(d)
            (root / "Annotations" / "a.xml").write_bytes(VALID_VOC)
            (root / "Annotations" / "b.xml").write_bytes(VALID_VOC.replace(b"a.jpg", b"b.jpg"))
            out = root / "out"
            convert(read_voc(root), ConvertOptions(out=out, workers=1, progress=False))
            _RECORDS.update({p.name: p.read_bytes() for p in out.iterdir() if p.is_file()})
    return _RECORDS


def _records_folder(d: str, files: dict[str, bytes]) -> Path:
    out = Path(d) / "a" / "records"
    out.mkdir(parents=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out


def _read_back(out: Path) -> None:
    """inspect, stats and the record reader on ``out``: findings or a clear
    DataprepError, nothing else; nothing written outside ``out``."""
    from dataprep.records.inspect import inspect_output
    from dataprep.stats import collect

    parent = out.parent.parent
    before = {p for p in parent.rglob("*") if not p.is_relative_to(out)}
    try:
        inspect_output(out, previews=2, progress=False)
    except DataprepError:
        pass
    try:
        collect(out, progress=False)
    except DataprepError:
        pass
    assert {p for p in parent.rglob("*") if not p.is_relative_to(out)} == before


@pytest.mark.fuzz
@MUTATION_SETTINGS
@given(st.data())
def test_mutated_records_are_findings_not_crashes(data):
    """Random mutations of a valid shard (lengths, CRCs, protobuf, image
    bytes; plain or gzip): inspect and stats report them, never crash."""
    import gzip

    files = dict(_valid_records())
    shard = next(n for n in files if n.endswith(".tfrecord"))
    files[shard] = data.draw(mutated(files[shard]))
    if data.draw(st.booleans()):
        files[shard] = gzip.compress(files[shard], mtime=0)
    with tempfile.TemporaryDirectory() as d:
        _read_back(_records_folder(d, files))


json_names = st.one_of(st.sampled_from(["train", "../x", "../../y", "/etc", "a/b", "..", "", "val\x00", "c:\\x"]),
                       st.text(max_size=6))


@st.composite
def mutated_manifest(draw):
    manifest = json.loads(_valid_records()["manifest.json"])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.integers(0, 4))
        splits = manifest.get("splits") if isinstance(manifest, dict) else None
        if op == 0 and isinstance(splits, dict) and splits:
            name = draw(st.sampled_from(sorted(splits)))
            splits[draw(json_names)] = splits.pop(name)
        elif op == 1 and isinstance(splits, dict) and splits:
            info = next(iter(splits.values()))
            if isinstance(info, dict) and info.get("shards"):
                key = draw(st.sampled_from(["file", "examples", "sha256", "bytes"]))
                info["shards"][0][key] = draw(st.one_of(json_names, json_values))
        elif op == 2 and isinstance(manifest, dict):
            manifest[draw(st.sampled_from(["splits", "label_map", "compression"]))] = draw(
                st.one_of(json_names, json_values))
        elif op == 3:
            manifest = draw(json_values)
        else:
            return draw(mutated(json.dumps(manifest).encode()))
    return json.dumps(manifest).encode()


@pytest.mark.fuzz
@MUTATION_SETTINGS
@given(mutated_manifest())
def test_mutated_manifests_stay_inside_their_folder(manifest):
    """Random manifests (split and shard names like '../x', wrong types, broken
    JSON): a clear error or a report, and no file written outside the folder."""
    files = dict(_valid_records())
    files["manifest.json"] = manifest
    with tempfile.TemporaryDirectory() as d:
        _read_back(_records_folder(d, files))
