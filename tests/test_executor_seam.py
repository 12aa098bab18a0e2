"""The executor seam of ``convert`` (what ``--runner beam`` plugs into), tested
without Beam: a plain in-process executor that writes its own shards must give
the local run's output, and the output writer refuses shards outside the plan."""

from __future__ import annotations

import json
import shutil

import pytest

from dataprep.convert import ConvertOptions, convert
from dataprep.convert import work
from dataprep.errors import DataprepError, UsageError
from dataprep.formats import read_voc
from dataprep.records.output import OutputWriter
from dataprep.records.framing import ShardWriter
from dataprep.label_map import LabelMap
from dataprep.synth import generate_shapes_voc


class InlineExecutor:
    """Runs the per-image work in this process and writes each shard itself,
    the way a distributed executor's workers do (the Executor protocol, not streaming)."""

    streams = False
    store = None
    output_writer = staticmethod(OutputWriter)

    def __init__(self):
        self.calls = []
        self.jobs = []
        self.spool = None

    def start(self, out):
        self.spool = out.spool("inline")
        self.spool.mkdir()
        self.calls.append("start")

    def run(self, job, desc):
        self.calls.append(desc)
        self.jobs.append((desc, job, job.encode, job.decode))
        for pos in job.order:
            yield work.process_image(job, int(pos))

    def write(self, job, split_of, shards, out, labels):
        self.calls.append("write")
        self.jobs.append(("write", job, job.encode, job.decode))
        writers, rank = {}, {}
        for pos in job.order:
            split = split_of[pos]
            k = rank.get(split, 0)
            rank[split] = k + 1
            key = (split, k % shards[split])
            if key not in writers:
                writers[key] = ShardWriter(self.spool / f"{split}-{key[1]}.partial")
            writers[key].write_framed(work.process_image(job, int(pos)).framed)
        for (split, index), w in writers.items():
            info = w.close()
            w.close = lambda info=info: info
            out.add_shard(split, index, w)
        for pos in job.order:
            out.counts.add(split_of[pos], labels[pos])

    def published(self, manifest):
        self.calls.append("published")

    def close(self):
        shutil.rmtree(self.spool, ignore_errors=True)
        self.calls.append("close")


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    generate_shapes_voc(root, 16, width=80, height=60, seed=2, splits={"train": 0.7, "val": 0.3}, negatives=0.2)
    (root / "JPEGImages" / "shapes_000004.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.mark.parametrize("extra", [{"num_shards": 2}, {"split": "train=0.6,val=0.4", "rebalance": "images",
                                                       "repeat_threshold": 1.0}])
def test_an_executor_gets_the_local_output(voc, tmp_path, extra):
    local = convert(read_voc(voc), ConvertOptions(out=tmp_path / "a", workers=1, progress=False, **extra))
    ex = InlineExecutor()
    other = convert(read_voc(voc), ConvertOptions(out=tmp_path / "b", workers=1, progress=False, **extra),
                    executor=ex)
    assert ex.calls == ["start", "check", "write", "published", "close"]
    (_, check_job, check_encodes, check_decodes), (_, write_job, write_encodes, write_decodes) = ex.jobs
    assert check_job is not write_job  # each pass its own job: no executor sees a job change under it
    assert (check_encodes, check_decodes) == (False, True) and (write_encodes, write_decodes) == (True, False)
    bad = check_job.files.index("shapes_000004.jpg")
    assert bad in check_job.order and bad not in write_job.order  # the image that failed the check: not encoded
    assert other.report.counts == local.report.counts and local.report.counts.images_skipped == 1
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert mb["splits"] == ma["splits"] and mb["counts"] == ma["counts"]  # same shards, same sha256
    ra, rb = (json.loads((tmp_path / d / "report.json").read_text()) for d in "ab")
    # In the same order; not the details: Pillow's message for a non-image names a memory address.
    assert [{k: v for k, v in f.items() if k != "detail"} for f in rb["findings"]] == \
        [{k: v for k, v in f.items() if k != "detail"} for f in ra["findings"]]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(p.name for p in (tmp_path / "a").iterdir())


def test_a_dry_run_is_local_only(voc, tmp_path):
    with pytest.raises(UsageError, match="dry run"):
        convert(read_voc(voc), ConvertOptions(out=tmp_path / "o", dry_run=True, progress=False),
                executor=InlineExecutor())


def test_add_shard_refuses_a_shard_outside_the_plan(tmp_path):
    out = OutputWriter(tmp_path / "o", LabelMap.from_names(["a"]))
    try:
        out.plan({"train": 2})
        w = ShardWriter(tmp_path / "o" / ".x.partial")
        out.add_shard("train", 1, w)
        with pytest.raises(DataprepError, match="shard 1 of split 'train'.*written twice"):
            out.add_shard("train", 1, w)
        with pytest.raises(DataprepError, match="shard 2 of split 'train' is not in the plan"):
            out.add_shard("train", 2, w)
        with pytest.raises(DataprepError, match="split 'val' is not in the plan"):
            out.add_shard("val", 0, w)
    finally:
        out.abort()
    assert not (tmp_path / "o" / ".x.partial").exists()
