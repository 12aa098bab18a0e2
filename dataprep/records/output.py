"""The output writer: one for every command that writes records (``convert``,
``split``, and any executor), like tensorflow/datasets' ``Writer``.

::

    OutputWriter(OUT)         refuse a non-empty OUT without --overwrite; hold OUT's lock;
                              remove our stale partial files of a killed run
      .plan({split: shards})
      .add(split, framed, labels)   round robin into .{split}-{i:05d}.{run}.partial
      .publish(splits, ...)   close every shard, write label map, report and manifest
                              under partial names, then replace the previous outputs:
                              OUT/{split}-{i:05d}-of-{n:05d}.tfrecord, label_map.pbtxt,
                              report.json, manifest.json (last)
      .abort()                remove our partial files; the previous output is untouched

Safety (DESIGN "An output is never lost or half-replaced"): callers read
every input before they create the writer; one run at a time holds OUT (an
``flock`` on ``OUT/.dataprep.lock``, released by the kernel when the process
dies, so a killed run never blocks the next); partial files carry the run's
pid and a random token, so two runs never share one; the previous output is
removed only once the new shards, label map, report and manifest are all
complete on disk.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

import numpy as np

from dataprep import __version__
from dataprep.errors import DataprepError, UsageError
from dataprep.label_map import LabelMap
from dataprep.records.framing import ShardWriter

from dataprep.records.naming import SHARD_NAME, SHARD_RE  # noqa: F401 (SHARD_RE: beam.files imports it here)
OUTPUT_FILES = ("label_map.pbtxt", "manifest.json", "report.json")
LOCK_NAME = ".dataprep.lock"
#: Prefix of the scratch folders a run may make in OUT (``split`` spools gzip shards there).
SPOOL_PREFIX = ".spool-"
#: Our partial files: ``.{split}-{i:05d}[.{run}].partial`` (shards) and
#: ``.{name}.{run}.partial`` (label map, report, manifest). Older versions
#: wrote ``.{split}-{i:05d}.partial``; those are ours too.
PARTIAL_RE = re.compile(r"^\.(?:.+-\d{5}|label_map\.pbtxt|manifest\.json|report\.json)(?:\.\d+-[0-9a-f]{8})?\.partial$")


class OutputError(DataprepError):
    """OUT cannot be written (busy, read-only, disk full): names the path."""


def prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing, non-empty OUT unless ``overwrite``; create OUT."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} exists and is not a folder")
        if any(not p.name.startswith(".") for p in out.iterdir()) and not overwrite:
            raise UsageError(f"{out} already exists and is not empty; pass --overwrite to replace its dataprep outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None


class SplitCounts:
    """Examples, and boxes and images per class, per split, as written (copies included)."""

    def __init__(self, label_map: LabelMap):
        self.class_ids = np.array(sorted(i.id for i in label_map), dtype=np.int64)
        self.names = {i.id: i.name for i in label_map}
        self.examples: dict[str, int] = {}
        self.boxes: dict[str, np.ndarray] = {}
        self.images: dict[str, np.ndarray] = {}

    def add(self, split: str, labels: np.ndarray) -> None:
        self.examples[split] = self.examples.get(split, 0) + 1
        n = len(self.class_ids)
        cb = self.boxes.setdefault(split, np.zeros(n, np.int64))
        ci = self.images.setdefault(split, np.zeros(n, np.int64))
        if len(labels):
            dense = np.searchsorted(self.class_ids, labels)  # every label is in the label map: checked before
            cb += np.bincount(dense, minlength=n)
            ci[np.unique(dense)] += 1

    def split_info(self, split: str, shards: list) -> dict:
        """The manifest entry of ``split``."""
        n = len(self.class_ids)
        cb = self.boxes.get(split, np.zeros(n, np.int64))
        ci = self.images.get(split, np.zeros(n, np.int64))
        return {
            "examples": self.examples.get(split, 0),
            "boxes": int(cb.sum()),
            "shards": shards,
            "classes": {self.names[int(c)]: {"id": int(c), "images": int(ci[k]), "boxes": int(cb[k])}
                        for k, c in enumerate(self.class_ids)},
        }


class OutputLock:
    """An exclusive ``flock`` on ``OUT/.dataprep.lock`` holding the owner's pid and start time."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"{self.path.parent}: cannot write the output folder "
                                  f"({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise OutputError(f"{self.path.parent}: another dataprep run is writing this folder ({holder}); "
                                  "wait for it to finish or choose another --out") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the holder removed the file as we opened it: lock the new one
                break
            os.close(fd)
        else:
            raise OutputError(f"{self.path}: cannot take the output folder's lock")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())}".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file, then drop the lock (closing the descriptor releases the flock)."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


class OutputWriter:
    """Shards, label map, report and manifest of one output folder (see the module docstring)."""

    def __init__(self, out: str | Path, label_map: LabelMap, compression: str | None = None,
                 overwrite: bool = False):
        self.out = Path(out)
        self.compression = compression
        self.overwrite = overwrite
        self.counts = SplitCounts(label_map)
        self.run = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.shard_paths: list[Path] = []
        self._shards: dict[str, int] = {}
        self._writers: dict[tuple[str, int], ShardWriter] = {}
        self._extra: list[Path] = []
        prepare_output(self.out, overwrite)
        self._lock = OutputLock(self.out).acquire()
        try:
            self.stale = self._remove_stale_partials()
        except BaseException:
            self._lock.release()
            raise

    def _remove_stale_partials(self) -> list[str]:
        """Partial files of an earlier run that died: ours by name; we hold the lock, so no live run owns them."""
        removed = []
        for p in self.out.iterdir():
            if PARTIAL_RE.match(p.name) and p.is_file():
                p.unlink()
                removed.append(p.name)
            elif p.name.startswith(SPOOL_PREFIX) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
        return removed

    def plan(self, shards: dict[str, int]) -> None:
        """Shards per split (from the layout planner), before the first :meth:`add`."""
        self._shards = dict(shards)

    def partial_path(self, name: str) -> Path:
        return self.out / f".{name}.{self.run}.partial"

    def add(self, split: str, framed: bytes, labels: np.ndarray) -> None:
        """Append one framed record to ``split``, round robin over its shards."""
        index = self.counts.examples.get(split, 0)
        key = (split, index % self._shards[split])
        writer = self._writers.get(key)
        try:
            if writer is None:
                writer = self._writers[key] = ShardWriter(self.partial_path(f"{split}-{key[1]:05d}"),
                                                          self.compression)
            writer.write_framed(framed)
        except OSError as exc:
            path = writer.path if writer is not None else self.partial_path(f"{split}-{key[1]:05d}")
            raise OutputError(f"{path}: cannot write the shard ({exc.strerror or exc})") from None
        self.counts.add(split, labels)

    def add_shard(self, split: str, index: int, shard) -> None:
        """A complete shard that an executor's workers wrote under a temporary
        name in OUT (records in the order :meth:`add` gives them); published
        like ours. ``shard`` is like a :class:`ShardWriter`: ``path``,
        ``close()`` (examples, bytes, sha256) and ``abort()``."""
        key = (split, index)
        if key in self._writers or not 0 <= index < self._shards.get(split, 0):
            raise DataprepError(f"shard {index} of split {split!r} is not in the plan {self._shards} "
                                "or was written twice")
        self._writers[key] = shard

    def spool(self, name: str) -> Path:
        """A scratch folder in OUT for this run (removed as stale by the next run if this one dies)."""
        return self.out / f"{SPOOL_PREFIX}{name}-{self.run}"

    def abort(self) -> None:
        """Remove every file this run wrote; the previous output stays as it was."""
        try:
            for w in self._writers.values():
                try:
                    w.abort()
                except OSError:
                    pass
            for p in self._extra:
                p.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def complete(self, splits: list[str], label_map_bytes: bytes, report, head: dict,
                 tail: dict) -> tuple[list, dict, dict]:
        """Close every shard: ``(shards, manifest, files)``, the shards as
        ``(temp path, final name)`` and the other outputs as ``{name: bytes}``
        (manifest.json last); nothing renamed yet. See :meth:`publish`."""
        infos = {key: w.close() for key, w in self._writers.items()}
        entries: dict[str, list] = {}
        shards: list[tuple] = []
        for split in splits:
            keys = sorted(k for k in infos if k[0] == split)
            entries[split] = []
            for index, key in enumerate(keys):
                name = SHARD_NAME.format(split=split, index=index, count=len(keys))
                shards.append((self._writers[key].path, name))
                entries[split].append({"file": name, **infos[key]})
        manifest = {
            "dataprep_version": __version__,
            "format": "tfrecord",
            "compression": "GZIP" if self.compression == "gzip" else None,
            "label_map": "label_map.pbtxt",
            **head,
            "splits": {s: self.counts.split_info(s, entries[s]) for s in splits},
            **tail,
        }
        files = {
            "label_map.pbtxt": label_map_bytes,
            "report.json": (json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
            "manifest.json": (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
        }
        return shards, manifest, files

    def publish(self, splits: list[str], label_map_bytes: bytes, report, head: dict, tail: dict) -> dict:
        """Complete the output and replace the previous one; returns the manifest.

        ``splits`` in manifest order (a split without examples is listed with
        0); ``head`` and ``tail`` are the manifest fields before and after
        ``splits`` (origin of the label map, counts, source, options ...).
        """
        try:
            shards, manifest, files = self.complete(splits, label_map_bytes, report, head, tail)
            moves = [(src, self.out / name) for src, name in shards]
            for name, data in files.items():
                path = self.partial_path(name)
                self._extra.append(path)
                path.write_bytes(data)
                moves.append((path, self.out / name))  # manifest.json last
            # Everything is complete on disk: now replace the previous output.
            (self.out / "manifest.json").unlink(missing_ok=True)
            if self.overwrite:
                targets = {dst.name for _, dst in moves}
                for p in self.out.iterdir():
                    if p.is_file() and SHARD_RE.match(p.name) and p.name not in targets:
                        p.unlink()
            for src, dst in moves:
                os.replace(src, dst)
        except OSError as exc:
            where = exc.filename or self.out
            raise OutputError(f"{where}: cannot write the output ({exc.strerror or exc})") from None
        self.shard_paths = [dst for _, dst in moves if SHARD_RE.match(dst.name)]
        self._lock.release()
        return manifest
