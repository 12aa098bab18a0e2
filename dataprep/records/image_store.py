"""Image bytes that stay where they are, inside record files.

``convert tfrecord`` reads another tool's records into the dataset model.
Copying every image out to a folder first cost more than the conversion
itself (one file created per image). Instead the reader notes where each
image's bytes lie and the per-image work reads them from there::

    record file  [len|crc| ...features... image/encoded bytes ... |crc] [len|crc| ...
                                          ^ offset, length  --store.read(name)-->  bytes

A GZIP record file has no random access: its images are appended, as read,
to one spool file (no file per image) and read from there.

The store is the ``store`` of :class:`dataprep.convert.work.Job` and of
:func:`dataprep.validate.images.check_image` (``read(path) -> bytes`` of
``root/name``, ``sizes(root, names)``). It holds three integers per image and
the file names, never image bytes, so memory does not grow with them; reads
are ``os.pread`` of one range (safe in forked workers, which share no file
offset), and it pickles as plain data.
"""

from __future__ import annotations

import os
import posixpath
from array import array
from pathlib import Path


class RecordImageStore:
    """Where each image's bytes lie: ``(file, offset, length)`` by image name."""

    def __init__(self, root: str | os.PathLike):
        self.root = str(root).rstrip("/")
        self.files: list[str] = []
        self._file_index: dict[str, int] = {}
        self._index: dict[str, int] = {}
        self._file = array("l")
        self._offset = array("q")
        self._length = array("q")

    def __len__(self) -> int:
        return len(self._index)

    def add(self, name: str, file: str | os.PathLike, offset: int, length: int) -> None:
        """Image ``name``'s bytes are ``length`` bytes at ``offset`` of ``file``."""
        file = os.fspath(file)
        k = self._file_index.get(file)
        if k is None:
            k = self._file_index[file] = len(self.files)
            self.files.append(file)
        self._index[posixpath.normpath(name)] = len(self._file)
        self._file.append(k)
        self._offset.append(offset)
        self._length.append(length)

    def _where(self, name: str) -> int:
        k = self._index.get(posixpath.normpath(name))
        if k is None:
            raise FileNotFoundError(f"no image {name!r} in the records")
        return k

    def read_name(self, name: str) -> bytes:
        """The bytes of image ``name`` (``FileNotFoundError`` when there is none; ``OSError`` when cut short)."""
        k = self._where(name)
        path, offset, length = self.files[self._file[k]], self._offset[k], self._length[k]
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise OSError(f"{path}: the image at byte {offset} is cut short ({len(data)} of {length} bytes); "
                          "the file changed since it was read")
        return data

    def _name(self, path: str | os.PathLike) -> str:
        path = str(path)
        prefix = self.root + "/"
        if not path.startswith(prefix):
            raise FileNotFoundError(f"{path} is not an image of the records in {self.root}")
        return path[len(prefix):]

    def read(self, path: str | os.PathLike) -> bytes:
        """The bytes of ``root/name`` (the ``Job.store`` protocol)."""
        return self.read_name(self._name(path))

    def sizes(self, root, names: list[str]) -> list[int]:
        """Bytes of each image (0 for a name the records do not hold)."""
        out = []
        for name in names:
            k = self._index.get(posixpath.normpath(name))
            out.append(int(self._length[k]) if k is not None else 0)
        return out

    def size_of(self, name: str) -> int:
        return int(self._length[self._where(name)])


def place_image(store: RecordImageStore | None, root: Path, name: str, dest: Path) -> None:
    """Write image ``name`` of a dataset to ``dest``: from the store when the
    dataset has one, else copied from ``root/name``."""
    import shutil

    if store is None:
        shutil.copyfile(Path(root) / name, dest)
    else:
        dest.write_bytes(store.read_name(name))
