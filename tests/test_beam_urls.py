"""``--runner beam`` on sources that are URLs (a VOC root, a COCO JSON, a CSV,
``--label-map``): the same output as the local run of the same files; what
the user sees of a Beam run (stage lines, no Beam log lines, ``-q``); a
remote runner's progress bar from the workers' counters."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("apache_beam")

import memfs  # noqa: E402
from apache_beam.runners.runner import PipelineState  # noqa: E402

from dataprep.beam import BeamExecutor  # noqa: E402
from dataprep.beam import executor as beam_executor  # noqa: E402
from dataprep.cli import main  # noqa: E402
from dataprep.errors import DataprepError, UsageError  # noqa: E402
from dataprep.formats import read_voc  # noqa: E402
from dataprep.formats.source import read_source  # noqa: E402
from dataprep.formats.write import write_coco, write_csv  # noqa: E402
from dataprep.label_map import LabelMap  # noqa: E402
from dataprep.records.framing import read_records  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory) -> Path:
    """A small VOC set with what the listing must get right: a split list
    naming a missing annotation, an unlisted annotation, an image found by
    its <filename> tag only, a missing and a truncated image, a malformed XML."""
    root = tmp_path_factory.mktemp("voc") / "VOC"
    generate_shapes_voc(root, 18, width=80, height=60, seed=3, splits={"train": 0.7, "val": 0.3}, negatives=0.1)
    jpegs = sorted((root / "JPEGImages").glob("*.jpg"))
    xmls = sorted((root / "Annotations").glob("*.xml"))
    jpegs[2].write_bytes(jpegs[2].read_bytes()[:150])  # undecodable
    jpegs[5].unlink()  # missing
    jpegs[8].rename(root / "JPEGImages" / "renamed.jpg")  # found by <filename> only
    xmls[8].write_text(xmls[8].read_text().replace(f"<filename>{jpegs[8].name}<", "<filename>renamed.jpg<"))
    xmls[11].write_text("<annotation><object>")  # malformed
    (root / "Annotations" / "extra.xml").write_text(xmls[0].read_text())  # in no split list
    shutil.copy(jpegs[0], root / "JPEGImages" / "extra.jpg")
    with open(root / "ImageSets" / "Main" / "val.txt", "a") as f:
        f.write("ghost\n")  # listed, no annotation
    return root


@pytest.fixture
def mem():
    memfs.FILES.clear()
    memfs.CALLS.clear()
    yield memfs
    memfs.FILES.clear()


def _convert(args: list[str], capsys) -> str:
    assert main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _records_by_split(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {split: Counter(rec for shard in info["shards"] for rec in read_records(out / shard["file"]))
            for split, info in manifest["splits"].items()}


def _findings(out: Path) -> Counter:
    report = json.loads((out / "report.json").read_text())
    return Counter((f["severity"], f["code"], f["item"], f["action"]) for f in report["findings"])


def _same_output(beam: Path, local: Path) -> dict:
    """Byte-identical records per split, label maps, manifest counts, findings; the local manifest."""
    assert _records_by_split(beam) == _records_by_split(local)
    assert (beam / "label_map.pbtxt").read_bytes() == (local / "label_map.pbtxt").read_bytes()
    assert _findings(beam) == _findings(local)
    m_local, m_beam = (json.loads((d / "manifest.json").read_text()) for d in (local, beam))
    assert m_beam["splits"] == m_local["splits"] and m_beam["counts"] == m_local["counts"]
    return m_local


@pytest.mark.parametrize("split_files", [True, False], ids=["ImageSets", "no split files"])
def test_voc_root_url_converts_as_the_local_folder(voc_root, mem, tmp_path, capsys, split_files):
    root = tmp_path / "VOC"
    shutil.copytree(voc_root, root)
    if not split_files:
        shutil.rmtree(root / "ImageSets")
    mem.upload(root, "memtest://bucket/VOC")
    local, beam = tmp_path / "local", tmp_path / "beam"
    _convert(["convert", "voc", str(root), "--out", str(local), "-q", "-j", "1"], capsys)
    mem.CALLS.clear()
    _convert(["convert", "voc", "memtest://bucket/VOC/", "--out", str(beam), "-q", "--runner", "beam"], capsys)

    m = _same_output(beam, local)
    codes = {code for _, code, _, _ in _findings(local)}
    assert {"annotation.malformed", "image.missing", "voc.filename_mismatch"} <= codes
    if split_files:
        assert {"split.unlisted", "split.missing_annotation"} <= codes and set(m["splits"]) == {"train", "val"}
    assert m["counts"]["images_skipped"] >= 3 and m["counts"]["images_written"] >= 12
    # Listings, not a request per image: only the missing image's size is asked alone.
    assert mem.CALLS["size"] == 1 and mem.CALLS["list"] < m["counts"]["images_read"] // 2

    # The same through the API (XML parsed here, without workers): the local tables.
    on_url = read_voc("memtest://bucket/VOC")
    on_disk = read_voc(root)
    assert on_url.images.drop(columns="annotation").equals(on_disk.images.drop(columns="annotation"))
    assert on_url.images_root == "memtest://bucket/VOC/JPEGImages"
    assert [(f.code, f.item) for f in on_url.findings] == [(f.code, f.item) for f in on_disk.findings]


def test_voc_url_errors_name_the_url(mem, capsys):
    mem.FILES["memtest://bucket/empty/readme.txt"] = b"x"
    assert main(["convert", "voc", "memtest://bucket/empty", "--out", "memtest://bucket/o", "--runner", "beam"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: memtest://bucket/empty: no file under Annotations/; for a VOCdevkit root add --year")
    mem.FILES["memtest://bucket/devkit/VOC2007/Annotations/a.xml"] = b"<annotation/>"
    assert main(["convert", "voc", "memtest://bucket/devkit", "--year", "2007", "--out", "memtest://bucket/o",
                 "--runner", "beam"]) == 2
    assert "memtest://bucket/devkit/VOC2007/JPEGImages: images folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["coco", "csv"])
def test_coco_csv_and_label_map_urls(voc_root, mem, tmp_path, capsys, fmt):
    src = tmp_path / "VOC"
    shutil.copytree(voc_root, src)
    for xml in (src / "Annotations").glob("*.xml"):
        if xml.read_text() == "<annotation><object>":
            xml.unlink()  # malformed: it has no size to write in COCO or CSV
    ds = read_voc(src)
    ann = write_coco(ds, tmp_path / "instances.json") if fmt == "coco" else write_csv(ds, tmp_path / "labels.csv")
    label_map = tmp_path / "label_map.pbtxt"  # ids not in name order, and a class with no box
    label_map.write_text(LabelMap.from_names(["triangle", "square", "circle", "hexagon"]).to_pbtxt())
    mem.upload(voc_root / "JPEGImages", "memtest://bucket/images")
    mem.FILES[f"memtest://bucket/{ann.name}"] = ann.read_bytes()
    mem.FILES["memtest://bucket/label_map.pbtxt"] = label_map.read_bytes()
    local, beam = tmp_path / "local", tmp_path / "beam"
    common = ["-q", "--split", "train=0.7,val=0.3"]
    _convert(["convert", fmt, str(ann), "--images", str(voc_root / "JPEGImages"), "--label-map", str(label_map),
              "--out", str(local), "-j", "1", *common], capsys)
    _convert(["convert", fmt, f"memtest://bucket/{ann.name}", "--images", "memtest://bucket/images",
              "--label-map", "memtest://bucket/label_map.pbtxt", "--out", "memtest://bucket/out", "--runner", "beam",
              *common], capsys)
    mem.download("memtest://bucket/out", beam)

    m = _same_output(beam, local)
    assert (beam / "label_map.pbtxt").read_bytes() == label_map.read_bytes()  # the user's file, as it is
    assert m["counts"]["images_written"] >= 12 and m["label_map_origin"] == str(label_map)
    m_beam = json.loads((beam / "manifest.json").read_text())
    assert m_beam["label_map_origin"] == m_beam["options"]["label_map"] == "memtest://bucket/label_map.pbtxt"
    assert m_beam["split"] == m["split"]


def test_url_sources_refused_where_they_cannot_be_read(tmp_path, mem, capsys):
    out = str(tmp_path / "out")
    for cmd in (["convert", "yolo", "memtest://bucket/yolo"], ["convert", "tfrecord", "memtest://bucket/r-*.tfrecord"]):
        for runner in ("beam", "local"):
            assert main(cmd + ["--out", out, "--runner", runner]) == 2
            err = capsys.readouterr().err
            assert err.splitlines() == [f"error: {cmd[2]}: {cmd[1]} sources are read from local disk only; URLs "
                                        "work for voc, coco, csv with --runner beam"]
    # The local runner refuses any URL before reading anything.
    assert main(["convert", "coco", "memtest://bucket/a.json", "--images", str(tmp_path), "--out", out]) == 2
    assert "memtest://bucket/a.json: URLs are read and written through Apache Beam's file systems: add --runner beam" \
        in capsys.readouterr().err
    assert main(["convert", "voc", str(tmp_path), "--label-map", "memtest://bucket/lm.pbtxt", "--out", out]) == 2
    assert "memtest://bucket/lm.pbtxt: URLs are read" in capsys.readouterr().err
    with pytest.raises(UsageError, match="memtest://bucket/a.json: the format of a URL source is not detected"):
        read_source("memtest://bucket/a.json")
    with pytest.raises(UsageError, match="memtest://bucket/y: yolo sources are read from local disk only"):
        read_source("memtest://bucket/y", format="yolo")
    # A misspelt Beam option is an error, not a warning Beam logs and forgets.
    assert main(["convert", "voc", str(tmp_path), "--out", out, "--runner", "beam",
                 "--beam-option", "temp_locaton=gs://b/t"]) == 2
    assert "Beam does not know the pipeline option(s) --temp_locaton" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- what the user sees ---------------------------------------------------------------

def _cli(args: list[str]) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        import sys
        from dataprep.cli import main
        sys.exit(main({args!r}))
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_beam_run_shows_dataprep_lines_only(voc_root, tmp_path, capsys):
    """-q: the local -q run's stdout and nothing on stderr; without -q, a line
    per stage; Beam's log lines (this option makes it warn) only with --debug."""
    warns = ["--beam-option", "direct_num_workers=2"]
    assert main(["convert", "voc", str(voc_root), "--out", str(tmp_path / "local"), "-q", "-j", "1"]) == 0
    local = capsys.readouterr()
    quiet = _cli(["convert", "voc", str(voc_root), "--out", str(tmp_path / "q"), "-q", "--runner", "beam", *warns])
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == local.err == ""

    def same(text: str) -> str:
        return re.sub(r"Wrote \S+|time .*", "", text)

    assert same(quiet.stdout) == same(local.out) and "images   " in quiet.stdout

    loud = _cli(["convert", "voc", str(voc_root), "--out", str(tmp_path / "l"), "--runner", "beam", *warns])
    assert loud.returncode == 0, loud.stderr
    stages = [line.split(":")[1].strip() for line in loud.stderr.splitlines()]
    assert stages == ["listing", "parse pass", "annotations read and checked", "check pass", "layout", "encode pass",
                      "publish"], loud.stderr
    assert re.search(r"beam: check pass: 19 images checked in 1 worker process, \d+ pass \(\d+\.\d s\)", loud.stderr)

    # --debug: Beam's own lines (in this process: the logging state is restored afterwards).
    root, beam_logger = logging.getLogger(), logging.getLogger("apache_beam")
    before = (list(root.handlers), root.level, list(beam_logger.handlers), beam_logger.level, beam_logger.propagate)
    assert main(["--debug", "convert", "voc", str(voc_root), "--out", str(tmp_path / "d"), "-q", "--runner", "beam",
                 *warns]) == 0
    err = capsys.readouterr().err
    assert "beam WARNING apache_beam.runners.portability.fn_api_runner" in err and "direct_num_workers" in err
    assert (list(root.handlers), root.level, list(beam_logger.handlers), beam_logger.level,
            beam_logger.propagate) == before


class _RemoteJob:
    """A job on a runner whose run() returns at once: states in turn, counters growing."""

    def __init__(self, states: list[str], counts: list[int]):
        self.states, self.counts, self.cancelled = list(states), list(counts), False

    @property
    def state(self):
        return self.states[0]

    def metrics(self):
        job = self

        class Result:
            def query(self, flt):
                if len(job.states) > 1:  # one look per poll: the job moves on
                    job.states.pop(0)
                n = job.counts.pop(0) if len(job.counts) > 1 else job.counts[0]
                return {"counters": [type("C", (), {"attempted": n, "committed": None})()]}

        return Result()

    def wait_until_finish(self):
        return self.states[-1]

    def cancel(self):
        self.cancelled = True


def test_remote_runner_progress_bar(monkeypatch, capsys):
    monkeypatch.setattr(beam_executor, "POLL_SECONDS", 0)
    ex = BeamExecutor(progress=True)
    ex._wait(_RemoteJob([PipelineState.RUNNING] * 3 + [PipelineState.DONE], [0, 40, 90, 100]), 100,
             beam_executor.CHECKED, "check", "img")
    err = capsys.readouterr().err
    assert "check: 100%" in err and "100/100" in err
    with pytest.raises(DataprepError, match="the Beam encode pipeline ended FAILED, not DONE"):
        ex._wait(_RemoteJob([PipelineState.RUNNING, PipelineState.FAILED], [5]), 100, beam_executor.ENCODED,
                 "encode", "img")
    job = _RemoteJob([PipelineState.RUNNING] * 5, [1])
    monkeypatch.setattr(beam_executor.time, "sleep", lambda s: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ex._wait(job, 100, beam_executor.CHECKED, "check", "img")
    assert job.cancelled  # Ctrl-C leaves no job running on the cluster


def test_workers_count_what_they_did(voc_root):
    """The counters the bar polls are the workers': one per annotation parsed."""
    import apache_beam as beam

    from dataprep.formats import voc

    paths = [str(p) for p in sorted((voc_root / "Annotations").glob("*.xml"))][:5]
    p = beam.Pipeline(runner="FnApiRunner")
    _ = p | beam.Create(list(enumerate(paths))) | beam.Map(beam_executor._parse_xml, voc.parse_file)
    result = p.run()
    result.wait_until_finish()
    assert beam_executor._counter(result, beam_executor.PARSED) == 5
