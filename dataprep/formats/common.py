"""Small helpers the readers share."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_file_entry(entry: os.DirEntry) -> bool:
    """A directory entry that is, or claims to be, a file: regular files, and
    symbolic links that do not resolve (dangling, or looping back on
    themselves), so that reading them later reports why instead of the run
    aborting here ("Too many levels of symbolic links") or the file vanishing."""
    try:
        return entry.is_file() or (entry.is_symlink() and not os.path.isdir(entry.path))
    except OSError:
        return True


def list_images(images_dir: Path) -> ImageNames:
    """Map stem -> file name for the image files directly in ``images_dir``
    (first by sorted name when two share a stem)."""
    try:
        names = sorted(e.name for e in os.scandir(images_dir) if is_file_entry(e))
    except FileNotFoundError:
        return ImageNames()
    return image_names(names)


class ImageNames(dict):
    """stem -> image file name (the first by sorted name), and ``shared``:
    stem -> every image name with that stem, for the stems several images share
    (``a.jpg`` and ``a.png``), so that a reader can choose and say so."""

    def __init__(self):
        super().__init__()
        self.shared: dict[str, list[str]] = {}


def image_names(names) -> ImageNames:
    """Map stem -> file name for the image files among ``names`` (sorted; the first wins a stem)."""
    found = ImageNames()
    extensions = {e.lower() for e in IMAGE_EXTENSIONS}
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext.lower() in extensions:
            if stem in found:
                found.shared.setdefault(stem, [found[stem]]).append(name)
            found.setdefault(stem, name)
    return found


def to_float(text) -> float:
    """Parse a number as real annotation files write them ('12', '12.5',
    ' 320.0 '); NaN when missing or not a number."""
    if text is None:
        return float("nan")
    try:
        return float(str(text).strip())
    except ValueError:
        return float("nan")


def to_flag(text) -> int:
    """VOC 0/1 flags, tolerating '1.0', 'true' and blanks (0 when unknown)."""
    if text is None:
        return 0
    s = str(text).strip().lower()
    if s in ("1", "true", "yes"):
        return 1
    try:
        return 1 if float(s) >= 1 else 0
    except ValueError:
        return 0
