"""Conversion on Apache Beam (``dataprep convert ... --runner beam``).

The Beam runner is another executor of the same conversion, not a copy of it::

    launcher: list the VOC XML files -> parse pass (workers): each file parsed -> its rows back
    launcher: read the source -> check annotations -> per-image job rows (metadata, no image bytes)
        -> rows-*.pkl in a temp folder
    check pass (workers):  rows --Map: the per-image work, no encoding--> small results (findings,
        kept labels, sha256, pHash) -> launcher: accounting, splits, leakage groups, rebalancing,
        the shard plan (the same planner as the local run)
    encode pass (workers): rows keyed (split, shard, rank) --Map: the per-image work--> framed records
        --GroupByKey (split, shard)--> one temp shard file per key, records in rank order
    launcher: every shard complete -> rename to {split}-{i:05d}-of-{n:05d}.tfrecord,
        label_map.pbtxt, manifest.json, report.json (the same publishing as the local run)

The shard count comes from the plan, never from the runner, and a record's
shard and position within it are those the local writer gives it, so the
shards are byte-identical to a local run's. Nothing in ``OUT`` looks complete
until the launcher renames the temp shards after the pipeline succeeded; a
failed pipeline leaves only the temp folder's ``.partial`` files, which the
launcher removes.

Paths go through Beam's ``FileSystems``: the source (a VOC root, a COCO
JSON, a CSV), the images root, ``--label-map`` and ``OUT`` may be URLs
(``gs://``, ``s3://``, ``hdfs://``); the launcher lists and reads the
source's files through :mod:`dataprep.beam.urls`, workers read the image
bytes with ``FileSystems.open`` (``Job.store``), and an ``OUT`` URL is written by
:class:`~dataprep.beam.files.FileSystemsOutputWriter` (temp names, renamed
after the pipeline succeeded, manifest last).

Files: ``executor.py`` (the pipelines, :class:`BeamExecutor`, its stage
lines and progress bar), ``files.py`` (reading images and their sizes,
writing an ``OUT`` URL), ``urls.py`` (reading and listing URLs for the
launcher), ``logs.py`` (Beam's log lines off the terminal unless
``--debug``), ``options.py`` (``--beam-option`` / ``--beam-pipeline-options``
and the in-process runner). Importing this package imports Beam; nothing
else in dataprep imports it, except :mod:`dataprep.locations` on the first
URL it reads.
"""

from __future__ import annotations

import logging

from dataprep.errors import UsageError

# Without the GCP extra, Beam's import calls logging.warning() about BigQuery
# clients we never use, which also configures the root logger. A NullHandler
# for the import's duration keeps the user's logging as it was.
_quiet = logging.NullHandler()
logging.getLogger().addHandler(_quiet)
try:
    import apache_beam  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed in CI
    raise UsageError("--runner beam needs Apache Beam: pip install 'dataprep[beam]'") from exc
finally:
    logging.getLogger().removeHandler(_quiet)

from dataprep.beam.executor import BeamExecutor  # noqa: E402
from dataprep.beam.options import pipeline_options  # noqa: E402

__all__ = ["BeamExecutor", "pipeline_options"]
