"""A test-only Beam file system, ``memtest://``: files in a dict of this
process (Beam 2.77 ships no in-memory one). The in-process runner's workers
share it, so a conversion can read its images from, and write its output to,
a URL that no local path reaches: every byte must go through ``FileSystems``.

Importing this module registers the scheme (Beam finds ``FileSystem``
subclasses by their ``scheme()``). :data:`CALLS` counts the requests an
object store would answer (listings, sizes, opens, existence checks), so a
test can tell one listing from a request per file.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from apache_beam.io.filesystem import CompressedFile, CompressionTypes, FileMetadata, FileSystem

SCHEME = "memtest"
#: URL -> bytes of every file.
FILES: dict[str, bytes] = {}
#: Requests by kind: list, size (size or metadata of one file), open, exists.
CALLS: Counter = Counter()


class _Writer(io.BytesIO):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            FILES[self.path] = self.getvalue()
        super().close()


class MemFileSystem(FileSystem):
    @classmethod
    def scheme(cls):
        return SCHEME

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/")] + [p.strip("/") for p in paths])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, dir_or_prefix):
        CALLS["list"] += 1
        for k, v in sorted(FILES.items()):
            if k.startswith(dir_or_prefix):
                yield FileMetadata(k, len(v), 0.0)

    def _wrap(self, f, path, compression_type):
        kind = FileSystem._get_compression_type(path, compression_type)
        return f if kind == CompressionTypes.UNCOMPRESSED else CompressedFile(f, compression_type=kind)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._wrap(_Writer(path), path, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        CALLS["open"] += 1
        if path not in FILES:
            raise FileNotFoundError(path)
        return self._wrap(io.BytesIO(FILES[path]), path, compression_type)

    def _under(self, path):
        return [k for k in FILES if k == path or k.startswith(path.rstrip("/") + "/")]

    def copy(self, source_file_names, destination_file_names):
        for s, d in zip(source_file_names, destination_file_names):
            for k in self._under(s):
                FILES[d + k[len(s):]] = FILES[k]

    def rename(self, source_file_names, destination_file_names):
        for s, d in zip(source_file_names, destination_file_names):
            keys = self._under(s)
            if not keys:
                raise FileNotFoundError(s)
            for k in keys:
                FILES[d + k[len(s):]] = FILES.pop(k)

    def exists(self, path):
        CALLS["exists"] += 1
        return bool(self._under(path))

    def size(self, path):
        CALLS["size"] += 1
        return len(FILES[path])

    def last_updated(self, path):
        return 0.0

    def metadata(self, path):
        CALLS["size"] += 1
        return FileMetadata(path, len(FILES[path]), 0.0)

    def checksum(self, path):
        return str(len(FILES[path]))

    def delete(self, paths):
        for p in paths:
            for k in self._under(p):
                del FILES[k]

    def report_lineage(self, path, unused_lineage):
        pass


def upload(folder: Path, url: str) -> None:
    """Copy every file under ``folder`` to ``url``."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            FILES[f"{url}/{p.relative_to(folder).as_posix()}"] = p.read_bytes()


def download(url: str, folder: Path) -> list[str]:
    """Copy every file under ``url`` into ``folder``; the names (relative to ``url``)."""
    names = []
    for k in sorted(FILES):
        if k.startswith(url + "/"):
            name = k[len(url) + 1:]
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(FILES[k])
            names.append(name)
    return names
