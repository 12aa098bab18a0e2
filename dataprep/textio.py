"""One way to read the text files users give us (CSV, COCO JSON, ImageSets
list files, label maps, manifests): the same encodings, byte-order marks and
line endings everywhere.

    bytes --BOM?--> UTF-8 (BOM dropped) | UTF-16/32 LE/BE (by their BOM)
          --decode, strict--> str --\\r\\n and \\r -> \\n--> text

Text without a BOM must be UTF-8; anything else is a :class:`TextFileError`
naming the file and the byte offset (a latin-1 CSV would otherwise turn
class names into mojibake silently). XML is not read here: the XML parser
honours the file's own encoding declaration.
"""

from __future__ import annotations

import codecs
import os
import re

from dataprep.errors import DataprepError

_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LINE_END = re.compile(r"\r\n|\r")


class TextFileError(DataprepError):
    """A text file cannot be read or decoded."""


def decode_text(data: bytes, source: str, kind: str = "text") -> str:
    """``data`` as text with ``\\n`` line ends; see the module docstring."""
    encoding, start = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, start = name, len(bom)
            break
    try:
        text = data[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise TextFileError(f"{source}: not {encoding.upper()} {kind} ({exc.reason} at byte {start + exc.start}); "
                            "save it as UTF-8") from None
    return _LINE_END.sub("\n", text)


def read_text(path: str | os.PathLike, what: str = "file", kind: str = "text") -> str:
    """The text of ``path`` (a local file, or a URL read through Beam's
    FileSystems: :func:`dataprep.locations.read_bytes`; see
    :func:`decode_text`); a clear error naming the file when it cannot be read."""
    from dataprep.locations import read_bytes

    try:
        data = read_bytes(path)
    except IsADirectoryError:
        raise TextFileError(f"{os.fspath(path)}: is a folder, expected a {what}") from None
    except OSError as exc:
        raise TextFileError(f"{os.fspath(path)}: cannot read the {what} ({exc.strerror or exc})") from None
    return decode_text(data, os.fspath(path), kind)
