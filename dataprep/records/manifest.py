"""Read a ``manifest.json`` as untrusted input.

Anyone can write a manifest: a records folder may come from a colleague, a
download or an attacker. Before any name in it becomes a path, it is checked
to be a plain name (no folder part, no ``..``), so that nothing dataprep reads
or writes because of a manifest lands outside that manifest's folder::

    manifest.json --JSON?--> dict --splits, shards, counts well-typed?-->
        --split / shard / label map names plain?--> manifest
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dataprep.errors import UsageError
from dataprep.textio import TextFileError, read_text

MANIFEST = "manifest.json"


class ManifestError(UsageError):
    """A manifest is malformed or names paths outside its folder: the folder
    given is not a usable records folder (exit code 2, as a missing one)."""


def is_plain_name(name) -> bool:
    """A non-empty file or split name with no folder part: it stays inside
    whatever folder it is joined to."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\x00" not in name and not os.path.isabs(name) and os.path.basename(name) == name
            and ":" not in name[:2])


def check_plain_name(name, what: str, source: str) -> str:
    if not is_plain_name(name):
        raise ManifestError(f"{source}: {what} {name!r} is not a plain name (no folders, no '..'); "
                            "refused: the manifest may have been crafted")
    return name


def inside(folder: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether ``path`` resolves inside ``folder`` (links followed)."""
    base = os.path.realpath(folder)
    real = os.path.realpath(path)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _count(value, what: str, source: str) -> int:
    if value is None:
        raise ManifestError(f"{source}: {what} is missing")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError(f"{source}: {what} must be a count >= 0, got {value!r}")
    return value


def check_manifest(manifest, source: str) -> dict:
    """``manifest`` if it is well formed (see the module docstring), else a
    :class:`ManifestError` naming the file and the offending value."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"{source}: expected a JSON object, got {type(manifest).__name__}")
    splits = manifest.get("splits")
    if not isinstance(splits, dict):
        raise ManifestError(f"{source}: no 'splits' object (got {type(splits).__name__}); "
                            "not a dataprep manifest")
    if "label_map" in manifest:
        check_plain_name(manifest["label_map"], "label map file", source)
    for split, info in splits.items():
        check_plain_name(split, "split name", source)
        if not isinstance(info, dict) or not isinstance(info.get("shards"), list):
            raise ManifestError(f"{source}: split {split!r} has no 'shards' list")
        _count(info.get("examples"), f"split {split!r} 'examples'", source)
        for k, shard in enumerate(info["shards"]):
            if not isinstance(shard, dict):
                raise ManifestError(f"{source}: split {split!r} shard {k} is not an object")
            check_plain_name(shard.get("file"), f"split {split!r} shard file", source)
            _count(shard.get("examples"), f"shard {shard['file']!r} 'examples'", source)
            if not isinstance(shard.get("sha256"), str):
                raise ManifestError(f"{source}: shard {shard['file']!r} 'sha256' must be a string, "
                                    f"got {shard.get('sha256')!r}")
    if manifest.get("compression") not in (None, "gzip", "GZIP", ""):
        raise ManifestError(f"{source}: compression {manifest['compression']!r} is not gzip or null")
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict:
    """The checked manifest of a records folder; :class:`UsageError` when the
    folder has none, :class:`ManifestError` when it is malformed."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UsageError(f"{folder}: no {MANIFEST}; is this a dataprep output folder?")
    try:
        manifest = json.loads(read_text(path, "manifest", "JSON"))
    except TextFileError as exc:
        raise ManifestError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ManifestError(f"{path}: JSON nested too deeply to be a manifest") from None
    return check_manifest(manifest, str(path))
