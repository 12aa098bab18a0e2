"""Paths through Beam's ``FileSystems``: local paths and URLs (``gs://``,
``s3://``, ``hdfs://``, wherever the matching Beam extra is installed) alike.

- :class:`BeamStore`: how the per-image work reads image bytes on a worker
  (``Job.store``; the local executor reads the disk directly, without Beam),
  and the image sizes the launcher plans shards with: one listing of the
  images folder, not a request per image.
- :class:`FileSystemsOutputWriter`: the :class:`~dataprep.records.output.OutputWriter`
  of an ``--out`` URL. The workers' shards sit under temp names in
  ``OUT/.spool-beam-*/`` until the pipeline succeeded; then every shard is
  renamed to ``{split}-{i:05d}-of-{n:05d}.tfrecord``, and label_map.pbtxt,
  report.json and manifest.json (last) are written under temp names and
  renamed. A failed run deletes its temp files: no shard that looks complete,
  no manifest. Object stores have no lock: one run per ``--out`` is the
  user's to ensure.
"""

from __future__ import annotations

import os
import secrets

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from dataprep.beam.urls import GLOB, exists, list_url, read_url
from dataprep.errors import DataprepError, UsageError
from dataprep.label_map import LabelMap
from dataprep.locations import url_join
from dataprep.records.output import SHARD_RE, SPOOL_PREFIX, OutputError, OutputWriter, SplitCounts

RAW = CompressionTypes.UNCOMPRESSED


class BeamStore:
    """Image bytes and sizes through ``FileSystems`` (see ``Job.store``)."""

    def read(self, path: str) -> bytes:
        return read_url(path)

    def size(self, root, rel: str) -> int:
        """Bytes of ``root/rel``; 0 when missing or not a name under ``root``."""
        path = url_join(str(root), rel)
        try:
            return FileSystems.get_filesystem(path).size(path) if path is not None else 0
        except Exception:  # missing: the check pass reports it
            return 0

    def sizes(self, root, files: list[str]) -> list[int]:
        """Bytes of each ``root/file`` from one listing of everything under
        ``root`` (``FileSystems.match`` returns sizes in bulk: a few paged
        requests on an object store instead of one per image); a file the
        listing lacks is asked for alone (:meth:`size`; 0 when missing)."""
        root = str(root).rstrip("/")
        listed = {} if GLOB.search(root) else list_url(root + "/**")
        sizes = []
        for rel in files:
            path = url_join(root, rel)
            sizes.append(listed[path] if path in listed else self.size(root, rel))
        return sizes


def write_file(path: str, data: bytes) -> None:
    with FileSystems.create(path, mime_type="application/octet-stream", compression_type=RAW) as f:
        f.write(data)


def delete_files(paths: list[str]) -> None:
    """Delete those of ``paths`` that exist."""
    there = [p for p in paths if exists(p)]
    if there:
        FileSystems.delete(there)


class FileSystemsOutputWriter(OutputWriter):
    """An OutputWriter whose OUT is a URL (see the module docstring); shards
    come only from an executor's workers (:meth:`add_shard`)."""

    def __init__(self, out: str, label_map: LabelMap, compression: str | None = None, overwrite: bool = False):
        self.out = str(out).rstrip("/")
        self.compression = compression
        self.overwrite = overwrite
        self.counts = SplitCounts(label_map)
        self.run = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.shard_paths: list[str] = []
        self._shards: dict[str, int] = {}
        self._writers: dict = {}
        self._extra: list[str] = []
        self.stale: list[str] = []
        try:
            names = self._names()
            if any(not n.startswith(".") for n in names) and not overwrite:
                raise UsageError(f"{self.out} already exists and is not empty; pass --overwrite to replace its "
                                 "dataprep outputs")
            if not names and not exists(self.out):
                FileSystems.mkdirs(self.out)
        except UsageError:
            raise
        except Exception as exc:
            raise OutputError(f"{self.out}: cannot create the output folder ({exc})") from None

    def _names(self) -> list[str]:
        """Names directly in OUT (none when it does not exist yet)."""
        try:
            found = FileSystems.match([self.out + "/*"])[0].metadata_list
        except Exception:  # some file systems refuse to list a folder that is not there
            if exists(self.out):
                raise
            return []
        return sorted({m.path[len(self.out) + 1:].split("/")[0] for m in found if m.path.startswith(self.out + "/")})

    def add(self, split, framed, labels) -> None:
        raise DataprepError(f"{self.out}: an --out URL is written by the Beam workers only (--runner beam)")

    def partial_path(self, name: str) -> str:
        return f"{self.out}/.{name}.{self.run}.partial"

    def spool(self, name: str) -> str:
        return f"{self.out}/{SPOOL_PREFIX}{name}-{self.run}"

    def abort(self) -> None:
        for w in self._writers.values():
            try:
                w.abort()
            except Exception:
                pass
        try:
            delete_files(self._extra)
        except Exception:
            pass

    def publish(self, splits: list[str], label_map_bytes: bytes, report, head: dict, tail: dict) -> dict:
        """Rename the shards, then write label map, report and manifest (last); see the module docstring."""
        try:
            shards, manifest, files = self.complete(splits, label_map_bytes, report, head, tail)
            moves = [(str(src), f"{self.out}/{name}") for src, name in shards]
            for name, data in files.items():
                path = self.partial_path(name)
                self._extra.append(path)
                write_file(path, data)
                moves.append((path, f"{self.out}/{name}"))  # manifest.json last
            # Everything is complete under temp names: now replace the previous output.
            delete_files([f"{self.out}/manifest.json"])
            targets = {dst for _, dst in moves}
            if self.overwrite:
                delete_files([f"{self.out}/{n}" for n in self._names()
                              if SHARD_RE.match(n) and f"{self.out}/{n}" not in targets])
            for src, dst in moves:
                delete_files([dst])  # some file systems refuse to rename onto a file
                FileSystems.rename([src], [dst])
        except DataprepError:
            raise
        except Exception as exc:
            raise OutputError(f"{self.out}: cannot write the output ({exc})") from None
        self.shard_paths = [dst for _, dst in moves if SHARD_RE.match(dst.rsplit("/", 1)[-1])]
        return manifest


__all__ = ["BeamStore", "FileSystemsOutputWriter", "delete_files", "write_file"]
