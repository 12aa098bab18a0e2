"""Pipeline options from the CLI, and the runner they name.

``--beam-option KEY=VALUE`` (repeatable) becomes ``--KEY=VALUE``;
``--beam-pipeline-options "..."`` is split like a shell command line. Without
a runner, or with ``DirectRunner``, the pipeline runs on Beam's in-process
``FnApiRunner``: the ``DirectRunner`` would first try the Prism runner, whose
binary it downloads, which fails offline.

``runner=DaskRunner`` runs on a ``dask.distributed`` cluster: the one at
``dask_client_address`` (or ``dask_scheduler_file``), else a local cluster of
``dask_local_workers`` worker processes (default: one per core) that the
executor starts for the conversion and shuts down after it
(:mod:`dataprep.beam.dask_cluster`).
"""

from __future__ import annotations

import shlex

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from dataprep.errors import UsageError

#: Runner names served by the in-process FnApiRunner.
IN_PROCESS = ("DirectRunner", "FnApiRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")
#: Beam's Dask runner, by the names Beam accepts for it.
DASK = ("DaskRunner", "Dask", "apache_beam.runners.dask.dask_runner.DaskRunner")


class LocalDaskOptions(PipelineOptions):
    """dataprep's own option for the Dask runner (Beam knows it once this class exists)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--dask_local_workers", type=int, default=None,
                            help="Worker processes of the local dask.distributed cluster dataprep starts when "
                                 "no --dask_client_address or --dask_scheduler_file is given (default: one per core).")


def runner_name(flags: list[str] | None) -> str | None:
    return PipelineOptions(flags or []).view_as(StandardOptions).runner


def is_dask(flags: list[str] | None) -> bool:
    name = runner_name(flags)
    return name is not None and (name in DASK or name.lower() in ("dask", "daskrunner"))


def pipeline_flags(options: list[str] | None = None, pipeline_options: str | None = None) -> list[str]:
    """Command-line flags for Beam from ``KEY=VALUE`` pairs and a flags string."""
    flags = shlex.split(pipeline_options or "")
    for kv in options or []:
        key, sep, value = kv.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise UsageError(f"--beam-option expects KEY=VALUE (e.g. runner=DataflowRunner), got {kv!r}")
        flags.append(f"--{key}={value}")
    return flags


def unknown_flags(flags: list[str] | None) -> list[str]:
    """The options in ``flags`` that no Beam options class defines (Beam would
    log and drop them: a misspelt ``--temp_location`` must not go unnoticed)."""
    opts = PipelineOptions(flags or [])
    known = set(opts.get_all_options())
    return [f"--{k}" for k in opts.get_all_options(retain_unknown_options=True) if k not in known]


def pipeline_options(flags: list[str] | None = None):
    """``(runner, PipelineOptions)``; the runner is a ``FnApiRunner`` for the
    in-process names, a ``DaskRunner`` for Dask (Beam does not resolve its name)."""
    opts = PipelineOptions(flags or [])
    name = opts.view_as(StandardOptions).runner
    if name is None or name in IN_PROCESS:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        opts.view_as(StandardOptions).runner = None
        return FnApiRunner(), opts
    if is_dask(flags):
        from apache_beam.runners.dask.dask_runner import DaskRunner

        opts.view_as(StandardOptions).runner = None
        return DaskRunner(), opts
    return name, opts
