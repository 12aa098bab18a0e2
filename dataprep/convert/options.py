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
its options (``dataprep/cli/options.py``). The flat classes take their fields
from the groups by name (:func:`_flat`), declaring nothing again.

Each group checks its own values; a bad one is a :class:`UsageError` naming the option.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from dataprep.errors import UsageError
from dataprep.locations import location
from dataprep.options import option
from dataprep.validate.images import DEFAULT_MAX_PIXELS
from dataprep.validate.policy import ErrorPolicy

#: Default shard size target: shards near 100-200 MB.
SHARD_TARGET_BYTES = 150 * 2**20


def _opt(default, *flags: str, help: str, **cli):
    """A field with its default and its command-line option (:func:`dataprep.options.option`)."""
    return field(default=default, metadata=option(*flags, help=help, **cli))


def parse_compression(value: str) -> str | None:
    """``--compression``: None for none (or empty), else the lower-cased name."""
    return None if value.lower() in ("", "none") else value.lower()


def parse_threshold(value: str) -> float | str:
    """``--repeat-threshold``: a number, or ``auto``."""
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"--repeat-threshold must be a number or auto, got {value!r}") from None


def _not(value: bool) -> bool:
    return not value


@dataclass
class CheckOptions:
    label_map: Path | None = _opt(
        None, "--label-map", help="StringIntLabelMap .pbtxt to use; default: derived from the data (sorted names, "
                                  "ids from 1).")
    workers: int | None = _opt(None, "--workers", "-j", help="Worker processes; default: all cores.")
    on_error: str = _opt(  # fix | skip | fail
        "fix", "--on-error", help="fix: fix what is safe, drop the rest; skip: skip images with errors; fail: stop "
                                  "at the first.")
    strict: bool = _opt(False, "--strict", help="Exit 1 if there is any error finding (after the full report).")
    drop_empty: bool = _opt(False, "--drop-empty", help="Drop images without objects (kept as negatives by default).")
    decode_check: bool = _opt(True, "--no-decode-check", help="Skip the full decode of every image (faster, unsafe).",
                              name="no_decode_check", cli_default=False, parse=_not)
    max_pixels: int = _opt(DEFAULT_MAX_PIXELS, "--max-pixels", help="Refuse images with more pixels than this.")
    #: ``--follow-symlinks``: read images through links that lead outside the images folder.
    follow_symlinks: bool = _opt(
        False, "--follow-symlinks", help="Read images through symbolic links that lead outside the images folder "
                                         "(refused by default: image.path_escapes_root).")
    min_box_size: float = 1.0
    progress: bool = _opt(True, "--quiet", "-q", help="No progress bar.", name="quiet", cli_default=False, parse=_not)

    def __post_init__(self):
        ErrorPolicy(self.on_error)  # a clear error for an unknown mode
        _check_workers(self.workers)
        _check_max_pixels(self.max_pixels)


@dataclass
class LayoutOptions:
    num_shards: int | None = _opt(None, "--num-shards", help="Shards per split; default keeps shards near 100-200 MB.")
    compression: str | None = _opt(  # None or "gzip"
        None, "--compression", help="none or gzip.", type=str, cli_default="none", parse=parse_compression)
    seed: int = _opt(0, "--seed", help="Seed for the order of examples in shards.")
    shard_target_bytes: int = SHARD_TARGET_BYTES

    def __post_init__(self):
        if self.compression not in (None, "gzip"):
            raise UsageError(f"--compression must be gzip or none, got {self.compression!r}")
        if self.num_shards is not None and self.num_shards < 1:
            raise UsageError(f"--num-shards must be >= 1, got {self.num_shards}")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed must be an integer >= 0, got {self.seed}")


@dataclass
class BalanceOptions:
    #: ``--split train=0.8,val=0.2``: replace the source's splits by a
    #: stratified split over leakage groups.
    split: dict | None = _opt(
        None, "--split", help="Re-split: 'train=0.8,val=0.1,test=0.1', stratified per class, duplicates kept "
                              "together.", type=Optional[str])
    group_by: str | None = _opt(
        None, "--group-by", help="With --split: regex on the file name; images with the same match stay in one "
                                 "split.")
    #: ``--rebalance images|instances``: repeat-factor sampling of the train split.
    rebalance: str | None = _opt(
        None, "--rebalance", help="Repeat-factor sampling of the train split: images (LVIS) or instances.")
    rebalance_split: str = "train"
    repeat_threshold: float | str | None = _opt(
        "auto", "--repeat-threshold", help="Repeat-factor threshold t, or auto.", type=str, parse=parse_threshold)
    max_per_class: int | None = _opt(
        None, "--max-per-class", help="With --rebalance: cap on the boxes of any class in the train split.")
    negative_ratio: float | None = _opt(
        None, "--negative-ratio", help="With --rebalance: keep at most this many images without objects per image "
                                       "with.")
    seed: int = LayoutOptions.seed  # the layout's --seed

    def __post_init__(self):
        if isinstance(self.split, str):
            from dataprep.balance import parse_split_spec

            self.split = parse_split_spec(self.split)
        if self.rebalance not in (None, "images", "instances"):
            raise UsageError(f"--rebalance must be images or instances, got {self.rebalance!r}")
        if self.group_by and self.split is None:
            raise UsageError("--group-by only applies with --split")
        for name, value in (("--max-per-class", self.max_per_class), ("--negative-ratio", self.negative_ratio)):
            if value is not None and self.rebalance is None:
                raise UsageError(f"{name} only applies with --rebalance images|instances")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise UsageError(f"--max-per-class must be >= 1, got {self.max_per_class}")
        if self.negative_ratio is not None and not (self.negative_ratio >= 0 and math.isfinite(self.negative_ratio)):
            raise UsageError(f"--negative-ratio must be a number >= 0, got {self.negative_ratio}")
        t = self.repeat_threshold
        if t not in (None, "auto") and not (isinstance(t, (int, float)) and 0 < t <= 1):
            # t is a class frequency (LVIS uses 0.001): above 1 every class
            # would be repeated, by factors that overflow.
            raise UsageError(f"--repeat-threshold must be auto or a frequency in (0, 1], got {t!r}")


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")


def _check_max_pixels(max_pixels: int) -> None:
    if max_pixels < 1:
        raise UsageError(f"--max-pixels must be >= 1, got {max_pixels}")


def _group(options, cls):
    return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


@dataclass
class OutputOptions:
    """Where the records go (``convert`` and ``split``; ``validate`` writes nothing)."""

    out: Path | str = field(metadata=option("--out", "-o", help="Output folder for the records.", required=True,
                                            type=Path))
    overwrite: bool = _opt(False, "--overwrite", help="Replace the dataprep outputs in an existing OUT.")
    #: Run every check but write nothing (``dataprep validate``).
    dry_run: bool = False


#: Every declared option field by name (the first group that declares a name owns it).
GROUPS = (OutputOptions, CheckOptions, LayoutOptions, BalanceOptions)
DECLARED = {}
for _cls in GROUPS:
    for _f in fields(_cls):
        DECLARED.setdefault(_f.name, _f)


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
        _check_workers(self.workers)
        _check_max_pixels(self.max_pixels)
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
