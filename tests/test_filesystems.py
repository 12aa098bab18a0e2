"""The file-system seam: locations read URLs through the file system registered in
:mod:`dataprep.filesystems` (Beam's, when ``dataprep.beam`` is imported), never by importing beam/."""

from __future__ import annotations

import pytest

from dataprep import filesystems, locations
from dataprep.errors import UsageError


class MemoryFileSystem:
    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def read_bytes(self, url: str) -> bytes:
        if url not in self.files:
            raise FileNotFoundError(url)
        return self.files[url]

    def list(self, pattern: str) -> dict[str, int]:
        prefix = pattern.rstrip("*")
        return {k: len(v) for k, v in self.files.items() if k.startswith(prefix) and "/" not in k[len(prefix):]}

    def exists(self, url: str) -> bool:
        return url in self.files


def test_urls_go_through_the_registered_file_system(monkeypatch):
    monkeypatch.setattr(filesystems, "_REGISTERED", [])
    with pytest.raises(UsageError, match="mem://b/a.xml: URLs are read through Apache Beam's file systems"):
        locations.read_bytes("mem://b/a.xml")
    filesystems.register_url_filesystem(MemoryFileSystem({"mem://b/a.xml": b"<a/>", "mem://b/sub/c.xml": b"c"}))
    assert locations.read_bytes("mem://b/a.xml") == b"<a/>"
    assert locations.list_folder("mem://b") == {"a.xml": 4}
    assert locations.url_exists("mem://b/sub/c.xml") and not locations.url_exists("mem://b/c.xml")
    with pytest.raises(UsageError, match=r"holds \*, \? or \["):
        locations.list_folder("mem://b/*")


def test_beam_registers_its_file_systems(monkeypatch):
    pytest.importorskip("apache_beam")
    monkeypatch.setattr(filesystems, "_REGISTERED", [])
    import importlib

    from dataprep.beam import urls

    importlib.reload(urls)  # registering happens on import
    assert isinstance(filesystems.url_filesystem("gs://x/y"), urls.BeamFileSystems)
