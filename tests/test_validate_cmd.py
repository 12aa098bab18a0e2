"""`dataprep validate SRC`: the convert checks, nothing written, any source."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dataprep.cli import main
from dataprep.errors import UsageError
from dataprep.formats.source import detect_format, read_source
from dataprep.formats.write import write_coco, write_csv
from dataprep.synth import generate_shapes_voc


@pytest.fixture
def voc(tmp_path):
    root = tmp_path / "voc"
    generate_shapes_voc(root, 6, width=64, height=48, seed=11, splits=None)
    # one corrupt image: half its bytes
    jpg = sorted((root / "JPEGImages").glob("*.jpg"))[2]
    jpg.write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    return root


def test_detect_format(tmp_path, voc):
    assert detect_format(voc) == "voc"
    assert detect_format(tmp_path / "a.json") == "coco"
    assert detect_format(tmp_path / "a.csv") == "csv"
    with pytest.raises(UsageError, match="without Annotations"):
        detect_format(tmp_path)
    with pytest.raises(UsageError, match="needs --images"):
        read_source(tmp_path / "a.json")


def test_validate_reports_and_writes_nothing(tmp_path, voc, capsys):
    report = tmp_path / "report.json"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["validate", str(voc), "-q", "--workers", "1", "--report", str(report)]) == 0
    text = capsys.readouterr().out
    assert "image.undecodable" in text
    assert "6 read, 5 would be written, 1 skipped" in text
    data = json.loads(report.read_text())
    assert data["by_code"]["image.undecodable"] == 1
    assert data["counts"]["images_read"] == data["counts"]["images_written"] + data["counts"]["images_skipped"]
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert set(after) - set(before) == {"report.json"}  # no records, no manifest
    assert main(["validate", str(voc), "-q", "--workers", "1", "--strict"]) == 1


def test_validate_every_source_format_agrees(voc, capsys):
    ds = read_source(voc)
    coco = write_coco(ds, voc / "instances.json")
    csv = write_csv(ds, voc / "labels.csv")
    outs = []
    for args in ([str(voc)], [str(coco), "--images", str(voc / "JPEGImages")],
                 [str(csv), "--images", str(voc / "JPEGImages")]):
        assert main(["validate", *args, "-q", "--workers", "1"]) == 0
        outs.append([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(("images", "boxes"))])
    assert outs[0] == outs[1] == outs[2]


def test_validate_does_not_import_tensorflow(voc):
    code = ("import sys; from dataprep.cli import main; rc = main(['validate', %r, '-q']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; sys.exit(rc)" % str(voc))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
