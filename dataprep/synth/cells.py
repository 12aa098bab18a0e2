"""Synthetic "cells" detection dataset: small, rare objects among many medium ones.

A microscopy-like scene for anchor and small-object work: a textured
background with many overlapping round objects of three classes whose sizes
and frequencies differ the way they do in real cell images::

    class    diameter (fraction of the image width)   share of the objects
    small    0.03 - 0.05   (19-32 px at 640x480)       rare     (~10%)
    medium   0.07 - 0.11   (45-70 px)                  abundant (~85%)
    large    0.16 - 0.24   (102-154 px)                rare     (~5%)

:func:`generate_cells_voc` writes the same Pascal VOC layout as
:func:`dataprep.synth.shapes.generate_shapes_voc` (``Annotations/``,
``JPEGImages/``, ``ImageSets/Main/<split>.txt``; stems ``cells_000001`` ...).
Large objects are drawn first and small ones last, so a small cell lying on a
medium one stays visible; each box is the tight box of the pixels drawn for
its object (later objects may cover part of it).

Determinism: image ``i`` comes from its own random stream seeded with
``(seed, i)`` and the split assignment from ``(seed, stream)``, so the same
arguments give byte-identical files. Only numpy and Pillow are needed.
"""

from __future__ import annotations

import io
import math
import pathlib
from typing import Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dataprep.synth.shapes import place_box, split_counts, stem_for_index, stream_rng, voc_xml

__all__ = ["CELL_CLASSES", "CellClass", "generate_cells_voc", "render_cells_image"]

_STREAM_IMAGE = 11
_STREAM_SPLITS = 13
_MAX_ATTEMPTS = 30


class CellClass:
    """How one class of cells is drawn: size, count per image, colours."""

    def __init__(self, name: str, diameter: tuple[float, float], count: tuple[int, int],
                 body: tuple[int, int, int], edge: tuple[int, int, int], nucleus: float) -> None:
        self.name = name
        #: Diameter range as a fraction of the image width.
        self.diameter = diameter
        #: Inclusive range of objects per image (uniform).
        self.count = count
        self.body = body
        self.edge = edge
        #: Nucleus diameter over the cell diameter (0: none).
        self.nucleus = nucleus


#: The three classes, in drawing order (largest first). Counts give an expected
#: 0.4 large, 11.5 medium and 1.5 small objects per image.
CELL_CLASSES: tuple[CellClass, ...] = (
    CellClass("large", (0.16, 0.24), (0, 1), body=(222, 196, 214), edge=(150, 96, 140), nucleus=0.45),
    CellClass("medium", (0.07, 0.11), (8, 15), body=(232, 150, 170), edge=(160, 70, 100), nucleus=0.0),
    CellClass("small", (0.03, 0.05), (0, 3), body=(92, 52, 128), edge=(48, 24, 80), nucleus=0.0),
)


def _textured_background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Pale stained-slide background: a smooth tint, blotches at two scales and grain."""
    base = np.array([236.0, 222.0, 228.0]) + rng.uniform(-12, 12, size=3)
    coarse = rng.normal(0.0, 10.0, size=(height // 64 + 2, width // 64 + 2, 3)).astype(np.float32)
    fine = rng.normal(0.0, 6.0, size=(height // 8 + 2, width // 8 + 2, 1)).astype(np.float32)
    field = np.zeros((height, width, 3), np.float32) + base.astype(np.float32)
    for grid in (coarse, fine):
        up = np.stack([np.asarray(Image.fromarray(grid[..., c]).resize((width, height), Image.BICUBIC))
                       for c in range(grid.shape[2])], axis=2)
        field += up
    field += rng.normal(0.0, 4.0, size=(height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v + rng.uniform(-amount, amount), 0, 255)) for v in colour)  # type: ignore[return-value]


def render_cells_image(seed: int, index: int, *, width: int = 640, height: int = 480,
                       max_overlap: float = 0.35) -> tuple[Image.Image, list[dict]]:
    """Render image ``index`` of the cells dataset ``seed``; nothing is written.

    Returns the RGB image and its objects as dicts with ``name``, ``xmin``,
    ``ymin``, ``xmax``, ``ymax`` in the Pascal VOC convention (1-based,
    inclusive pixel indices), in drawing order.
    """
    if int(width) != width or int(height) != height or width < 64 or height < 64:
        raise ValueError(f"width and height must be integers >= 64, got {width}x{height}")
    if not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be within [0, 1], got {max_overlap!r}")
    rng = stream_rng(seed, _STREAM_IMAGE, index)
    img = _textured_background(rng, width, height)
    placed: list[tuple[int, int, int, int]] = []
    objects: list[dict] = []
    for cls in CELL_CLASSES:
        for _ in range(int(rng.integers(cls.count[0], cls.count[1] + 1))):

            def size(_attempt: int, cls=cls) -> tuple[int, int]:
                d = rng.uniform(*cls.diameter) * width
                ratio = math.exp(rng.uniform(-0.2, 0.2))  # slightly elliptic
                return max(4, int(round(d * math.sqrt(ratio)))), max(4, int(round(d / math.sqrt(ratio))))

            x0, y0, x1, y1 = place_box(rng, size, width, height, placed, max_overlap, _MAX_ATTEMPTS)
            w, h = x1 - x0, y1 - y0
            # Supersampled ellipse mask, softened edge; the box is its tight box.
            mask = Image.new("L", (w, h), 0)
            draw = ImageDraw.Draw(mask)
            draw.ellipse((0, 0, w - 1, h - 1), fill=255)
            edge = max(1, int(round(min(w, h) * 0.08)))
            inner = Image.new("L", (w, h), 0)
            ImageDraw.Draw(inner).ellipse((edge, edge, w - 1 - edge, h - 1 - edge), fill=255)
            img.paste(_jitter(rng, cls.edge, 18), (x0, y0, x1, y1), mask)
            body = inner.filter(ImageFilter.GaussianBlur(radius=max(0.5, edge / 2)))
            img.paste(_jitter(rng, cls.body, 14), (x0, y0, x1, y1), body)
            if cls.nucleus > 0:
                nd = cls.nucleus * min(w, h)
                cx = x0 + w / 2 + rng.uniform(-0.15, 0.15) * w
                cy = y0 + h / 2 + rng.uniform(-0.15, 0.15) * h
                ImageDraw.Draw(img).ellipse((cx - nd / 2, cy - nd / 2, cx + nd / 2, cy + nd / 2),
                                            fill=_jitter(rng, cls.edge, 14))
            placed.append((x0, y0, x1, y1))
            left, top, right, bottom = mask.getbbox()
            objects.append({"name": cls.name, "xmin": x0 + left + 1, "ymin": y0 + top + 1,
                            "xmax": x0 + right, "ymax": y0 + bottom})
    return img, objects


def generate_cells_voc(root, num_images: int, *, seed: int = 0, width: int = 640, height: int = 480,
                       splits: Mapping[str, float] | None = {"train": 0.8, "val": 0.2},
                       jpeg_quality: int = 90, prefix: str = "cells") -> pathlib.Path:
    """Write ``num_images`` cells images as a Pascal VOC folder under ``root``.

    ``splits``: ``{name: fraction}`` summing to 1 (seeded shuffle, largest
    remainder rounding), or None for no ``ImageSets``. Returns ``Path(root)``.
    """
    if int(num_images) != num_images or num_images < 0:
        raise ValueError(f"num_images must be a non-negative integer, got {num_images!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    items = [(str(k), float(v)) for k, v in dict(splits or {}).items()]
    if splits is not None and (not items or abs(sum(f for _, f in items) - 1.0) > 1e-6
                               or any(not 0 <= f <= 1 for _, f in items)):
        raise ValueError(f"split fractions must lie in [0, 1] and sum to 1, got {dict(splits)!r}")
    root = pathlib.Path(root)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    for i in range(int(num_images)):
        img, objects = render_cells_image(seed, i, width=width, height=height)
        stem = stem_for_index(i, num_images, prefix)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(jpeg_quality))
        (root / "JPEGImages" / f"{stem}.jpg").write_bytes(buf.getvalue())
        (root / "Annotations" / f"{stem}.xml").write_bytes(
            voc_xml(f"{stem}.jpg", width, height, objects).encode("utf-8"))
    if splits is not None:
        sets = root / "ImageSets" / "Main"
        sets.mkdir(parents=True, exist_ok=True)
        order = stream_rng(seed, _STREAM_SPLITS).permutation(int(num_images))
        pos = 0
        for (name, _), count in zip(items, split_counts(int(num_images), [f for _, f in items])):
            members = sorted(int(i) for i in order[pos:pos + count])
            pos += count
            text = "".join(stem_for_index(i, num_images, prefix) + "\n" for i in members)
            (sets / f"{name}.txt").write_bytes(text.encode("utf-8"))
    return root
