"""Executors of the per-image work: today the local process pool.

An executor takes a :class:`~dataprep.convert.work.Job` and yields one
:class:`~dataprep.convert.work.ImageResult` per position of ``job.order``,
in that order, by running :func:`~dataprep.convert.work.process_image`.

An executor object (``convert(ds, opts, executor=...)``; Apache Beam's is
:class:`dataprep.beam.BeamExecutor`) has four calls: ``start(out)`` with the
:class:`~dataprep.records.output.OutputWriter`; ``run(job, desc)``, the check
pass as above; ``write(job, split_of, shards, out)``, the encode pass, whose
workers write each planned shard and hand it to ``out.add_shard``; and
``close()``, after success or failure. It may also have ``published(manifest)``,
called once the output is complete (Beam's prints its stage line).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from dataprep.convert import work
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
