"""Commands that read local files only refuse a URL by name, with exit 2 and
no traceback, instead of folding ``gs://`` into a misleading "no such file"."""

from __future__ import annotations

import pytest

from dataprep.cli import main


@pytest.mark.parametrize("args, name", [
    (["validate", "gs://bucket/voc"], "SRC gs://bucket/voc"),
    (["stats", "gs://bucket/voc", "--anchors"], "SRC gs://bucket/voc"),
    (["split", "s3://bucket/records", "--out", "{tmp}/new", "--split", "train=0.8,val=0.2"],
     "SRC s3://bucket/records"),
    (["inspect", "gs://bucket/records"], "OUT gs://bucket/records"),
    (["export-annotations", "gs://bucket/records", "--format", "coco", "--out", "{tmp}/ann"],
     "RECORDS gs://bucket/records"),
    (["train", "--records", "gs://bucket/records", "--out", "{tmp}/run"], "--records gs://bucket/records"),
    (["evaluate", "{tmp}/run", "--records", "hdfs://nn/records"], "--records hdfs://nn/records"),
])
def test_local_only_commands_refuse_urls_by_name(args, name, tmp_path, capsys):
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{name}: this command reads local files only" in err and "--runner beam" in err
    assert "Traceback" not in err
    assert not (tmp_path / "new").exists() and not (tmp_path / "run").exists()
