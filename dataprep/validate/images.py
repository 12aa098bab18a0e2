"""Image checks: read the bytes, find their real format and size, decode them
(the check users need most), and fix what can be fixed without guessing.

Runs in the conversion's worker processes, once per image, and returns the
bytes to write (the original bytes unless a fix re-encoded them) with the
findings about that image.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from dataprep.locations import url_join
from dataprep.options import DEFAULT_MAX_PIXELS  # noqa: F401  (declared with --max-pixels; used here)
from dataprep.validate.duplicates import phash as perceptual_hash
from dataprep.findings import ERROR, INFO, KEPT, REENCODED, ROTATED, SKIPPED_IMAGE, WARNING, Finding

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_EXIF_ORIENTATION = 0x0112
#: Quality of a JPEG that a fix had to re-encode (with 4:4:4 chroma).
JPEG_QUALITY = 95
_EXTENSION_FORMAT = {".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png"}


def sniff_format(data: bytes) -> str | None:
    """``'jpeg'`` or ``'png'`` from the magic bytes, else None."""
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


@dataclass
class CheckedImage:
    """One image file after :func:`check_image`: its bytes to write (None: skipped), size, findings, hashes.

    (The per-image result of the conversion, record included, is :class:`dataprep.convert.work.ImageResult`.)
    """

    data: bytes | None  # None: the image is skipped (see findings)
    format: str = ""
    width: int = 0
    height: int = 0
    findings: list[Finding] = field(default_factory=list)
    sha256: str = ""  # of the file's bytes as read
    data_is_original: bool = True  # False when a fix re-encoded the bytes
    phash: int = 0  # 64-bit perceptual hash (pHash) of the decoded image; 0 when not decoded


#: An object's default repr, ``<_io.BytesIO object at 0x7f...>``: its address differs on every run.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _why(exc: Exception) -> str:
    """``Type: message`` of a decoder's exception, the same on every run (the
    in-memory file Pillow read from is named "the bytes", not by its address)."""
    return f"{type(exc).__name__}: {_OBJECT_REPR.sub('the bytes', str(exc))}"


def safe_join(root: Path, rel: str, *, follow_symlinks: bool = False) -> Path | None:
    """``root / rel`` unless ``rel`` escapes ``root`` (absolute, ``..``) or,
    unless ``follow_symlinks``, a symbolic link on the way leads outside it."""
    if not rel or os.path.isabs(rel) or "\x00" in rel:
        return None
    joined = os.path.normpath(os.path.join(root, rel))
    base = os.path.normpath(root)
    if joined != base and not joined.startswith(base + os.sep):
        return None
    if not follow_symlinks and _symlink_below(base, joined):
        # Only a link under ``base`` can lead outside it: without one, ``joined``
        # resolves to realpath(base)/rel. With one, resolve both (every
        # component, as os.path.realpath does) and compare.
        real, real_base = os.path.realpath(joined), os.path.realpath(base)
        if real != real_base and not real.startswith(real_base.rstrip(os.sep) + os.sep):
            return None
    return Path(joined)


def _symlink_below(base: str, joined: str) -> bool:
    """Whether a component of ``joined`` below ``base`` is a symbolic link (one
    ``lstat`` per component: the converter calls this once per image, where two
    ``realpath`` calls cost an ``lstat`` per component from the file-system root)."""
    path = base
    for part in joined[len(base):].split(os.sep):
        if not part:
            continue
        path = os.path.join(path, part)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except OSError:  # missing: nothing below it to follow; reading it reports why
            return False
    return False


def _encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":  # a re-encode loses as little as it can: high quality, full-resolution colour
        im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    else:
        if im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        im.save(buf, "PNG")
    return buf.getvalue()


class _Skip(Exception):
    """The image is skipped: its finding's code, detail and value."""

    def __init__(self, code: str, detail: str, value=None):
        super().__init__(detail)
        self.code, self.detail, self.value = code, detail, value


def check_image(
    root: Path,
    rel: str,
    annotated_size: tuple[float, float] = (float("nan"), float("nan")),
    *,
    decode: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    follow_symlinks: bool = False,
    store=None,
) -> CheckedImage:
    """Check one image file; see the module docstring. ``store`` reads it
    instead of the local disk (``store.read(path) -> bytes``, raising
    ``FileNotFoundError`` or ``OSError``; ``root`` is then a URL or path string)."""
    try:
        data = _read(root, rel, follow_symlinks, store)
        fmt = sniff_format(data)
        sha256 = hashlib.sha256(data).hexdigest()
        im = _open(data, fmt, max_pixels)
        findings: list[Finding] = []
        reencode_to, high_bit = _format_fixes(im, fmt, rel, findings)
        width, height, orientation_fix = _orientation(im, fmt, rel, annotated_size, findings)
        if orientation_fix:
            reencode_to = reencode_to or "jpeg"
        _colour_and_size(im, fmt, rel, annotated_size, (width, height), reencode_to, findings)
        data, fmt, phash = _decode(im, data, fmt, reencode_to, orientation_fix, high_bit, decode)
    except _Skip as skip:
        # Each finding names the image; the per-image work adds the annotation that referenced it.
        return CheckedImage(None, findings=[Finding(ERROR, skip.code, rel, rel, skip.detail, SKIPPED_IMAGE, image=rel,
                                                    value=skip.value)])
    return CheckedImage(data, fmt, width, height, findings, sha256=sha256, phash=phash,
                        data_is_original=reencode_to is None)


def _read(root, rel: str, follow_symlinks: bool, store) -> bytes:
    """The file's bytes, read inside the images folder only."""
    path = safe_join(root, rel, follow_symlinks=follow_symlinks) if store is None else url_join(str(root), rel)
    if path is None:
        if store is None and safe_join(root, rel, follow_symlinks=True) is not None:
            raise _Skip("image.path_escapes_root",
                        f"image path {rel!r} is a symbolic link to {os.path.realpath(os.path.join(root, rel))}, "
                        f"outside the images folder {root}; refused (pass --follow-symlinks to allow it)")
        raise _Skip("image.path_escapes_root", f"image path {rel!r} is outside the images folder {root}; refused")
    try:
        data = path.read_bytes() if store is None else store.read(path)
    except FileNotFoundError:
        raise _Skip("image.missing", f"image file not found: {path}") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise _Skip("image.unreadable", f"cannot read {path}: {exc.strerror or exc}") from None
    if not data:
        raise _Skip("image.not_an_image", "the file is empty (0 bytes)")
    return data


def _open(data: bytes, fmt: str | None, max_pixels: int) -> Image.Image:
    """The image's header opened (nothing decoded yet); refused above ``max_pixels``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _Skip("image.too_large", f"refused, not decoded: {exc}") from None
    except Exception as exc:  # Pillow raises many types for non-images
        if fmt is not None:  # the magic bytes say JPEG or PNG: the header itself is broken or cut short
            raise _Skip("image.undecodable", f"the {fmt.upper()} header does not decode ({_why(exc)})") from None
        raise _Skip("image.not_an_image", f"not a readable image ({_why(exc)})") from None
    width, height = im.size
    if width * height > max_pixels:
        raise _Skip("image.too_large",
                    f"{width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,} "
                    "(a decompression bomb?); refused, not decoded (raise --max-pixels to allow it)", [width, height])
    if width <= 0 or height <= 0:
        raise _Skip("image.not_an_image", f"image size {width}x{height}")
    return im


def _format_fixes(im: Image.Image, fmt: str | None, rel: str, findings: list) -> tuple[str | None, bool]:
    """The format's findings: what TF cannot decode is re-encoded (PNG); returns
    the format to re-encode to (or None) and whether the PNG is high bit depth."""
    ext_fmt = _EXTENSION_FORMAT.get(os.path.splitext(rel)[1].lower())
    reencode_to: str | None = None
    high_bit = False
    if fmt is None:
        findings.append(Finding(WARNING, "image.unsupported_format", rel, rel,
                                f"{im.format} images are not readable by TF detection decoders; re-encoded as PNG",
                                REENCODED, image=rel, value=im.format))
        reencode_to = "png"
    elif ext_fmt is not None and ext_fmt != fmt:
        findings.append(Finding(INFO, "image.format_mismatch", rel, rel,
                                f"the bytes are {fmt.upper()} but the name says {ext_fmt.upper()}; "
                                f"recorded as image/format={fmt!r}", KEPT, image=rel,
                                value=os.path.splitext(rel)[1]))
    if fmt == "png" and im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        findings.append(Finding(WARNING, "image.high_bit_depth", rel, rel,
                                f"{im.mode} PNG re-encoded as 8-bit so it decodes to uint8 RGB", REENCODED,
                                image=rel, value=im.mode))
        high_bit = True
        reencode_to = "png"
    return reencode_to, high_bit


def _known_size(annotated_size: tuple[float, float]) -> bool:
    ann_w, ann_h = annotated_size
    return math.isfinite(ann_w) and math.isfinite(ann_h) and ann_w > 0 and ann_h > 0


def _orientation(im: Image.Image, fmt: str | None, rel: str, annotated_size: tuple[float, float],
                 findings: list) -> tuple[int, int, bool]:
    """EXIF orientation. TensorFlow's decoders ignore it, so the record's pixels
    are the stored pixels. If the annotation's size matches the *rotated*
    image, the annotator saw it upright: bake the rotation into the pixels.
    Returns the record's width and height and whether to rotate."""
    width, height = im.size
    orientation = im.getexif().get(_EXIF_ORIENTATION, 1) if fmt == "jpeg" else 1
    ann_w, ann_h = annotated_size
    known = _known_size(annotated_size)
    if not known and (math.isinf(ann_w) or math.isinf(ann_h) or ann_w > 2**31 or ann_h > 2**31):
        findings.append(Finding(WARNING, "image.bad_annotated_size", rel, rel,
                                f"the annotation's size {ann_w:g}x{ann_h:g} is not a usable pixel size; "
                                f"the image's real size {width}x{height} is used", KEPT, image=rel,
                                value=[ann_w, ann_h]))
    if orientation in (None, 1):
        return width, height, False
    swaps = orientation in (5, 6, 7, 8)
    if known and swaps and (int(ann_w), int(ann_h)) == (height, width) and width != height:
        findings.append(Finding(WARNING, "image.exif_rotated", rel, rel,
                                f"EXIF orientation {orientation}: the annotation's size {int(ann_w)}x{int(ann_h)} "
                                f"is the upright image, so the rotation was applied to the pixels", ROTATED,
                                image=rel, value=orientation))
        return height, width, True
    if known and (int(ann_w), int(ann_h)) == (width, height) and swaps:
        findings.append(Finding(INFO, "image.exif_ignored", rel, rel,
                                f"EXIF orientation {orientation}: the annotation's size matches the stored "
                                "pixels, so they were kept as stored", KEPT, image=rel, value=orientation))
    else:
        findings.append(Finding(WARNING, "image.exif_ambiguous", rel, rel,
                                f"EXIF orientation {orientation} and the annotation's size cannot tell whether "
                                "the annotator saw the image rotated; pixels kept as stored (as TensorFlow "
                                "decodes them): check the boxes", KEPT, image=rel, value=orientation))
    return width, height, False


def _colour_and_size(im: Image.Image, fmt: str | None, rel: str, annotated_size: tuple[float, float],
                     size: tuple[int, int], reencode_to: str | None, findings: list) -> None:
    """CMYK/YCCK JPEGs, and an annotated size that is not the record's."""
    if fmt == "jpeg" and im.mode in ("CMYK", "YCCK"):
        # TensorFlow's JPEG decoder (decode_jpeg / decode_image, channels=3 or
        # 0: what the TF OD API and Model Garden decoders call) converts CMYK
        # and YCCK to RGB, within ~2 levels of Pillow; a re-encode would lose
        # more. Re-encoded only when another fix needs new pixels anyway.
        if reencode_to is None:
            findings.append(Finding(INFO, "image.cmyk", rel, rel,
                                    f"{im.mode} JPEG: TensorFlow decodes it to RGB; original bytes kept", KEPT,
                                    image=rel, value=im.mode))
        else:
            findings.append(Finding(INFO, "image.cmyk", rel, rel,
                                    f"{im.mode} JPEG re-encoded as RGB JPEG (quality {JPEG_QUALITY}, no chroma "
                                    "subsampling) for the fix above", REENCODED, image=rel, value=im.mode))
    ann_w, ann_h = annotated_size
    if _known_size(annotated_size) and (int(round(ann_w)), int(round(ann_h))) != size:
        findings.append(Finding(WARNING, "image.size_mismatch", rel, rel,
                                f"the annotation says {ann_w:g}x{ann_h:g} but the image is {size[0]}x{size[1]}; "
                                "boxes are normalized by the real size", KEPT, image=rel,
                                value=[ann_w, ann_h]))


def _decode(im: Image.Image, data: bytes, fmt: str | None, reencode_to: str | None, orientation_fix: bool,
            high_bit: bool, decode: bool) -> tuple[bytes, str | None, int]:
    """Decode the pixels (re-encoded where a fix needs it): the record's bytes,
    format and perceptual hash (0 when not decoded)."""
    width, height = im.size
    phash = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if reencode_to is not None:
                im.load()
                if orientation_fix:
                    im = ImageOps.exif_transpose(im)
                if high_bit:
                    im = im.point(lambda v: v / 256).convert("L") if im.mode != "F" else im.convert("L")
                phash = perceptual_hash(im)
                data = _encode(im, reencode_to)
                fmt = reencode_to
            elif decode:
                # Decode every image. A YCbCr or grey JPEG is still entropy-decoded
                # in full (where truncation and corrupt data show), but its IDCT
                # output is scaled to 1/8 in grey: ~1.7x faster than a full decode.
                if fmt == "jpeg" and im.mode in ("RGB", "L"):
                    im.draft("L", (max(32, width // 8), max(32, height // 8)))  # >= 32 px for the hash
                im.load()
                phash = perceptual_hash(im)
    except Exception as exc:
        raise _Skip("image.undecodable", f"the {fmt or im.format} data does not decode: {_why(exc)}") from None
    return data, fmt, phash
