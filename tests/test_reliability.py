"""Issue 14: bad input never ends in a traceback or a silent loss; each test
reproduces one item of the issue and checks the fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_jpeg
from dataprep.cli import main
from dataprep.convert import ConvertOptions, convert
from dataprep.formats.coco import read_coco
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records


def run(ds, out: Path, **kw):
    return convert(ds, ConvertOptions(out=out, workers=1, progress=False, **kw))


def examples(out: Path) -> list[dict]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [decode_example(r) for info in manifest["splits"].values() for s in info["shards"]
            for r in read_records(out / s["file"])]


def write_coco(tmp_path: Path, images, annotations, categories, *, size=(64, 48)):
    img_dir = tmp_path / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    for k, im in enumerate(images):
        if isinstance(im, dict) and im.get("file_name"):
            (img_dir / im["file_name"]).write_bytes(make_jpeg(*size, seed=k))
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}),
                    encoding="utf-8")
    return path, img_dir


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


# --- item 4: COCO id 0 ---------------------------------------------------------------------------------------------

def test_coco_image_id_zero_keeps_its_boxes(tmp_path):
    """(issue 14 item 4) COCO image id 0 is a valid id: its boxes are written,
    no false 'not in images' errors."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 0, "file_name": "a.jpg", "width": 64, "height": 48},
                   {"id": 1, "file_name": "b.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 0, "category_id": 1, "bbox": [1, 2, 20, 20]},
         {"id": 2, "image_id": 0, "category_id": 1, "bbox": [30, 2, 20, 20]},
         {"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 2, 20, 20]}],
        [{"id": 1, "name": "cell"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    assert "coco.unknown_image" not in codes(result.report)
    got = {e["filename"]: e for e in examples(tmp_path / "out")}
    assert len(got["a.jpg"]["boxes"]) == 2 and got["a.jpg"]["source_id"] == "0"
    assert result.report.counts.boxes_written == 3


def test_coco_unused_category_zero_is_dropped_and_ids_kept(tmp_path):
    """(issue 14 item 4) A Roboflow-style supercategory with id 0 adds no
    phantom class and does not renumber the others; the finding says so."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 0, "file_name": "a.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 0, "category_id": 2, "bbox": [1, 2, 20, 20]},
         {"id": 2, "image_id": 0, "category_id": 1, "bbox": [30, 2, 20, 20]}],
        [{"id": 0, "name": "cells", "supercategory": "none"}, {"id": 1, "name": "rbc", "supercategory": "cells"},
         {"id": 2, "name": "wbc", "supercategory": "cells"}])
    ds = read_coco(path, images=img_dir)
    assert ds.label_map.to_dict() == {"rbc": 1, "wbc": 2}
    assert "coco.category_zero_dropped" in [f.code for f in ds.findings]
    result = run(ds, tmp_path / "out")
    assert any("coco.category_zero_dropped" in line for line in result.report.summary_lines())
    (ex,) = examples(tmp_path / "out")
    assert sorted(zip(ex["texts"], ex["labels"])) == [("rbc", 1), ("wbc", 2)]


def test_coco_used_category_zero_moves_to_a_free_id(tmp_path):
    """(issue 14 item 4) A category 0 with boxes moves to the first free id;
    the other ids stay and its boxes follow it."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 5, "file_name": "a.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 5, "category_id": 0, "bbox": [1, 2, 20, 20]},
         {"id": 2, "image_id": 5, "category_id": 3, "bbox": [30, 2, 20, 20]}],
        [{"id": 0, "name": "zero"}, {"id": 3, "name": "three"}])
    ds = read_coco(path, images=img_dir)
    assert ds.label_map.to_dict() == {"zero": 4, "three": 3}
    assert "label.renumbered" in [f.code for f in ds.findings]
    run(ds, tmp_path / "out")
    (ex,) = examples(tmp_path / "out")
    assert sorted(zip(ex["texts"], ex["labels"])) == [("three", 3), ("zero", 4)]


# --- item 18 (COCO parts) -----------------------------------------------------------------------------------------

def test_coco_non_dict_entries_are_findings_not_silent(tmp_path):
    """(issue 14 item 18) Non-object entries in 'images' and 'annotations' are
    counted and reported, never dropped silently."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}, "junk", 7],
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 20, 20]}, ["not", "a", "box"]],
        [{"id": 1, "name": "cell"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    c = result.report.counts
    assert c.images_read == 3 and c.images_written == 1 and c.images_skipped == 2
    assert c.boxes_read == 2 and c.boxes_written == 1 and c.boxes_dropped == 1
    assert codes(result.report).count("coco.bad_image_entry") == 2
    assert "coco.bad_entry" in codes(result.report)


def test_coco_iscrowd_out_of_range_is_not_wrapped(tmp_path):
    """(issue 14 item 18) iscrowd=300 is not written as 44 (int8 wrap)."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 20, 20], "iscrowd": 300}],
        [{"id": 1, "name": "cell"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    (ex,) = examples(tmp_path / "out")
    assert list(ex["is_crowd"]) == [1]
    assert "coco.bad_iscrowd" in codes(result.report)


def test_coco_huge_image_id_is_a_bad_entry_not_a_negative_source_id(tmp_path):
    """(issue 14 item 18) An image id of 2^70 does not wrap to a negative source_id."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 2**70, "file_name": "a.jpg", "width": 64, "height": 48},
                   {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 2, 20, 20]}],
        [{"id": 1, "name": "cell"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    assert [e["source_id"] for e in examples(tmp_path / "out")] == ["2"]
    assert "coco.bad_image_entry" in codes(result.report)
    assert result.report.counts.images_skipped == 1


# --- helpers for VOC / CSV sources --------------------------------------------------------------------------------

def voc_xml(name: str, width="64", height="48", objects=(("cat", 2, 3, 30, 30),)) -> str:
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
                   f"<ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in objects)
    return (f"<annotation><filename>{name}</filename><size><width>{width}</width><height>{height}</height>"
            f"<depth>3</depth></size>{objs}</annotation>")


def write_voc(root: Path, n: int = 3, **xml) -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    for k in range(n):
        (root / "JPEGImages" / f"im{k}.jpg").write_bytes(make_jpeg(64, 48, seed=k))
        (root / "Annotations" / f"im{k}.xml").write_text(voc_xml(f"im{k}.jpg", **xml), encoding="utf-8")
    return root


def cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def report_codes(out: Path) -> list[str]:
    return [f["code"] for f in json.loads((out / "report.json").read_text(encoding="utf-8"))["findings"]]


# --- item 10: symlinks out of the images root ----------------------------------------------------------------------

def test_symlink_out_of_images_root_is_refused_unless_asked(tmp_path, capsys):
    """(issue 14 item 10) A symlink in the images folder that leads outside it
    is refused as image.path_escapes_root; --follow-symlinks reads it."""
    root = write_voc(tmp_path / "voc", n=2)
    secret = tmp_path / "outside.jpg"
    secret.write_bytes(make_jpeg(64, 48, seed=9))
    (root / "JPEGImages" / "im1.jpg").unlink()
    (root / "JPEGImages" / "im1.jpg").symlink_to(secret)
    code, text = cli(capsys, "convert", "voc", root, "--out", tmp_path / "o1", "-q", "-j", "1")
    assert code == 0, text
    assert "image.path_escapes_root" in report_codes(tmp_path / "o1")
    assert "--follow-symlinks" in text
    assert [e["filename"] for e in examples(tmp_path / "o1")] == ["im0.jpg"]
    code, text = cli(capsys, "convert", "voc", root, "--out", tmp_path / "o2", "-q", "-j", "1", "--follow-symlinks")
    assert code == 0, text
    assert sorted(e["filename"] for e in examples(tmp_path / "o2")) == ["im0.jpg", "im1.jpg"]


def test_symlink_inside_the_root_is_read(tmp_path):
    """(issue 14 item 10) A link that stays inside the images folder is fine."""
    from dataprep.validate.images import check_image

    (tmp_path / "a.jpg").write_bytes(make_jpeg(64, 48))
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    assert check_image(tmp_path, "b.jpg").data is not None


# --- item 12: infinite sizes ---------------------------------------------------------------------------------------

def test_infinite_sizes_are_findings_not_overflow(tmp_path, capsys):
    """(issue 14 item 12) <width>1e400</width>, COCO "width": 1e400 and CSV inf
    do not abort the run with OverflowError; the real size is used."""
    root = write_voc(tmp_path / "voc", n=2, width="1e400")
    code, text = cli(capsys, "convert", "voc", root, "--out", tmp_path / "o1", "-q", "-j", "1")
    assert code == 0, text
    assert "Traceback" not in text and len(examples(tmp_path / "o1")) == 2
    assert "image.bad_annotated_size" in report_codes(tmp_path / "o1")

    img_dir = tmp_path / "images"
    img_dir.mkdir()
    (img_dir / "a.jpg").write_bytes(make_jpeg(64, 48))
    coco = tmp_path / "c.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "a.jpg", "width": 1e400, "height": 48}], '
                    '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9]}], '
                    '"categories": [{"id": 1, "name": "cat"}]}', encoding="utf-8")
    code, text = cli(capsys, "convert", "coco", coco, "--images", img_dir, "--out", tmp_path / "o2", "-q", "-j", "1")
    assert code == 0, text
    assert len(examples(tmp_path / "o2")) == 1

    csv = tmp_path / "a.csv"
    csv.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,inf,-inf,cat,1,1,10,10\n",
                   encoding="utf-8")
    code, text = cli(capsys, "convert", "csv", csv, "--images", img_dir, "--out", tmp_path / "o3", "-q", "-j", "1")
    assert code == 0, text
    assert len(examples(tmp_path / "o3")) == 1


# --- item 13: looping symlinks -------------------------------------------------------------------------------------

def test_self_referencing_symlinks_are_findings(tmp_path, capsys):
    """(issue 14 item 13) A link to itself in JPEGImages/ or Annotations/ is a
    finding about that file, not 'Too many levels of symbolic links'."""
    root = write_voc(tmp_path / "voc", n=2)
    (root / "JPEGImages" / "loop.jpg").symlink_to(root / "JPEGImages" / "loop.jpg")
    (root / "Annotations" / "loop.xml").symlink_to(root / "Annotations" / "loop.xml")
    (root / "JPEGImages" / "im1.jpg").unlink()
    (root / "JPEGImages" / "im1.jpg").symlink_to(root / "JPEGImages" / "im1.jpg")
    code, text = cli(capsys, "convert", "voc", root, "--out", tmp_path / "o", "-q", "-j", "1")
    assert code == 0, text
    assert "Traceback" not in text
    found = report_codes(tmp_path / "o")
    assert "annotation.malformed" in found and "image.unreadable" in found
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    c = report["counts"]
    assert c["images_read"] == 3 and c["images_written"] == 1 and c["images_skipped"] == 2


# --- item 16: option values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["--seed", "-1"], "--seed"),
    (["--rebalance", "images", "--repeat-threshold", "1e308"], "--repeat-threshold"),
    (["--max-pixels", "0"], "--max-pixels"),
    (["--max-per-class", "5"], "--max-per-class only applies with --rebalance"),
    (["--negative-ratio", "0.5"], "--negative-ratio only applies with --rebalance"),
])
def test_bad_option_values_are_usage_errors(tmp_path, capsys, args, needle):
    """(issue 14 item 16) Option values that used to raise ValueError or were
    silently ignored are usage errors (exit 2) that name the option."""
    root = write_voc(tmp_path / "voc", n=1)
    code, text = cli(capsys, "convert", "voc", root, "--out", tmp_path / "o", "-q", *args)
    assert code == 2, text
    assert needle in text and "Traceback" not in text
    assert not (tmp_path / "o").exists()


def test_unknown_csv_role_is_a_usage_error(tmp_path, capsys):
    """(issue 14 item 16) --columns colour=class names an unknown role: refused."""
    (tmp_path / "images").mkdir()
    csv = tmp_path / "a.csv"
    csv.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n", encoding="utf-8")
    code, text = cli(capsys, "convert", "csv", csv, "--images", tmp_path / "images", "--out", tmp_path / "o",
                     "--columns", "colour=class")
    assert code == 2 and "unknown role 'colour'" in text


# --- item 5: CSV line accounting, empty datasets -------------------------------------------------------------------

HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax\n"


def csv_images(tmp_path: Path, n: int) -> Path:
    img_dir = tmp_path / "images"
    img_dir.mkdir(exist_ok=True)
    for k in range(n):
        (img_dir / f"{k}.jpg").write_bytes(make_jpeg(64, 48, seed=k))
    return img_dir


def test_csv_unterminated_quote_does_not_swallow_the_following_rows(tmp_path, capsys):
    """(issue 14 item 5) One unterminated quote is a finding naming its line;
    every following row is still read, and every physical line is accounted."""
    img_dir = csv_images(tmp_path, 4)
    rows = [f"{k}.jpg,64,48,cat,1,1,20,20\n" for k in range(4)]
    rows[1] = '1.jpg,64,48,"cat,1,1,20,20\n'
    csv = tmp_path / "a.csv"
    csv.write_text(HEADER + "".join(rows), encoding="utf-8")
    code, text = cli(capsys, "convert", "csv", csv, "--images", img_dir, "--out", tmp_path / "o", "-q", "-j", "1")
    assert code == 0, text
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    bad = [f for f in report["findings"] if f["code"] == "csv.unterminated_quote"]
    assert len(bad) == 1 and bad[0]["item"] == "line 3"
    assert sorted(e["filename"] for e in examples(tmp_path / "o")) == ["0.jpg", "2.jpg", "3.jpg"]
    c = report["counts"]
    assert c["boxes_read"] == 4 and c["boxes_written"] == 3 and c["boxes_dropped"] == 1


def test_csv_line_numbers_survive_crlf_and_bom(tmp_path):
    """(issue 14 item 5, "Also": one text helper) CRLF line ends and a BOM do
    not shift the line numbers findings give."""
    from dataprep.formats.csv import read_csv

    img_dir = csv_images(tmp_path, 2)
    csv = tmp_path / "a.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + (HEADER + "0.jpg,64,48,cat,1,1,20,20\n1.jpg,64,48,cat,x,1,20,20\n")
                    .replace("\n", "\r\n").encode())
    ds = read_csv(csv, images=img_dir)
    assert [f.item for f in ds.findings] == ["line 3"]


@pytest.mark.parametrize("body", ["", HEADER, HEADER + '0.jpg,64,48,"cat,1,1,20,20\n'])
def test_empty_dataset_exits_1_and_writes_no_label_map(tmp_path, capsys, body):
    """(issue 14 item 5) Only a header, or nothing readable: exit 1 with a
    clear message naming the file, and no 0-byte label map."""
    img_dir = csv_images(tmp_path, 1)
    csv = tmp_path / "a.csv"
    csv.write_text(body, encoding="utf-8")
    code, text = cli(capsys, "convert", "csv", csv, "--images", img_dir, "--out", tmp_path / "o", "-q")
    assert code == 1, text
    assert str(csv) in text and "Traceback" not in text
    assert not (tmp_path / "o" / "label_map.pbtxt").exists()


# --- item 14: duplicate CSV columns --------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["convert", "validate", "stats"])
def test_csv_duplicate_column_names(tmp_path, capsys, command):
    """(issue 14 item 14) Two columns named 'class' no longer raise
    AttributeError in convert, validate or stats; the first is used and the
    duplicate is a finding."""
    img_dir = csv_images(tmp_path, 2)
    csv = tmp_path / "a.csv"
    csv.write_text("filename,width,height,class,xmin,ymin,xmax,ymax,class\n"
                   "0.jpg,64,48,cat,1,1,20,20,dog\n1.jpg,64,48,cat,2,2,30,30,dog\n", encoding="utf-8")
    args = {"convert": ["convert", "csv", csv, "--images", img_dir, "--out", tmp_path / "o", "-q", "-j", "1"],
            "validate": ["validate", csv, "--images", img_dir, "-q"],
            "stats": ["stats", csv, "--images", img_dir]}[command]
    code, text = cli(capsys, *args)
    assert code == 0, text
    assert "Traceback" not in text
    if command == "convert":
        assert {t for e in examples(tmp_path / "o") for t in e["texts"]} == {"cat"}
        assert "csv.duplicate_column" in report_codes(tmp_path / "o")
    if command == "validate":
        assert "csv.duplicate_column" in text


# --- records and manifests are untrusted (items 9, 11, 17) ---------------------------------------------------------

def make_records(tmp_path: Path, n: int = 3, **kw) -> Path:
    from dataprep.formats import read_voc

    out = tmp_path / "records"
    run(read_voc(write_voc(tmp_path / "voc_src", n=n)), out, **kw)
    return out


def edit_manifest(out: Path, change) -> None:
    path = out / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_manifest_split_name_cannot_escape_the_folder(tmp_path, capsys):
    """(issue 14 item 9) A crafted split name '../../x' no longer makes inspect
    write previews outside the records folder: the manifest is refused."""
    out = make_records(tmp_path)

    def rename(m):
        m["splits"]["../../x"] = m["splits"].pop("train")

    edit_manifest(out, rename)
    before = sorted(p for p in tmp_path.rglob("*"))
    code, text = cli(capsys, "inspect", out, "-q", "--preview-dir", out / "a" / "b")
    assert code == 2 and "'../../x' is not a plain name" in text and "Traceback" not in text
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    code, text = cli(capsys, "stats", out)
    assert code == 2 and "not a plain name" in text


@pytest.mark.parametrize("name", ["../outside.tfrecord", "/etc/passwd", "a/../../b", "", "..", "x\\..\\y"])
def test_manifest_shard_names_must_be_plain(tmp_path, name):
    """(issue 14 item 9) Shard and label-map names from a manifest never become
    paths outside its folder."""
    from dataprep.records.manifest import ManifestError, read_manifest

    out = make_records(tmp_path)
    edit_manifest(out, lambda m: m["splits"]["train"]["shards"][0].update(file=name))
    with pytest.raises(ManifestError, match="not a plain name"):
        read_manifest(out)
    edit_manifest(out, lambda m: (m["splits"]["train"]["shards"][0].update(file="train.tfrecord"),
                                  m.update(label_map=name or "../x")))
    with pytest.raises(ManifestError, match="label map file"):
        read_manifest(out)


def crafted_record(length: int) -> bytes:
    from dataprep.records.framing import _U32, _U64, masked_crc

    header = _U64.pack(length)
    return header + _U32.pack(masked_crc(header)) + b"\x00" * 64


@pytest.mark.parametrize("gz", [False, True])
def test_crafted_record_length_is_bounded_by_the_file(tmp_path, capsys, gz):
    """(issue 14 item 11) A 2^40-byte length with a valid length CRC is a clear
    error naming the file in inspect, stats and split; nothing allocates it."""
    import gzip

    out = make_records(tmp_path)
    shard = out / json.loads((out / "manifest.json").read_text(encoding="utf-8"))["splits"]["train"]["shards"][0]["file"]
    data = shard.read_bytes() + crafted_record(2**40)
    shard.write_bytes(gzip.compress(data) if gz else data)
    for argv in (["inspect", out, "-q", "--previews", "0"], ["stats", out],
                 ["split", out, "--out", tmp_path / "re", "--split", "train=0.5,val=0.5", "-q", "-j", "1"]):
        code, text = cli(capsys, *argv)
        assert code == 1, (argv, text)
        assert "Traceback" not in text and "MemoryError" not in text
        assert str(shard) in text, (argv, text)


def test_inspect_malformed_manifests_are_clear_errors(tmp_path, capsys):
    """(issue 14 item 17) A manifest that is not JSON, or has no 'splits': a
    one-line error naming the file, exit 2 (not a usable records folder)."""
    out = make_records(tmp_path)
    (out / "manifest.json").write_text("{not json", encoding="utf-8")
    code, text = cli(capsys, "inspect", out, "-q")
    assert code == 2 and "manifest.json: malformed JSON at line 1" in text and "Traceback" not in text
    (out / "manifest.json").write_text('{"version": 1}', encoding="utf-8")
    code, text = cli(capsys, "inspect", out, "-q")
    assert code == 2 and "no 'splits' object" in text


def test_split_on_a_record_that_is_not_an_example(tmp_path, capsys):
    """(issue 14 item 17) dataprep split on a record that is not a
    tf.train.Example names the file and the record instead of a DecodeError."""
    from dataprep.records.framing import frame

    out = make_records(tmp_path)
    shard = next(out.glob("train-*.tfrecord"))
    shard.write_bytes(shard.read_bytes() + frame(b"\xff\xff\xff garbage"))
    edit_manifest(out, lambda m: None)
    code, text = cli(capsys, "split", out, "--out", tmp_path / "re", "--split", "train=0.5,val=0.5", "-q", "-j", "1")
    assert code == 1 and "Traceback" not in text
    assert f"{shard}: record 3 is not a tf.train.Example" in text


@pytest.mark.parametrize("option, make, what", [
    ("--json", "dir", "is a folder"), ("--plots", "file", "is a file"), ("--anchors-out", "dir", "is a folder")])
def test_stats_output_paths_are_checked_first(tmp_path, capsys, option, make, what):
    """(issue 14 item 17) stats --json DIR, --plots FILE, --anchors-out DIR:
    a usage error before the work, not IsADirectoryError/FileExistsError after it."""
    out = make_records(tmp_path)
    target = tmp_path / "target"
    target.mkdir() if make == "dir" else target.write_text("x", encoding="utf-8")
    code, text = cli(capsys, "stats", out, option, target)
    assert code == 2 and f"{option} {target}: {what}" in text and "Traceback" not in text


def test_interrupt_says_interrupted(tmp_path, capsys, monkeypatch):
    """(issue 14 item 18) Ctrl-C exits 130 and says "interrupted" (typer
    used to turn it into a silent exit 130)."""
    import dataprep.convert

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dataprep.convert, "convert", interrupted)
    code, text = cli(capsys, "convert", "voc", write_voc(tmp_path / "voc", n=1), "--out", tmp_path / "o", "-q")
    assert code == 130 and text.strip().endswith("interrupted")


def test_comment_inside_a_voc_name_keeps_the_whole_name():
    """(issue 14 item 18) <name>traffic<!-- x --> light</name> is 'traffic light', not 'traffic'."""
    from dataprep.formats.voc import parse_voc_xml

    parsed = parse_voc_xml(
        b"<annotation><filename>a<!--c-->.jpg</filename><size><width>6<!--c-->4</width><height>48</height></size>"
        b"<object><name>traffic<!-- x --> light</name><bndbox><xmin>1<!--c-->0</xmin><ymin>2</ymin>"
        b"<xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>", "a.xml")
    assert parsed["filename"] == "a.jpg" and parsed["width"] == 64
    (obj,) = parsed["objects"]
    assert obj["text"] == "traffic light" and obj["xmin"] == 9.0


def test_stats_reads_the_image_size_when_the_annotated_one_is_infinite(tmp_path, capsys):
    """(issue 14 item 12) stats does not lose the boxes of an image whose
    annotation says <width>1e400</width>: the image header gives the size."""
    root = write_voc(tmp_path / "voc", n=2, width="1e400")
    code, text = cli(capsys, "stats", root)
    assert code == 0 and "2 images (train 2), 2 boxes" in text


def test_negative_seed_for_stats_is_a_usage_error(tmp_path, capsys):
    """(issue 14 item 16) stats --seed -1 is refused up front, not a numpy ValueError."""
    code, text = cli(capsys, "stats", write_voc(tmp_path / "voc", n=1), "--anchors", "--suggest", "--seed", "-1")
    assert code == 2 and "--seed" in text and "Traceback" not in text


# --- issue 22 item 5: input that reads two ways is read as the user meant it, and the decision reported ----------

def _voc_image(root: Path, stem: str, name: str, filename: str | None = None, seed: int = 0) -> None:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / f"{stem}.xml").write_text(
        f"<annotation><filename>{filename or stem + '.jpg'}</filename><size><width>64</width><height>48</height>"
        f"</size><object><name>{name}</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>30</xmax><ymax>30</ymax>"
        "</bndbox></object></annotation>")
    if filename is None:
        (root / "JPEGImages" / f"{stem}.jpg").write_bytes(make_jpeg(64, 48, seed=seed))


def test_two_annotation_files_claiming_one_image_merge_their_boxes(tmp_path):
    """a.xml and 'a copy.xml' (LabelImg's copy) both say a.jpg: one image, both boxes."""
    from dataprep.formats.voc import read_voc

    _voc_image(tmp_path, "a", "cat")
    _voc_image(tmp_path, "a copy", "dog", filename="a.jpg")
    result = run(read_voc(tmp_path), tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.annotated_twice"]
    assert f.severity == "warning" and f.file == "Annotations/a.xml" and "a copy.xml" in f.detail
    (ex,) = examples(tmp_path / "out")
    assert sorted(ex["texts"]) == ["cat", "dog"]
    c = result.report.counts
    assert (c.boxes_read, c.boxes_written, c.boxes_dropped) == (2, 2, 0)


def test_two_coco_entries_for_one_file_keep_both_entries_boxes(tmp_path):
    path, img_dir = write_coco(
        tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
                   {"id": 2, "file_name": "a.jpg", "width": 64, "height": 48}],
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 20, 20]},
         {"id": 2, "image_id": 2, "category_id": 1, "bbox": [30, 10, 20, 20]},
         {"id": 3, "image_id": 2, "category_id": 1, "bbox": [2, 2, 20, 20]}],  # the first entry's box again
        [{"id": 1, "name": "cat"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    assert sorted(codes(result.report)) == ["box.duplicate", "image.annotated_twice"]
    (ex,) = examples(tmp_path / "out")
    assert len(ex["texts"]) == 2
    c = result.report.counts
    assert (c.images_read, c.images_written, c.boxes_read, c.boxes_written, c.boxes_dropped) == (2, 1, 3, 2, 1)


def test_two_coco_entries_for_one_file_at_different_sizes_are_not_merged(tmp_path):
    """A second entry annotated at another size drew its boxes on another picture: skipped, its box counted."""
    path, img_dir = write_coco(
        tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
                   {"id": 2, "file_name": "a.jpg", "width": 128, "height": 96}],
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 20, 20]},
         {"id": 2, "image_id": 2, "category_id": 1, "bbox": [60, 50, 40, 40]}],
        [{"id": 1, "name": "cat"}])
    result = run(read_coco(path, images=img_dir), tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.annotated_twice"]
    assert f.severity == "error" and "at another size (128x96 here, 64x48 there)" in f.detail
    c = result.report.counts
    assert (c.images_read, c.images_written, c.images_skipped, c.boxes_written, c.boxes_dropped) == (2, 1, 1, 1, 1)


def test_voc_split_lists_that_differ_in_case_or_extension(tmp_path):
    """ImageSets/Main/train.txt lists 'IMG_1.JPG' and 'img_2' for Annotations/IMG_1.xml and IMG_2.xml: on a
    case-sensitive disk they match nothing, and the images would be skipped as unlisted."""
    from dataprep.formats.voc import read_voc

    for k, stem in enumerate(["IMG_1", "IMG_2", "IMG_3", "b", "B"]):
        _voc_image(tmp_path, stem, "cat", seed=k)
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("IMG_1.JPG\nimg_2\nIMG_3\nb.jpg\n")
    ds = read_voc(tmp_path)
    split = dict(zip(ds.images["annotation"], ds.images["split"]))
    assert split["Annotations/IMG_1.xml"] == split["Annotations/IMG_2.xml"] == split["Annotations/IMG_3.xml"] == "train"
    resolved = sorted((f.item, f.file) for f in ds.findings if f.code == "split.name_resolved")
    assert resolved == [("IMG_1", "ImageSets/Main/train.txt"), ("IMG_2", "ImageSets/Main/train.txt")]
    # 'b.jpg' could be b.xml or B.xml: not plain, so nothing is guessed and both stay reported
    assert sorted(f.item for f in ds.findings if f.code == "split.unlisted") == ["B", "b"]


def _yolo_tree(root: Path, files: dict, yaml: str) -> None:
    for k, (name, text) in enumerate(files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_jpeg(64, 48, seed=k) if text is None else text.encode())
    (root / "data.yaml").write_text(yaml)


def test_yolo_list_and_label_names_that_differ_in_case_or_extension(tmp_path):
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {
        "images/a.jpg": None, "labels/A.TXT": "0 0.5 0.5 0.2 0.2\n",  # label named in capitals
        "images/b.jpg": None, "labels/b.jpg.txt": "0 0.5 0.5 0.2 0.2\n",  # label named after the whole file
        "images/c.jpg": None, "labels/c.txt": "0 0.5 0.5 0.2 0.2\n",
        "images/d.jpeg": None, "labels/d.txt": "0 0.5 0.5 0.2 0.2\n",
    }, "train: train.txt\nnames: [cat]\n")
    (tmp_path / "train.txt").write_text("./images/a.jpg\n./images/b.jpg\n./images/C.JPG\n./images/d.png\n")
    ds = read_yolo(tmp_path)
    assert sorted(ds.images["file"]) == ["images/a.jpg", "images/b.jpg", "images/c.jpg", "images/d.jpeg"]
    assert len(ds.objects) == 4
    resolved = sorted(f.detail.split(";")[0] for f in ds.findings if f.code == "yolo.name_resolved")
    assert resolved == ["label file 'a.txt' is not there", "label file 'b.txt' is not there",
                        "listed image 'C.JPG' is not there", "listed image 'd.png' is not there"]


def test_yolo_one_label_file_for_two_images_annotates_both(tmp_path):
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None, "images/a.png": None, "labels/a.txt": "0 0.5 0.5 0.2 0.2\n"},
               "train: images\nnames: [cat]\n")
    ds = read_yolo(tmp_path)
    (f,) = [f for f in ds.findings if f.code == "yolo.label_shared"]
    assert f.image == "images/a.png" and "images/a.jpg" in f.detail
    assert ds.objects.groupby("image_id").size().tolist() == [1, 1]


@pytest.mark.parametrize("names, severity, shifted", [
    ("names: ['0', '1']\n", "info", False),  # names equal to their ids: no harm, said once
    ("names: [1, 2]\n", "warning", True),  # YOLO id 0 is the class named '1'
])
def test_yolo_class_names_that_look_like_numbers(tmp_path, names, severity, shifted):
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None, "labels/a.txt": "0 0.5 0.5 0.2 0.2\n1 0.2 0.2 0.1 0.1\n"},
               "train: images\n" + names)
    ds = read_yolo(tmp_path)
    (f,) = [f for f in ds.findings if f.code == "yolo.numeric_names"]
    assert f.severity == severity and ("do not match" in f.detail) == shifted
    first = ds.label_map.names[0]
    assert sorted(ds.objects["text"]) == sorted(ds.label_map.names) and first == ("0" if not shifted else "1")
    assert [i.id for i in ds.label_map] == [1, 2]


def test_yolo_quoted_numeric_name_keys_are_ids(tmp_path):
    """names: {'0': cat} — quoted keys that look like numbers are ids (as Ultralytics reads them)."""
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None, "labels/a.txt": "1 0.5 0.5 0.2 0.2\n"},
               "train: images\nnames:\n  '1': dog\n  '0': cat\n")
    assert read_yolo(tmp_path).objects["text"].tolist() == ["dog"]


def test_label_studio_notes_ids_win_over_classes_txt_order(tmp_path):
    """Label Studio writes classes.txt in its categories' order and notes.json with their ids; the label files use
    the ids."""
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None, "labels/a.txt": "0 0.5 0.5 0.2 0.2\n"}, "")
    (tmp_path / "data.yaml").unlink()
    (tmp_path / "classes.txt").write_text("dog\ncat\n")
    (tmp_path / "notes.json").write_text(json.dumps({"categories": [{"id": 1, "name": "dog"},
                                                                    {"id": 0, "name": "cat"}]}))
    ds = read_yolo(tmp_path)
    (f,) = [f for f in ds.findings if f.code == "yolo.names_disagree"]
    assert f.action == "kept" and ds.objects["text"].tolist() == ["cat"]
    (tmp_path / "notes.json").write_text("{not json")
    ds = read_yolo(tmp_path)
    (f,) = [f for f in ds.findings if f.code == "yolo.names_disagree"]
    assert f.action == "ignored" and ds.objects["text"].tolist() == ["dog"]


def test_yolo_val_folder_named_valid_and_validation_key(tmp_path):
    """'val: images/val' over a folder images/valid, and a 'validation:' key (Ultralytics renames it)."""
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/train/a.jpg": None, "images/valid/b.jpg": None},
               "train: images/train\nvalidation: images/val\nnames: [cat]\n")
    ds = read_yolo(tmp_path)
    assert dict(zip(ds.images["file"], ds.images["split"])) == {"images/train/a.jpg": "train",
                                                                 "images/valid/b.jpg": "val"}
    (f,) = [f for f in ds.findings if f.code == "yolo.split_resolved"]
    assert "'images/valid' is" in f.detail


def test_yolo_data_yaml_with_nc_only_names_the_classes(tmp_path):
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None, "labels/a.txt": "1 0.5 0.5 0.2 0.2\n"}, "train: images\nnc: 2\n")
    ds = read_yolo(tmp_path)
    assert ds.label_map.names == ["class_0", "class_1"] and ds.objects["text"].tolist() == ["class_1"]
    assert [f.code for f in ds.findings] == ["yolo.names_missing"]


@pytest.mark.parametrize("classes, expected, how", [
    (["1", "2", "2"], ["cat", "dog", "dog"], "label-map id"),
    (["0", "1", "1"], ["cat", "dog", "dog"], "0-based class index"),
])
def test_numeric_classes_with_a_named_label_map_are_read_as_ids(tmp_path, classes, expected, how):
    """A CSV whose class column holds numbers, converted with a label map that names the classes: the numbers are
    the ids (or 0-based indices) they plainly are, not unknown classes whose boxes would be dropped."""
    from dataprep.formats.csv import read_csv

    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(make_jpeg(64, 48))
    rows = "".join(f"a.jpg,64,48,{c},{2 + 10 * k},2,{9 + 10 * k},9\n" for k, c in enumerate(classes))
    (tmp_path / "a.csv").write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + rows)
    (tmp_path / "map.pbtxt").write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    result = run(read_csv(tmp_path / "a.csv", images=tmp_path / "img"), tmp_path / "out",
                 label_map=tmp_path / "map.pbtxt")
    found = [f for f in result.report.findings if f.code == "label.numeric_class"]
    assert len(found) == 2 and all(how in f.detail for f in found)
    (ex,) = examples(tmp_path / "out")
    assert ex["texts"] == expected and ex["labels"] == [{"cat": 1, "dog": 2}[t] for t in expected]
    assert result.report.counts.boxes_dropped == 0


def test_numbers_that_fit_no_reading_stay_unknown(tmp_path):
    """'7' fits neither reading of a two-class label map; a label map of numeric names is never second-guessed."""
    from dataprep.label_map import LabelMap, LabelMapItem
    from dataprep.validate.annotations import numeric_classes

    named = LabelMap([LabelMapItem(1, "cat"), LabelMapItem(2, "dog")])
    assert numeric_classes(["1", "7"], named) == ({}, [])
    numeric = LabelMap([LabelMapItem(1, "10"), LabelMapItem(2, "20")])
    assert numeric_classes(["1"], numeric) == ({}, [])
    assert numeric_classes(["²"], named) == ({}, [])


def test_voc_xml_with_two_images_of_its_name_takes_the_one_it_names(tmp_path):
    """JPEGImages/a.jpg and a.png beside Annotations/a.xml: the XML's <filename> says which (it was a.jpg, silently)."""
    from dataprep.formats.voc import read_voc

    _voc_image(tmp_path, "a", "cat", filename="a.png")
    (tmp_path / "JPEGImages" / "a.jpg").write_bytes(make_jpeg(64, 48, seed=1))
    (tmp_path / "JPEGImages" / "a.png").write_bytes(make_jpeg(64, 48, seed=2))
    _voc_image(tmp_path, "b", "cat", filename="photo.jpg")
    (tmp_path / "JPEGImages" / "b.jpg").write_bytes(make_jpeg(64, 48, seed=3))
    (tmp_path / "JPEGImages" / "b.png").write_bytes(make_jpeg(64, 48, seed=4))
    ds = read_voc(tmp_path)
    assert sorted(ds.images["file"]) == ["a.png", "b.jpg"]
    found = {f.item: f.detail for f in ds.findings if f.code == "voc.image_ambiguous"}
    assert "a.png is the one annotated (its <filename>)" in found["a"]
    assert "b.jpg is the one annotated (the first by name" in found["b"]


def test_yolo_pose_lines_are_boxes_with_keypoints_not_polygons(tmp_path):
    """kpt_shape [2, 3]: 'class cx cy w h' + 6 keypoint numbers; read as a polygon the box would span the keypoints."""
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path, {"images/a.jpg": None,
                          "labels/a.txt": "0 0.5 0.5 0.2 0.2 0.9 0.9 2 0.05 0.05 1\n"},
               "train: images\nkpt_shape: [2, 3]\nnames: [person]\n")
    ds = read_yolo(tmp_path)
    o = ds.objects.iloc[0]
    np.testing.assert_allclose([o["xmin"], o["ymin"], o["xmax"], o["ymax"]], [0.4, 0.4, 0.6, 0.6])
    assert [f.code for f in ds.findings] == ["yolo.keypoints"]


def test_cvat_list_line_differing_in_case_is_found_without_the_data_prefix(tmp_path):
    from dataprep.formats.yolo import read_yolo

    (tmp_path / "obj_train_data").mkdir()
    (tmp_path / "obj_train_data" / "frame_1.jpg").write_bytes(make_jpeg(64, 48))
    (tmp_path / "obj_train_data" / "frame_1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "obj.names").write_text("car\n")
    (tmp_path / "train.txt").write_text("data/obj_train_data/Frame_1.JPG\n")
    (tmp_path / "obj.data").write_text("classes = 1\ntrain = data/train.txt\nnames = data/obj.names\n")
    ds = read_yolo(tmp_path)
    assert ds.images["file"].tolist() == ["obj_train_data/frame_1.jpg"] and len(ds.objects) == 1
    assert [f.code for f in ds.findings] == ["yolo.name_resolved"]


def test_yolo_path_relative_to_the_working_directory(tmp_path, monkeypatch):
    """project/cfg/pets.yaml says 'path: data/pets', run from project/ (how Ultralytics reads it)."""
    from dataprep.formats.yolo import read_yolo

    _yolo_tree(tmp_path / "data" / "pets", {"images/train/a.jpg": None, "labels/train/a.txt": "0 0.5 0.5 0.2 0.2\n"},
               "")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "pets.yaml").write_text("path: data/pets\ntrain: images/train\nnames: [cat]\n")
    monkeypatch.chdir(tmp_path)
    ds = read_yolo(tmp_path / "cfg" / "pets.yaml")
    assert ds.images["file"].tolist() == ["images/train/a.jpg"] and len(ds.objects) == 1
    assert [f.code for f in ds.findings] == ["yolo.path_from_cwd"]
