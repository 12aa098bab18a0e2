"""Beam's Dask runner (``--beam-option runner=DaskRunner``): the cluster it runs on.

::

    --dask_client_address / --dask_scheduler_file given  -> that cluster (started by you: `dask scheduler`,
                                                            `dask worker ADDRESS`, dask-kubernetes, ...)
    neither                                               -> LocalCluster(n_workers=--dask_local_workers or
                                                            one per core, processes=True), started for the
                                                            conversion's first pipeline, shut down by close()

A conversion runs two or three pipelines (parse, check, encode); they share
the cluster, each through its own client (Beam's ``DaskRunner`` makes one per
pipeline; :meth:`finish` closes it). What the Dask runner does differently
from the others, and how the executor meets it:

- It computes only the pipeline's last transform (side inputs are computed
  apart, inside a task): every dataprep pipeline is a single chain with no
  side input, ending in a step that writes its own result files
  (:class:`dataprep.beam.executor.WriteLines`).
- ``Reshuffle`` does nothing and ``Create`` makes partitions of 128 elements:
  the pipelines start from many small chunk files, and unless the user says
  otherwise each chunk is its own partition (``--dask_partition_size=1``), so
  the chunks spread over the workers.
- ``GroupByKey`` returns a group's values in any order: the shard writer
  sorts them by rank (it must on every runner).
- Its result has no live state and no metrics: the executor waits on it
  (no progress bar) instead of polling it.
- Workers are other processes (spawned): what a step needs travels pickled
  (module-level functions, job rows read from the chunk files), and image
  paths must be seen by every worker (local paths on a local cluster, URLs or
  a shared file system on a remote one).
"""

from __future__ import annotations

import logging

from apache_beam.options.pipeline_options import PipelineOptions

from dataprep.errors import UsageError
from dataprep.parallel import default_workers


def load_runner() -> None:
    """Import Beam's Dask runner (which also registers its pipeline options);
    a clear error when dask is not installed."""
    try:
        import dask.distributed  # noqa: F401

        import apache_beam.runners.dask.dask_runner  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--beam-option runner=DaskRunner needs dask.distributed ({exc}): "
                         "pip install 'dataprep[dask]'") from None


class DaskCluster:
    """The cluster the pipelines of one conversion run on (see the module docstring)."""

    def __init__(self, flags: list[str]):
        opts = PipelineOptions(flags).get_all_options()  # Beam's DaskOptions keep their Client() argument names
        self.remote = bool(opts.get("address") or opts.get("scheduler_file"))
        self.workers = opts.get("dask_local_workers") or default_workers()
        self.partitioned = bool(opts.get("npartitions") or opts.get("partition_size"))
        self._local = None

    def flags(self) -> list[str]:
        """What each pipeline adds to the user's flags: the local cluster's
        address (started on the first call), one partition per chunk."""
        extra = [] if self.partitioned else ["--dask_partition_size=1"]
        if self.remote:
            return extra
        if self._local is None:
            from dask.distributed import LocalCluster

            # preload: each worker imports Beam as the launcher does, its import-time log lines kept quiet
            self._local = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR, preload=["dataprep.beam"])
        return [*extra, f"--dask_client_address={self._local.scheduler_address}"]

    @staticmethod
    def finish(result) -> None:
        """Close the client Beam's DaskRunner opened for one pipeline."""
        client = getattr(result, "client", None)
        if client is not None:
            client.close()

    def close(self) -> None:
        """Shut the local cluster down (its worker processes end)."""
        if self._local is not None:
            self._local.close()
            self._local = None


__all__ = ["DaskCluster", "load_runner"]
