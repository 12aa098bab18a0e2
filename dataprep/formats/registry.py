"""The source registry: one way to detect and open an annotation source.

``convert``, ``validate``, ``stats`` and ``split`` all open sources through
:func:`open_source` (detecting the format with :func:`detect_format` when it
is ``auto``), so every command accepts the same sources with the same rules.

A format is one module, ``dataprep/formats/<name>.py``, that owns everything
dataprep knows of it and ends with its declaration::

    @dataclass(frozen=True)
    class KittiOptions:                        # its reader options, declared once (dataprep.options.option)
        images: str | None = field(default=None, metadata=option(
            "--images", help="Folder the labels' images are in.", required=True))

    def detect(path: Path) -> bool:            # cheap: names and folder layout only, no parsing
        return path.is_dir() and (path / "label_2").is_dir()

    def open_source(spec: SourceSpec) -> Dataset:
        opts = spec.options_for(KittiOptions)
        require_images(spec, opts.images, "KITTI")   # if its file names are relative to --images
        return read_kitti(spec.path, images=opts.images)

    def from_hub(boxes): ...                   # its pixel convention, beside the reader's inverse
    def write_kitti(ds, images, boxes, label_map, out, result, move): ...   # optional

    SOURCE = SourceFormat("kitti", detect, open_source, "a KITTI folder (label_2/)", options=KittiOptions,
                          argument=Argument("root", "KITTI folder."), summary="KITTI object labels.",
                          write=write_kitti, parse_file=None)

then its name goes in :data:`READERS` below (its place is its detection
priority). From the declaration come: ``dataprep convert kitti`` (its
argument, one option per options field, then the options every format
shares: ``dataprep/cli/convert.py``), ``--format kitti`` of ``validate``,
``stats`` and ``split``, ``export-annotations --format kitti`` (with a
``write``), and the Beam runner's per-file parsing (with a ``parse_file``
hook, called in the workers). The README's format table gets a row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.locations import is_url
from dataprep.options import SOURCE_PANEL, option  # noqa: F401  (the readers' declarations use them)

#: Reader modules (``dataprep.formats.<name>``), in detection order.
READERS = ("voc", "coco", "csv", "yolo", "tfrecord")


@dataclass(frozen=True)
class Argument:
    """The positional argument of ``dataprep convert <format>``: what names the source."""

    name: str
    help: str
    required: bool = True


class SourceSpec:
    """What the user said about a source: its path, its format, the reader's
    options by name (each reader takes the fields of its own options dataclass,
    :meth:`options_for`), and what every reader may use.

    ``SourceSpec(path, format="csv", images=..., header=False)``: keywords other
    than the ones below are reader options."""

    def __init__(self, path: Path | str | None, format: str = "auto", *, options: Mapping[str, Any] | None = None,
                 workers: int | None = None, progress: bool = False, label_map: Path | str | None = None,
                 parse_files: Callable | None = None, **reader_options):
        #: A local path, or a URL (``gs://...``; readers with ``urls``, ``--runner beam``).
        self.path = path
        self.format = format
        #: Reader options by name; a reader reads the ones its dataclass declares.
        self.options = {**(options or {}), **reader_options}
        self.workers = workers
        self.progress = progress
        #: A label map that names the classes of sources that carry only ids (records).
        self.label_map = label_map
        #: Parses annotation files elsewhere (the Beam runner's workers, with the
        #: format's ``parse_file`` hook): paths -> parsed, in order.
        self.parse_files = parse_files

    def options_for(self, cls):
        """The reader's options dataclass ``cls``, from the options given (others are ignored)."""
        return cls(**{f.name: self.options[f.name] for f in fields(cls)
                      if f.name in self.options and self.options[f.name] is not None})

    def __repr__(self) -> str:
        return f"SourceSpec({self.path!r}, format={self.format!r}, options={self.options!r})"


@dataclass(frozen=True)
class NoOptions:
    """A reader without options of its own."""


@dataclass(frozen=True)
class SourceFormat:
    """A format's declaration: everything the rest of dataprep knows of it.

    One module per format (``dataprep/formats/<name>.py``) ends with its
    ``SOURCE = SourceFormat(...)``; ``convert <name>``, ``export-annotations
    --format <name>``, detection and ``--format`` of every command come from
    these declarations."""

    name: str
    detect: Callable[[Path], bool]
    open: Callable[[SourceSpec], Dataset]
    #: What it looks like, for messages: "a Pascal VOC folder (Annotations/)".
    looks_like: str
    #: Whether it reads a URL source (through Beam's FileSystems, ``--runner beam``);
    #: the others read local disk only and refuse one.
    urls: bool = False
    #: The reader's options: a dataclass whose fields carry :func:`option` metadata.
    options: type = NoOptions
    #: ``dataprep convert <name>``'s positional argument and help text; no
    #: argument: no ``convert`` subcommand (the format is read by other commands).
    argument: Argument | None = None
    summary: str = ""
    #: The per-file parse hook: ``parse_file(path, read) -> parsed or the exception``
    #: (``read(path) -> bytes``). The Beam runner's workers call it on each
    #: annotation file; the reader takes the results through ``SourceSpec.parse_files``.
    parse_file: Callable | None = None
    #: ``export-annotations --format <name>``'s writer:
    #: ``write(ds, images, boxes, label_map, out, result, move)`` (see :mod:`dataprep.formats.writers`).
    write: Callable | None = None


def formats() -> dict[str, SourceFormat]:
    """Every registered reader by name, in detection order."""
    return {name: source_format(name) for name in READERS}


def source_format(name: str) -> SourceFormat:
    """One registered format's declaration (only its module is imported)."""
    return importlib.import_module(f"dataprep.formats.{name}").SOURCE


#: Records (a dataprep output folder, :mod:`dataprep.formats.records`): a registered
#: format outside the readers' detection order, taken by the commands that read records.
RECORDS = "records"


def format_names(records: bool = False) -> tuple[str, ...]:
    """What ``--format`` accepts: ``auto``, (``records``,) then the readers."""
    return ("auto", RECORDS, *READERS) if records else ("auto", *READERS)


def records_format() -> SourceFormat:
    """The registered records format."""
    return source_format(RECORDS)


def writers() -> dict[str, SourceFormat]:
    """The formats ``export-annotations`` writes, by name."""
    return {name: fmt for name, fmt in formats().items() if fmt.write is not None}


def detect_format(src: str | Path) -> str:
    """The first registered format whose ``detect`` accepts ``src``."""
    if is_url(src):
        raise UsageError(f"{src}: the format of a URL source is not detected; name it "
                         f"(dataprep convert {'|'.join(n for n, f in formats().items() if f.urls)} URL --runner beam)")
    path = Path(src)
    known = formats()
    for name, fmt in known.items():
        if fmt.detect(path):
            return name
    expected = "; ".join(f.looks_like for f in known.values())
    names = "|".join(known)
    if path.is_dir():
        raise UsageError(f"{src}: cannot tell what this folder holds (a folder without Annotations/ is not a VOC "
                         f"folder); expected {expected}; or give --format {names}")
    if not path.exists():
        raise UsageError(f"{src}: no such file or folder (expected {expected})")
    raise UsageError(f"{src}: unknown kind of file; expected {expected}; or give --format {names}")


def open_source(spec: SourceSpec) -> Dataset:
    """Read the source ``spec`` describes into a :class:`Dataset`."""
    known = formats()
    name = spec.format
    if name not in ("auto", *known):
        raise UsageError(f"--format must be one of {', '.join(('auto', *known))}, got {name!r}")
    if name == "auto":
        # No path: a VOC source given by --annotations and --images alone.
        name = detect_format(spec.path) if spec.path is not None else READERS[0]
    refuse_url(name, spec.path)
    return known[name].open(spec)


def refuse_url(name: str, path) -> None:
    """A reader of local disk only refuses a URL source, naming it (before Path() folds its ``//``)."""
    known = formats()
    if is_url(path) and not known[name].urls:
        raise UsageError(f"{path}: {name} sources are read from local disk only; URLs work for "
                         f"{', '.join(n for n, f in known.items() if f.urls)} with --runner beam")


def require_images(spec: SourceSpec, images, what: str) -> None:
    """Sources whose file names are relative to an images folder need ``--images``."""
    if spec.path is None:
        raise UsageError(f"give the {what} annotation file")
    if images is None:
        raise UsageError(f"{spec.path}: a {what} source needs --images DIR (the folder its file names are "
                         "relative to)")
