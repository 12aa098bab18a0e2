"""The YOLO and TFRecord sources, ``export-annotations`` and ``inspect`` of
foreign records, through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import distinct_jpeg
from dataprep.cli import main
from test_tfrecord_source import BOX, foreign_example, write_shard
from test_yolo import make_yolo


@pytest.fixture
def foreign(tmp_path) -> Path:
    d = tmp_path / "rec"
    d.mkdir()
    write_shard(d / "train.record", [
        foreign_example(distinct_jpeg(k), filename=f"{k}.jpg", boxes=BOX, texts=["cat" if k else "dog"],
                        labels=[0 if k else 1]) for k in range(3)])
    data = (d / "train.record").read_bytes()
    (d / "train.record").write_bytes(data[:-10])  # the last record cut short
    return d


def test_convert_tfrecord_reports_repairs_and_balances(foreign, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["convert", "tfrecord", str(foreign / "*.record"), "--out", str(out), "-j", "1", "-q"]) == 0
    text = capsys.readouterr().out
    assert "label.zero_id" in text and "record.corrupt" in text and "record.sha256_missing" in text
    assert "images   3 read, 2 written, 1 skipped" in text
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["images_read"] == 3
    assert (out / "label_map.pbtxt").read_text().count("item") == 2


def test_disagreeing_labels_are_a_clear_error(tmp_path, capsys):
    write_shard(tmp_path / "a.tfrecord", [
        foreign_example(distinct_jpeg(0), filename="a.jpg", boxes=BOX, texts=["cat"], labels=[1]),
        foreign_example(distinct_jpeg(1), filename="b.jpg", boxes=BOX, texts=["dog"], labels=[1])])
    assert main(["convert", "tfrecord", str(tmp_path / "a.tfrecord"), "--out", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "class/text and class/label disagree: label 1 has several texts" in err and "--label-map" in err
    assert "Traceback" not in err
    lm = tmp_path / "lm.pbtxt"
    lm.write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    assert main(["convert", "tfrecord", str(tmp_path / "a.tfrecord"), "--out", str(tmp_path / "o"), "-q", "-j", "1",
                 "--label-map", str(lm)]) == 0
    assert "record.label_mismatch" in capsys.readouterr().out


def test_convert_yolo_then_export_every_format(tmp_path, capsys):
    make_yolo(tmp_path / "y", {"train/a": "1 0.5 0.5 0.25 0.5\n", "val/b": "0 0.25 0.25 0.1 0.1\n"})
    out = tmp_path / "out"
    assert main(["convert", "yolo", str(tmp_path / "y"), "--out", str(out), "-j", "1", "-q"]) == 0
    assert "images   2 read, 2 written, 0 skipped" in capsys.readouterr().out
    for fmt in ("coco", "voc", "yolo"):
        assert main(["export-annotations", str(out), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        assert f"({fmt}): 2 images, 2 boxes" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "coco" / "annotations").iterdir()) == ["instances_train.json",
                                                                                   "instances_val.json"]
    assert (tmp_path / "voc" / "ImageSets" / "Main" / "val.txt").read_text() == "b\n"
    assert (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text() == "1 0.5 0.5 0.25 0.5\n"
    assert not (tmp_path / "yolo" / ".staging").exists()
    # An existing output is not overwritten without --overwrite; an unknown format is a usage error.
    assert main(["export-annotations", str(out), "--format", "voc", "--out", str(tmp_path / "voc")]) == 2
    assert main(["export-annotations", str(out), "--format", "kitti", "--out", str(tmp_path / "k")]) == 2
    assert "--format must be one of coco, voc, yolo" in capsys.readouterr().err


def test_inspect_foreign_records_shows_the_decoder_view(tmp_path, capsys):
    write_shard(tmp_path / "a.tfrecord", [
        foreign_example(distinct_jpeg(0), filename="a.jpg", boxes=BOX * 3, texts=["cat", "bird", "dog"],
                        labels=[1, 7, 2], sha256=True, source_id="1")])
    lm = tmp_path / "lm.pbtxt"
    lm.write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'n02' display_name: 'dog' }\n")
    assert main(["inspect", str(tmp_path / "a.tfrecord"), "--label-map", str(lm), "--previews", "1",
                 "--preview-dir", str(tmp_path / "p"), "-q"]) == 1
    text = capsys.readouterr().out
    assert "TF OD API decoder view (class id: boxes): -1: 1, 1: 1, 2: 1" in text
    assert "decoder reads -1 for class/text not in the label map: 'bird' (1 boxes)" in text
    assert "reads classes [1, -1, 2] from class/text but class/label is [1, 7, 2]" in text
    assert len(list((tmp_path / "p").glob("*.png"))) == 1
    # Without a label map the decoder reads class/label.
    assert main(["inspect", str(tmp_path / "a.tfrecord"), "--previews", "0", "-q"]) == 0, capsys.readouterr().out
    assert "1: 1, 2: 1, 7: 1" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["convert"], ["validate"], ["stats"], ["split"]])
def test_help_lists_the_new_sources(command, capsys):
    assert main([*command, "--help"]) == 0
    help_text = capsys.readouterr().out.lower()
    assert "yolo" in help_text and "tfrecord" in help_text


def test_new_readers_do_not_import_tensorflow(foreign, tmp_path):
    code = (f"import sys; from dataprep.cli import main; "
            f"rc = main(['convert', 'tfrecord', {str(foreign)!r}, '--out', {str(tmp_path / 'o')!r}, '-q', '-j', '1']); "
            f"rc2 = main(['export-annotations', {str(tmp_path / 'o')!r}, '--format', 'yolo', '--out', "
            f"{str(tmp_path / 'y')!r}]); "
            f"rc3 = main(['convert', 'yolo', {str(tmp_path / 'y')!r}, '--out', {str(tmp_path / 'o2')!r}, '-q', '-j', '1']); "
            "assert (rc, rc2, rc3) == (0, 0, 0), (rc, rc2, rc3); "
            "assert 'tensorflow' not in sys.modules, 'imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_validate_stats_split_accept_yolo_and_foreign_records(foreign, tmp_path, capsys):
    make_yolo(tmp_path / "y", {"train/a": "1 0.5 0.5 0.25 0.5\n", "train/b": "0 0.25 0.25 0.1 0.1\n",
                               "val/c": "0 0.5 0.5 0.2 0.2\n"})
    assert main(["validate", str(tmp_path / "y"), "-q", "-j", "1"]) == 0  # detected: data.yaml
    assert "images   3 read, 3 would be written" in capsys.readouterr().out
    assert main(["validate", str(foreign / "*.record"), "-q", "-j", "1"]) == 0  # detected: a glob of records
    text = capsys.readouterr().out
    assert "record.corrupt" in text and "images   3 read, 2 would be written, 1 skipped" in text
    assert main(["stats", str(tmp_path / "y")]) == 0
    assert "3 images (train 2, val 1), 3 boxes, 2 classes" in capsys.readouterr().out
    assert main(["split", str(foreign), "--out", str(tmp_path / "s"), "--split", "train=0.5,val=0.5", "-q",
                 "-j", "1"]) == 0
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["source"]["format"] == "tfrecord" and manifest["counts"]["images_written"] == 2


def test_the_registry_detects_the_new_sources(foreign, tmp_path):
    from dataprep.formats.registry import detect_format

    make_yolo(tmp_path / "y", {"train/a": ""})
    assert detect_format(tmp_path / "y") == "yolo"
    assert detect_format(tmp_path / "y" / "data.yaml") == "yolo"
    assert detect_format(foreign) == "tfrecord"
    assert detect_format(foreign / "train.record") == "tfrecord"
    assert detect_format(str(foreign / "*.record")) == "tfrecord"
