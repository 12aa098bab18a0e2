"""Shared test helpers: run a conversion and read its output back.

Every test module that converts uses :func:`run` (one worker, no progress
bar, the accounting identities checked) and reads the records back with
:func:`examples`; fixtures of images live in ``conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dataprep.convert import SHARD_RE, ConvertOptions, convert
from dataprep.dataset import Dataset
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records

#: xyxy pixels on a 64 x 48 image -> 0.125 .. 0.375, 0.25 .. 0.75
BOX = (8.0, 12.0, 24.0, 36.0)


def opts(out: Path, **kw) -> ConvertOptions:
    kw.setdefault("workers", 1)
    return ConvertOptions(out=out, progress=False, **kw)


def run(ds: Dataset, out: Path, **kw):
    """Convert ``ds`` into ``out`` with one worker; the accounting must balance."""
    result = convert(ds, opts(out, **kw))
    result.report.counts.check()
    return result


def manifest(out: Path) -> dict:
    return json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))


def examples(out: Path, split: str | None = None) -> list[dict]:
    """Every written example, decoded, in manifest order (``split``: only that one)."""
    return [decode_example(r) for name, info in manifest(out)["splits"].items() if split in (None, name)
            for s in info["shards"] for r in read_records(Path(out) / s["file"])]


def shard_files(out: Path) -> list[str]:
    return sorted(p.name for p in Path(out).iterdir() if SHARD_RE.match(p.name))


def build(tmp_path: Path, images: list[dict], objects: list[dict], **kw) -> Dataset:
    cols = ["image_id", "index", "text", "xmin", "ymin", "xmax", "ymax"]
    objs = pd.DataFrame(objects) if objects else pd.DataFrame(columns=cols)
    return Dataset.build(pd.DataFrame(images), objs, tmp_path / "images", **kw)


def simple(tmp_path: Path, n: int = 10, *, splits=None, classes=("cat", "dog"), size=(64, 48)) -> Dataset:
    """``n`` distinct JPEGs img00.jpg ..., one box each, classes alternating."""
    from conftest import make_jpeg

    root = tmp_path / "images"
    root.mkdir(parents=True, exist_ok=True)
    images, objects = [], []
    for k in range(n):
        name = f"img{k:02d}.jpg"
        (root / name).write_bytes(make_jpeg(size[0], size[1], seed=k))
        images.append({"image_id": k + 1, "file": name, "split": (splits[k] if splits else "train"),
                       "width": size[0], "height": size[1], "annotation": f"ann/{name}.xml"})
        objects.append({"image_id": k + 1, "index": 0, "text": classes[k % len(classes)],
                        "xmin": BOX[0], "ymin": BOX[1], "xmax": BOX[2], "ymax": BOX[3]})
    return build(tmp_path, images, objects)


def shapes_records(root: Path, n: int, width: int, height: int, seed: int, splits: dict, **synth) -> Path:
    """Synthetic shapes as a VOC folder ``root/voc`` converted to records in ``root/records`` (returned)."""
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc

    generate_shapes_voc(root / "voc", n, width=width, height=height, seed=seed, splits=splits, **synth)
    convert(read_voc(root / "voc"), ConvertOptions(out=root / "records", workers=1, progress=False))
    return root / "records"
