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
- ``published(manifest)``: the output is complete (its line on the terminal).
- ``close()``: remove the scratch folder.

What the user sees (unless ``-q``): a line per stage on stderr (listing,
parse pass, check pass, layout, encode pass, publish) with its counts and
elapsed time. A runner whose ``run()`` returns while the job runs (Dataflow)
also gets a progress bar of the images done, from the counters the workers
increment (``Metrics.counter("dataprep", ...)``), polled every
:data:`POLL_SECONDS`; Ctrl-C cancels the job. The in-process runner
finishes inside ``run()``, so it has the lines only. Beam's own log lines
are hidden unless ``dataprep --debug`` (:mod:`dataprep.beam.logs`).

Job rows travel to the workers in pickled chunk files in the scratch folder
(a ``Create`` of millions of rows would sit in the pipeline graph); results
come back as JSON lines, one file per bundle written by the pipeline's last
step (:class:`WriteLines`; a retried bundle's file repeats results, which are
keyed, so a repeat changes nothing). Both are this run's own files. Every
pipeline is one chain without side inputs, which every runner runs alike,
Beam's Dask runner included (:mod:`dataprep.beam.dask_cluster`).
"""

from __future__ import annotations

import functools
import contextlib
import dataclasses
import itertools
import json
import math
import os
import pickle
import socket
import sys
import tempfile
import time
import uuid

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from dataprep.beam.files import BeamStore, FileSystemsOutputWriter, delete_files
from dataprep.beam.logs import beam_logging
from dataprep.beam.options import is_dask, pipeline_options, unknown_flags
from dataprep.convert import work
from dataprep.convert.work import Codes, ImageResult, Job
from dataprep.errors import DataprepError, UsageError
from dataprep.locations import is_url
from dataprep.progress import progress_bar
from dataprep.records.output import OutputWriter
from dataprep.records.framing import ShardWriter
from dataprep.findings import Finding

#: Job rows per chunk file at most: the unit a worker loads before the rows spread out.
ROWS_PER_CHUNK = 256
#: Chunk files at least (when there are as many rows): a small job still spreads over the workers.
MIN_CHUNKS = 16
#: Seconds between two looks at a running job's counters (a remote runner).
POLL_SECONDS = 5.0

#: What the workers count, by pass: the progress of a remote job.
NAMESPACE = "dataprep"
PARSED, CHECKED, ENCODED = "annotations_parsed", "images_checked", "images_encoded"
_COUNTERS = {name: Metrics.counter(NAMESPACE, name) for name in (PARSED, CHECKED, ENCODED)}


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


def _worker() -> str:
    """The process a step ran in (``host:pid``): the stage lines count them."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _check(item) -> str:
    pos, row = item
    res = _process(row)
    _COUNTERS[CHECKED].inc()
    return json.dumps({
        "pos": pos, "worker": _worker(), "written": res.framed is not None, "boxes_in": int(res.boxes_in),
        "labels": np.asarray(res.labels, np.int64).tolist(), "sha256": res.sha256, "phash": int(res.phash),
        "findings": [dataclasses.asdict(f) for f in res.findings],
    })


def _parse_xml(item, parse_file) -> str:
    """One annotation file parsed in a worker by its format's hook, read through FileSystems."""
    pos, path = item
    parsed = parse_file(path, BeamExecutor.store.read)
    _COUNTERS[PARSED].inc()
    if isinstance(parsed, Exception):
        return json.dumps({"pos": pos, "error": str(parsed)})
    return json.dumps({"pos": pos, **parsed})


def _encode(item):
    split, shard, rank, row = item
    res = _process(row)
    if res.framed is None:
        raise DataprepError(f"{row.files[0]}: the image changed between the check and the write passes; run again")
    _COUNTERS[ENCODED].inc()
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
    return json.dumps({"split": split, "shard": shard, "path": path, "worker": _worker(), **writer.close()})


class WriteLines(beam.DoFn):
    """The pipeline's last step: each bundle's lines into one new file
    ``{prefix}-{uuid}.jsonl`` (written under ``.partial``, then renamed), read
    back by the launcher. Unlike ``WriteToText`` it has no side inputs, which
    Beam's Dask runner computes apart from the pipeline."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def start_bundle(self):
        self._lines = []

    def process(self, line: str):
        self._lines.append(line)

    def finish_bundle(self):
        if not self._lines:
            return
        path = f"{self.prefix}-{uuid.uuid4().hex}"
        with FileSystems.create(path + ".partial", compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write("".join(line + "\n" for line in self._lines).encode("utf-8"))
        FileSystems.rename([path + ".partial"], [path + ".jsonl"])
        self._lines = []


# -- the executor --------------------------------------------------------------------------

@dataclasses.dataclass
class TempShard:
    """A shard a worker wrote (a local path or a URL), as the output writer sees a shard writer."""

    path: str
    info: dict

    def close(self) -> dict:
        return self.info

    def abort(self) -> None:
        delete_files([self.path])


class BeamExecutor:
    """Runs a conversion's check and encode passes as Beam pipelines; ``flags``
    are Beam's command-line flags (:func:`dataprep.beam.options.pipeline_flags`).
    ``progress``: a line per stage (and a bar on a remote runner) on stderr;
    ``show_logs``: Beam's own log lines too (``dataprep --debug``)."""

    #: Workers read the images through Beam's FileSystems (``Job.store``).
    store = BeamStore()
    #: A check pass, then an encode pass whose workers write the shards (see the Executor protocol).
    streams = False

    def __init__(self, flags: list[str] | None = None, progress: bool = False, show_logs: bool = False):
        self.flags = list(flags or [])
        self.tmp: str | None = None
        self.progress = progress
        self.show_logs = show_logs
        self.dask = None
        with beam_logging(show_logs):
            if is_dask(self.flags):
                from dataprep.beam.dask_cluster import DaskCluster, load_runner

                load_runner()  # first: it defines the --dask_* options the check below must know
                self.dask = DaskCluster(self.flags)
            unknown = unknown_flags(self.flags)
        if unknown:
            raise UsageError(f"Beam does not know the pipeline option(s) {', '.join(unknown)} (it would ignore "
                             "them); check the spelling, or install the Beam extra that defines them")
        self._since = time.perf_counter()  # the start of the stage in progress

    def _stage(self, text: str) -> None:
        """The line of a finished stage: what it did, and its seconds."""
        now = time.perf_counter()
        if self.progress:
            print(f"beam: {text} ({now - self._since:.1f} s)", file=sys.stderr, flush=True)
        self._since = now

    @staticmethod
    def output_writer(out, label_map, compression=None, overwrite=False) -> OutputWriter:
        """OUT's writer: today's :class:`OutputWriter` (lock, ``os.replace``)
        for a local path, :class:`FileSystemsOutputWriter` for a URL."""
        if is_url(out):
            return FileSystemsOutputWriter(out, label_map, compression, overwrite)
        return OutputWriter(out, label_map, compression, overwrite)

    def start(self, out) -> None:
        self.tmp = str(out.spool("beam"))
        FileSystems.mkdirs(self.tmp)

    def close(self) -> None:
        """Remove the scratch folder; shut down the local Dask cluster, if one was started."""
        self._remove_scratch()
        if self.dask is not None:
            with beam_logging(self.show_logs):
                self.dask.close()

    def _remove_scratch(self) -> None:
        """Remove the scratch folder (rows, results, the shards of failed or retried attempts)."""
        if self.tmp is not None and FileSystems.exists(self.tmp):
            FileSystems.delete([self.tmp])
        self.tmp = None

    def annotation_parser(self, parse_file):
        """Annotation files parsed in the workers (see :meth:`parse_annotations`)."""
        return functools.partial(self.parse_annotations, parse_file=parse_file)

    def parse_annotations(self, paths: list[str], parse_file) -> list:
        """Annotation files parsed in the workers by their format's
        ``parse_file`` hook (:mod:`dataprep.formats.registry`; ``read_voc(parse=...)``):
        the launcher lists the files and gets back each one's parsed metadata
        (or its error), in order. Runs before OUT is touched, so its scratch
        files go under ``--temp_location`` (a local temp folder without it)."""
        base = PipelineOptions(self.flags).get_all_options().get("temp_location")
        scratch = (FileSystems.join(base, f"dataprep-parse-{uuid.uuid4().hex}") if base
                   else tempfile.mkdtemp(prefix="dataprep-parse-"))
        saved, self.tmp = self.tmp, scratch
        self._stage(f"listing: {len(paths)} annotation files")
        try:
            if base:
                FileSystems.mkdirs(scratch)
            chunks = self._write_rows("xml", enumerate(paths), len(paths))
            prefix = FileSystems.join(scratch, "parsed")
            with self._pipeline(len(paths), PARSED, "parse", "xml") as p:
                _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                     | "paths" >> beam.FlatMap(_load_rows) | "spread paths" >> beam.Reshuffle()
                     | "parse" >> beam.Map(_parse_xml, parse_file) | "parsed" >> beam.ParDo(WriteLines(prefix)))
            got = {r.pop("pos"): r for r in self._read_lines(prefix)}
        finally:
            self._remove_scratch()
            self.tmp = saved
        if len(got) != len(paths):
            raise DataprepError(f"parsing returned {len(got)} results for {len(paths)} annotation files")
        self._stage(f"parse pass: {len(paths)} annotation files parsed in the workers, "
                    f"{sum('error' in r for r in got.values())} unreadable")
        return [ValueError(r["error"]) if "error" in r else {**r, "objects": [tuple(o) for o in r["objects"]]}
                for r in (got[k] for k in range(len(paths)))]

    def run(self, job: Job, desc: str = "check"):
        """The check pass over every image; results in ``job.order``."""
        n = len(job.files)
        self._stage(f"annotations read and checked: {n} images, {len(job.boxes)} boxes")
        chunks = self._write_rows(f"{desc}-rows", ((pos, job_row(job, pos)) for pos in range(n)), n)
        prefix = FileSystems.join(self.tmp, f"{desc}-results")
        with self._pipeline(n, CHECKED, desc, "img") as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "check" >> beam.Map(_check) | "results" >> beam.ParDo(WriteLines(prefix)))
        got, workers = {}, set()
        for r in self._read_lines(prefix):
            workers.add(r.get("worker"))
            got[r["pos"]] = ImageResult(
                r["pos"], b"" if r["written"] else None, [Finding(**f) for f in r["findings"]],
                np.asarray(r["labels"], np.int64), r["boxes_in"], r["sha256"], r["phash"])
        if len(got) != n:
            raise DataprepError(f"the check pass returned {len(got)} results for {n} images")
        self._stage(f"check pass: {n} images checked in {_processes(workers)}, "
                    f"{sum(r.framed is not None for r in got.values())} pass")
        for pos in job.order:
            yield got[int(pos)]

    def write(self, job: Job, split_of, shards: dict, out, labels) -> None:
        """The encode pass: each planned shard written by one worker, handed to ``out``; the records counted
        with ``labels`` (each position's kept labels, from the check pass)."""
        rank: dict = {}

        def items():
            for pos in job.order:
                split = split_of[pos]
                k = rank.get(split, 0)  # the k-th example of its split: shard k % n, as OutputWriter.add places it
                rank[split] = k + 1
                yield split, k % shards[split], k, job_row(job, int(pos))

        n = len(job.order)
        self._stage(f"layout: {n} examples in {sum(shards.values())} shards "
                    f"({', '.join(f'{s} {k}' for s, k in shards.items())})")
        chunks = self._write_rows("write-rows", items(), n)
        prefix = FileSystems.join(self.tmp, "shards")
        with self._pipeline(n, ENCODED, "encode", "img") as p:
            _ = (p | "chunks" >> beam.Create(chunks) | "spread chunks" >> beam.Reshuffle()
                 | "rows" >> beam.FlatMap(_load_rows) | "spread rows" >> beam.Reshuffle()
                 | "encode" >> beam.Map(_encode) | "by shard" >> beam.GroupByKey()
                 | "write shard" >> beam.Map(_write_shard, self.tmp, out.compression)
                 | "shard infos" >> beam.ParDo(WriteLines(prefix)))
        written: dict = {}
        workers, seen, repeats = set(), set(), []
        for r in sorted(self._read_lines(prefix), key=lambda r: r["path"]):
            split, shard = r.pop("split"), r.pop("shard")
            workers.add(r.pop("worker", None))
            if (split, shard) in seen:  # a retried bundle wrote it again: keep one
                repeats.append(r["path"])
                continue
            seen.add((split, shard))
            out.add_shard(split, shard, TempShard(r.pop("path"), r))
            written[split] = written.get(split, 0) + r["examples"]
        delete_files(repeats)
        if written != rank:
            raise DataprepError(f"the encode pass wrote {written} examples per split, the plan has {rank}")
        self._stage(f"encode pass: {n} records written in {sum(shards.values())} temp shards by "
                    f"{_processes(workers)}")
        for pos in job.order:
            out.counts.add(split_of[pos], labels[pos])

    def published(self, manifest: dict) -> None:
        """The output is complete: its line."""
        shards = sum(len(info["shards"]) for info in manifest["splits"].values())
        self._stage(f"publish: {shards} shards renamed; label_map.pbtxt, report.json, manifest.json written")

    # -- scratch files and pipelines ------------------------------------------------------

    def _write_rows(self, name: str, items, n: int) -> list[str]:
        """Chunk files of the ``n`` ``items`` (an iterable: one chunk of rows in
        memory at a time): ``ROWS_PER_CHUNK`` rows each, fewer for a small job
        (at least ``MIN_CHUNKS`` files when there are as many rows)."""
        per_chunk = max(1, min(ROWS_PER_CHUNK, math.ceil(n / MIN_CHUNKS)))
        paths = []
        items = iter(items)
        while True:
            chunk = list(itertools.islice(items, per_chunk))
            if not chunk and paths:
                return paths
            path = FileSystems.join(self.tmp, f"{name}-{len(paths):06d}.pkl")
            with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL)
            paths.append(path)

    def _read_lines(self, prefix: str) -> list[dict]:
        """The lines :class:`WriteLines` wrote under ``prefix``."""
        lines = []
        for match in FileSystems.match([prefix + "-*.jsonl"])[0].metadata_list:
            with FileSystems.open(match.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                lines.extend(json.loads(line) for line in f.read().decode("utf-8").splitlines() if line)
        return lines

    @contextlib.contextmanager
    def _pipeline(self, total: int, counter: str, desc: str, unit: str):
        """A pipeline to build in the ``with`` block, run when it ends, with
        Beam's logging kept quiet (:func:`beam_logging`) and its progress shown
        (:meth:`_wait`)."""
        with beam_logging(self.show_logs):
            runner, options = pipeline_options(self.flags + (self.dask.flags() if self.dask else []))
            p = beam.Pipeline(runner=runner, options=options)
            yield p
            result = p.run()
            try:
                self._wait(result, total, counter, desc, unit)
            finally:
                if self.dask is not None:
                    self.dask.finish(result)

    def _wait(self, result, total: int, counter: str, desc: str, unit: str) -> None:
        """Until the job is done: while it runs (a remote runner), a bar of
        ``counter``; a failed or cancelled job raises. A Dask job's result has
        no live state or metrics: it is waited on."""
        if self.dask is None and not PipelineState.is_terminal(result.state):
            try:
                with progress_bar(total, desc, unit, self.progress) as bar:
                    while not PipelineState.is_terminal(result.state):
                        bar.update(max(0, min(total, _counter(result, counter)) - bar.n))
                        time.sleep(POLL_SECONDS)
                    bar.update(max(0, min(total, _counter(result, counter)) - bar.n))
            except KeyboardInterrupt:
                result.cancel()  # no job left running on the cluster after Ctrl-C
                raise
        state = result.wait_until_finish() or result.state
        if state != PipelineState.DONE:
            raise DataprepError(f"the Beam {desc} pipeline ended {state}, not DONE")


def _processes(workers: set) -> str:
    """``the workers`` in words: how many processes on how many machines did the work."""
    found = {w for w in workers if w}
    if not found:
        return "the workers"
    hosts = {w.rsplit(":", 1)[0] for w in found}
    return f"{len(found)} worker process{'es' if len(found) != 1 else ''}" + (
        f" on {len(hosts)} machines" if len(hosts) > 1 else "")


def _counter(result, name: str) -> int:
    """A counter of the running job (attempts included: a progress figure)."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))["counters"]
    except Exception:  # a runner without live metrics: no bar movement, the stage lines still come
        return 0
    return int(sum((c.attempted or 0) for c in found))


__all__ = ["BeamExecutor", "TempShard", "job_row"]
