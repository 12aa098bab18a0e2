"""The options of the commands that check and write records, in groups, so
each command takes only what it uses.

* :class:`CheckOptions` -- how images and boxes are checked (``validate``).
* :class:`LayoutOptions` -- how the output is laid out: shards, compression, order.
* :class:`BalanceOptions` -- ``--split`` and ``--rebalance``.
* :class:`SplitOptions` -- ``dataprep split`` on records: layout + balance, no checks.
* :class:`ConvertOptions` -- ``convert``: all three groups, flat (one keyword
  per option, as the CLI fills it); ``.checks``, ``.layout`` and ``.balance``
  give the groups.

Each group checks its own values; a bad one is a :class:`UsageError` naming the option.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from dataprep.errors import UsageError
from dataprep.locations import location
from dataprep.validate.images import DEFAULT_MAX_PIXELS
from dataprep.validate.policy import ErrorPolicy

#: Default shard size target: shards near 100-200 MB.
SHARD_TARGET_BYTES = 150 * 2**20


@dataclass
class CheckOptions:
    label_map: Path | None = None
    workers: int | None = None  # None: all cores
    on_error: str = "fix"  # fix | skip | fail
    strict: bool = False
    drop_empty: bool = False
    decode_check: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: ``--follow-symlinks``: read images through links that lead outside the images folder.
    follow_symlinks: bool = False
    min_box_size: float = 1.0
    progress: bool = True

    def __post_init__(self):
        ErrorPolicy(self.on_error)  # a clear error for an unknown mode
        _check_workers(self.workers)
        _check_max_pixels(self.max_pixels)


@dataclass
class LayoutOptions:
    num_shards: int | None = None
    compression: str | None = None  # None or "gzip"
    seed: int = 0
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
    split: dict | None = None
    group_by: str | None = None
    #: ``--rebalance images|instances``: repeat-factor sampling of the train split.
    rebalance: str | None = None
    rebalance_split: str = "train"
    repeat_threshold: float | str | None = "auto"
    max_per_class: int | None = None
    negative_ratio: float | None = None
    seed: int = 0

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
class SplitOptions:
    """``dataprep split`` on a records folder: the layout and balance groups, the output, the scan."""

    out: Path
    num_shards: int | None = None
    compression: str | None = None
    workers: int | None = None
    overwrite: bool = False
    seed: int = 0
    #: The scan decodes each image for its perceptual hash; larger ones are not decoded.
    max_pixels: int = DEFAULT_MAX_PIXELS
    shard_target_bytes: int = SHARD_TARGET_BYTES
    split: dict | None = None
    group_by: str | None = None
    rebalance: str | None = None
    rebalance_split: str = "train"
    repeat_threshold: float | str | None = "auto"
    max_per_class: int | None = None
    negative_ratio: float | None = None
    progress: bool = True

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


@dataclass
class ConvertOptions:
    out: Path | str  # a URL stays a string (--runner beam)
    label_map: Path | str | None = None  # a URL with --runner beam
    num_shards: int | None = None
    compression: str | None = None  # None or "gzip"
    workers: int | None = None  # None: all cores
    overwrite: bool = False
    on_error: str = "fix"  # fix | skip | fail
    strict: bool = False
    drop_empty: bool = False
    seed: int = 0
    decode_check: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: ``--follow-symlinks``: read images through links that lead outside the images folder.
    follow_symlinks: bool = False
    min_box_size: float = 1.0
    shard_target_bytes: int = SHARD_TARGET_BYTES
    progress: bool = True
    #: Run every check but write nothing (``dataprep validate``).
    dry_run: bool = False
    split: dict | None = None
    group_by: str | None = None
    rebalance: str | None = None
    rebalance_split: str = "train"
    repeat_threshold: float | str | None = "auto"
    max_per_class: int | None = None
    negative_ratio: float | None = None

    def __post_init__(self):
        self.out = location(self.out)
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

    def for_split(self) -> SplitOptions:
        """The options ``dataprep split`` on records uses."""
        return _group(self, SplitOptions)

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["label_map"] = str(self.label_map) if self.label_map else None
        d.pop("progress")
        d.pop("dry_run")
        return d
