"""Where inputs and outputs live: a local path, or a URL (``gs://bucket/x``,
``s3://``, ``hdfs://``) that only Apache Beam's ``FileSystems`` reads.

Local paths become :class:`~pathlib.Path`; a URL stays a string (``Path``
would fold its ``//``). Nothing here imports Beam: only ``--runner beam``
can read or write a URL (:mod:`dataprep.beam.files`).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(location) -> bool:
    """Whether ``location`` is ``scheme://...`` (not a local path)."""
    return isinstance(location, str) and _SCHEME.match(location) is not None


def location(value: str | Path) -> str | Path:
    """A URL as it is, anything else as a Path."""
    return value.rstrip("/") if is_url(value) else Path(value)


def url_join(root: str, rel: str) -> str | None:
    """``root/rel`` unless ``rel`` escapes ``root`` (absolute, ``..``, NUL)."""
    if not rel or rel.startswith(("/", "\\")) or "\x00" in rel or is_url(rel):
        return None
    norm = posixpath.normpath(rel.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        return None
    return f"{root.rstrip('/')}/{norm}"
