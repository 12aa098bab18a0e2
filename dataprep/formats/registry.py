"""The source registry: one way to detect and open an annotation source.

``convert``, ``validate``, ``stats`` and ``split`` all open sources through
:func:`open_source` (detecting the format with :func:`detect_format` when it
is ``auto``), so every command accepts the same sources with the same rules.

How a reader registers (a few declarations in one place)::

    # dataprep/formats/yolo.py, beside voc.py, coco.py, csv.py
    def detect(path: Path) -> bool:          # cheap: names and folder layout only, no parsing
        return path.is_dir() and (path / "labels").is_dir()

    def open_source(spec: SourceSpec) -> Dataset:
        require_images(spec, "YOLO")          # if its file names are relative to --images
        return read_yolo(spec.path, images=spec.images, ...)

    SOURCE = SourceFormat("yolo", detect, open_source, "a YOLO folder (labels/, images/)")

then add ``"yolo"`` to :data:`READERS` below (its place is its detection
priority). A reader option that no :class:`SourceSpec` field carries yet gets
one field here and one option in ``dataprep/cli/options.py`` (``SourceOptions``,
declared once for every command), and the README's format table gets a row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.locations import is_url

#: Reader modules (``dataprep.formats.<name>``), in detection order.
READERS = ("voc", "coco", "csv", "yolo", "tfrecord")


@dataclass(frozen=True)
class SourceSpec:
    """What the user said about a source; each reader reads the fields it needs."""

    #: A local path, or a URL (``gs://...``; readers with ``urls``, ``--runner beam``).
    path: Path | str | None
    format: str = "auto"
    images: Path | str | None = None
    annotations: Path | str | None = None
    year: str | None = None
    columns: str | None = None
    header: bool = True
    normalized: bool = False
    box_format: str = "xyxy"
    workers: int | None = None
    progress: bool = False
    #: A label map that names the classes of sources that carry only ids (records).
    label_map: Path | str | None = None
    #: Parses annotation files elsewhere (the Beam runner's workers; VOC reads it): paths -> parsed, in order.
    parse_annotations: Callable | None = None


@dataclass(frozen=True)
class SourceFormat:
    """A reader's declaration: its name, how to recognise it, how to open it."""

    name: str
    detect: Callable[[Path], bool]
    open: Callable[[SourceSpec], Dataset]
    #: What it looks like, for messages: "a Pascal VOC folder (Annotations/)".
    looks_like: str
    #: Whether it reads a URL source (through Beam's FileSystems, ``--runner beam``);
    #: the others read local disk only and refuse one.
    urls: bool = False


def formats() -> dict[str, SourceFormat]:
    """Every registered reader by name, in detection order."""
    return {name: importlib.import_module(f"dataprep.formats.{name}").SOURCE for name in READERS}


def format_names() -> tuple[str, ...]:
    return ("auto", *READERS)


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


def require_images(spec: SourceSpec, what: str) -> None:
    """Sources whose file names are relative to an images folder need ``--images``."""
    if spec.path is None:
        raise UsageError(f"give the {what} annotation file")
    if spec.images is None:
        raise UsageError(f"{spec.path}: a {what} source needs --images DIR (the folder its file names are "
                         "relative to)")
