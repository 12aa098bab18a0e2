"""TFRecord framing without TensorFlow.

Each record on disk is::

    uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

little-endian, with CRC-32C masked as ``((crc >> 15) | (crc << 17)) + 0xa282ead8``
(``tensorflow/core/lib/hash/crc32c.h``). ``--compression gzip`` writes the same
stream through gzip, which TensorFlow reads with ``compression_type="GZIP"``.

One reader, :func:`scan_records`, frames every record file dataprep reads:
strict for its own records (the first damage raises :class:`RecordError`
naming the file and offset; :func:`read_records`), tolerant for another
tool's (damage is reported per record and the rest is read). One CRC
implementation, :func:`masked_crc`, serves writing and reading.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import os
import zlib
from dataclasses import dataclass
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


_CHUNK = 1 << 24  # a record's data is read in pieces of at most 16 MiB
#: A record longer than this in a GZIP file (whose size bounds nothing) is corruption.
MAX_RECORD_BYTES = 1 << 30


def read_bounded(f, n: int) -> bytes:
    """Up to ``n`` bytes, read in bounded pieces: memory follows the bytes the
    file really holds, never a length field's claim."""
    if n <= _CHUNK:
        return f.read(n)
    parts, left = [], n
    while left > 0:
        part = f.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


@dataclass
class RawRecord:
    """One framed record: its bytes, or why it could not be read."""

    offset: int  # of the record in the (uncompressed) stream
    data: bytes | None
    problem: str = ""
    fatal: bool = False  # nothing after it can be read
    length: int = 0  # of the data, as the header says
    bad_length: bool = False  # the length's CRC failed: the next record's place is unknown


def _resync(f, start: int, size: int | None) -> int | None:
    """The offset of the next plausible record header at or after ``start``:
    a length below 2**32 (its high 4 bytes zero) that fits in the file, whose
    masked CRC matches. None when there is none."""
    window = 1 << 20
    pos = start
    while True:
        f.seek(pos)
        buf = f.read(window + 11)
        if len(buf) < HEADER_BYTES:
            return None
        at = buf.find(b"\x00\x00\x00\x00", 4)
        while 0 <= at:
            p = at - 4
            if p + HEADER_BYTES <= len(buf) and p < window:
                (length,) = _U64.unpack_from(buf, p)
                bound = (size - (pos + p) - framed_size(0)) if size is not None else MAX_RECORD_BYTES
                if length <= bound and masked_crc(buf[p:p + 8]) == _U32.unpack_from(buf, p + 8)[0]:
                    return pos + p
            at = buf.find(b"\x00\x00\x00\x00", at + 1)
        if len(buf) < window + 11:
            return None
        pos += window


def scan_records(path: str | Path, *, strict: bool = False, check_crc: bool = True) -> Iterator[RawRecord]:
    """Every record of one TFRecord file, GZIP or not (detected per file):
    the one framing reader.

    Files are untrusted: a record's length is checked against what is left of
    an uncompressed file (:data:`MAX_RECORD_BYTES` in a GZIP file) before
    anything is allocated, and data is read in bounded pieces.

    Tolerant (the default: another tool's records) never raises for damage: a
    bad data CRC skips that record; a bad length CRC skips to the next valid
    header; a truncated tail or a broken GZIP stream ends the file; each is a
    :class:`RawRecord` with ``data=None`` and the ``problem``. ``strict`` (our
    own records) raises :class:`RecordError` naming the file and offset at
    the first problem instead.
    """
    path = Path(path)
    compressed = is_gzip(path)
    size = None if compressed else os.path.getsize(path)
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as f:
        offset = 0
        while True:
            nxt = None
            try:
                rec = _next_record(f, offset, size, check_crc)
                if rec is None:
                    return
                if rec.bad_length and not strict:  # find the next valid header
                    nxt = _resync(f, offset + 1, size)
                    rec.problem += (f"; skipped to the next valid record at byte {nxt}" if nxt is not None
                                    else "; no valid record after it")
                    rec.fatal = nxt is None
            except (OSError, EOFError, zlib.error) as exc:  # a damaged or cut GZIP stream
                rec = RawRecord(offset, None, f"the GZIP stream is damaged after byte {offset} of its data "
                                              f"({type(exc).__name__}: {exc}); the rest of the file is unreadable",
                                fatal=True)
            if rec.data is None and strict:
                raise RecordError(f"{path}: {rec.problem}")
            yield rec
            if rec.fatal:
                return
            if nxt is not None:
                f.seek(nxt)
                offset = nxt
            else:
                offset += framed_size(rec.length)


def _next_record(f, offset: int, size: int | None, check_crc: bool) -> RawRecord | None:
    """The record at ``offset`` (the file positioned there); None at the end of the file."""
    header = f.read(HEADER_BYTES)
    if not header:
        return None
    if len(header) < HEADER_BYTES:
        return RawRecord(offset, None, f"truncated record header at byte {offset} "
                                       f"({len(header)} of {HEADER_BYTES} bytes)", fatal=True)
    (length,) = _U64.unpack_from(header, 0)
    if check_crc and masked_crc(header[:8]) != _U32.unpack_from(header, 8)[0]:
        return RawRecord(offset, None, f"length CRC mismatch at byte {offset}", bad_length=True)
    bound = size - offset - framed_size(0) if size is not None else MAX_RECORD_BYTES
    if length > bound:
        return RawRecord(offset, None, f"truncated record at byte {offset}: its length {length} runs past the end "
                                       f"of the file ({max(bound, 0)} bytes left)", fatal=True)
    data = read_bounded(f, length)
    footer = f.read(FOOTER_BYTES)
    if len(data) < length or len(footer) < FOOTER_BYTES:
        return RawRecord(offset, None, f"truncated record at byte {offset} (expected {length} bytes, "
                                       f"got {len(data)})", fatal=True)
    if check_crc and masked_crc(data) != _U32.unpack(footer)[0]:
        return RawRecord(offset, None, f"data CRC mismatch in the record at byte {offset}", length=length)
    return RawRecord(offset, data, length=length)


def read_records(path: str | Path, *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the serialized records of one TFRecord file (gzip detected),
    raising :class:`RecordError` naming the file and offset on corruption
    (:func:`scan_records` in strict mode)."""
    for rec in scan_records(path, strict=True, check_crc=check_crc):
        yield rec.data
