"""The two Beam pipelines of a conversion, behind :func:`dataprep.convert.convert`'s executor seam.

:class:`BeamExecutor` has the executor's three calls:

- ``check(job, out)``: run the per-image work on every image without
  encoding; yield its small results in ``job.order`` (the report then reads
  as the local run's).
- ``write(job, split_of, shards, out, compression, writers, infos)``: encode
  the images of ``job.order`` and write each planned shard to a temp file;
  fill ``writers`` (``(split, shard)`` -> an object with ``path``) and
  ``infos`` (examples, bytes, sha256) for :func:`~dataprep.convert.publish_shards`.
- ``rename(src, dst)`` and ``close()``: publishing through Beam's
  ``FileSystems``, and removing the temp folder.

Job rows travel to the workers in pickled chunk files in the temp folder (a
``Create`` of millions of rows would sit in the pipeline graph); results
come back as JSON lines written by ``WriteToText``. Both are the launcher's
own files of this run.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import uuid

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from dataprep.beam.options import pipeline_options
from dataprep.errors import DataprepError
from dataprep.records.tfrecord import ShardWriter
from dataprep.validate.findings import Finding

#: Job rows per chunk file: the unit a worker loads before the rows spread out.
ROWS_PER_CHUNK = 256


# -- job rows ------------------------------------------------------------------------

def job_row(job, pos: int):
    """The job of one image (its metadata and boxes): what a worker needs to run
    the per-image work on image ``pos``, and nothing of the other images."""
    from dataprep import convert as c

    s, e = int(job.obj_start[pos]), int(job.obj_end[pos])
    one = slice(pos, pos + 1)
    return dataclasses.replace(
        job, image_ids=job.image_ids[one], files=job.files[one], ann_w=job.ann_w[one], ann_h=job.ann_h[one],
        annotations=job.annotations[one], errors=job.errors[one],
        obj_start=np.zeros(1, np.int64), obj_end=np.full(1, e - s, np.int64),
        boxes=job.boxes[s:e], labels=job.labels[s:e], texts=_take(c.Codes, job.texts, s, e),
        index=job.index[s:e], difficult=job.difficult[s:e], truncated=job.truncated[s:e],
        is_crowd=job.is_crowd[s:e], view=_take(c.Codes, job.view, s, e), order=np.zeros(1, np.int64))


def _take(cls, codes, s: int, e: int):
    out = cls.__new__(cls)
    out.vocab, out.codes = codes.vocab, codes.codes[s:e]
    return out


def _process(row):
    """The shared per-image work on a one-image job (looked up at call time, so
    a test can replace it as it does for the local pool)."""
    from dataprep import convert as c

    return c._process_one(row, 0)


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
    """A written temp shard, as ``publish_shards`` and ``convert``'s cleanup see a writer."""

    path: str

    def abort(self) -> None:
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])


class BeamExecutor:
    """Runs a conversion's check and encode passes as Beam pipelines.

    ``flags`` are Beam's command-line flags (:func:`dataprep.beam.options.pipeline_flags`);
    ``temp_root`` is where the temp folder goes (default: inside OUT, which
    must then be reachable by the workers).
    """

    def __init__(self, flags: list[str] | None = None, temp_root: str | None = None):
        self.flags = list(flags or [])
        self.temp_root = temp_root
        self.tmp: str | None = None

    # temp folder ---------------------------------------------------------------

    def _temp(self, out) -> str:
        if self.tmp is None:
            self.tmp = FileSystems.join(str(self.temp_root or out), f".dataprep-beam-{uuid.uuid4().hex[:12]}")
            FileSystems.mkdirs(self.tmp)
        return self.tmp

    def _write_rows(self, name: str, items: list) -> list[str]:
        paths = []
        for k in range(0, max(len(items), 1), ROWS_PER_CHUNK):
            path = FileSystems.join(self.tmp, f"{name}-{k // ROWS_PER_CHUNK:06d}.pkl")
            with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                pickle.dump(items[k:k + ROWS_PER_CHUNK], f, protocol=pickle.HIGHEST_PROTOCOL)
            paths.append(path)
        return paths

    def _read_lines(self, prefix: str) -> list[dict]:
        lines = []
        for match in FileSystems.match([prefix + "*"])[0].metadata_list:
            with FileSystems.open(match.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                lines.extend(json.loads(line) for line in f.read().decode("utf-8").splitlines() if line)
        return lines

    def _pipeline(self):
        runner, options = pipeline_options(self.flags)
        return beam.Pipeline(runner=runner, options=options)

    # the executor's calls ----------------------------------------------------------

    def check(self, job, out):
        """The check pass over every image; results in ``job.order``."""
        from dataprep.convert import _Result

        tmp = self._temp(out)
        chunks = self._write_rows("check-rows", [(pos, job_row(job, pos)) for pos in range(len(job.files))])
        prefix = FileSystems.join(tmp, "check-results")
        with self._pipeline() as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "check" >> beam.Map(_check) | "results" >> beam.io.WriteToText(prefix))
        got = {}
        for r in self._read_lines(prefix):
            got[r["pos"]] = _Result(
                r["pos"], b"" if r["written"] else None, [Finding(**f) for f in r["findings"]],
                np.asarray(r["labels"], np.int64), r["boxes_in"], r["sha256"], r["phash"])
        if len(got) != len(job.files):
            raise DataprepError(f"the check pass returned {len(got)} results for {len(job.files)} images")
        for pos in job.order:
            yield got[int(pos)]

    def write(self, job, split_of, shards: dict, out, compression, writers: dict, infos: dict) -> None:
        """The encode pass: every planned shard written to a temp file."""
        tmp = self._temp(out)
        rank: dict = {}
        items = []
        for pos in job.order:
            split = split_of[pos]
            k = rank.get(split, 0)
            rank[split] = k + 1
            items.append((split, k % shards[split], k, job_row(job, int(pos))))
        chunks = self._write_rows("write-rows", items)
        prefix = FileSystems.join(tmp, "shards")
        with self._pipeline() as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "encode" >> beam.Map(_encode) | "by shard" >> beam.GroupByKey()
                 | "write shard" >> beam.Map(_write_shard, tmp, compression)
                 | "shard infos" >> beam.io.WriteToText(prefix))
        for r in self._read_lines(prefix):
            key = (r.pop("split"), r.pop("shard"))
            if key in writers:
                raise DataprepError(f"the encode pass wrote shard {key} twice")
            writers[key] = TempShard(r.pop("path"))
            infos[key] = r
        for split, n in shards.items():
            expected = rank.get(split, 0)
            got = sum(infos[(split, i)]["examples"] for i in range(min(n, expected)) if (split, i) in infos)
            if got != expected:
                raise DataprepError(f"the encode pass wrote {got} of the {expected} examples of split {split!r}")

    def rename(self, src, dst) -> None:
        FileSystems.rename([str(src)], [str(dst)])

    def close(self) -> None:
        """Remove the temp folder (rows, results, the shards of failed or retried attempts)."""
        if self.tmp is not None and FileSystems.exists(self.tmp):
            FileSystems.delete([self.tmp])
        self.tmp = None


__all__ = ["BeamExecutor", "TempShard", "job_row"]
