"""Pipeline options from the CLI, and the runner they name.

``--beam-option KEY=VALUE`` (repeatable) becomes ``--KEY=VALUE``;
``--beam-pipeline-options "..."`` is split like a shell command line. Without
a runner, or with ``DirectRunner``, the pipeline runs on Beam's in-process
``FnApiRunner``: the ``DirectRunner`` would first try the Prism runner, whose
binary it downloads, which fails offline.
"""

from __future__ import annotations

import shlex

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from dataprep.errors import UsageError

#: Runner names served by the in-process FnApiRunner.
IN_PROCESS = ("DirectRunner", "FnApiRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")


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
    """``(runner, PipelineOptions)``; the runner is a ``FnApiRunner`` for the in-process names."""
    opts = PipelineOptions(flags or [])
    name = opts.view_as(StandardOptions).runner
    if name is None or name in IN_PROCESS:
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        opts.view_as(StandardOptions).runner = None
        return FnApiRunner(), opts
    return name, opts
