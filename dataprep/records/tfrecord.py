"""TFRecord framing without TensorFlow.

Each record on disk is::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

little-endian, with CRC-32C masked as ``((crc >> 15) | (crc << 17)) + 0xa282ead8``
(``tensorflow/core/lib/hash/crc32c.h``). ``--compression gzip`` writes the same
stream through gzip, which TensorFlow reads with ``compression_type="GZIP"``.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path
from typing import BinaryIO, Iterator

import google_crc32c

from dataprep.errors import DataprepError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
GZIP_MAGIC = b"\x1f\x8b"
#: Bytes around a record's data in an uncompressed file: uint64 length +
#: uint32 masked crc before it, uint32 masked crc after it.
HEADER_BYTES = 12
FOOTER_BYTES = 4


def framed_size(length):
    """Bytes one record of ``length`` data bytes takes in an uncompressed file (ints or arrays)."""
    return length + HEADER_BYTES + FOOTER_BYTES


class RecordError(DataprepError):
    """A TFRecord file is truncated or fails its CRC check."""


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record's bytes as they appear in an uncompressed TFRecord file."""
    length = _U64.pack(len(data))
    return b"".join((length, _U32.pack(masked_crc(length)), data, _U32.pack(masked_crc(data))))


class _HashingFile:
    """A write-only file wrapper counting bytes and hashing them (sha256), so
    the manifest's size and digest cost no second read of the shard."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data) -> int:
        self.raw.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


class ShardWriter:
    """Writes framed records to ``path`` (or to ``fileobj``, a writable stream
    such as Beam's ``FileSystems.create``, named ``path``); sha256 and size of
    the file bytes."""

    def __init__(self, path: str | Path, compression: str | None = None, fileobj: BinaryIO | None = None):
        if compression not in (None, "gzip"):  # before opening: no leaked handle, no stray file
            raise ValueError(f"Unknown compression {compression!r}; known: gzip")
        self.path = Path(path) if fileobj is None else path
        self._raw = open(self.path, "wb") if fileobj is None else fileobj
        self._hashing = _HashingFile(self._raw)
        self._gz = None
        if compression == "gzip":
            # mtime=0 and no file name keep the bytes identical across runs.
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._hashing, mtime=0, compresslevel=6)
        self.examples = 0

    def write_framed(self, framed: bytes, count: int = 1) -> None:
        (self._gz or self._hashing).write(framed)
        self.examples += count

    def close(self) -> dict:
        if self._gz is not None:
            self._gz.close()
        self._raw.close()
        return {"examples": self.examples, "bytes": self._hashing.bytes, "sha256": self._hashing.sha256.hexdigest()}

    def abort(self) -> None:
        try:
            if self._gz is not None:
                self._gz.close()
            self._raw.close()
        finally:
            self.path.unlink(missing_ok=True)


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_records(path: str | Path, *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the serialized records of one TFRecord file (gzip detected),
    raising :class:`RecordError` naming the file and offset on corruption."""
    path = Path(path)
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as f:
        offset = 0
        while True:
            header = f.read(HEADER_BYTES)
            if not header:
                return
            if len(header) < HEADER_BYTES:
                raise RecordError(f"{path}: truncated record header at byte {offset}")
            (length,) = _U64.unpack_from(header, 0)
            (len_crc,) = _U32.unpack_from(header, 8)
            if check_crc and masked_crc(header[:8]) != len_crc:
                raise RecordError(f"{path}: length CRC mismatch at byte {offset}")
            data = f.read(length)
            footer = f.read(FOOTER_BYTES)
            if len(data) < length or len(footer) < FOOTER_BYTES:
                raise RecordError(f"{path}: truncated record at byte {offset} (expected {length} bytes)")
            if check_crc and masked_crc(data) != _U32.unpack(footer)[0]:
                raise RecordError(f"{path}: data CRC mismatch in the record at byte {offset}")
            offset += framed_size(length)
            yield data
