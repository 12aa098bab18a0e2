"""The options of a conversion, as the library takes them (the CLI fills them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from dataprep.errors import UsageError
from dataprep.validate.images import DEFAULT_MAX_PIXELS
from dataprep.validate.policy import ErrorPolicy

#: Default shard size target: shards near 100-200 MB.
SHARD_TARGET_BYTES = 150 * 2**20


@dataclass
class ConvertOptions:
    out: Path
    label_map: Path | None = None
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
    min_box_size: float = 1.0
    shard_target_bytes: int = SHARD_TARGET_BYTES
    progress: bool = True
    #: Run every check but write nothing (``dataprep validate``).
    dry_run: bool = False
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

    def __post_init__(self):
        self.out = Path(self.out)
        ErrorPolicy(self.on_error)  # a clear error for an unknown mode
        if self.compression not in (None, "gzip"):
            raise UsageError(f"--compression must be gzip or none, got {self.compression!r}")
        if self.num_shards is not None and self.num_shards < 1:
            raise UsageError(f"--num-shards must be >= 1, got {self.num_shards}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        if isinstance(self.split, str):
            from dataprep.balance import parse_split_spec

            self.split = parse_split_spec(self.split)
        if self.rebalance not in (None, "images", "instances"):
            raise UsageError(f"--rebalance must be images or instances, got {self.rebalance!r}")
        if self.group_by and self.split is None:
            raise UsageError("--group-by only applies with --split")

    @property
    def policy(self) -> ErrorPolicy:
        return ErrorPolicy(self.on_error)

    @property
    def two_pass(self) -> bool:
        """Whether the layout needs every image checked before any is written
        (``--split``, ``--rebalance``): check all, plan, then encode."""
        return not self.dry_run and (self.split is not None or self.rebalance is not None)

    def to_json(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["label_map"] = str(self.label_map) if self.label_map else None
        d.pop("progress")
        d.pop("dry_run")
        return d
