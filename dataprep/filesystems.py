"""The file-system seam: how a URL (``gs://``, ``s3://``, ``hdfs://``) is read, listed and checked.

dataprep itself reads only local paths. A package that can reach URLs (today
:mod:`dataprep.beam`, through Apache Beam's ``FileSystems``) registers an
object with the three calls of :class:`UrlFileSystem` when it is imported;
:mod:`dataprep.locations` then reads URLs through it. So nothing below
``beam/`` imports Beam, and a URL without Beam installed or chosen is a clear
usage error, not an ``ImportError``::

    beam/urls.py  --register_url_filesystem(BeamFileSystems())-->  filesystems._REGISTERED
    locations.read_bytes(url) --url_filesystem(url)--> .read_bytes(url)
"""

from __future__ import annotations

import re
from typing import Protocol

from dataprep.errors import UsageError

#: Characters that make a path a glob pattern for a file system's ``list``.
GLOB = re.compile(r"[*?[]")


class UrlFileSystem(Protocol):
    """What dataprep needs of a file system that holds URLs."""

    def read_bytes(self, url: str) -> bytes:
        """The bytes of ``url``; ``FileNotFoundError`` when it is not there, ``OSError`` otherwise."""

    def list(self, pattern: str) -> dict[str, int]:
        """URL -> bytes of the files ``pattern`` matches (``*`` within a folder); nothing when none."""

    def exists(self, url: str) -> bool:
        """Whether the file ``url`` exists."""


_REGISTERED: list[UrlFileSystem] = []


def register_url_filesystem(filesystem: UrlFileSystem) -> None:
    """Make ``filesystem`` the one URLs are read through (the last registered wins)."""
    _REGISTERED.append(filesystem)


def url_filesystem(url: str) -> UrlFileSystem:
    """The registered file system for ``url``; a :class:`UsageError` when there is none."""
    if not _REGISTERED:
        raise UsageError(f"{url}: URLs are read through Apache Beam's file systems: add --runner beam "
                         "(pip install 'dataprep[beam]')")
    return _REGISTERED[-1]
