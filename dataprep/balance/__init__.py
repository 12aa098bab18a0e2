"""Splitting without leakage and rebalancing classes: pure functions over the dataset tables.

* :func:`parse_split_spec` reads ``--split train=0.8,val=0.1,test=0.1``;
  :func:`stratified_split` assigns images to splits by iterative
  stratification (Sechidis et al. 2011) over leakage groups.
* :func:`groups_from_regex` (``--group-by``) and :func:`merge_groups` (union of
  sha256, near-duplicate and regex keys) build those groups.
* :func:`repeat_factors` rebalances the training split by repeat-factor
  sampling (LVIS, Gupta et al. 2019) or its instance-aware variant, with
  ``--max-per-class`` and a ratio of images without objects;
  :func:`expand_repeats` lays the copies out for the shard writer.

Nothing here reads files or logs: decisions come back as arrays, tables and
log lines for the caller to apply and record in the manifest.
"""

from dataprep.balance.groups import groups_from_regex, key_codes, merge_groups
from dataprep.balance.repeat import (
    DROP_MAX_PER_CLASS,
    DROP_NEGATIVE_RATIO,
    METHODS,
    RepeatResult,
    expand_repeats,
    instance_ratio,
    repeat_factors,
)
from dataprep.balance.split import SplitResult, check_fractions, parse_split_spec, stratified_split

__all__ = [
    "DROP_MAX_PER_CLASS",
    "DROP_NEGATIVE_RATIO",
    "METHODS",
    "RepeatResult",
    "SplitResult",
    "check_fractions",
    "expand_repeats",
    "groups_from_regex",
    "instance_ratio",
    "key_codes",
    "merge_groups",
    "parse_split_spec",
    "repeat_factors",
    "stratified_split",
]
