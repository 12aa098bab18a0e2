"""Who runs the per-image work of a conversion: the :class:`Executor` protocol,
and :class:`LocalExecutor`, the pool of worker processes on this machine (the
default). Apache Beam's is :class:`dataprep.beam.BeamExecutor`.

Each pass gets its own :class:`~dataprep.convert.work.Job` (the pipeline makes
it with ``dataclasses.replace``; no executor changes a job): ``run(job, desc)``
yields one :class:`~dataprep.convert.work.ImageResult` per position of
``job.order``, in that order, by :func:`~dataprep.convert.work.process_image`;
``write(job, split_of, shards, out, labels)`` writes the records of
``job.order`` into the planned shards of ``out`` and counts them.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Protocol

from dataprep.convert import work
from dataprep.errors import DataprepError
from dataprep.parallel import default_workers
from dataprep.records.output import OutputWriter
from dataprep.parallel import process_pool
from dataprep.progress import progress_bar

_JOB: work.Job | None = None


def _set_job(job: work.Job) -> None:
    """Pool initializer: the job a worker processes (inherited when forked, pickled once when spawned)."""
    global _JOB
    _JOB = job


def _process_range(bounds: tuple[int, int]) -> list[work.ImageResult]:
    lo, hi = bounds
    return [work.process_image(_JOB, int(_JOB.order[k])) for k in range(lo, hi)]


def run_local(job: work.Job, workers: int, progress: bool, desc: str = "convert") -> Iterator[work.ImageResult]:
    """Results of every position of ``job.order``, in that order, from a
    pool of ``workers`` processes (in this process when one is enough)."""
    global _JOB
    _JOB = job
    n = len(job.order)
    chunk = max(1, min(64, n // (workers * 8) or 1))
    ranges = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    parallel = workers > 1 and n > chunk
    try:
        with progress_bar(n, desc, "img", progress) as bar, \
                (process_pool(workers, _set_job, (job,)) if parallel else contextlib.nullcontext()) as pool:
            for results in (pool.imap if parallel else map)(_process_range, ranges):
                bar.update(len(results))
                yield from results
    finally:
        _JOB = None


class Executor(Protocol):
    """What :func:`dataprep.convert.pipeline.convert` asks of whoever runs the per-image work."""

    #: True: results can be written as they arrive (one pass with the source's splits), dry runs are
    #: possible, and images and OUT must be local paths. False: a check pass, then an encode pass whose
    #: workers write the shards themselves.
    streams: bool
    #: Where images are read from when not the local disk (``Job.store``), or None.
    store: object

    def output_writer(self, out, label_map, compression=None, overwrite=False) -> OutputWriter:
        """OUT's writer (it locks OUT and publishes it last)."""

    def annotation_parser(self, parse_file):
        """A function of annotation paths -> each one's ``parse_file`` result, in order, run by this executor's
        workers (a VOC set can be millions of files); None: the reader parses them itself."""

    def start(self, out: OutputWriter | None) -> None:
        """Before the first pass (``out`` None in a dry run)."""

    def run(self, job: work.Job, desc: str) -> Iterator[work.ImageResult]:
        """The results of every position of ``job.order``, in that order."""

    def write(self, job: work.Job, split_of, shards: dict, out: OutputWriter, labels) -> None:
        """The records of ``job.order`` (``labels``: each position's kept labels) into the planned ``shards``."""

    def published(self, manifest: dict) -> None:
        """OUT is complete."""

    def close(self) -> None:
        """After success or failure."""


class LocalExecutor:
    """Worker processes on this machine (in this process when one is enough)."""

    streams = True
    store = None

    def __init__(self, workers: int | None = None, progress: bool = False):
        self.workers = workers or default_workers()
        self.progress = progress

    #: A local folder only: ``convert()`` refuses URLs for an executor that streams, before OUT is touched.
    output_writer = staticmethod(OutputWriter)

    def annotation_parser(self, parse_file):
        return None  # the reader's own process pool parses them

    def start(self, out) -> None:
        pass

    def run(self, job: work.Job, desc: str = "convert") -> Iterator[work.ImageResult]:
        return run_local(job, self.workers, self.progress, desc)

    def write(self, job: work.Job, split_of, shards: dict, out: OutputWriter, labels) -> None:
        """Each record appended by this process as its worker's result arrives (``OutputWriter.add`` counts it)."""
        for res in self.run(job, "write"):
            if res.framed is None:
                raise DataprepError(f"{job.files[res.pos]}: the image changed between the check and the write "
                                    "passes; run again")
            out.add(split_of[res.pos], res.framed, res.labels)

    def published(self, manifest: dict) -> None:
        pass

    def close(self) -> None:
        pass
