"""Options declared once: a dataclass field carries its command-line option.

Each reader's options dataclass (``dataprep/formats/<name>.py``) and each
option group of ``convert``/``validate``/``split`` (:mod:`dataprep.convert.options`)
declares a field's default once, on the field, and its option's flags and help
in the field's metadata with :func:`option`; the CLI (``dataprep/cli``) builds
its command-line options from these declarations. No third-party import here
(the CLI reads the declarations at start-up): every layer may declare options.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from dataprep.errors import UsageError

#: ``--max-pixels``: images with more pixels are refused, not decoded (decompression bombs).
DEFAULT_MAX_PIXELS = 100_000_000

#: The help panel of the source options (``--images``, ``--year``, the CSV ones).
SOURCE_PANEL = "Source annotation sets"


#: ``cli_default`` not given: the command line's default is the field's.
SAME = object()


def option(*flags: str, help: str, panel: str | None = None, required: bool = False, name: str | None = None,
           type: Any = None, cli_default: Any = SAME, parse: Callable[[Any], Any] | None = None) -> dict:
    """A field's command-line option, as the field's metadata:
    ``year: str | None = field(default=None, metadata=option("--year", help="..."))``.

    ``required``: no default on the command line. Where the command line says
    it differently from the field, ``name`` is the CLI parameter's name,
    ``type`` and ``cli_default`` its type and default there, and ``parse`` turns
    the CLI value into the field's (``--no-decode-check`` -> ``decode_check = not value``).
    """
    return {"cli": {"flags": flags, "help": help, "panel": panel, "required": required, "name": name,
                    "type": type, "default": cli_default, "parse": parse}}


# -- the CSV reader's options: ``convert csv`` (formats/csv.py) and the any-format commands (cli/options.py) --

def csv_columns_field():
    return field(default=None, metadata=option(
        "--columns", help="CSV: map roles to columns, 'class=cell_type,xmin=x1'; or all column names in order "
                          "(for files without a header, with --no-header).", panel=SOURCE_PANEL))


def csv_header_field():
    return field(default=True, metadata=option(
        "--header/--no-header", help="CSV: whether the first row names the columns.", panel=SOURCE_PANEL))


def csv_normalized_field():
    return field(default=False, metadata=option(
        "--normalized", help="CSV: coordinates are fractions of the image size.", panel=SOURCE_PANEL))


def csv_box_format_field():
    return field(default="xyxy", metadata=option(
        "--box-format", help="CSV: xyxy (xmin,ymin,xmax,ymax) or xywh (x,y,w,h).", panel=SOURCE_PANEL))


# -- the option groups of convert, validate and split (dataprep.convert.options) ------

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
        check_on_error(self.on_error)  # a clear error for an unknown mode
        check_workers(self.workers)
        check_max_pixels(self.max_pixels)


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


#: ``--split train=0.8,val=0.2`` (:mod:`dataprep.balance.split` splits by these fractions).
#: How far the fractions may sum from 1.
FRACTION_TOLERANCE = 1e-6
#: Split names become shard file names (``{split}-00000-of-00004.tfrecord``).
SPLIT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_EXAMPLE = "e.g. 'train=0.8,val=0.1,test=0.1'"


def parse_split_spec(spec: str) -> dict[str, float]:
    """Parse ``--split``: ``"train=0.8,val=0.1,test=0.1"`` -> ``{"train": 0.8, ...}`` in the order given.

    Every fraction must be a number > 0 and together they must sum to 1
    (within :data:`FRACTION_TOLERANCE`); names must be unique and usable in a
    shard file name. Anything else raises :class:`~dataprep.errors.UsageError`
    naming the offending value.

    >>> parse_split_spec("train=0.8, val=0.1, test=0.1")
    {'train': 0.8, 'val': 0.1, 'test': 0.1}
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"--split: expected NAME=FRACTION pairs separated by commas ({_EXAMPLE}), got {spec!r}")
    fractions: dict[str, float] = {}
    for part in spec.split(","):
        item = part.strip()
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep:
            raise UsageError(f"--split: expected NAME=FRACTION, got {item!r} in {spec!r} ({_EXAMPLE})")
        if not SPLIT_NAME_RE.match(name):
            raise UsageError(
                f"--split: split name {name!r} in {spec!r} must start with a letter or digit and contain only "
                "letters, digits, '_' and '-' (it names the shard files)"
            )
        if name in fractions:
            raise UsageError(f"--split: split {name!r} is given twice in {spec!r}")
        try:
            fraction = float(value)
        except ValueError:
            raise UsageError(f"--split: fraction {value!r} of split {name!r} is not a number ({_EXAMPLE})") from None
        fractions[name] = fraction
    return check_fractions(fractions, spec)


def check_fractions(fractions: Mapping[str, float], spec: str | None = None) -> dict[str, float]:
    """Check split fractions (each finite and > 0, sum 1); return them as a plain ordered dict."""
    where = f" in {spec!r}" if spec is not None else ""
    out = {str(k): float(v) for k, v in dict(fractions).items()}
    if not out:
        raise UsageError(f"--split: no splits given ({_EXAMPLE})")
    for name, fraction in out.items():
        if not math.isfinite(fraction) or fraction <= 0:
            raise UsageError(f"--split: fraction of split {name!r} must be a number > 0, got {fraction!r}{where}")
    total = math.fsum(out.values())
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        listed = ", ".join(f"{k}={v:g}" for k, v in out.items())
        raise UsageError(f"--split: fractions must sum to 1, got {total:.6g} ({listed}){where}")
    return out


#: ``--on-error`` modes (:class:`dataprep.validate.policy.ErrorPolicy` applies them).
ON_ERROR_MODES = ("fix", "skip", "fail")


def check_on_error(mode: str) -> None:
    if mode not in ON_ERROR_MODES:
        raise UsageError(f"--on-error must be fix, skip or fail, got {mode!r}")


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")


def check_max_pixels(max_pixels: int) -> None:
    if max_pixels < 1:
        raise UsageError(f"--max-pixels must be >= 1, got {max_pixels}")


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
