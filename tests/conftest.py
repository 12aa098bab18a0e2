"""Shared fixtures: small datasets written into tmp_path by the tests."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_jpeg(width: int, height: int, seed: int = 0, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    base = np.linspace(30, 220, width)[None, :, None] + rng.normal(0, 8, (height, width, 3))
    arr = np.clip(base, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_png(width: int, height: int, mode: str = "RGB", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    if mode != "RGB":
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def write_image():
    def _write(path: Path, width: int = 64, height: int = 48, fmt: str = "jpeg", seed: int = 0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_jpeg(width, height, seed) if fmt == "jpeg" else make_png(width, height, seed=seed))
        return path

    return _write
