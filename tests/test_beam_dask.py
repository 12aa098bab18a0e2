"""``--runner beam --beam-option runner=DaskRunner``: the conversion on Beam's
Dask runner, on a ``dask.distributed`` cluster of two worker processes, writes
byte for byte what the local run writes.

One conversion (a cluster start, two pipelines): the CI budget. Needs the
``dask`` extra (``pip install -e ".[test,beam,dask]"``, as .ci/run does).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("apache_beam")
pytest.importorskip("distributed")

from dataprep.cli import main  # noqa: E402
from dataprep.formats import read_voc  # noqa: E402
from dataprep.formats.write import write_coco  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402


def test_dask_runner_on_two_worker_processes_writes_the_local_runs_bytes(tmp_path, capsys):
    src = tmp_path / "src"
    generate_shapes_voc(src, 16, width=64, height=48, seed=7, splits={"train": 0.75, "val": 0.25}, negatives=0.1)
    jpegs = sorted((src / "JPEGImages").glob("*.jpg"))
    jpegs[2].write_bytes(jpegs[2].read_bytes()[:150])  # undecodable: a skip and a finding from a worker
    coco = write_coco(read_voc(src), src / "instances.json")
    common = ["convert", "coco", str(coco), "--images", str(src / "JPEGImages"), "--num-shards", "2",
              "--split", "train=0.7,val=0.3"]

    assert main([*common, "--out", str(tmp_path / "local"), "--workers", "1", "-q"]) in (0, None)
    capsys.readouterr()
    code = main([*common, "--out", str(tmp_path / "dask"), "--runner", "beam", "--beam-option", "runner=DaskRunner",
                 "--beam-option", "dask_local_workers=2"])
    err = capsys.readouterr().err
    assert code in (0, None), err

    local, dask = tmp_path / "local", tmp_path / "dask"
    names = sorted(p.name for p in local.iterdir())
    assert sorted(p.name for p in dask.iterdir()) == names  # no temp folder left behind
    assert sum(n.endswith(".tfrecord") for n in names) == 4  # train and val, 2 shards each
    for name in names:
        if name != "manifest.json":  # shards, label map, report.json
            assert (dask / name).read_bytes() == (local / name).read_bytes(), name
    m_local, m_dask = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (local, dask))
    o_local, o_dask = m_local.pop("options"), m_dask.pop("options")
    assert m_dask == m_local  # splits, shards (bytes, sha256), counts, source
    assert {k for k in o_local.keys() | o_dask.keys() if o_local.get(k) != o_dask.get(k)} <= {"out", "workers"}
    assert "WARNING" not in err and "Traceback" not in err, err  # Beam's and Dask's log lines stay quiet
    # The work ran on the cluster's two worker processes, not in this one.
    assert "check pass: 16 images checked in 2 worker processes" in err, err
    assert "by 2 worker processes" in err or "by 1 worker process" in err, err


def test_dask_options_are_checked_and_a_given_cluster_is_used_as_it_is():
    from dataprep.beam import BeamExecutor, pipeline_options
    from dataprep.beam.dask_cluster import DaskCluster
    from dataprep.errors import UsageError

    with pytest.raises(UsageError, match="--dask_local_workrs"):  # a misspelt option is an error, not ignored
        BeamExecutor(["--runner=DaskRunner", "--dask_local_workrs=2"])
    remote = DaskCluster(["--runner=DaskRunner", "--dask_client_address=tcp://127.0.0.1:8786"])
    assert remote.flags() == ["--dask_partition_size=1"]  # no local cluster started; one partition per chunk
    assert DaskCluster(["--runner=DaskRunner", "--dask_scheduler_file=s.json", "--dask_npartitions=8"]).flags() == []
    runner, options = pipeline_options(["--runner=DaskRunner", "--dask_client_address=tcp://127.0.0.1:8786"])
    assert type(runner).__name__ == "DaskRunner"
    assert options.get_all_options()["address"] == "tcp://127.0.0.1:8786"  # Beam's DaskOptions: Client(address=)
