"""Synthetic "shapes" detection dataset written as a Pascal VOC folder.

:func:`generate_shapes_voc` draws coloured shapes (circles, squares,
triangles, ...) on cheap photo-like backgrounds and writes::

    root/Annotations/<stem>.xml        Pascal VOC XML, as LabelImg writes it
    root/JPEGImages/<stem>.jpg
    root/ImageSets/Main/<split>.txt    one stem per line (unless splits=None)

Stems are ``shapes_000001``, ``shapes_000002``, ... (1-based, zero-padded to at
least six digits).

Determinism: every image is generated from its own random stream seeded with
``(seed, index)``; the noise texture, the negative images and the split
assignment have their own ``(seed, stream)`` streams. The same arguments
therefore produce byte-identical files whatever ``workers`` is.

Speed: the background is a small random colour grid interpolated to full size
with two small matrix products (much faster than ``PIL.Image.resize``), plus
per-pixel Gaussian noise cut at a random offset out of a per-process noise bank
and added with wrap-around ``uint8`` arithmetic that cannot overflow (the
smooth field is kept ``3 * noise`` away from 0 and 255, and the noise is cut at
``3 * noise``). Shapes are drawn into small binary masks and pasted, so the
annotated box is the exact tight box of the pixels drawn. A 500x375 image with
its JPEG and XML takes about 2 ms on one core.

Only numpy and Pillow are needed (no TensorFlow, no lxml).
"""

from __future__ import annotations

import colorsys
import io
import math
import multiprocessing
import os
import pathlib
import warnings
from typing import Callable, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageChops, ImageDraw

__all__ = [
    "SHAPE_KINDS",
    "generate_shapes_voc",
    "render_shapes_image",
    "shape_for_class",
    "stem_for_index",
]

#: Shapes that can be drawn. Class names map to shapes with :func:`shape_for_class`.
SHAPE_KINDS = ("ellipse", "rectangle", "triangle", "diamond", "hexagon", "star", "cross")

# Class names that select a shape directly; any other class name gets a shape
# not otherwise used by the class list (see shape_for_class).
_NAME_TO_KIND = {
    "circle": "ellipse",
    "ellipse": "ellipse",
    "oval": "ellipse",
    "square": "rectangle",
    "rectangle": "rectangle",
    "box": "rectangle",
    "triangle": "triangle",
    "diamond": "diamond",
    "rhombus": "diamond",
    "hexagon": "hexagon",
    "star": "star",
    "cross": "cross",
    "plus": "cross",
}

# Stream ids mixed into the seed so that each random decision has its own stream.
_STREAM_IMAGE = 1
_STREAM_NEGATIVES = 2
_STREAM_SPLITS = 3
_STREAM_NOISE = 4

_NOISE_PAD = 64  # noise bank is this many pixels larger than the image in x and y
_MAX_ATTEMPTS = 40  # placement attempts per object before the least-overlapping is taken


# ----------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------


def stem_for_index(index: int, num_images: int = 0, prefix: str = "shapes") -> str:
    """Stem of image ``index`` (0-based): ``shapes_000001`` for index 0."""
    digits = max(6, len(str(num_images)))
    return f"{prefix}_{index + 1:0{digits}d}"


def shape_for_class(classes: Sequence[str]) -> dict[str, str]:
    """Map each class name to the shape drawn for it.

    Known names (``circle``, ``square``, ``triangle``, ``diamond``, ``hexagon``,
    ``star``, ``cross`` and a few synonyms such as ``ellipse`` or ``rectangle``)
    draw that shape. Other names get, in order, the shapes not used by a known
    name, cycling when there are more classes than shapes.
    """
    used = {_NAME_TO_KIND[c] for c in classes if c in _NAME_TO_KIND}
    free = [k for k in SHAPE_KINDS if k not in used] or list(SHAPE_KINDS)
    out: dict[str, str] = {}
    j = 0
    for c in classes:
        if c in _NAME_TO_KIND:
            out[c] = _NAME_TO_KIND[c]
        else:
            out[c] = free[j % len(free)]
            j += 1
    return out


def stream_rng(seed: int, stream: int, index: int | None = None) -> np.random.Generator:
    entropy = [int(seed), stream] if index is None else [int(seed), stream, int(index)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


_LERP_CACHE: dict[tuple[int, int], tuple[np.ndarray, list[tuple[int, int, int]]]] = {}


def _lerp_plan(n: int, k: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Weights (n, 1) and segments [(start, stop, j)] to interpolate k values to n.

    Pixel ``y`` in segment ``(start, stop, j)`` gets ``v[j] + f[y] * (v[j+1] - v[j])``
    with ``f`` a smoothstep-eased fraction (no visible creases at grid lines).
    """
    key = (n, k)
    plan = _LERP_CACHE.get(key)
    if plan is None:
        pos = (np.arange(n, dtype=np.float64) + 0.5) * (k - 1) / n
        i0 = np.clip(np.floor(pos).astype(np.int64), 0, k - 2)
        f = pos - i0
        f = (f * f * (3.0 - 2.0 * f)).astype(np.float32).reshape(n, 1)
        segments = []
        for j in range(k - 1):
            idx = np.nonzero(i0 == j)[0]
            if idx.size:
                segments.append((int(idx[0]), int(idx[-1]) + 1, j))
        plan = (f, segments)
        _LERP_CACHE[key] = plan
    return plan


def _lerp_rows(values: np.ndarray, n: int) -> np.ndarray:
    """Interpolate the k rows of a (k, m) float32 array to (n, m).

    Written with broadcasting rather than a matrix product on purpose: BLAS
    multithreading makes a product of this shape erratically slow on a busy
    machine or inside worker processes.
    """
    k, m = values.shape
    f, segments = _lerp_plan(n, k)
    out = np.empty((n, m), dtype=np.float32)
    for start, stop, j in segments:
        seg = out[start:stop]
        np.multiply(f[start:stop], values[j + 1] - values[j], out=seg)
        seg += values[j]
    return out


_NOISE_CACHE: dict[tuple[int, int, int, float], np.ndarray] = {}


def _noise_bank(seed: int, width: int, height: int, sigma: float) -> np.ndarray:
    """uint8 (height+pad, 3*(width+pad)) bank of Gaussian noise, stored modulo 256.

    Values lie in [-3 sigma, 3 sigma] (rounded) and are stored as ``v % 256`` so
    that adding them to a uint8 field whose values are at least that far from 0
    and 255 gives the exact sum with plain wrap-around uint8 addition.
    """
    key = (int(seed), width, height, float(sigma))
    bank = _NOISE_CACHE.get(key)
    if bank is None:
        cut = _noise_margin(sigma)
        rng = stream_rng(seed, _STREAM_NOISE)
        shape = (height + _NOISE_PAD, 3 * (width + _NOISE_PAD))
        vals = np.rint(rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma))
        np.clip(vals, -cut, cut, out=vals)
        bank = vals.astype(np.int16).astype(np.uint8)  # two's complement == v % 256
        _NOISE_CACHE.clear()  # keep one bank per process
        _NOISE_CACHE[key] = bank
    return bank


def _noise_margin(sigma: float) -> int:
    return int(math.ceil(3.0 * sigma))


# ----------------------------------------------------------------------------
# Backgrounds
# ----------------------------------------------------------------------------


def _photo_background(rng: np.random.Generator, width: int, height: int,
                      seed: int, noise: float) -> Image.Image:
    """Smooth low-frequency colour field plus mild per-pixel noise."""
    margin = _noise_margin(noise) if noise > 0 else 0
    gh = int(rng.integers(2, 6))
    gw = int(rng.integers(2, 7))
    lo, hi = margin + 1, 255 - margin - 1  # +-1: float rounding in the interpolation
    base = rng.uniform(lo + 30, hi - 30, size=3)
    spread = rng.uniform(20.0, 90.0)
    grid = base + rng.uniform(-spread, spread, size=(gh, gw, 3))
    # Desaturate a little so the (saturated) objects stand out like foreground.
    grey = grid.mean(axis=2, keepdims=True)
    grid = grey + rng.uniform(0.3, 1.0) * (grid - grey)
    np.clip(grid, lo, hi, out=grid)
    # Interpolate along x on the small grid first: (gw, gh*3) -> (W, gh*3) ->
    # (gh, W*3) interleaved RGB rows; then along y: (H, W*3).
    grid32 = grid.astype(np.float32)
    rows = _lerp_rows(grid32.transpose(1, 0, 2).reshape(gw, gh * 3), width)
    rows = np.ascontiguousarray(rows.reshape(width, gh, 3).transpose(1, 0, 2)).reshape(gh, width * 3)
    field = _lerp_rows(rows, height)
    pixels = field.astype(np.uint8)  # values within [lo, hi]: no clipping needed
    if noise > 0:
        bank = _noise_bank(seed, width, height, noise)
        oy = int(rng.integers(0, _NOISE_PAD + 1))
        ox = 3 * int(rng.integers(0, _NOISE_PAD + 1))
        pixels += bank[oy:oy + height, ox:ox + 3 * width]  # exact, see _noise_bank
    return Image.frombuffer("RGB", (width, height), pixels, "raw", "RGB", 0, 1)


def _plain_background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    colour = tuple(int(v) for v in rng.integers(40, 216, size=3))
    return Image.new("RGB", (width, height), colour)


# ----------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------


def _unit_polygon(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "triangle":
        # A random triangle (not too thin): three angles on a circle.
        a = rng.uniform(0, 2 * np.pi) + np.array([0.0, 2.094, 4.189]) + rng.uniform(-0.5, 0.5, 3)
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    if kind == "diamond":
        return np.array([[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    if kind == "hexagon":
        a = rng.uniform(0, np.pi / 3) + np.arange(6) * (np.pi / 3)
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    if kind == "star":
        a = rng.uniform(0, 2 * np.pi / 5) + np.arange(10) * (np.pi / 5)
        r = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.38, 0.55))
        return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    if kind == "cross":
        t = rng.uniform(0.18, 0.34)  # half arm thickness, in units of the half size
        return np.array([[-t, -1], [t, -1], [t, -t], [1, -t], [1, t], [t, t],
                         [t, 1], [-t, 1], [-t, t], [-1, t], [-1, -t], [-t, -t]], dtype=np.float64)
    raise ValueError(f"no polygon for shape {kind!r}")


def _shape_mask(kind: str, w: int, h: int, rng: np.random.Generator,
                outline_width: int = 0) -> tuple[Image.Image, Image.Image | None]:
    """Binary "L" masks (fill, outline-or-None) of a shape spanning a w x h box."""
    fill = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(fill)
    outline = None
    if kind == "ellipse":
        xy = (0, 0, w - 1, h - 1)
        draw.ellipse(xy, fill=255)
        if outline_width:
            outline = Image.new("L", (w, h), 0)
            ImageDraw.Draw(outline).ellipse(xy, outline=255, width=outline_width)
    elif kind == "rectangle":
        xy = (0, 0, w - 1, h - 1)
        draw.rectangle(xy, fill=255)
        if outline_width:
            outline = Image.new("L", (w, h), 0)
            ImageDraw.Draw(outline).rectangle(xy, outline=255, width=outline_width)
    else:
        pts = _unit_polygon(kind, rng)
        mn, mx = pts.min(axis=0), pts.max(axis=0)
        pts = (pts - mn) / (mx - mn) * np.array([w - 1, h - 1])
        poly = [(float(x), float(y)) for x, y in pts]
        draw.polygon(poly, fill=255)
        if outline_width:
            outline = Image.new("L", (w, h), 0)
            odraw = ImageDraw.Draw(outline)
            odraw.line(poly + [poly[0]], fill=255, width=outline_width, joint="curve")
    if outline is not None:
        # Keep the outline inside the filled shape so the box is the fill's box.
        outline = ImageChops.darker(outline, fill)
    return fill, outline


def _distance(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))


def _farthest_corner(c: Sequence[int]) -> tuple[int, int, int]:
    return tuple(0 if v >= 128 else 255 for v in c[:3])  # type: ignore[return-value]


def _object_colour(rng: np.random.Generator, against: Sequence[int]) -> tuple[int, int, int]:
    """A saturated colour clearly different from the background colour ``against``."""
    for _ in range(8):
        r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.45, 1.0), rng.uniform(0.35, 1.0))
        col = (int(r * 255), int(g * 255), int(b * 255))
        if _distance(col, against) >= 150:
            return col
    return _farthest_corner(against)


def overlap_fraction(box: tuple[int, int, int, int], others: Iterable[tuple[int, int, int, int]]) -> float:
    """Largest intersection of ``box`` with another box, over the smaller box's area."""
    x0, y0, x1, y1 = box
    a = (x1 - x0) * (y1 - y0)
    worst = 0.0
    for u0, v0, u1, v1 in others:
        iw = min(x1, u1) - max(x0, u0)
        ih = min(y1, v1) - max(y0, v0)
        if iw > 0 and ih > 0:
            worst = max(worst, iw * ih / min(a, (u1 - u0) * (v1 - v0)))
    return worst


# ----------------------------------------------------------------------------
# One image
# ----------------------------------------------------------------------------


def place_box(rng: np.random.Generator, size: Callable[[int], tuple[int, int]], width: int, height: int,
              placed: Sequence[tuple[int, int, int, int]], max_overlap: float,
              attempts: int = _MAX_ATTEMPTS) -> tuple[int, int, int, int]:
    """An exclusive-end pixel box for a new object: up to ``attempts`` tries of
    ``size(attempt) -> (w, h)`` at a uniform position; the first whose overlap with
    ``placed`` is at most ``max_overlap``, else the least-overlapping one."""
    best = None
    for attempt in range(attempts):
        w, h = size(attempt)
        x0 = int(rng.integers(0, width - w + 1))
        y0 = int(rng.integers(0, height - h + 1))
        box = (x0, y0, x0 + w, y0 + h)
        ov = overlap_fraction(box, placed)
        if best is None or ov < best[0]:
            best = (ov, box)
        if ov <= max_overlap:
            break
    return best[1]


def render_shapes_image(
    seed: int,
    index: int,
    *,
    width: int = 500,
    height: int = 375,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    objects_per_image: tuple[int, int] = (1, 6),
    size_range: tuple[float, float] = (0.08, 0.45),
    aspect_range: tuple[float, float] = (0.5, 2.0),
    negative: bool = False,
    background: str = "photo",
    noise: float = 5.0,
    max_overlap: float = 0.3,
    outline_probability: float = 0.35,
) -> tuple[Image.Image, list[dict]]:
    """Render image ``index`` of the dataset defined by ``seed``; nothing is written.

    Returns the RGB image and its objects as dicts with ``name``, ``xmin``,
    ``ymin``, ``xmax``, ``ymax`` in the Pascal VOC convention used in the XML
    (1-based, inclusive pixel indices; see :func:`voc_xml`). The box is the
    tight box of the pixels drawn for the object (a later object may cover part
    of an earlier one; ``max_overlap`` bounds how much).

    ``background``: ``"photo"`` (smooth colour field plus ``noise``-sigma
    per-pixel noise) or ``"plain"`` (one uniform colour, no noise: every pixel
    that differs from it belongs to an object).
    """
    _check_common(width, height, classes, objects_per_image, size_range, aspect_range,
                  background, noise, max_overlap)
    rng = stream_rng(seed, _STREAM_IMAGE, index)
    if background == "photo":
        img = _photo_background(rng, width, height, seed, noise)
    else:
        img = _plain_background(rng, width, height)

    kinds = shape_for_class(classes)
    lo, hi = objects_per_image
    n = 0 if negative else int(rng.integers(lo, hi + 1))
    side = min(width, height)
    smin, smax = size_range
    log_amin, log_amax = math.log(aspect_range[0]), math.log(aspect_range[1])

    placed: list[tuple[int, int, int, int]] = []  # exclusive-end pixel boxes of placed masks
    objects: list[dict] = []
    for _ in range(n):
        name = classes[int(rng.integers(len(classes)))]

        def size(attempt: int) -> tuple[int, int]:
            # Shrink the size range as attempts fail so crowded images still fit.
            top = smin + (smax - smin) * (0.93 ** attempt)
            s = rng.uniform(smin, top) * side
            ra = math.sqrt(math.exp(rng.uniform(log_amin, log_amax)))
            return int(min(width, max(4, round(s * ra)))), int(min(height, max(4, round(s / ra))))

        x0, y0, x1, y1 = place_box(rng, size, width, height, placed, max_overlap)
        w, h = x1 - x0, y1 - y0
        outline_width = 0
        if rng.uniform() < outline_probability:
            outline_width = int(rng.integers(1, max(2, min(5, min(w, h) // 10)) + 1))
        fill, outline = _shape_mask(kinds[name], w, h, rng, outline_width)
        bbox = fill.getbbox()
        if bbox is None:  # pragma: no cover - shapes are at least 4x4 px
            continue
        under = img.getpixel((x0 + w // 2, y0 + h // 2))
        colour = _object_colour(rng, under)
        img.paste(colour, (x0, y0, x1, y1), fill)
        if outline is not None:
            oc = tuple(int(v * rng.uniform(0.15, 0.45)) for v in colour)
            if _distance(oc, under) < 90:
                oc = _farthest_corner(under)
            img.paste(oc, (x0, y0, x1, y1), outline)
        placed.append((x0, y0, x1, y1))
        l, t, r, b = bbox  # r, b exclusive, relative to the mask
        # Drawn pixel columns are x0+l .. x0+r-1 (0-based, inclusive); VOC is 1-based.
        objects.append({"name": name, "xmin": x0 + l + 1, "ymin": y0 + t + 1,
                        "xmax": x0 + r, "ymax": y0 + b})
    return img, objects


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------


def voc_xml(filename: str, width: int, height: int, objects: Sequence[Mapping]) -> str:
    """Pascal VOC XML in LabelImg's layout.

    Box convention: Pascal VOC's 1-based, inclusive pixel indices. A shape whose
    pixels cover 0-based columns c0..c1 (inclusive) and rows r0..r1 is written
    ``xmin=c0+1, xmax=c1+1, ymin=r0+1, ymax=r1+1`` (integers), so
    ``1 <= xmin <= xmax <= width`` and ``1 <= ymin <= ymax <= height``.
    """
    parts = [
        "<annotation>\n",
        "\t<folder>JPEGImages</folder>\n",
        f"\t<filename>{escape(filename)}</filename>\n",
        "\t<size>\n",
        f"\t\t<width>{width}</width>\n",
        f"\t\t<height>{height}</height>\n",
        "\t\t<depth>3</depth>\n",
        "\t</size>\n",
        "\t<segmented>0</segmented>\n",
    ]
    for o in objects:
        parts.append(
            "\t<object>\n"
            f"\t\t<name>{escape(str(o['name']))}</name>\n"
            "\t\t<pose>Unspecified</pose>\n"
            "\t\t<truncated>0</truncated>\n"
            "\t\t<difficult>0</difficult>\n"
            "\t\t<bndbox>\n"
            f"\t\t\t<xmin>{int(o['xmin'])}</xmin>\n"
            f"\t\t\t<ymin>{int(o['ymin'])}</ymin>\n"
            f"\t\t\t<xmax>{int(o['xmax'])}</xmax>\n"
            f"\t\t\t<ymax>{int(o['ymax'])}</ymax>\n"
            "\t\t</bndbox>\n"
            "\t</object>\n"
        )
    parts.append("</annotation>\n")
    return "".join(parts)


def _generate_range(cfg: dict, start: int, stop: int, negative_flags: np.ndarray) -> int:
    """Render and write images start..stop-1; returns the number of objects written."""
    root = pathlib.Path(cfg["root"])
    ann_dir, img_dir = root / "Annotations", root / "JPEGImages"
    render_kw = cfg["render"]
    total = 0
    for i, neg in zip(range(start, stop), negative_flags):
        img, objects = render_shapes_image(cfg["seed"], i, negative=bool(neg), **render_kw)
        stem = stem_for_index(i, cfg["num_images"], cfg["prefix"])
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=cfg["jpeg_quality"])
        (img_dir / f"{stem}.jpg").write_bytes(buf.getvalue())
        xml = voc_xml(f"{stem}.jpg", img.width, img.height, objects)
        (ann_dir / f"{stem}.xml").write_bytes(xml.encode("utf-8"))
        total += len(objects)
    return total


def _generate_range_star(args) -> int:
    return _generate_range(*args)


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of n * fractions to integers summing to n."""
    raw = [n * f for f in fractions]
    counts = [int(math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda j: (-(raw[j] - counts[j]), j))
    for j in order[: n - sum(counts)]:
        counts[j] += 1
    return counts


def _check_common(width, height, classes, objects_per_image, size_range, aspect_range,
                  background, noise, max_overlap) -> None:
    if int(width) != width or int(height) != height or width < 8 or height < 8:
        raise ValueError(f"width and height must be integers >= 8, got {width}x{height}")
    if isinstance(classes, str) or len(classes) == 0:
        raise ValueError("classes must be a non-empty sequence of class names")
    if any(not isinstance(c, str) or not c for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct non-empty strings, got {classes!r}")
    lo, hi = objects_per_image
    if int(lo) != lo or int(hi) != hi or lo < 0 or hi < lo:
        raise ValueError(f"objects_per_image must be integers 0 <= lo <= hi, got {objects_per_image!r}")
    smin, smax = size_range
    if not 0 < smin <= smax <= 1:
        raise ValueError(f"size_range must satisfy 0 < lo <= hi <= 1, got {size_range!r}")
    amin, amax = aspect_range
    if not 0 < amin <= amax:
        raise ValueError(f"aspect_range must satisfy 0 < lo <= hi, got {aspect_range!r}")
    if background not in ("photo", "plain"):
        raise ValueError(f"background must be 'photo' or 'plain', got {background!r}")
    if not 0 <= noise <= 30:
        raise ValueError(f"noise must be within [0, 30], got {noise!r}")
    if not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be within [0, 1], got {max_overlap!r}")


def generate_shapes_voc(
    root,
    num_images: int,
    *,
    width: int = 500,
    height: int = 375,
    seed: int = 0,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    objects_per_image: tuple[int, int] = (1, 6),
    size_range: tuple[float, float] = (0.08, 0.45),
    aspect_range: tuple[float, float] = (0.5, 2.0),
    splits: Mapping[str, float] | None = {"train": 0.8, "val": 0.2},
    negatives: float = 0.0,
    jpeg_quality: int = 90,
    workers: int | None = 1,
    background: str = "photo",
    noise: float = 5.0,
    max_overlap: float = 0.3,
    prefix: str = "shapes",
) -> pathlib.Path:
    """Write a synthetic shapes dataset as a Pascal VOC folder under ``root``.

    Args:
        root: output folder; ``Annotations/``, ``JPEGImages/`` and
            ``ImageSets/Main/`` are created in it (existing files with the same
            names are overwritten, others are left alone).
        num_images: number of images (stems ``<prefix>_000001`` ...).
        width, height: image size in pixels.
        seed: non-negative integer; same arguments + seed give byte-identical files.
        classes: class names; each class is one shape, see :func:`shape_for_class`
            (``circle``/``square`` boxes take any aspect in ``aspect_range``, so
            they are ellipses/rectangles in general).
        objects_per_image: inclusive (lo, hi) range of objects per non-negative image.
        size_range: object size ``sqrt(box_w * box_h)`` as a fraction of
            ``min(width, height)``; shrunk when an image is too crowded.
        aspect_range: box ``w / h``, sampled log-uniformly.
        splits: ``{split_name: fraction}`` summing to 1; the stems are shuffled
            (seeded) and partitioned with largest-remainder rounding, each list
            written sorted to ``ImageSets/Main/<split>.txt``. ``None``: no ImageSets.
        negatives: fraction of images with no objects (exactly
            ``round(negatives * num_images)`` images, chosen at random).
        jpeg_quality: JPEG quality for Pillow.
        workers: processes (fork context) to use; ``None`` or 0 means all CPUs.
        background: ``"photo"`` or ``"plain"`` (see :func:`render_shapes_image`).
        noise: sigma of the per-pixel background noise, in grey levels.
        max_overlap: most of a box that another box may cover (intersection over
            the smaller box's area) before a placement is retried.
        prefix: stem prefix.

    Returns:
        ``pathlib.Path(root)``.
    """
    num_images = _check_voc_arguments(num_images, seed, negatives, jpeg_quality, prefix)
    _check_common(width, height, classes, objects_per_image, size_range, aspect_range,
                  background, noise, max_overlap)
    split_items = _split_items(splits)

    root = pathlib.Path(root)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)

    n_neg = int(math.floor(negatives * num_images + 0.5))
    negative_flags = np.zeros(num_images, dtype=bool)
    if n_neg:
        negative_flags[stream_rng(seed, _STREAM_NEGATIVES).permutation(num_images)[:n_neg]] = True

    cfg = {
        "root": str(root),
        "seed": int(seed),
        "num_images": num_images,
        "prefix": prefix,
        "jpeg_quality": int(jpeg_quality),
        "render": {
            "width": int(width), "height": int(height), "classes": tuple(classes),
            "objects_per_image": (int(objects_per_image[0]), int(objects_per_image[1])),
            "size_range": tuple(size_range), "aspect_range": tuple(aspect_range),
            "background": background, "noise": float(noise), "max_overlap": float(max_overlap),
        },
    }
    _generate_all(cfg, negative_flags, workers)
    if splits is not None:
        _write_split_files(root, seed, num_images, split_items, prefix)
    return root


def _check_voc_arguments(num_images, seed, negatives: float, jpeg_quality: int, prefix: str) -> int:
    """:func:`generate_shapes_voc`'s own arguments checked; the number of images as an int."""
    if int(num_images) != num_images or num_images < 0:
        raise ValueError(f"num_images must be a non-negative integer, got {num_images!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= negatives <= 1.0:
        raise ValueError(f"negatives must be within [0, 1], got {negatives!r}")
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be within [1, 100], got {jpeg_quality!r}")
    if not prefix or any(ch in prefix for ch in "/\\"):
        raise ValueError(f"invalid prefix {prefix!r}")
    return int(num_images)


def _split_items(splits: Mapping[str, float] | None) -> list[tuple[str, float]]:
    """``{split: fraction}`` checked, as a list in its order (empty for None)."""
    if splits is None:
        return []
    split_items = [(str(k), float(v)) for k, v in dict(splits).items()]
    if not split_items:
        raise ValueError("splits must be None or a non-empty mapping")
    for name, frac in split_items:
        if not name or any(ch in name for ch in "/\\") or name in (".", ".."):
            raise ValueError(f"invalid split name {name!r}")
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"split fraction for {name!r} must be within [0, 1], got {frac}")
    if abs(sum(f for _, f in split_items) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {dict(split_items)!r}")
    return split_items


def _generate_all(cfg: dict, negative_flags: np.ndarray, workers: int | None) -> None:
    """Render and write every image, in ``workers`` processes (fork) when more than one."""
    num_images, seed, render = cfg["num_images"], cfg["seed"], cfg["render"]
    if workers is None or workers == 0:
        workers = os.cpu_count() or 1
    workers = max(1, min(int(workers), num_images or 1))
    if workers == 1:
        _generate_range(cfg, 0, num_images, negative_flags)
        return
    if render["background"] == "photo" and render["noise"] > 0:
        _noise_bank(seed, render["width"], render["height"], render["noise"])  # build once, inherited on fork
    chunk = max(1, min(256, -(-num_images // (workers * 8))))
    tasks = [(cfg, s, min(s + chunk, num_images), negative_flags[s:s + chunk])
             for s in range(0, num_images, chunk)]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads (numpy's
        # BLAS pool counts); the workers only use numpy/Pillow single-threaded.
        warnings.filterwarnings("ignore", message=r".*fork\(\)", category=DeprecationWarning)
        with ctx.Pool(workers) as pool:
            for _ in pool.imap_unordered(_generate_range_star, tasks):
                pass


def _write_split_files(root: pathlib.Path, seed: int, num_images: int, split_items: list[tuple[str, float]],
                       prefix: str) -> None:
    """``ImageSets/Main/<split>.txt``: the stems shuffled (seeded), partitioned
    with largest-remainder rounding, each list written sorted."""
    sets_dir = root / "ImageSets" / "Main"
    sets_dir.mkdir(parents=True, exist_ok=True)
    order = stream_rng(seed, _STREAM_SPLITS).permutation(num_images)
    counts = split_counts(num_images, [f for _, f in split_items])
    pos = 0
    for (name, _), count in zip(split_items, counts):
        members = sorted(int(i) for i in order[pos:pos + count])
        pos += count
        text = "".join(stem_for_index(i, num_images, prefix) + "\n" for i in members)
        (sets_dir / f"{name}.txt").write_bytes(text.encode("utf-8"))


def _main(argv: Sequence[str] | None = None) -> None:
    """``python -m dataprep.synth.shapes OUT N [--workers K] ...``: generate and time."""
    import argparse
    import time

    p = argparse.ArgumentParser(description=_main.__doc__)
    p.add_argument("root")
    p.add_argument("num_images", type=int)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--height", type=int, default=375)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--negatives", type=float, default=0.0)
    p.add_argument("--jpeg-quality", type=int, default=90)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    generate_shapes_voc(a.root, a.num_images, width=a.width, height=a.height, seed=a.seed,
                        workers=a.workers, negatives=a.negatives, jpeg_quality=a.jpeg_quality)
    dt = time.perf_counter() - t0
    print(f"{a.num_images} images in {dt:.2f} s: {a.num_images / dt:.0f} images/s "
          f"with {a.workers} worker(s)")


if __name__ == "__main__":  # pragma: no cover
    _main()
