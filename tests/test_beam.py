"""``--runner beam``: the same outputs as the local run, on Beam's in-process
runner; a failed pipeline leaves nothing that looks complete."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

beam = pytest.importorskip("apache_beam")

from dataprep.beam import BeamExecutor  # noqa: E402
from dataprep.beam.options import pipeline_flags, pipeline_options  # noqa: E402
from dataprep.cli import main  # noqa: E402
from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.errors import UsageError  # noqa: E402
from dataprep.formats import read_coco, read_csv, read_voc  # noqa: E402
from dataprep.formats import voc  # noqa: E402
from dataprep.formats.write import write_coco, write_csv  # noqa: E402
from dataprep.records.framing import read_records  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402

MODES = {
    "source splits": {"num_shards": 3},
    "split+rebalance": {"split": "train=0.7,val=0.3", "group_by": r"_0000(\d)", "rebalance": "images",
                        "repeat_threshold": 1.0},
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """One small VOC set with bad images and boxes (findings, skips, drops), and
    the same set as COCO and CSV."""
    root = tmp_path_factory.mktemp("src")
    generate_shapes_voc(root, 24, width=96, height=72, seed=5, splits={"train": 0.75, "val": 0.25}, negatives=0.15)
    jpegs = sorted((root / "JPEGImages").glob("*.jpg"))
    jpegs[3].write_bytes(jpegs[3].read_bytes()[:200])  # truncated: undecodable, skipped
    jpegs[7].unlink()  # missing, skipped
    xml = sorted((root / "Annotations").glob("*.xml"))[10]
    text = xml.read_text()
    xml.write_text(text.replace("<xmax>", "<xmax>9", 1))  # a box past the border: clipped
    ds = read_voc(root)
    return {
        "voc": lambda: read_voc(root),
        "coco": lambda: read_coco(write_coco(ds, root / "instances.json"), images=root / "JPEGImages"),
        "csv": lambda: read_csv(write_csv(ds, root / "labels.csv"), images=root / "JPEGImages"),
    }


def _run(read, out, executor=None, **kw):
    result = convert(read(), ConvertOptions(out=out, workers=1, progress=False, **kw), executor=executor)
    result.report.counts.check()
    return result


def _records_by_split(out) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {split: Counter(rec for shard in info["shards"] for rec in read_records(out / shard["file"]))
            for split, info in manifest["splits"].items()}


def _findings(out) -> Counter:
    report = json.loads((out / "report.json").read_text())
    return Counter((f["severity"], f["code"], f["item"], f["action"]) for f in report["findings"])


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("fmt", ["voc", "coco", "csv"])
def test_beam_writes_what_the_local_run_writes(sources, tmp_path, fmt, mode):
    local = _run(sources[fmt], tmp_path / "local", **MODES[mode])
    on_beam = _run(sources[fmt], tmp_path / "beam", executor=BeamExecutor(), **MODES[mode])

    counts = local.report.counts
    assert counts.images_skipped >= 2 and counts.images_written > 10  # the bad images are in the comparison
    assert on_beam.report.counts == counts
    by_split = _records_by_split(tmp_path / "local")
    assert sum(sum(c.values()) for c in by_split.values()) >= counts.images_written
    assert _records_by_split(tmp_path / "beam") == by_split  # byte-identical records, per split
    assert (tmp_path / "beam" / "label_map.pbtxt").read_bytes() == (tmp_path / "local" / "label_map.pbtxt").read_bytes()
    assert _findings(tmp_path / "beam") == _findings(tmp_path / "local")
    assert any(code == "box.clipped" for _, code, _, _ in _findings(tmp_path / "beam"))
    m_local = json.loads((tmp_path / "local" / "manifest.json").read_text())
    m_beam = json.loads((tmp_path / "beam" / "manifest.json").read_text())
    assert m_beam["splits"] == m_local["splits"]  # shard names, counts, bytes, sha256, per-class counts
    assert m_beam["counts"] == m_local["counts"]
    if mode != "source splits":
        assert m_beam["split"] == m_local["split"]
        assert m_beam["rebalance"] == m_local["rebalance"]
        assert sum(sum(c.values()) for c in by_split.values()) > counts.images_written  # repeats were written
    # Nothing but the outputs: the temp folder is gone.
    assert sorted(p.name for p in (tmp_path / "beam").iterdir()) == sorted(p.name for p in (tmp_path / "local").iterdir())


def test_gzip_shards_are_the_local_runs(sources, tmp_path):
    _run(sources["voc"], tmp_path / "local", num_shards=2, compression="gzip")
    _run(sources["voc"], tmp_path / "beam", executor=BeamExecutor(), num_shards=2, compression="gzip")
    m_local, m_beam = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("local", "beam"))
    assert m_beam["compression"] == "GZIP" and m_beam["splits"] == m_local["splits"]  # gzip bytes, sha256 alike
    assert (tmp_path / "beam" / m_beam["splits"]["train"]["shards"][0]["file"]).read_bytes()[:2] == b"\x1f\x8b"


def test_a_pipeline_failing_in_the_encode_step_leaves_no_output(sources, tmp_path, monkeypatch):
    import dataprep.convert.work as convert_mod

    real = convert_mod.process_image

    def boom(job, pos):
        if job.encode and job.files[pos].endswith("00012.jpg"):
            raise RuntimeError("injected failure in the encode step")
        return real(job, pos)

    monkeypatch.setattr(convert_mod, "process_image", boom)
    out = tmp_path / "out"
    with pytest.raises(Exception, match="injected failure"):
        _run(sources["voc"], out, executor=BeamExecutor(), num_shards=2)
    assert list(out.iterdir()) == []  # no shard, no manifest, no temp folder

    # Over a previous output (--overwrite): it stays whole.
    monkeypatch.setattr(convert_mod, "process_image", real)
    _run(sources["voc"], out, num_shards=2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(convert_mod, "process_image", boom)
    with pytest.raises(Exception, match="injected failure"):
        _run(sources["voc"], out, executor=BeamExecutor(), num_shards=2, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_pipeline_options():
    assert pipeline_flags(["runner=DataflowRunner", "--project=p"], "--region=r --temp_location=gs://b/t") == [
        "--region=r", "--temp_location=gs://b/t", "--runner=DataflowRunner", "--project=p"]
    with pytest.raises(UsageError, match="KEY=VALUE.*'project'"):
        pipeline_flags(["project"])
    runner, _ = pipeline_options([])
    assert type(runner).__name__ == "FnApiRunner"  # in-process: no Prism download
    runner, _ = pipeline_options(["--runner=DirectRunner"])
    assert type(runner).__name__ == "FnApiRunner"
    runner, opts = pipeline_options(["--runner=DataflowRunner", "--project=p"])
    assert runner == "DataflowRunner" and opts.get_all_options()["project"] == "p"


def test_cli_runner_beam_without_tensorflow(tmp_path):
    root = tmp_path / "voc"
    generate_shapes_voc(root, 6, width=64, height=48, seed=1, splits=None)
    code = textwrap.dedent(f"""
        import sys
        from dataprep.cli import main
        rc = main(['convert', 'voc', {str(root)!r}, '--out', {str(tmp_path / 'out')!r}, '-q', '--runner', 'beam',
                   '--beam-option', 'direct_num_workers=1'])
        assert rc == 0, rc
        assert 'apache_beam' in sys.modules
        assert 'tensorflow' not in sys.modules, 'tensorflow imported'
        print('ok')
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert "apitools" not in proc.stderr  # Beam's import-time warning about BigQuery clients stays quiet
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["images_written"] == 6 and (tmp_path / "out" / "train-00000-of-00001.tfrecord").exists()


def test_cli_beam_options_need_runner_beam(tmp_path, capsys):
    root = tmp_path / "voc"
    generate_shapes_voc(root, 2, width=64, height=48, seed=1, splits=None)
    assert main(["convert", "voc", str(root), "--out", str(tmp_path / "o"), "--beam-option", "runner=X"]) == 2
    assert "only apply with --runner beam" in capsys.readouterr().err
    assert main(["convert", "voc", str(root), "--out", str(tmp_path / "o"), "--runner", "spark"]) == 2
    assert "--runner must be local or beam, got 'spark'" in capsys.readouterr().err


# -- images and OUT as URLs: every byte through Beam's FileSystems --------------------

@pytest.fixture
def memfs(sources):
    import memfs

    memfs.FILES.clear()
    yield memfs
    memfs.FILES.clear()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("fmt", ["coco", "csv"])
def test_images_and_out_as_urls(sources, memfs, tmp_path, fmt, mode):
    local_ds = sources[fmt]()
    root = local_ds.images_root
    memfs.upload(root, "memtest://bucket/images")
    url_ds = read_coco(local_ds.source["annotations"], images="memtest://bucket/images") if fmt == "coco" else \
        read_csv(local_ds.source["file"], images="memtest://bucket/images")
    assert url_ds.images_root == "memtest://bucket/images"
    # Without --num-shards the shard count comes from the image sizes (asked of the file system).
    kw = MODES[mode] if "num_shards" in MODES[mode] else {**MODES[mode], "shard_target_bytes": 20_000}
    local = _run(sources[fmt], tmp_path / "local", **kw)
    on_beam = _run(lambda: url_ds, "memtest://bucket/out", executor=BeamExecutor(), **kw)

    assert on_beam.report.counts == local.report.counts and local.report.counts.images_skipped >= 2
    names = memfs.download("memtest://bucket/out", tmp_path / "beam")
    assert sorted(names) == sorted(p.name for p in (tmp_path / "local").iterdir())  # no temp file left
    assert _records_by_split(tmp_path / "beam") == _records_by_split(tmp_path / "local")
    assert (tmp_path / "beam" / "label_map.pbtxt").read_bytes() == (tmp_path / "local" / "label_map.pbtxt").read_bytes()
    assert _findings(tmp_path / "beam") == _findings(tmp_path / "local")
    assert any(code == "image.missing" for _, code, _, _ in _findings(tmp_path / "beam"))
    m_local, m_beam = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("local", "beam"))
    assert m_beam["splits"] == m_local["splits"] and m_beam["counts"] == m_local["counts"]
    assert m_beam["options"]["out"] == "memtest://bucket/out"
    assert len(m_beam["splits"]["train"]["shards"]) >= 2
    assert [str(p) for p in on_beam.shards] == [
        f"memtest://bucket/out/{s['file']}" for info in m_beam["splits"].values() for s in info["shards"]]


def test_a_failed_pipeline_leaves_nothing_at_an_out_url(sources, memfs, tmp_path, monkeypatch):
    import dataprep.convert.work as convert_mod

    local_ds = sources["coco"]()
    memfs.upload(local_ds.images_root, "memtest://bucket/images")
    url_ds = read_coco(local_ds.source["annotations"], images="memtest://bucket/images")
    real = convert_mod.process_image

    def boom(job, pos):
        if job.encode and job.files[pos].endswith("00012.jpg"):
            raise RuntimeError("injected failure in the encode step")
        return real(job, pos)

    monkeypatch.setattr(convert_mod, "process_image", boom)
    with pytest.raises(Exception, match="injected failure"):
        _run(lambda: url_ds, "memtest://bucket/out", executor=BeamExecutor(), num_shards=2)
    assert [k for k in memfs.FILES if k.startswith("memtest://bucket/out")] == []

    # Over a previous output (--overwrite): it stays whole.
    monkeypatch.setattr(convert_mod, "process_image", real)
    _run(lambda: url_ds, "memtest://bucket/out", executor=BeamExecutor(), num_shards=2)
    before = {k: v for k, v in memfs.FILES.items() if k.startswith("memtest://bucket/out/")}
    assert "memtest://bucket/out/manifest.json" in before
    monkeypatch.setattr(convert_mod, "process_image", boom)
    with pytest.raises(Exception, match="injected failure"):
        _run(lambda: url_ds, "memtest://bucket/out", executor=BeamExecutor(), num_shards=2, overwrite=True)
    assert {k: v for k, v in memfs.FILES.items() if k.startswith("memtest://bucket/out/")} == before
    # Without --overwrite, a non-empty OUT URL is refused before anything runs.
    with pytest.raises(UsageError, match="not empty"):
        _run(lambda: url_ds, "memtest://bucket/out", executor=BeamExecutor(), num_shards=2)


def test_urls_need_the_beam_runner(sources, memfs, tmp_path):
    local_ds = sources["coco"]()
    url_ds = read_coco(local_ds.source["annotations"], images="memtest://bucket/images")
    with pytest.raises(UsageError, match="memtest://bucket/images: URLs .*--runner beam"):
        _run(lambda: url_ds, tmp_path / "out")
    with pytest.raises(UsageError, match="memtest://bucket/out: URLs .*--runner beam"):
        _run(sources["coco"], "memtest://bucket/out")
    assert not (tmp_path / "out").exists()


def test_cli_images_and_out_urls(sources, memfs, tmp_path, capsys):
    local_ds = sources["coco"]()
    memfs.upload(local_ds.images_root, "memtest://bucket/images")
    args = ["convert", "coco", local_ds.source["annotations"], "--images", "memtest://bucket/images", "-q",
            "--num-shards", "2"]
    assert main(args + ["--out", "memtest://bucket/cli", "--runner", "beam"]) == 0
    assert "Wrote memtest://bucket/cli" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "local")]) == 2  # the local runner cannot read a URL
    assert "memtest://bucket/images: URLs are read and written through Apache Beam" in capsys.readouterr().err
    manifest = json.loads(memfs.FILES["memtest://bucket/cli/manifest.json"])
    assert manifest["counts"]["images_written"] == local_ds.images.shape[0] - manifest["counts"]["images_skipped"]
    assert [s["file"] for s in manifest["splits"]["train"]["shards"]] == [
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    assert "memtest://bucket/cli/train-00001-of-00002.tfrecord" in memfs.FILES


# -- VOC annotation files parsed in the workers -----------------------------------------

def test_voc_xml_parsed_in_workers_gives_the_local_dataset(sources, tmp_path, monkeypatch):
    import shutil

    import pandas.testing as pdt

    root = tmp_path / "voc"
    shutil.copytree(sources["voc"]().source["root"], root)
    xmls = sorted((root / "Annotations").glob("*.xml"))
    xmls[1].write_text("<annotation><object>")  # malformed: an annotation.malformed finding, image skipped
    xmls[2].write_text("<notvoc/>")  # not a VOC annotation
    text = xmls[4].read_text()  # a box without coordinates, a <filename> that disagrees
    xmls[4].write_text(text.replace("<xmin>", "<xmn>", 1).replace("</xmin>", "</xmn>", 1)
                       .replace("</filename>", "_b.jpg</filename>", 1))
    paths_seen = []
    executor, real = BeamExecutor(), BeamExecutor.parse_annotations

    def parse(paths):
        paths_seen.extend(paths)
        return real(executor, paths, voc.parse_file)

    local, on_beam = read_voc(root), read_voc(root, parse=parse)
    assert len(paths_seen) == len(xmls)  # every XML file went through the workers
    pdt.assert_frame_equal(on_beam.images, local.images)
    pdt.assert_frame_equal(on_beam.objects, local.objects)
    assert on_beam.findings == local.findings
    assert on_beam.dropped_boxes == local.dropped_boxes
    assert sorted(f.code for f in local.findings) == ["annotation.malformed"] * 2 + ["voc.filename_mismatch"]
    assert local.objects["xmin"].isna().sum() == 1  # NaN survives the trip back from the workers

    # And through the CLI: the whole conversion, with the XML parsed in the workers, is the local one's.
    args = ["convert", "voc", str(root), "-q", "--num-shards", "2"]
    assert main(args + ["--out", str(tmp_path / "local")]) == 0
    monkeypatch.setattr(BeamExecutor, "parse_annotations", lambda self, paths, parse_file: parse(paths))
    paths_seen.clear()
    assert main(args + ["--out", str(tmp_path / "beam"), "--runner", "beam"]) == 0
    assert len(paths_seen) == len(xmls)
    assert _records_by_split(tmp_path / "beam") == _records_by_split(tmp_path / "local")
    assert _findings(tmp_path / "beam") == _findings(tmp_path / "local")
    m_local, m_beam = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("local", "beam"))
    assert m_beam["splits"] == m_local["splits"] and m_beam["counts"] == m_local["counts"]


def test_image_sizes_come_from_one_listing(sources, memfs, tmp_path):
    """On an object store each size asked alone is a request: the default
    shard count lists the images folder once; --num-shards asks nothing."""
    import shutil

    from dataprep.convert.layout import file_sizes

    root = tmp_path / "images"
    shutil.copytree(sources["voc"]().images_root, root)
    (root / "sub").mkdir()
    (root / "sub" / "deep.jpg").write_bytes(b"x" * 7)
    memfs.upload(root, "memtest://bucket/images")
    files = sorted(p.name for p in root.iterdir() if p.is_file()) + ["sub/deep.jpg", "./sub/deep.jpg", "missing.jpg",
                                                                     "../escape.jpg"]
    assert len(files) > 20
    memfs.CALLS.clear()
    by_listing = file_sizes("memtest://bucket/images", files, BeamExecutor.store)
    assert by_listing.tolist() == file_sizes(root, files).tolist() and by_listing[:-4].min() > 0
    assert by_listing.tolist()[-4:] == [7, 7, 0, 0]
    # One listing; one request for the file the listing lacks (missing.jpg); none per listed image.
    assert memfs.CALLS == {"list": 1, "size": 1}
    memfs.CALLS.clear()
    assert file_sizes("memtest://bucket/images", files, BeamExecutor.store, num_shards=3).tolist() == [0] * len(files)
    assert memfs.CALLS == {}
