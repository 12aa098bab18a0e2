"""What the launcher reads from a URL through Beam's ``FileSystems`` (see
:mod:`dataprep.locations`, which imports this on first use): a VOC root
listed and its split files read, a COCO JSON, a CSV, a label map read whole.
"""

from __future__ import annotations

import errno
import os

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from dataprep.filesystems import GLOB, register_url_filesystem

RAW = CompressionTypes.UNCOMPRESSED


def read_url(path: str) -> bytes:
    """The bytes of ``path``; ``FileNotFoundError`` when it is not there,
    ``OSError`` naming the file system's own error otherwise."""
    try:
        with FileSystems.open(path, compression_type=RAW) as f:
            return f.read()
    except Exception as exc:  # each file system raises its own types
        if not exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from None
        raise OSError(f"{type(exc).__name__}: {exc}") from None


def list_url(pattern: str) -> dict[str, int]:
    """Path -> bytes of the files ``pattern`` matches (``*`` within a folder,
    ``**`` across folders): one ``FileSystems.match``, which lists the
    pattern's prefix in bulk. Nothing when the folder is not there."""
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception as exc:  # some file systems refuse to list a folder that is not there
        folder = GLOB.split(pattern, 1)[0].rstrip("/")
        if exists(folder):
            raise OSError(f"{pattern}: cannot list ({exc})") from None
        return {}
    return {m.path: int(m.size_in_bytes) for m in found}


def exists(path: str) -> bool:
    try:
        return FileSystems.exists(path)
    except Exception:
        return False


class BeamFileSystems:
    """:class:`dataprep.filesystems.UrlFileSystem` over Beam's ``FileSystems`` (registered on import)."""

    def read_bytes(self, url: str) -> bytes:
        return read_url(url)

    def list(self, pattern: str) -> dict[str, int]:
        return list_url(pattern)

    def exists(self, url: str) -> bool:
        return exists(url)


register_url_filesystem(BeamFileSystems())

__all__ = ["GLOB", "BeamFileSystems", "exists", "list_url", "read_url"]
