"""One messy VOC corpus, written by the test, that exercises the image, box
and label findings together: each finding's action, the accounting, and that
every record written decodes in TensorFlow to its stated size with valid boxes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import make_jpeg, make_png
from dataprep.convert import ConvertOptions, convert
from dataprep.formats import read_voc
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _xml(name, size, objects) -> str:
    size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>" if size else ""
    objs = "".join(
        f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    return f"<annotation><filename>{name}</filename>{size_xml}{objs}</annotation>"


GOOD = ("dog", (9, 13, 24, 36))  # VOC 1-based


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "Annotations").mkdir()
    (root / "JPEGImages").mkdir()
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    exif = Image.new("RGB", (64, 48)).getexif()
    exif[0x0112] = 6
    items = {
        # name: (bytes or None for missing, annotated size, objects)
        "ok.jpg": (make_jpeg(64, 48, 1), (64, 48), [GOOD]),
        "png_named.jpg": (make_png(64, 48, seed=2), (64, 48), [GOOD]),
        "cmyk.jpg": (_save(rgb.convert("CMYK"), "JPEG"), (64, 48), [GOOD]),
        "grey.jpg": (_save(rgb.convert("L"), "JPEG"), (64, 48), [GOOD]),
        "palette.png": (_save(rgb.convert("P"), "PNG"), (64, 48), [GOOD]),
        "rgba.png": (_save(rgb.convert("RGBA"), "PNG"), (64, 48), [GOOD]),
        "deep.png": (_save(Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)), "PNG"),
                     (64, 48), [GOOD]),
        "bitmap.bmp": (_save(rgb, "BMP"), (64, 48), [GOOD]),
        "truncated.jpg": (make_jpeg(64, 48, 3)[:400], (64, 48), [GOOD]),
        "text.jpg": (b"this is not an image\n", (64, 48), [GOOD]),
        "missing.jpg": (None, (64, 48), [GOOD]),
        "rotated.jpg": (_save(rgb, "JPEG", exif=exif), (48, 64), [("dog", (5, 5, 30, 50))]),
        "stored.jpg": (_save(rgb, "JPEG", exif=exif), (64, 48), [GOOD]),
        "wrongsize.jpg": (make_jpeg(64, 48, 4), (100, 100), [GOOD]),
        "bomb.png": (_png_claiming(20000, 20000), None, [GOOD]),
        "copy_of_ok.jpg": (make_jpeg(64, 48, 1), (64, 48), [GOOD]),
        "empty.jpg": (make_jpeg(64, 48, 5), (64, 48), []),
        "boxes.jpg": (make_jpeg(64, 48, 6), (64, 48), [
            GOOD,
            ("dog", (30, 40, 10, 20)),      # inverted -> swapped
            ("dog", (70, 10, 90, 20)),      # outside -> dropped
            ("dog", (-5, 2, 20, 20)),       # partly outside -> clipped
            ("dog", (10, 10, 9, 20)),       # zero width (VOC 1-based: xmax = xmin - 1) -> dropped
            ("dog", ("abc", 1, 5, 5)),      # not a number -> dropped
            ("dog", (9, 13, 24, 36)),       # duplicate of GOOD -> dropped
            ("dog", (40, 5, 42, 30)),       # tiny (2 px wide after the VOC shift... 3 px) -> kept
            ("Dog", (2, 2, 20, 20)),        # not in the label map -> dropped, 'did you mean dog'
        ]),
    }
    for name, (data, size, objects) in items.items():
        if data is not None:
            (root / "JPEGImages" / name).write_bytes(data)
        stem = name.rsplit(".", 1)[0]
        (root / "Annotations" / f"{stem}.xml").write_text(_xml(name, size, objects))
    (root / "Annotations" / "broken.xml").write_text("<annotation><filename>x.jpg</filename><object>")
    (root / "JPEGImages" / "broken.jpg").write_bytes(make_jpeg(64, 48, 7))
    lm = root / "label_map.pbtxt"
    LabelMap([LabelMapItem(1, "dog"), LabelMapItem(2, "cat")]).write(lm)
    out = root / "out"
    result = convert(read_voc(root), ConvertOptions(out=out, label_map=lm, workers=2, progress=False))
    return root, out, result


EXPECTED = {
    # code: (action, severity)
    "image.format_mismatch": ("kept", "info"),
    "image.cmyk": ("kept", "info"),
    "image.high_bit_depth": ("re-encoded", "warning"),
    "image.unsupported_format": ("re-encoded", "warning"),
    "image.undecodable": ("skipped image", "error"),
    "image.not_an_image": ("skipped image", "error"),
    "image.missing": ("skipped image", "error"),
    "image.exif_rotated": ("rotated", "warning"),
    "image.exif_ignored": ("kept", "info"),
    "image.size_mismatch": ("kept", "warning"),
    "image.too_large": ("skipped image", "error"),
    "image.byte_identical": ("kept", "warning"),
    "image.no_objects": ("kept", "info"),
    "annotation.malformed": ("skipped image", "error"),
    "box.inverted": ("swapped", "error"),
    "box.outside": ("dropped box", "error"),
    "box.clipped": ("clipped", "warning"),
    "box.degenerate": ("dropped box", "error"),
    "box.nan": ("dropped box", "error"),
    "box.duplicate": ("dropped box", "warning"),
    "box.tiny": ("kept", "info"),
    "label.unknown": ("dropped box", "error"),
    "label.no_boxes": ("kept", "warning"),
}


def test_every_finding_with_its_action(corpus):
    _, _, result = corpus
    found = {}
    for f in result.report.findings:
        found.setdefault(f.code, set()).add((f.action, f.severity))
    missing = sorted(set(EXPECTED) - set(found))
    assert not missing, missing
    for code, expected in EXPECTED.items():
        assert expected in found[code], (code, found[code])
    unknown = next(f for f in result.report.findings if f.code == "label.unknown")
    assert "did you mean 'dog'" in unknown.detail


def test_accounting(corpus):
    root, out, result = corpus
    c = result.report.counts
    c.check()
    assert c.images_read == 19  # 18 annotated images + the malformed XML
    # skipped: truncated, text, missing, bomb, broken (malformed XML)
    assert c.images_skipped == 5 and c.images_written == 14
    # boxes: 16 images x 1 + 9 in boxes.jpg + 0 (empty) ... read from the XMLs
    assert c.boxes_read == 17 + 9 - 1
    assert c.boxes_written + c.boxes_dropped == c.boxes_read
    report_counts = __import__("json").loads((out / "report.json").read_text())["counts"]
    assert report_counts == {k: getattr(c, k) for k in report_counts}


def test_every_record_decodes_in_tensorflow(corpus):
    tf = pytest.importorskip("tensorflow")
    _, out, result = corpus
    n = 0
    for shard in sorted(out.glob("*.tfrecord")):
        for data in read_records(shard):
            ex = decode_example(data)
            img = tf.io.decode_image(ex["encoded"], channels=3, expand_animations=False)
            assert img.dtype == tf.uint8
            assert tuple(img.shape) == (ex["height"], ex["width"], 3), ex["filename"]
            b = ex["boxes"]
            assert ((b >= 0) & (b <= 1)).all() and (b[:, 0] < b[:, 2]).all() and (b[:, 1] < b[:, 3]).all()
            n += 1
    assert n == result.report.counts.images_written == 14


def test_rotated_image_and_boxes_agree(corpus):
    _, out, _ = corpus
    ex = next(decode_example(d) for s in sorted(out.glob("*.tfrecord")) for d in read_records(s)
              if decode_example(d)["filename"] == "rotated.jpg")
    assert (ex["width"], ex["height"]) == (48, 64)  # the rotation is baked in
    np.testing.assert_allclose(ex["boxes"][0], [4 / 64, 4 / 48, 50 / 64, 30 / 48], rtol=1e-6)
