"""The two Beam pipelines of a conversion: an executor of
:func:`dataprep.convert.convert` (see :mod:`dataprep.convert.executor`).

:class:`BeamExecutor`'s calls:

- ``start(out)``: a scratch folder in OUT (``OutputWriter.spool``).
- ``run(job, desc)``: the check pass, the per-image work on every image
  without encoding; yields its small results in ``job.order`` (the report
  then reads as the local run's).
- ``write(job, split_of, shards, out)``: the encode pass over ``job.order``;
  each planned shard is written by one worker to a temp file and handed to
  ``out.add_shard``, which publishes it with the rest of the output.
- ``close()``: remove the scratch folder.

Job rows travel to the workers in pickled chunk files in the scratch folder
(a ``Create`` of millions of rows would sit in the pipeline graph); results
come back as JSON lines written by ``WriteToText``. Both are this run's own
files.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle
import uuid
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from dataprep.beam.options import pipeline_options
from dataprep.convert import work
from dataprep.convert.work import Codes, ImageResult, Job
from dataprep.errors import DataprepError
from dataprep.records.tfrecord import ShardWriter
from dataprep.validate.findings import Finding

#: Job rows per chunk file: the unit a worker loads before the rows spread out.
ROWS_PER_CHUNK = 256


# -- job rows ------------------------------------------------------------------------

def job_row(job: Job, pos: int) -> Job:
    """The job of one image (its metadata and boxes): what a worker needs to run
    the per-image work on image ``pos``, and nothing of the other images."""
    s, e = int(job.obj_start[pos]), int(job.obj_end[pos])
    one = slice(pos, pos + 1)
    return dataclasses.replace(
        job, image_ids=job.image_ids[one], files=job.files[one], ann_w=job.ann_w[one], ann_h=job.ann_h[one],
        annotations=job.annotations[one], errors=job.errors[one],
        obj_start=np.zeros(1, np.int64), obj_end=np.full(1, e - s, np.int64),
        boxes=job.boxes[s:e], labels=job.labels[s:e], texts=_take(job.texts, s, e),
        index=job.index[s:e], difficult=job.difficult[s:e], truncated=job.truncated[s:e],
        is_crowd=job.is_crowd[s:e], view=_take(job.view, s, e), order=np.zeros(1, np.int64))


def _take(codes: Codes, s: int, e: int) -> Codes:
    out = Codes.__new__(Codes)
    out.vocab, out.codes = codes.vocab, codes.codes[s:e]
    return out


def _process(row: Job) -> ImageResult:
    """The shared per-image work on a one-image job (looked up at call time, so
    a test can replace it as it does for the local pool)."""
    return work.process_image(row, 0)


# -- worker steps ------------------------------------------------------------------------

def _load_rows(path: str):
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        yield from pickle.load(f)


def _check(item) -> str:
    pos, row = item
    res = _process(row)
    return json.dumps({
        "pos": pos, "written": res.framed is not None, "boxes_in": int(res.boxes_in),
        "labels": np.asarray(res.labels, np.int64).tolist(), "sha256": res.sha256, "phash": int(res.phash),
        "findings": [dataclasses.asdict(f) for f in res.findings],
    })


def _encode(item):
    split, shard, rank, row = item
    res = _process(row)
    if res.framed is None:
        raise DataprepError(f"{row.files[0]}: the image changed between the check and the write passes; run again")
    return (split, shard), (rank, res.framed)


def _write_shard(kv, tmp: str, compression: str | None) -> str:
    """One planned shard: its records in rank order (the local writer's order),
    under a temp name unique to this attempt (a retried bundle writes another)."""
    (split, shard), records = kv
    path = FileSystems.join(tmp, f"{split}-{shard:05d}-{uuid.uuid4().hex}.partial")
    writer = ShardWriter(path, compression, fileobj=FileSystems.create(
        path, mime_type="application/octet-stream", compression_type=CompressionTypes.UNCOMPRESSED))
    for _, framed in sorted(records, key=lambda r: r[0]):
        writer.write_framed(framed)
    return json.dumps({"split": split, "shard": shard, "path": path, **writer.close()})


# -- the executor --------------------------------------------------------------------------

@dataclasses.dataclass
class TempShard:
    """A shard a worker wrote, as the output writer sees a shard writer."""

    path: Path
    info: dict

    def close(self) -> dict:
        return self.info

    def abort(self) -> None:
        self.path.unlink(missing_ok=True)


class BeamExecutor:
    """Runs a conversion's check and encode passes as Beam pipelines; ``flags``
    are Beam's command-line flags (:func:`dataprep.beam.options.pipeline_flags`)."""

    def __init__(self, flags: list[str] | None = None):
        self.flags = list(flags or [])
        self.tmp: str | None = None

    def start(self, out) -> None:
        self.tmp = str(out.spool("beam"))
        FileSystems.mkdirs(self.tmp)

    def close(self) -> None:
        """Remove the scratch folder (rows, results, the shards of failed or retried attempts)."""
        if self.tmp is not None and FileSystems.exists(self.tmp):
            FileSystems.delete([self.tmp])
        self.tmp = None

    def run(self, job: Job, desc: str = "check"):
        """The check pass over every image; results in ``job.order``."""
        chunks = self._write_rows(f"{desc}-rows", ((pos, job_row(job, pos)) for pos in range(len(job.files))))
        prefix = FileSystems.join(self.tmp, f"{desc}-results")
        with self._pipeline() as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "check" >> beam.Map(_check) | "results" >> beam.io.WriteToText(prefix))
        got = {}
        for r in self._read_lines(prefix):
            got[r["pos"]] = ImageResult(
                r["pos"], b"" if r["written"] else None, [Finding(**f) for f in r["findings"]],
                np.asarray(r["labels"], np.int64), r["boxes_in"], r["sha256"], r["phash"])
        if len(got) != len(job.files):
            raise DataprepError(f"the check pass returned {len(got)} results for {len(job.files)} images")
        for pos in job.order:
            yield got[int(pos)]

    def write(self, job: Job, split_of, shards: dict, out) -> None:
        """The encode pass: each planned shard written by one worker, handed to ``out``."""
        rank: dict = {}

        def items():
            for pos in job.order:
                split = split_of[pos]
                k = rank.get(split, 0)  # the k-th example of its split: shard k % n, as OutputWriter.add places it
                rank[split] = k + 1
                yield split, k % shards[split], k, job_row(job, int(pos))

        chunks = self._write_rows("write-rows", items())
        prefix = FileSystems.join(self.tmp, "shards")
        with self._pipeline() as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "encode" >> beam.Map(_encode) | "by shard" >> beam.GroupByKey()
                 | "write shard" >> beam.Map(_write_shard, self.tmp, out.compression)
                 | "shard infos" >> beam.io.WriteToText(prefix))
        written: dict = {}
        for r in self._read_lines(prefix):
            split, shard = r.pop("split"), r.pop("shard")
            out.add_shard(split, shard, TempShard(Path(r.pop("path")), r))
            written[split] = written.get(split, 0) + r["examples"]
        if written != rank:
            raise DataprepError(f"the encode pass wrote {written} examples per split, the plan has {rank}")

    # -- scratch files and pipelines ------------------------------------------------------

    def _write_rows(self, name: str, items) -> list[str]:
        """Chunk files of ``items`` (an iterable: one chunk of rows in memory at a time)."""
        paths = []
        items = iter(items)
        while True:
            chunk = list(itertools.islice(items, ROWS_PER_CHUNK))
            if not chunk and paths:
                return paths
            path = FileSystems.join(self.tmp, f"{name}-{len(paths):06d}.pkl")
            with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL)
            paths.append(path)

    def _read_lines(self, prefix: str) -> list[dict]:
        lines = []
        for match in FileSystems.match([prefix + "*"])[0].metadata_list:
            with FileSystems.open(match.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                lines.extend(json.loads(line) for line in f.read().decode("utf-8").splitlines() if line)
        return lines

    def _pipeline(self):
        runner, options = pipeline_options(self.flags)
        return beam.Pipeline(runner=runner, options=options)


__all__ = ["BeamExecutor", "TempShard", "job_row"]
