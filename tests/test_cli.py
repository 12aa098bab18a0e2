"""The command line via dataprep.cli.main: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import distinct_jpeg, make_jpeg
from dataprep import __version__
from dataprep.cli import main
from dataprep.errors import UsageError


def voc_dataset(root: Path, n: int = 3, *, bad_box: bool = False) -> Path:
    """``n`` images with one box each; with ``bad_box`` image 1 also has a box
    entirely outside the image (an error finding, box dropped)."""
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for k in range(n):
        (root / "JPEGImages" / f"{k}.jpg").write_bytes(distinct_jpeg(k, (64, 48)))
        boxes = [("cat" if k % 2 else "dog", 5, 5, 30, 20)]
        if bad_box and k == 1:
            boxes.append(("cat", 100, 5, 200, 20))
        objects = "".join(
            f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
            f"<ymax>{y1}</ymax></bndbox></object>" for name, x0, y0, x1, y1 in boxes)
        xml = (f"<annotation><filename>{k}.jpg</filename><size><width>64</width><height>48</height></size>"
               f"{objects}</annotation>")
        (root / "Annotations" / f"{k}.xml").write_text(xml, encoding="utf-8")
    return root


def convert_voc(root: Path, out: Path, *extra: str) -> int:
    return main(["convert", "voc", str(root), "--out", str(out), "--workers", "1", "--quiet", *extra])


def test_convert_voc_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert convert_voc(voc_dataset(tmp_path / "voc"), out) == 0
    stdout = capsys.readouterr().out
    assert f"Wrote {out}" in stdout
    assert "3 read, 3 written, 0 skipped" in stdout
    assert "images/s" in stdout
    assert "No findings" in stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["splits"]["train"]["examples"] == 3
    assert manifest["options"]["workers"] == 1


def test_existing_out_is_a_usage_error_without_traceback(tmp_path, capsys):
    root = voc_dataset(tmp_path / "voc")
    out = tmp_path / "out"
    assert convert_voc(root, out) == 0
    capsys.readouterr()
    assert convert_voc(root, out) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "--overwrite" in lines[0] and str(out) in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert convert_voc(root, out, "--overwrite") == 0


def test_debug_shows_the_exception(tmp_path):
    root = voc_dataset(tmp_path / "voc")
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(UsageError):
        main(["--debug", "convert", "voc", str(root), "--out", str(out), "--quiet"])


def test_strict_with_an_error_finding_exits_1(tmp_path, capsys):
    root = voc_dataset(tmp_path / "voc", bad_box=True)
    assert convert_voc(root, tmp_path / "lenient") == 0
    lenient = capsys.readouterr().out
    assert "box.outside" in lenient  # the findings table is printed either way
    assert convert_voc(root, tmp_path / "strict", "--strict") == 1
    assert "box.outside" in capsys.readouterr().out
    # --strict reports after the full run: the output is still complete.
    assert (tmp_path / "strict" / "manifest.json").is_file()


def test_strict_without_errors_exits_0(tmp_path):
    assert convert_voc(voc_dataset(tmp_path / "voc"), tmp_path / "out", "--strict") == 0


def test_on_error_fail_exits_1_with_the_finding(tmp_path, capsys):
    root = voc_dataset(tmp_path / "voc", bad_box=True)
    assert convert_voc(root, tmp_path / "out", "--on-error", "fail") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "box.outside" in err and "Traceback" not in err


def test_bad_option_value_is_exit_2(tmp_path, capsys):
    root = voc_dataset(tmp_path / "voc")
    assert convert_voc(root, tmp_path / "out", "--on-error", "explode") == 2
    assert "error: --on-error must be fix, skip or fail" in capsys.readouterr().err
    assert convert_voc(root, tmp_path / "out2", "--compression", "lz4") == 2


def test_missing_required_option_is_exit_2(tmp_path, capsys):
    assert main(["convert", "voc", str(voc_dataset(tmp_path / "voc"))]) == 2
    assert "--out" in capsys.readouterr().err


def test_vocdevkit_without_year_is_exit_2(tmp_path, capsys):
    voc_dataset(tmp_path / "VOCdevkit" / "VOC2007")
    assert convert_voc(tmp_path / "VOCdevkit", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "VOC2007" in err and "--year" in err
    assert convert_voc(tmp_path / "VOCdevkit", tmp_path / "out2", "--year", "2007") == 0


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dataprep {__version__}"


def test_convert_csv_with_columns_and_gzip(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.jpg", "b.jpg"):
        images.joinpath(name).write_bytes(make_jpeg(64, 48))
    csv = tmp_path / "cells.csv"
    csv.write_text("filename,cell_type,xmin,xmax,ymin,ymax\na.jpg,RBC,8,24,12,36\nb.jpg,WBC,0,32,0,24\n",
                   encoding="utf-8")
    out = tmp_path / "out"
    code = main(["convert", "csv", str(csv), "--images", str(images), "--out", str(out), "--columns",
                 "class=cell_type", "--compression", "gzip", "--num-shards", "2", "-j", "1", "-q"])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["compression"] == "GZIP"
    assert [s["file"] for s in manifest["splits"]["train"]["shards"]] == [
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    assert (out / "train-00000-of-00002.tfrecord").read_bytes()[:2] == b"\x1f\x8b"
    capsys.readouterr()
    assert main(["inspect", str(out), "--previews", "0", "-q"]) == 0


def test_convert_coco(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    images.joinpath("a.jpg").write_bytes(make_jpeg(64, 48))
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({
        "images": [{"id": 42, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 42, "category_id": 18, "bbox": [1, 2, 10, 20], "iscrowd": 0}],
        "categories": [{"id": 18, "name": "dog"}]}), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["convert", "coco", str(ann), "--images", str(images), "--out", str(out), "-j", "1", "-q"]) == 0
    assert 'id: 18' in (out / "label_map.pbtxt").read_text(encoding="utf-8")
    ann.write_text('{"images": [', encoding="utf-8")
    capsys.readouterr()
    assert main(["convert", "coco", str(ann), "--images", str(images), "--out", str(tmp_path / "o2"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(ann) in err and "line 1" in err


def test_inspect_good_output_then_a_corrupt_byte(tmp_path, capsys):
    out = tmp_path / "out"
    assert convert_voc(voc_dataset(tmp_path / "voc", n=4), out) == 0
    capsys.readouterr()
    preview_dir = tmp_path / "previews"
    assert main(["inspect", str(out), "--previews", "2", "--preview-dir", str(preview_dir), "-q"]) == 0
    stdout = capsys.readouterr().out
    assert "4 examples, 4 boxes checked; 0 problem(s)" in stdout
    assert len(list(preview_dir.glob("*.png"))) == 2

    shard = out / "train-00000-of-00001.tfrecord"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert main(["inspect", str(out), "--previews", "0", "-q"]) == 1
    stdout = capsys.readouterr().out
    assert "sha256" in stdout and "differs from the manifest" in stdout
    assert "CRC mismatch" in stdout
    assert "0 problem(s)" not in stdout


def test_verify_is_an_alias_and_a_missing_manifest_is_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["verify", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no manifest.json" in err


def test_convert_path_never_imports_tensorflow(tmp_path):
    root = voc_dataset(tmp_path / "voc", n=2)
    code = textwrap.dedent(f"""
        import sys
        import dataprep.cli, dataprep.formats, dataprep.convert
        assert 'tensorflow' not in sys.modules, 'imported on import'
        rc = dataprep.cli.main(['convert', 'voc', {str(root)!r}, '--out', {str(tmp_path / 'out')!r}, '-j', '1', '-q'])
        assert rc == 0, rc
        rc = dataprep.cli.main(['inspect', {str(tmp_path / 'out')!r}, '--previews', '0', '-q'])
        assert rc == 0, rc
        assert 'tensorflow' not in sys.modules, 'imported by convert or inspect'
        assert 'apache_beam' not in sys.modules, 'Beam imported without --runner beam'
        print('ok')
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
