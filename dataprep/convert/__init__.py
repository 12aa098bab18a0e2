"""Conversion: the dataset model in, validated sharded TFRecords out.

One file per stage (read them in this order):

* :mod:`~dataprep.convert.options` -- the option groups (checks, layout,
  balance) and :class:`ConvertOptions`, what the CLI fills.
* :mod:`~dataprep.convert.pipeline` -- :func:`convert`, a page of named steps:
  check annotations -> check + encode images -> plan splits/rebalance -> write -> publish.
* :mod:`~dataprep.convert.work` -- the per-image pure function
  :func:`~dataprep.convert.work.process_image` (check_image + fit_boxes +
  encode_example) over a :class:`~dataprep.convert.work.Job` of columns.
* :mod:`~dataprep.convert.executor` -- who runs it: the local process pool
  (a Beam ``Map`` is the next executor).
* :mod:`~dataprep.convert.layout` -- splits, leakage groups, rebalancing and
  shards per split; shared with ``dataprep split``.
* :mod:`~dataprep.convert.result` -- :class:`ConvertResult` and the summary tables.

The output folder itself (shards, label map, manifest, report, the lock) is
:class:`dataprep.records.output.OutputWriter`'s.
"""

from dataprep.convert.layout import plan_layout
from dataprep.convert.options import (
    SHARD_TARGET_BYTES,
    BalanceOptions,
    CheckOptions,
    ConvertOptions,
    LayoutOptions,
    SplitOptions,
)
from dataprep.convert.pipeline import convert, resolve_label_map, validate
from dataprep.convert.result import ConvertResult, class_table_lines
from dataprep.convert.work import Codes
from dataprep.dataset import SPLIT_ORDER
from dataprep.parallel import default_workers
from dataprep.records.output import OUTPUT_FILES, SHARD_NAME, SHARD_RE, prepare_output

__all__ = [
    "OUTPUT_FILES",
    "SHARD_NAME",
    "SHARD_RE",
    "SHARD_TARGET_BYTES",
    "SPLIT_ORDER",
    "BalanceOptions",
    "CheckOptions",
    "Codes",
    "ConvertOptions",
    "LayoutOptions",
    "SplitOptions",
    "ConvertResult",
    "class_table_lines",
    "convert",
    "default_workers",
    "plan_layout",
    "prepare_output",
    "resolve_label_map",
    "validate",
]
