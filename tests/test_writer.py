"""Writer / convert: shards, manifest, label map, atomic output, image and box checks,
accounting and determinism."""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import dataprep
import dataprep.convert.work as work_mod
from conftest import make_jpeg, make_png
from helpers import BOX, build, examples, run, shard_files, simple
from dataprep.convert import SHARD_RE, ConvertOptions
from dataprep.dataset import Dataset
from dataprep.errors import FindingError, UsageError
from dataprep.label_map import LabelMap
from dataprep.records.example import KEYS
from dataprep.records.framing import GZIP_MAGIC, RecordError, read_records

# -- helpers --------------------------------------------------------------------------



def one_image(tmp_path: Path, boxes, *, name="a.jpg", data: bytes | None = None, size=(64, 48), ann_size=None,
              texts=None) -> Dataset:
    root = tmp_path / "images"
    root.mkdir(parents=True, exist_ok=True)
    if data is not None or not (root / name).exists():
        (root / name).write_bytes(data if data is not None else make_jpeg(*size))
    w, h = ann_size if ann_size is not None else (np.nan, np.nan)
    images = [{"image_id": 1, "file": name, "split": "train", "width": w, "height": h, "annotation": "a.xml"}]
    objects = [{"image_id": 1, "index": k, "text": (texts[k] if texts else "cat"),
                "xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3]} for k, b in enumerate(boxes)]
    return build(tmp_path, images, objects)


def codes(result) -> list[str]:
    return [f.code for f in result.report.findings]


def the(result, code):
    found = [f for f in result.report.findings if f.code == code]
    assert len(found) == 1, (code, result.report.findings)
    return found[0]


def balanced(result) -> tuple[int, int, int, int, int, int]:
    """Assert the accounting identities and return the counts for an exact check."""
    c = result.report.counts
    assert c.images_read == c.images_written + c.images_skipped
    assert c.boxes_read == c.boxes_written + c.boxes_dropped
    return (c.images_read, c.images_written, c.images_skipped, c.boxes_read, c.boxes_written, c.boxes_dropped)


def bytes_of(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in shard_files(out)}


# -- shards ---------------------------------------------------------------------------

def test_ten_images_three_shards(tmp_path):
    result = run(simple(tmp_path, 10), tmp_path / "out", num_shards=3)
    out = tmp_path / "out"
    assert shard_files(out) == [f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    shards = result.manifest["splits"]["train"]["shards"]
    assert [s["examples"] for s in shards] == [4, 3, 3]
    assert [sum(1 for _ in read_records(out / s["file"])) for s in shards] == [4, 3, 3]
    assert [p.name for p in result.shards] == [s["file"] for s in shards]
    # Every image exactly once.
    assert sorted(e["filename"] for e in examples(out)) == [f"img{k:02d}.jpg" for k in range(10)]


def test_never_more_shards_than_examples(tmp_path):
    result = run(simple(tmp_path, 10), tmp_path / "out", num_shards=50)
    names = shard_files(tmp_path / "out")
    assert names == [f"train-{i:05d}-of-00010.tfrecord" for i in range(10)]
    assert [s["examples"] for s in result.manifest["splits"]["train"]["shards"]] == [1] * 10


def test_shard_count_per_split(tmp_path):
    splits = ["train"] * 7 + ["val"] * 2 + ["test"]
    result = run(simple(tmp_path, 10, splits=splits), tmp_path / "out", num_shards=4)
    assert shard_files(tmp_path / "out") == [
        "test-00000-of-00001.tfrecord",
        *[f"train-{i:05d}-of-00004.tfrecord" for i in range(4)],
        "val-00000-of-00002.tfrecord", "val-00001-of-00002.tfrecord",
    ]
    assert list(result.manifest["splits"]) == ["train", "val", "test"]
    assert {k: v["examples"] for k, v in result.manifest["splits"].items()} == {"train": 7, "val": 2, "test": 1}


def test_default_shard_count_is_one_for_a_tiny_dataset(tmp_path):
    run(simple(tmp_path, 10), tmp_path / "out")
    assert shard_files(tmp_path / "out") == ["train-00000-of-00001.tfrecord"]


def test_default_shard_count_grows_with_shard_target_bytes(tmp_path):
    ds = simple(tmp_path, 10)
    total = sum((tmp_path / "images" / f).stat().st_size for f in ds.images["file"])
    target = total // 4 + 1
    result = run(ds, tmp_path / "out", shard_target_bytes=target)
    expected = min(10, math.ceil(total / target))
    assert expected == 4
    assert len(result.manifest["splits"]["train"]["shards"]) == expected
    assert shard_files(tmp_path / "out")[-1] == "train-00003-of-00004.tfrecord"
    # A target far below one image: one shard per example, never more.
    result = run(ds, tmp_path / "out2", shard_target_bytes=1)
    assert len(result.manifest["splits"]["train"]["shards"]) == 10


def test_split_with_only_skipped_images_writes_no_shard(tmp_path):
    ds = simple(tmp_path, 3, splits=["train", "train", "val"])
    (tmp_path / "images" / "img02.jpg").unlink()
    result = run(ds, tmp_path / "out")
    assert shard_files(tmp_path / "out") == ["train-00000-of-00001.tfrecord"]
    assert result.manifest["splits"]["val"]["examples"] == 0
    assert result.manifest["splits"]["val"]["shards"] == []
    assert balanced(result) == (3, 2, 1, 3, 2, 1)


# -- manifest, label map, report ------------------------------------------------------

def test_manifest_fields(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for k in range(3):
        (root / f"{k}.jpg").write_bytes(make_jpeg(64, 48, seed=k))
    images = [{"image_id": k + 1, "file": f"{k}.jpg", "split": s} for k, s in enumerate(["train", "train", "val"])]
    objects = [
        {"image_id": 1, "index": 0, "text": "cat", "xmin": 1, "ymin": 1, "xmax": 10, "ymax": 10},
        {"image_id": 1, "index": 1, "text": "cat", "xmin": 2, "ymin": 2, "xmax": 12, "ymax": 12},
        {"image_id": 1, "index": 2, "text": "dog", "xmin": 3, "ymin": 3, "xmax": 13, "ymax": 13},
        {"image_id": 2, "index": 0, "text": "dog", "xmin": 1, "ymin": 1, "xmax": 10, "ymax": 10},
        {"image_id": 3, "index": 0, "text": "cat", "xmin": 1, "ymin": 1, "xmax": 10, "ymax": 10},
    ]
    out = tmp_path / "out"
    result = run(build(tmp_path, images, objects, source={"format": "test"}), out, num_shards=2, seed=7)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    assert manifest["dataprep_version"] == dataprep.__version__
    assert manifest["format"] == "tfrecord" and manifest["compression"] is None
    assert manifest["label_map"] == "label_map.pbtxt" and manifest["num_classes"] == 2
    assert manifest["source"] == {"format": "test"}
    assert manifest["options"]["seed"] == 7 and manifest["options"]["num_shards"] == 2
    assert manifest["options"]["out"] == str(out) and "progress" not in manifest["options"]
    assert manifest["counts"] == {"images_read": 3, "images_written": 3, "images_skipped": 0,
                                  "boxes_read": 5, "boxes_written": 5, "boxes_dropped": 0}
    train, val = manifest["splits"]["train"], manifest["splits"]["val"]
    assert (train["examples"], train["boxes"], val["examples"], val["boxes"]) == (2, 4, 1, 1)
    assert train["classes"] == {"cat": {"id": 1, "images": 1, "boxes": 2}, "dog": {"id": 2, "images": 2, "boxes": 2}}
    assert val["classes"] == {"cat": {"id": 1, "images": 1, "boxes": 1}, "dog": {"id": 2, "images": 0, "boxes": 0}}
    for info in manifest["splits"].values():
        for s in info["shards"]:
            data = (out / s["file"]).read_bytes()
            assert s["bytes"] == len(data)
            assert s["sha256"] == hashlib.sha256(data).hexdigest()
            assert s["examples"] == sum(1 for _ in read_records(out / s["file"]))
    assert [s["file"] for s in train["shards"]] == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]


def test_label_map_written_and_equal_to_the_one_used(tmp_path):
    result = run(simple(tmp_path, 4, classes=("zebra", "ant", "mouse")), tmp_path / "out")
    written = LabelMap.read(tmp_path / "out" / "label_map.pbtxt")
    assert written == result.label_map
    assert [(i.id, i.name) for i in written] == [(1, "ant"), (2, "mouse"), (3, "zebra")]
    assert result.manifest["label_map_origin"].startswith("derived")
    for ex in examples(tmp_path / "out"):
        assert ex["labels"] == [written.id_of(t) for t in ex["texts"]]


def test_report_json_lists_findings_and_counts(tmp_path):
    ds = one_image(tmp_path, [BOX, (70, 1, 90, 10)])
    result = run(ds, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["counts"] == result.manifest["counts"]
    assert report["by_code"] == {"box.outside": 1}
    (f,) = report["findings"]
    assert set(f) == {"severity", "code", "item", "file", "detail", "action", "image", "annotation", "object_index",
                      "value"}
    assert f["item"] == "a.jpg object 1 'cat'" and f["file"] == "a.xml" and f["action"] == "dropped box"
    assert (f["image"], f["annotation"], f["object_index"], f["value"]) == ("a.jpg", "a.xml", 1, [70, 1, 90, 10])


def test_record_carries_every_contract_key(tmp_path):
    ds = one_image(tmp_path, [BOX])
    run(ds, tmp_path / "out")
    (ex,) = examples(tmp_path / "out")
    assert set(ex["features"]) == set(KEYS)
    data = (tmp_path / "images" / "a.jpg").read_bytes()
    assert ex["encoded"] == data and ex["format"] == "jpeg"
    assert ex["sha256"] == hashlib.sha256(data).hexdigest()
    assert (ex["width"], ex["height"], ex["filename"], ex["source_id"]) == (64, 48, "a.jpg", "1")
    assert ex["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375]]
    assert ex["area"] == [16.0 * 24.0]


def test_label_map_file_is_used(tmp_path):
    lm_path = tmp_path / "classes.pbtxt"
    lm_path.write_text('item { id: 7 name: "dog" }\nitem { id: 3 name: "cat" }\nitem { id: 9 name: "bird" }\n',
                       encoding="utf-8")
    out = tmp_path / "out"
    result = run(simple(tmp_path, 4), out, label_map=lm_path)
    assert result.manifest["label_map_origin"] == str(lm_path)
    assert LabelMap.read(out / "label_map.pbtxt") == LabelMap.read(lm_path)
    for ex in examples(out):
        assert ex["labels"] == [{"cat": 3, "dog": 7}[t] for t in ex["texts"]]
    classes = result.manifest["splits"]["train"]["classes"]
    assert classes["bird"] == {"id": 9, "images": 0, "boxes": 0}
    assert classes["dog"] == {"id": 7, "images": 2, "boxes": 2}


def test_unknown_class_with_label_map_file_is_dropped_with_a_hint(tmp_path):
    lm_path = tmp_path / "classes.pbtxt"
    lm_path.write_text('item { id: 1 name: "cat" }\nitem { id: 2 name: "dog" }\nitem { id: 3 name: "person" }\n',
                       encoding="utf-8")
    ds = one_image(tmp_path, [BOX, (1, 1, 10, 10)], texts=["cat", "Dog"])
    result = run(ds, tmp_path / "out", label_map=lm_path)
    f = the(result, "label.unknown")
    assert f.severity == "error" and f.action == "dropped box" and f.item == "a.jpg object 1 'Dog'"
    assert "known: cat, dog, person" in f.detail and "did you mean 'dog'?" in f.detail
    (ex,) = examples(tmp_path / "out")
    assert ex["texts"] == ["cat"] and ex["labels"] == [1]
    assert balanced(result) == (1, 1, 0, 2, 1, 1)


# -- the output folder ----------------------------------------------------------------

def test_existing_non_empty_out_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "something.txt").write_text("x")
    with pytest.raises(UsageError, match="--overwrite") as exc:
        run(simple(tmp_path, 2), out)
    assert str(out) in str(exc.value)
    assert sorted(p.name for p in out.iterdir()) == ["something.txt"]


def test_existing_empty_or_hidden_only_out_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".nfs0001").write_text("x")
    result = run(simple(tmp_path, 2), out)
    assert result.report.counts.images_written == 2


def test_out_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "out"
    out.write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        run(simple(tmp_path, 2), out, overwrite=True)


def test_overwrite_replaces_old_outputs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    old = ["train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord", "train-00002-of-00003.tfrecord",
           "val-00000-of-00001.tfrecord"]
    for name in old + ["manifest.json", "report.json", "label_map.pbtxt", "notes.txt"]:
        (out / name).write_text("old")
    result = run(simple(tmp_path, 4), out, overwrite=True)
    assert shard_files(out) == ["train-00000-of-00001.tfrecord"]
    assert (out / "notes.txt").read_text() == "old"  # not a dataprep output: left alone
    assert json.loads((out / "manifest.json").read_text())["splits"]["train"]["examples"] == 4
    assert LabelMap.read(out / "label_map.pbtxt") == result.label_map
    assert len(examples(out)) == 4


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_failed_run_leaves_no_complete_looking_shard(tmp_path, monkeypatch, exc_type):
    real = work_mod.process_image
    calls = {"n": 0}

    def flaky(job, pos):
        calls["n"] += 1
        if calls["n"] == 5:
            raise exc_type("boom on the 5th image")
        return real(job, pos)

    monkeypatch.setattr(work_mod, "process_image", flaky)
    out = tmp_path / "out"
    with pytest.raises(exc_type, match="5th image"):
        run(simple(tmp_path, 10), out, num_shards=2)
    assert calls["n"] == 5
    left = [p.name for p in out.iterdir()]
    assert not [n for n in left if SHARD_RE.match(n)]
    assert "manifest.json" not in left
    assert not [n for n in left if n.endswith(".partial")]


def test_failed_overwrite_keeps_the_previous_complete_output(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run(simple(tmp_path, 4), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(job, pos):
        raise OSError("disk on fire")

    monkeypatch.setattr(work_mod, "process_image", boom)
    with pytest.raises(OSError):
        run(simple(tmp_path, 4), out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_gzip_compression(tmp_path):
    ds = simple(tmp_path, 5)
    plain = run(ds, tmp_path / "plain")
    gz = run(ds, tmp_path / "gz", compression="gzip")
    assert gz.manifest["compression"] == "GZIP"
    (path,) = gz.shards
    data = path.read_bytes()
    assert data[:2] == GZIP_MAGIC
    assert gz.manifest["splits"]["train"]["shards"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert list(read_records(path)) == list(read_records(plain.shards[0]))
    assert len(list(read_records(path))) == 5
    # Deterministic bytes (gzip mtime 0).
    again = run(ds, tmp_path / "gz2", compression="gzip")
    assert again.shards[0].read_bytes() == data


def test_bad_options_are_usage_errors(tmp_path):
    for kw, pattern in ((dict(on_error="ignore"), "--on-error"), (dict(compression="zlib"), "--compression"),
                        (dict(num_shards=0), "--num-shards"), (dict(workers=0), "--workers")):
        with pytest.raises(UsageError, match=pattern):
            ConvertOptions(out=tmp_path / "out", **kw)


# -- image checks ---------------------------------------------------------------------

def test_png_named_jpg(tmp_path):
    png = make_png(64, 48)
    result = run(one_image(tmp_path, [BOX], name="a.jpg", data=png), tmp_path / "out")
    f = the(result, "image.format_mismatch")
    assert f.severity == "info" and "PNG" in f.detail and "JPEG" in f.detail
    (ex,) = examples(tmp_path / "out")
    assert ex["format"] == "png" and ex["encoded"] == png
    assert balanced(result) == (1, 1, 0, 1, 1, 0)


def test_real_size_written_when_the_annotation_size_is_wrong(tmp_path):
    result = run(one_image(tmp_path, [BOX], ann_size=(128, 96)), tmp_path / "out")
    f = the(result, "image.size_mismatch")
    assert "128x96" in f.detail and "64x48" in f.detail
    (ex,) = examples(tmp_path / "out")
    assert (ex["width"], ex["height"]) == (64, 48)
    assert ex["boxes"].tolist() == [[0.25, 0.125, 0.75, 0.375]]  # normalized by the real size
    assert balanced(result) == (1, 1, 0, 1, 1, 0)


def test_matching_annotation_size_is_not_a_finding(tmp_path):
    result = run(one_image(tmp_path, [BOX], ann_size=(64.0, 48.0)), tmp_path / "out")
    assert codes(result) == []


def test_missing_image_is_skipped(tmp_path):
    ds = simple(tmp_path, 3)
    (tmp_path / "images" / "img01.jpg").unlink()
    result = run(ds, tmp_path / "out")
    f = the(result, "image.missing")
    assert f.severity == "error" and f.item == "img01.jpg" and f.action == "skipped image"
    assert sorted(e["filename"] for e in examples(tmp_path / "out")) == ["img00.jpg", "img02.jpg"]
    assert balanced(result) == (3, 2, 1, 3, 2, 1)


def test_truncated_jpeg_is_undecodable(tmp_path):
    ds = simple(tmp_path, 3)
    p = tmp_path / "images" / "img01.jpg"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    result = run(ds, tmp_path / "out")
    f = the(result, "image.undecodable")
    assert f.item == "img01.jpg" and f.action == "skipped image"
    assert balanced(result) == (3, 2, 1, 3, 2, 1)
    # --no-decode-check trusts the header: the broken image is written.
    unsafe = run(ds, tmp_path / "out2", decode_check=False)
    assert "image.undecodable" not in codes(unsafe)
    assert balanced(unsafe) == (3, 3, 0, 3, 3, 0)


@pytest.mark.parametrize(("data", "why"), [(b"", "empty"), (b"hello, not an image", "not a readable image")])
def test_not_an_image(tmp_path, data, why):
    result = run(one_image(tmp_path, [BOX], data=data), tmp_path / "out")
    f = the(result, "image.not_an_image")
    assert why in f.detail
    assert balanced(result) == (1, 0, 1, 1, 0, 1)


def test_unreadable_image_path(tmp_path):
    ds = one_image(tmp_path, [BOX], name="dir.jpg", data=b"x")
    (tmp_path / "images" / "dir.jpg").unlink()
    (tmp_path / "images" / "dir.jpg").mkdir()
    result = run(ds, tmp_path / "out")
    assert the(result, "image.unreadable").action == "skipped image"
    assert balanced(result) == (1, 0, 1, 1, 0, 1)


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1-bit PNG whose IHDR is patched to claim ``width x height`` (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("1", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bomb_header_is_refused(tmp_path):
    result = run(one_image(tmp_path, [BOX], name="bomb.png", data=_png_claiming(20000, 20000)), tmp_path / "out")
    f = the(result, "image.too_large")
    assert f.action == "skipped image" and "not decoded" in f.detail
    assert balanced(result) == (1, 0, 1, 1, 0, 1)


def test_image_over_max_pixels_is_refused_without_decoding(tmp_path, monkeypatch):
    from PIL import ImageFile

    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    result = run(one_image(tmp_path, [BOX]), tmp_path / "out", max_pixels=64 * 48 - 1)
    f = the(result, "image.too_large")
    assert "64x48 = 3,072 pixels" in f.detail and "--max-pixels" in f.detail
    assert decoded == []
    assert balanced(result) == (1, 0, 1, 1, 0, 1)
    ok = run(one_image(tmp_path, [BOX]), tmp_path / "out2", max_pixels=64 * 48)
    assert decoded  # the spy does see a real decode
    assert balanced(ok) == (1, 1, 0, 1, 1, 0)


def test_exif_rotation_applied_when_the_annotation_saw_the_image_upright(tmp_path):
    im = Image.fromarray(np.zeros((48, 64, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    # The annotator saw the upright 48 x 64 image.
    result = run(one_image(tmp_path, [(4, 8, 20, 40)], data=buf.getvalue(), ann_size=(48, 64)), tmp_path / "out")
    assert the(result, "image.exif_rotated").action == "rotated"
    (ex,) = examples(tmp_path / "out")
    assert (ex["width"], ex["height"]) == (48, 64)
    assert Image.open(io.BytesIO(ex["encoded"])).size == (48, 64)
    # Boxes drawn on the upright image, normalized by its size.
    np.testing.assert_allclose(ex["boxes"], [[8 / 64, 4 / 48, 40 / 64, 20 / 48]], rtol=1e-6)
    # The same file annotated at the stored size: kept as stored.
    kept = run(one_image(tmp_path, [BOX], data=buf.getvalue(), ann_size=(64, 48)), tmp_path / "out2")
    assert "image.exif_ignored" in codes(kept)
    (ex,) = examples(tmp_path / "out2")
    assert (ex["width"], ex["height"]) == (64, 48) and ex["encoded"] == buf.getvalue()
    # No annotated size: nothing tells which way the annotator saw it.
    unknown = run(one_image(tmp_path, [BOX], data=buf.getvalue()), tmp_path / "out3")
    assert the(unknown, "image.exif_ambiguous").severity == "warning"
    (ex,) = examples(tmp_path / "out3")
    assert (ex["width"], ex["height"]) == (64, 48) and ex["encoded"] == buf.getvalue()


def test_unsupported_format_is_reencoded_as_png(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 100, np.uint8)).save(buf, "BMP")
    result = run(one_image(tmp_path, [BOX], name="a.bmp", data=buf.getvalue()), tmp_path / "out")
    assert the(result, "image.unsupported_format").action == "re-encoded"
    (ex,) = examples(tmp_path / "out")
    assert ex["format"] == "png" and ex["encoded"].startswith(b"\x89PNG")
    assert np.asarray(Image.open(io.BytesIO(ex["encoded"]))).max() == 100


def test_cmyk_jpeg_is_kept_as_is(tmp_path):
    """TensorFlow decodes CMYK JPEGs to RGB (issue 14, "Also": CMYK): the
    original bytes are kept; tests/test_reliability_tf.py checks the decode."""
    buf = io.BytesIO()
    Image.new("CMYK", (64, 48), (0, 0, 0, 0)).save(buf, "JPEG")
    result = run(one_image(tmp_path, [BOX], data=buf.getvalue()), tmp_path / "out")
    assert the(result, "image.cmyk").action == "kept"
    (ex,) = examples(tmp_path / "out")
    assert ex["format"] == "jpeg" and ex["encoded"] == buf.getvalue()


def test_16_bit_png_is_reencoded_as_8_bit(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64), 40000, np.uint16)).save(buf, "PNG")
    result = run(one_image(tmp_path, [BOX], name="a.png", data=buf.getvalue()), tmp_path / "out")
    assert the(result, "image.high_bit_depth").action == "re-encoded"
    (ex,) = examples(tmp_path / "out")
    back = Image.open(io.BytesIO(ex["encoded"]))
    assert back.mode == "L" and np.asarray(back).max() == 40000 // 256


def test_image_annotated_twice_merges_the_boxes(tmp_path):
    """Two annotation files claim one image: it is written once with the boxes
    of both; a box both repeat is dropped once as a duplicate, never silently."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(make_jpeg(64, 48))
    images = [{"image_id": 1, "file": "a.jpg", "annotation": "a.xml"},
              {"image_id": 2, "file": "a.jpg", "annotation": "copy.xml"}]
    objects = [{"image_id": 1, "index": 0, "text": "cat", "xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9},
               {"image_id": 2, "index": 0, "text": "dog", "xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9},
               {"image_id": 2, "index": 1, "text": "cat", "xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9}]
    result = run(build(tmp_path, images, objects), tmp_path / "out")
    f = the(result, "image.annotated_twice")
    assert f.file == "copy.xml" and "a.xml" in f.detail and f.severity == "warning"
    assert "2 box(es) are merged" in f.detail
    assert the(result, "box.duplicate").annotation == "copy.xml"
    (ex,) = examples(tmp_path / "out")
    assert sorted(ex["texts"]) == ["cat", "dog"]
    assert balanced(result) == (2, 1, 1, 3, 2, 1)


# -- box checks -----------------------------------------------------------------------

@pytest.mark.parametrize(("box", "code", "severity", "action", "written"), [
    # partly outside the 64 x 48 image: clipped to it
    ((-6.0, 12.0, 24.0, 60.0), "box.clipped", "warning", "clipped", [12 / 48, 0.0, 1.0, 24 / 64]),
    # entirely outside: dropped
    ((70.0, 10.0, 90.0, 20.0), "box.outside", "error", "dropped box", None),
    ((-20.0, -20.0, 0.0, 10.0), "box.outside", "error", "dropped box", None),
    # zero width: dropped
    ((10.0, 10.0, 10.0, 20.0), "box.degenerate", "error", "dropped box", None),
    # sub-pixel after clipping (0.5 px inside the right edge)
    ((63.5, 10.0, 80.0, 20.0), "box.degenerate", "error", "dropped box", None),
    # inverted corners: swapped back
    # (not BOX itself swapped: that would also be a duplicate of BOX)
    ((30.0, 36.0, 10.0, 12.0), "box.inverted", "error", "swapped", [0.25, 0.15625, 0.75, 0.46875]),
    ((10.0, 36.0, 30.0, 12.0), "box.inverted", "error", "swapped", [0.25, 0.15625, 0.75, 0.46875]),
    # not a number: dropped
    ((float("nan"), 12.0, 24.0, 36.0), "box.nan", "error", "dropped box", None),
    ((8.0, 12.0, float("inf"), 36.0), "box.nan", "error", "dropped box", None),
])
def test_degenerate_boxes(tmp_path, box, code, severity, action, written):
    result = run(one_image(tmp_path, [BOX, box]), tmp_path / "out")
    f = the(result, code)
    assert (f.severity, f.action) == (severity, action)
    assert f.item == "a.jpg object 1 'cat'" and f.file == "a.xml"
    assert [c for c in codes(result) if c.startswith("box.")] == [code]
    (ex,) = examples(tmp_path / "out")
    expected = [[0.25, 0.125, 0.75, 0.375]] + ([written] if written is not None else [])
    np.testing.assert_allclose(ex["boxes"], expected, rtol=1e-6, atol=1e-7)
    assert len(ex["labels"]) == len(ex["area"]) == len(ex["texts"]) == len(expected)
    kept = 2 if written is not None else 1
    assert balanced(result) == (1, 1, 0, 2, kept, 2 - kept)


def test_clipped_box_detail_names_the_values(tmp_path):
    result = run(one_image(tmp_path, [(-6.0, 12.0, 24.0, 60.0)]), tmp_path / "out")
    f = the(result, "box.clipped")
    assert "(-6, 12, 24, 60)" in f.detail and "64x48" in f.detail


def test_all_degenerate_boxes_together_balance(tmp_path):
    boxes = [BOX, (-6, 12, 24, 60), (70, 10, 90, 20), (10, 10, 10, 20), (30, 36, 10, 12), (np.nan, 1, 5, 5)]
    ds = one_image(tmp_path, boxes)
    result = run(ds, tmp_path / "out")
    assert balanced(result) == (1, 1, 0, 6, 3, 3)
    by_code = result.report.by_code()
    assert by_code == {"box.clipped": 1, "box.degenerate": 1, "box.inverted": 1, "box.nan": 1, "box.outside": 1}


def test_normalized_boxes_are_scaled_by_the_real_size(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.jpg").write_bytes(make_jpeg(64, 48))
    ds = build(tmp_path, [{"image_id": 1, "file": "a.jpg"}],
               [{"image_id": 1, "index": 0, "text": "cat", "xmin": 0.125, "ymin": 0.25, "xmax": 0.375, "ymax": 1.5}],
               box_units="normalized")
    result = run(ds, tmp_path / "out")
    assert "box.clipped" in codes(result)
    (ex,) = examples(tmp_path / "out")
    assert ex["boxes"].tolist() == [[0.25, 0.125, 1.0, 0.375]]


# -- error policies -------------------------------------------------------------------

def test_on_error_fail_raises_at_the_first_error(tmp_path):
    ds = simple(tmp_path, 4)
    ds.objects.loc[2, ["xmin", "xmax"]] = [100.0, 120.0]  # outside
    out = tmp_path / "out"
    with pytest.raises(FindingError) as exc:
        run(ds, out, on_error="fail")
    assert exc.value.finding.code == "box.outside"
    assert "img02.jpg object 0 'cat'" in str(exc.value)
    assert not [p for p in out.iterdir() if SHARD_RE.match(p.name) or p.name == "manifest.json"]


def test_on_error_fail_raises_on_reader_and_annotation_findings(tmp_path):
    ds = one_image(tmp_path, [(np.nan, 1, 2, 3)])
    with pytest.raises(FindingError, match=r"box\.nan"):
        run(ds, tmp_path / "out", on_error="fail")
    # Warnings do not stop the run.
    ok = run(one_image(tmp_path, [(-6, 12, 24, 60)]), tmp_path / "out2", on_error="fail")
    assert "box.clipped" in codes(ok)


def test_on_error_skip_skips_the_whole_image(tmp_path):
    ds = simple(tmp_path, 3)
    extra = pd.DataFrame([{"image_id": 2, "index": 1, "text": "cat", "xmin": 100.0, "ymin": 1.0, "xmax": 120.0,
                           "ymax": 9.0}])
    ds = build(tmp_path, ds.images.to_dict("records"), pd.concat([ds.objects, extra]).to_dict("records"))
    result = run(ds, tmp_path / "out", on_error="skip")
    assert "box.outside" in codes(result)
    f = the(result, "policy.skipped")
    assert f.item == "img01.jpg" and f.action == "skipped image"
    assert sorted(e["filename"] for e in examples(tmp_path / "out")) == ["img00.jpg", "img02.jpg"]
    assert balanced(result) == (3, 2, 1, 4, 2, 2)
    # The default policy keeps the image with its good box.
    fixed = run(ds, tmp_path / "out2")
    assert balanced(fixed) == (3, 3, 0, 4, 3, 1)


def test_on_error_skip_skips_images_with_annotation_errors(tmp_path):
    ds = one_image(tmp_path, [BOX, (24, 36, 8, 12)])
    result = run(ds, tmp_path / "out", on_error="skip")
    assert "box.inverted" in codes(result)
    assert the(result, "policy.skipped").item == "a.jpg"
    assert balanced(result) == (1, 0, 1, 2, 0, 2)


# -- determinism ----------------------------------------------------------------------

def test_same_seed_gives_byte_identical_shards(tmp_path):
    ds = simple(tmp_path, 10)
    a = run(ds, tmp_path / "a", num_shards=3, seed=5)
    b = run(ds, tmp_path / "b", num_shards=3, seed=5)
    assert bytes_of(tmp_path / "a") == bytes_of(tmp_path / "b")
    assert a.manifest["splits"] == b.manifest["splits"]
    assert (tmp_path / "a" / "label_map.pbtxt").read_bytes() == (tmp_path / "b" / "label_map.pbtxt").read_bytes()
    c = run(ds, tmp_path / "c", num_shards=3, seed=6)
    assert bytes_of(tmp_path / "c") != bytes_of(tmp_path / "a")  # the seed decides the order
    assert sorted(e["filename"] for e in examples(tmp_path / "c")) == sorted(
        e["filename"] for e in examples(tmp_path / "a"))


def test_two_workers_give_byte_identical_shards(tmp_path):
    ds = simple(tmp_path, 12)
    (tmp_path / "images" / "img03.jpg").unlink()  # a skipped image in the middle
    one = run(ds, tmp_path / "w1", num_shards=3, workers=1)
    two = run(ds, tmp_path / "w2", num_shards=3, workers=2)
    assert bytes_of(tmp_path / "w1") == bytes_of(tmp_path / "w2")
    assert len(bytes_of(tmp_path / "w1")) == 3
    assert one.manifest["splits"] == two.manifest["splits"]
    assert one.manifest["counts"] == two.manifest["counts"]
    assert sorted(f.code for f in one.report.findings) == sorted(f.code for f in two.report.findings)


def test_summary_lines(tmp_path):
    result = run(simple(tmp_path, 3), tmp_path / "out")
    text = "\n".join(result.summary_lines())
    assert f"Wrote {tmp_path / 'out'}" in text
    assert "3 read, 3 written, 0 skipped" in text
    assert re.search(r"\d+ images/s", text)
    assert "train    3 examples, 3 boxes in 1 shard(s)" in text


def test_read_records_detects_corruption(tmp_path):
    result = run(simple(tmp_path, 2), tmp_path / "out")
    (path,) = result.shards
    good = path.read_bytes()
    first_len = struct.unpack("<Q", good[:8])[0]
    flipped = bytearray(good)
    flipped[12 + first_len // 2] ^= 0xFF  # inside the first record's data
    path.write_bytes(bytes(flipped))
    with pytest.raises(RecordError, match=r"data CRC mismatch in the record at byte 0") as exc:
        list(read_records(path))
    assert str(path) in str(exc.value)
    assert len(list(read_records(path, check_crc=False))) == 2
    header = bytearray(good)
    header[0] ^= 0x01  # the length field
    path.write_bytes(bytes(header))
    with pytest.raises(RecordError, match="length CRC mismatch"):
        list(read_records(path))
    path.write_bytes(good[:-10])
    with pytest.raises(RecordError, match=r"truncated record at byte \d+"):
        list(read_records(path))
    path.write_bytes(good + b"\x00" * 5)
    with pytest.raises(RecordError, match="truncated record header"):
        list(read_records(path))


def test_drop_empty_drops_images_left_without_boxes_by_the_annotation_checks(tmp_path):
    ds = one_image(tmp_path, [(np.nan, 1, 5, 5)])
    result = run(ds, tmp_path / "out", drop_empty=True)
    assert the(result, "image.no_objects").action == "skipped image"
    assert balanced(result) == (1, 0, 1, 1, 0, 1)


def test_drop_empty_drops_images_left_without_boxes_by_the_image_checks(tmp_path):
    result = run(one_image(tmp_path, [(70, 1, 90, 10)]), tmp_path / "out", drop_empty=True)
    assert "box.outside" in codes(result)
    assert balanced(result) == (1, 0, 1, 1, 0, 1)


def test_dataset_build_checks_the_tables(tmp_path):
    images = [{"image_id": 1, "file": "a.jpg"}, {"image_id": 2, "file": "b.jpg"}]
    obj = {"image_id": 1, "index": 0, "text": "cat", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5}
    with pytest.raises(ValueError, match="box_units"):
        build(tmp_path, images, [obj], box_units="percent")
    with pytest.raises(ValueError, match="image ids must be unique"):
        build(tmp_path, [images[0], {"image_id": 1, "file": "c.jpg"}], [obj])
    with pytest.raises(ValueError, match="1 objects refer to image ids not in the images table"):
        build(tmp_path, images, [obj, {**obj, "image_id": 9}])
    with pytest.raises(ValueError, match="needs a 'file' column"):
        build(tmp_path, [{"image_id": 1}], [obj])
    # Defaults are filled and objects are grouped in image (file) order.
    ds = build(tmp_path, images[::-1], [{**obj, "image_id": 2}, obj])
    assert ds.images["file"].tolist() == ["a.jpg", "b.jpg"]
    assert ds.images["split"].tolist() == ["train", "train"]
    assert ds.objects["image_id"].tolist() == [1, 2]
    assert ds.objects[["difficult", "truncated", "is_crowd", "view"]].values.tolist() == [[0, 0, 0, ""]] * 2


def test_shard_writer_refuses_unknown_compression(tmp_path):
    from dataprep.records.framing import ShardWriter

    with pytest.raises(ValueError, match="Unknown compression 'zstd'"):
        ShardWriter(tmp_path / "x", "zstd")
    assert not (tmp_path / "x").exists()  # refused before the file was created


def test_not_an_image_report_is_the_same_on_every_run(tmp_path):
    """Pillow's message names its in-memory file by address (``<_io.BytesIO
    object at 0x...>``); the finding must not, or report.json differs per run."""
    ds = one_image(tmp_path, [BOX], data=b"hello, not an image")
    details = [the(run(ds, tmp_path / f"out{k}"), "image.not_an_image").detail for k in range(2)]
    assert details[0] == details[1]
    assert " at 0x" not in details[0] and "UnidentifiedImageError" in details[0] and "the bytes" in details[0]
    reports = [(tmp_path / f"out{k}" / "report.json").read_text() for k in range(2)]
    assert reports[0] == reports[1]
