"""Where inputs and outputs live: a local path, or a URL (``gs://bucket/x``,
``s3://``, ``hdfs://``) that only Apache Beam's ``FileSystems`` reads.

Local paths become :class:`~pathlib.Path`; a URL stays a string (``Path``
would fold its ``//``). Nothing here imports Beam: a URL is read through the
file system :mod:`dataprep.beam` registers in :mod:`dataprep.filesystems` when
it is imported (only ``--runner beam`` gets as far as reading one; the local
runner refuses URLs up front).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from dataprep.errors import UsageError
from dataprep.filesystems import GLOB, url_filesystem

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(location) -> bool:
    """Whether ``location`` is ``scheme://...`` (not a local path)."""
    return isinstance(location, str) and _SCHEME.match(location) is not None


def location(value: str | Path) -> str | Path:
    """A URL as it is, anything else as a Path."""
    return value.rstrip("/") if is_url(value) else Path(value)


def sub(base: str | Path, name: str) -> str | Path:
    """``base/name`` for a local folder or a URL."""
    return f"{base.rstrip('/')}/{name}" if is_url(base) else Path(base) / name


def url_join(root: str, rel: str) -> str | None:
    """``root/rel`` unless ``rel`` escapes ``root`` (absolute, ``..``, NUL)."""
    if not rel or rel.startswith(("/", "\\")) or "\x00" in rel or is_url(rel):
        return None
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        return None
    return f"{root.rstrip('/')}/{norm}"


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a local file or a URL (``FileNotFoundError`` / ``OSError`` as ``open`` raises them)."""
    if is_url(path):
        return url_filesystem(path).read_bytes(path)
    with open(path, "rb") as f:
        return f.read()


def list_folder(url: str) -> dict[str, int]:
    """Name -> bytes of the files directly in the folder ``url``: one listing
    (a few paged requests on an object store), not a request per file."""
    if GLOB.search(url):
        raise UsageError(f"{url}: a folder whose URL holds *, ? or [ cannot be listed (Beam reads them as a pattern)")
    prefix = url.rstrip("/") + "/"
    found = url_filesystem(url).list(prefix + "*")
    return {p[len(prefix):]: size for p, size in found.items() if p.startswith(prefix)}


def url_exists(url: str) -> bool:
    """Whether the file ``url`` exists."""
    return url_filesystem(url).exists(url)
