"""Concurrency and faults: an output is never lost or half-replaced (issue 14).

Two runs on one OUT, runs killed at random points, failures after the
previous output was there, disk full and unwritable folders, and a requested
split that ends up empty.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataprep.cli import main
from dataprep.errors import DataprepError
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.records import framing
from dataprep.records.output import LOCK_NAME, PARTIAL_RE, SHARD_RE, OutputError, OutputWriter
from dataprep.records.framing import read_records
from helpers import examples, manifest, run, shard_files, simple

REPO = Path(__file__).resolve().parents[1]


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def voc(root: Path, n: int) -> Path:
    from dataprep.synth import generate_shapes_voc

    generate_shapes_voc(root, n, width=96, height=72, seed=1, splits={"train": 0.8, "val": 0.2})
    return root


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from dataprep.cli import main; sys.exit(main(sys.argv[1:]))", *args]


# -- item 1: a failed run leaves the previous output as it was -----------------------

def test_overwrite_reading_its_own_label_map_keeps_working(tmp_path, capsys):
    """(issue 14 item 1) --overwrite with --label-map OUT/label_map.pbtxt reads the map before touching OUT."""
    root, out = voc(tmp_path / "voc", 12), tmp_path / "out"
    assert main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"]) == 0
    before = snapshot(out)
    code = main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q", "--overwrite",
                 "--label-map", str(out / "label_map.pbtxt")])
    assert code == 0, capsys.readouterr().err
    after = snapshot(out)
    assert after["label_map.pbtxt"] == before["label_map.pbtxt"]
    assert set(shard_files(out)) == {n for n in before if SHARD_RE.match(n)}
    assert sum(s["examples"] for s in manifest(out)["splits"].values()) == 12


def test_failure_after_reading_keeps_the_previous_output(tmp_path):
    """(issue 14 item 1) A label-map id out of the int32 range fails the run before OUT is touched."""
    out = tmp_path / "out"
    ds = simple(tmp_path, 4)
    run(ds, out)
    before = snapshot(out)
    ds.label_map = LabelMap([LabelMapItem(2**31, "cat"), LabelMapItem(1, "dog")], source="instances.json")
    with pytest.raises(DataprepError, match=r"instances.json: ids must be 1\.\.2147483647.*2147483648"):
        run(ds, out, overwrite=True)
    assert snapshot(out) == before


def test_failure_in_the_last_step_keeps_the_previous_output(tmp_path, monkeypatch):
    """(issue 14 item 1) Even a failure while publishing (the manifest cannot be written) keeps the old output."""
    out = tmp_path / "out"
    run(simple(tmp_path, 4), out)
    before = snapshot(out)
    real = Path.write_bytes

    def fail_manifest(self, data):
        if "manifest.json" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", fail_manifest)
    with pytest.raises(OutputError, match="No space left on device"):
        run(simple(tmp_path, 6), out, overwrite=True)
    assert snapshot(out) == before


# -- item 2: one run at a time ---------------------------------------------------------

def test_second_run_on_a_busy_out_is_refused(tmp_path, capsys):
    """(issue 14 item 2) A second convert on an OUT another run holds fails with a clear message."""
    root, out = voc(tmp_path / "voc", 6), tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from dataprep.label_map import LabelMap; "
         "from dataprep.records.output import OutputWriter; "
         "w = OutputWriter(sys.argv[1], LabelMap.from_names(['a'])); print('held', flush=True); time.sleep(60)",
         str(out)], stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"])
        err = capsys.readouterr().err
        assert code == 1
        assert f"{out}: another dataprep run is writing this folder (pid {holder.pid} on " in err
        assert "started 20" in err and "Traceback" not in err
        assert not (out / "manifest.json").exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # The lock dies with its holder: the next run goes ahead.
    assert main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"]) == 0
    assert not (out / LOCK_NAME).exists()


def test_concurrent_converts_never_mix_their_shards(tmp_path):
    """(issue 14 item 2) Two converts started together on one OUT: one wins, the other is refused, and the
    winner's shards match its manifest record for record."""
    root, out = voc(tmp_path / "voc", 60), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(cli("convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"), cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    if codes == [0, 0]:  # the second started after the first had finished: it found a non-empty OUT? then 2
        pytest.fail(f"both runs succeeded on one OUT: {results}")
    assert codes[0] == 0 and codes[1] in (1, 2), results
    refused = next(err for code, err in results if code != 0)
    assert "another dataprep run is writing this folder" in refused or "already exists" in refused
    m = manifest(out)
    for info in m["splits"].values():
        for s in info["shards"]:
            data = (out / s["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == s["sha256"]
            assert sum(1 for _ in read_records(out / s["file"])) == s["examples"]
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]


def test_partial_files_carry_the_run(tmp_path):
    """(issue 14 item 2) Partial file names are unique per run (pid and a random token)."""
    a = OutputWriter(tmp_path / "a", LabelMap.from_names(["x"]))
    b = OutputWriter(tmp_path / "b", LabelMap.from_names(["x"]))
    try:
        assert a.partial_path("train-00000") != b.partial_path("train-00000")
        assert f".train-00000.{os.getpid()}-" in a.partial_path("train-00000").name
        assert PARTIAL_RE.match(a.partial_path("train-00000").name)
    finally:
        a.abort()
        b.abort()


# -- item 3: stale partial files of a killed run ---------------------------------------

def test_stale_partials_are_removed_and_only_ours(tmp_path):
    """(issue 14 item 3) The next run removes a killed run's partial files, old and new names, and nothing else."""
    out = tmp_path / "out"
    out.mkdir()
    ours = [".train-00000.partial", ".val-00003.4242-0badcafe.partial", ".manifest.json.77-12345678.partial"]
    theirs = [".notes.partial", "train.partial", ".hidden"]
    for name in ours + theirs:
        (out / name).write_bytes(b"x" * 100)
    (out / ".spool-abc").mkdir()
    (out / ".spool-abc" / "00000.tfrecord").write_bytes(b"x")
    run(simple(tmp_path, 3), out, overwrite=True)  # train.partial is a visible (user) file
    left = {p.name for p in out.iterdir()}
    assert not left & set(ours) and ".spool-abc" not in left
    assert set(theirs) <= left


def test_kill_at_random_points_then_rerun(tmp_path):
    """(issue 14 item 3 and DESIGN) kill -9 at random points: never a shard that looks complete but is not,
    and the re-run cleans the partial files and writes a complete output."""
    root, out = voc(tmp_path / "voc", 400), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(14)
    args = cli("convert", "voc", str(root), "--out", str(out), "-j", "2", "-q", "--overwrite", "--num-shards", "3")
    for delay in (rng.uniform(0.0, 1.0) for _ in range(3)):
        p = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        deadline = time.monotonic() + 120
        while not (out / LOCK_NAME).exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the run has read its inputs and holds OUT: now kill it at a random point
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)  # the workers too
        p.wait()
        for name in shard_files(out):  # every final-named shard reads to its end
            sum(1 for _ in read_records(out / name))
        if (out / "manifest.json").exists():
            for info in manifest(out)["splits"].values():
                for s in info["shards"]:
                    assert hashlib.sha256((out / s["file"]).read_bytes()).hexdigest() == s["sha256"]
    assert subprocess.run(args, cwd=REPO, env=env, capture_output=True).returncode == 0
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert len(examples(out)) == 400


# -- item 7: a requested split that ends up empty ---------------------------------------

def test_empty_requested_split_is_listed_and_warned(tmp_path, capsys):
    """(issue 14 item 7) --split train=0.98,val=0.01,test=0.01 on 24 images: an empty split is kept with 0."""
    ds = simple(tmp_path, 24)
    result = run(ds, tmp_path / "out", split={"train": 0.98, "val": 0.01, "test": 0.01})
    splits = result.manifest["splits"]
    assert list(splits) == ["train", "val", "test"]
    empty = [s for s, info in splits.items() if info["examples"] == 0]
    assert empty and all(splits[s]["shards"] == [] for s in empty)
    warned = [f for f in result.report.findings if f.code == "split.empty"]
    assert sorted(f.item for f in warned) == sorted(empty)
    lines = "\n".join(result.summary_lines())
    for s in empty:
        assert f"  {s:8} 0 examples, 0 boxes in 0 shard(s)" in lines
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["by_code"]["split.empty"] == len(empty)


def test_empty_requested_split_in_dataprep_split(tmp_path):
    """(issue 14 item 7) The same for a re-split of records."""
    from dataprep.convert.resplit import resplit
    from helpers import opts

    run(simple(tmp_path, 24), tmp_path / "src", split={"train": 0.5, "val": 0.5})
    result = resplit(tmp_path / "src", opts(tmp_path / "new", split={"train": 0.98, "val": 0.01, "test": 0.01}))
    splits = result.manifest["splits"]
    empty = [s for s, info in splits.items() if info["examples"] == 0]
    assert empty and set(splits) == {"train", "val", "test"}
    assert sorted(f.item for f in result.report.findings if f.code == "split.empty") == sorted(empty)


# -- item 15: disk full, read-only OUT ----------------------------------------------------

def test_disk_full_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """(issue 14 item 15) Disk full while writing a shard: a one-line error naming the file; nothing left."""
    root, out = voc(tmp_path / "voc", 6), tmp_path / "out"

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(framing._HashingFile, "write", full)
    assert main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}/.") and ".partial: cannot write the shard (No space left on device)" in err
    assert "Traceback" not in err
    assert [p.name for p in out.iterdir()] == []


def test_unwritable_out_is_a_clear_error(tmp_path, capsys):
    """(issue 14 item 15) An OUT that cannot be created (read-only place; here: under a file) names the path."""
    root = voc(tmp_path / "voc", 3)
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "out"
    assert main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: cannot create the output folder (Not a directory)")
    assert "Traceback" not in err


def test_read_only_out_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """(issue 14 item 15) A read-only OUT (EROFS when the lock or a shard is created) names the path."""
    root, out = voc(tmp_path / "voc", 3), tmp_path / "out"
    out.mkdir()
    real_open = os.open

    def ro(path, flags, *a, **kw):
        if str(path).startswith(str(out)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", ro)
    assert main(["convert", "voc", str(root), "--out", str(out), "-j", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: cannot write the output folder (Read-only file system)")
    assert "Traceback" not in err
