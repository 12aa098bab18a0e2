"""The options of the commands that check and write records, in groups, so
each command takes only what it uses.

* :class:`CheckOptions` -- how images and boxes are checked (``validate``).
* :class:`LayoutOptions` -- how the output is laid out: shards, compression, order.
* :class:`BalanceOptions` -- ``--split`` and ``--rebalance``.
* :class:`OutputOptions` -- ``--out``, ``--overwrite``.
* :class:`SplitOptions` -- ``dataprep split`` on records: layout + balance, no checks.
* :class:`ConvertOptions` -- ``convert``: all the groups, flat (one keyword
  per option, as the CLI fills it); ``.checks``, ``.layout`` and ``.balance``
  give the groups.

Every option is declared once, on its group's field: its default, and its
flags and help (:func:`dataprep.options.option`), from which the CLI builds
its options (``dataprep/cli/options.py``). The groups live in
:mod:`dataprep.options` (no third-party import, so the CLI starts without
pandas) and are re-exported here; the flat classes take their fields from the
groups by name (:func:`_flat`), declaring nothing again.

Each group checks its own values; a bad one is a :class:`UsageError` naming the option.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, field, fields
from pathlib import Path

from dataprep.locations import location
from dataprep.options import (  # noqa: F401  (the groups: declared there, where the CLI reads them cheaply)
    DECLARED, GROUPS, SHARD_TARGET_BYTES, BalanceOptions, CheckOptions, LayoutOptions, OutputOptions, check_max_pixels,
    check_workers, parse_compression, parse_threshold)
from dataprep.validate.policy import ErrorPolicy

def _group(options, cls):
    return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


def _flat(name: str, doc: str, names: tuple[str, ...], base: type) -> type:
    """A flat options class (one keyword per option, as the CLI fills it) with
    the fields ``names`` in that order, as the groups declare them: their
    defaults and options are not written a second time. The order is the
    manifest's ``options`` order."""
    specs = []
    for n in names:
        f = DECLARED[n]
        specs.append((n, f.type, field(default=f.default, metadata=f.metadata)))
    cls = dataclasses.make_dataclass(name, specs, bases=(base,))
    cls.__module__, cls.__doc__ = __name__, doc
    return cls


class _SplitMethods:
    def __post_init__(self):
        self.out = Path(self.out)
        check_workers(self.workers)
        check_max_pixels(self.max_pixels)
        _group(self, LayoutOptions)  # checks its values
        self.split = self.balance.split  # parsed from "train=0.8,val=0.2"

    @property
    def layout(self) -> LayoutOptions:
        return _group(self, LayoutOptions)

    @property
    def balance(self) -> BalanceOptions:
        return _group(self, BalanceOptions)

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d.pop("progress")
        return d


SplitOptions = _flat(
    "SplitOptions", "``dataprep split`` on a records folder: the layout and balance groups, the output, the scan "
                    "(it decodes each image for its perceptual hash; larger than ``max_pixels``: not decoded).",
    ("out", "num_shards", "compression", "workers", "overwrite", "seed", "max_pixels", "shard_target_bytes",
     "split", "group_by", "rebalance", "rebalance_split", "repeat_threshold", "max_per_class", "negative_ratio",
     "progress"), _SplitMethods)


class _ConvertMethods:
    def __post_init__(self):
        self.out = location(self.out)  # a URL stays a string (--runner beam)
        if self.label_map is not None:
            self.label_map = location(self.label_map)
        for group in (CheckOptions, LayoutOptions):  # each group checks its own values
            _group(self, group)
        self.split = self.balance.split  # parsed from "train=0.8,val=0.2"

    @classmethod
    def for_checks(cls, checks: CheckOptions) -> "ConvertOptions":
        """A dry run (``dataprep validate``): every check, nothing written."""
        return cls(out=Path("."), dry_run=True, **asdict(checks))

    @property
    def checks(self) -> CheckOptions:
        return _group(self, CheckOptions)

    @property
    def layout(self) -> LayoutOptions:
        return _group(self, LayoutOptions)

    @property
    def balance(self) -> BalanceOptions:
        return _group(self, BalanceOptions)

    @property
    def policy(self) -> ErrorPolicy:
        return ErrorPolicy(self.on_error)

    @property
    def two_pass(self) -> bool:
        """Whether the layout needs every image checked before any is written
        (``--split``, ``--rebalance``): check all, plan, then encode."""
        return not self.dry_run and (self.split is not None or self.rebalance is not None)

    def for_split(self) -> "SplitOptions":
        """The options ``dataprep split`` on records uses."""
        return _group(self, SplitOptions)

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["label_map"] = str(self.label_map) if self.label_map else None
        d.pop("progress")
        d.pop("dry_run")
        return d


ConvertOptions = _flat(
    "ConvertOptions", "``convert``: the output, checks, layout and balance groups, flat; ``.checks``, ``.layout`` "
                      "and ``.balance`` give the groups.",
    ("out", "label_map", "num_shards", "compression", "workers", "overwrite", "on_error", "strict", "drop_empty",
     "seed", "decode_check", "max_pixels", "follow_symlinks", "min_box_size", "shard_target_bytes", "progress",
     "dry_run", "split", "group_by", "rebalance", "rebalance_split", "repeat_threshold", "max_per_class",
     "negative_ratio"), _ConvertMethods)
