"""A RecordSet: the record files of one source, found and named once.

Every command that reads records (``inspect``, ``stats``, ``split``,
``convert tfrecord``, ``export-annotations``, ``load_dataset`` for ``train``
and ``evaluate``) starts here::

    SRC (a folder, manifest.json, a file, a quoted glob, a list of files)
      --find--> files in reading order, each with its split
                  (the manifest's when the folder has one; else the naming rule of
                   :mod:`dataprep.records.naming`)
      --scan(strict | tolerant)--> framed records (:func:`dataprep.records.framing.scan_records`)
      --decode_example(data, keys)--> the features asked for (:mod:`dataprep.records.example`)

A manifest is untrusted input (:func:`dataprep.records.manifest.read_manifest`
checks that its names stay in its folder). Files are listed, not opened:
a file the manifest lists but that is missing is for the caller to report.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

from dataprep.errors import UsageError
from dataprep.records.manifest import MANIFEST, read_manifest
from dataprep.records.naming import looks_like_records, split_of
from dataprep.records.framing import RawRecord, is_gzip, scan_records

_GIVE = "give a dataprep output folder, a TFRecord file or a quoted glob"


@dataclass(frozen=True)
class RecordFile:
    """One record file and the split it holds."""

    path: Path
    split: str
    #: The path relative to the set's common folder, for messages and item names.
    name: str


@dataclass
class RecordSet:
    """The record files of one source (see the module docstring)."""

    files: list[RecordFile]
    #: The folder the records live in: label_map.pbtxt and previews belong there.
    folder: Path
    #: The checked manifest of a dataprep output folder, else None.
    manifest: dict | None
    #: What the user gave, for messages.
    source: str

    @classmethod
    def find(cls, source: str | os.PathLike | Sequence, split: str | None = None) -> "RecordSet":
        """The records of ``source``; only ``split``'s when given."""
        found = cls._find(source)
        return found.select(split) if split is not None else found

    @classmethod
    def _find(cls, source) -> "RecordSet":
        if isinstance(source, (list, tuple)):
            paths = [Path(os.fspath(p)) for p in source]
            if not paths:
                raise UsageError(f"no TFRecord files match {list(source)!r}; {_GIVE}")
            return cls._of_paths(paths, paths[0].parent, None, str(list(map(str, source))))
        text = os.fspath(source)
        path = Path(text)
        if path.is_file() and path.name == MANIFEST:
            path = path.parent
        if path.is_dir():
            if (path / MANIFEST).is_file():
                manifest = read_manifest(path)  # untrusted: split and shard names are plain names
                files = [RecordFile(path / shard["file"], split, shard["file"])
                         for split, info in manifest["splits"].items() for shard in info["shards"]]
                return cls(files, path, manifest, text)
            found = sorted(p for p in path.iterdir() if p.is_file() and looks_like_records(p.name))
            if not found:
                raise UsageError(f"{path}: no manifest.json and no TFRecord files (*.tfrecord, *.record, "
                                 f"*-00000-of-00001) in this folder; {_GIVE}")
            return cls._of_paths(found, path, None, text)
        if path.is_file():
            return cls._of_paths([path], path.parent, None, text)
        if glob.has_magic(text):
            found = [Path(p) for p in sorted(glob.glob(text)) if Path(p).is_file()]
            if not found:
                raise UsageError(f"no TFRecord files match {text!r}: the pattern matches no files; {_GIVE}")
            return cls._of_paths(found, found[0].parent, None, text)
        raise UsageError(f"{text}: no such file or folder; {_GIVE}")

    @classmethod
    def _of_paths(cls, paths: list[Path], folder: Path, manifest, source: str) -> "RecordSet":
        common = os.path.commonpath([str(p.parent) for p in paths])
        files = [RecordFile(p, split_of(p.name), os.path.relpath(p, common)) for p in paths]
        return cls(files, folder, manifest, source)

    @property
    def splits(self) -> list[str]:
        """The splits in reading order (the manifest's when there is one, even a split with no shard)."""
        if self.manifest is not None:
            return list(self.manifest["splits"])
        return list(dict.fromkeys(f.split for f in self.files))

    def select(self, split: str) -> "RecordSet":
        """Only the files of ``split``; a :class:`UsageError` listing the splits when there is none."""
        if split not in self.splits:
            raise UsageError(f"{self.source}: no split {split!r}; splits: {', '.join(self.splits) or 'none'}")
        return replace(self, files=[f for f in self.files if f.split == split])

    def label_map_path(self) -> Path | None:
        """The label map beside the records (the manifest's name for it), if there is one."""
        name = (self.manifest or {}).get("label_map", "label_map.pbtxt")
        path = self.folder / name
        return path if path.is_file() else None

    def compressions(self) -> list[str]:
        """``"GZIP"`` or ``""`` for each file, from its first bytes: what a
        manifest says is not trusted (a folder may have been recompressed)."""
        out = []
        for f in self.files:
            try:
                out.append("GZIP" if is_gzip(f.path) else "")
            except OSError as exc:
                raise UsageError(f"{f.path}: cannot read the records ({exc.strerror or exc})") from None
        return out

    def scan(self, *, strict: bool) -> Iterator[tuple[RecordFile, int, RawRecord]]:
        """``(file, k, record)`` for every record, file by file (see :func:`scan_records`)."""
        for f in self.files:
            for k, rec in enumerate(scan_records(f.path, strict=strict)):
                yield f, k, rec
