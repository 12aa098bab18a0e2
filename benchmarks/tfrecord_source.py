"""Benchmark of reading another tool's records (``dataprep convert tfrecord``'s
reader) and of ``export-annotations``.

Writes ``--examples`` foreign records (distinct small JPEGs, three boxes each,
``generate_tfrecord.py`` keys: ids from 0, no sha256) into two shards, then
times each step, printing wall time, examples/s and the process's peak RSS so
far (``resource.getrusage(...).ru_maxrss``)::

    python benchmarks/tfrecord_source.py                  # 5,000 examples
    python benchmarks/tfrecord_source.py --examples 20000

TensorFlow is never imported (checked at the end).
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.formats.export import export_annotations  # noqa: E402
from dataprep.formats.tfrecord import read_tfrecord  # noqa: E402
from dataprep.protos import Example  # noqa: E402
from dataprep.records.tfrecord import frame, scan_records  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def foreign_records(folder: Path, n: int, seed: int = 0) -> int:
    """``n`` records in two shards; returns the bytes written."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    total = 0
    shards = [open(folder / f"train.record-0000{k}-of-00002", "wb") for k in range(2)]
    try:
        for i in range(n):
            arr = np.roll(base, i, axis=(0, 1)) ^ np.uint8(i % 251)
            buf = io.BytesIO()
            Image.fromarray(arr).resize((128, 96)).save(buf, "JPEG", quality=80)
            ex = Example()
            f = ex.features.feature
            f["image/encoded"].bytes_list.value.append(buf.getvalue())
            f["image/format"].bytes_list.value.append(b"jpeg")
            f["image/filename"].bytes_list.value.append(f"img{i:07d}.jpg".encode())
            f["image/source_id"].bytes_list.value.append(f"img{i:07d}.jpg".encode())
            f["image/width"].int64_list.value.append(128)
            f["image/height"].int64_list.value.append(96)
            x0, y0 = rng.uniform(0, 0.6, (2, 3))
            for key, values in (("xmin", x0), ("ymin", y0), ("xmax", x0 + 0.3), ("ymax", y0 + 0.3)):
                f[f"image/object/bbox/{key}"].float_list.value.extend(values.tolist())
            labels = rng.integers(0, 3, 3)
            f["image/object/class/label"].int64_list.value.extend(labels.tolist())
            f["image/object/class/text"].bytes_list.value.extend(
                [("cat", "dog", "person")[v].encode() for v in labels])
            data = frame(ex.SerializeToString())
            shards[i % 2].write(data)
            total += len(data)
    finally:
        for s in shards:
            s.close()
    return total


def step(name: str, n: int, fn):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"{name:28} {dt:8.2f} s  {n / dt:9.0f} examples/s  peak RSS {peak_rss_mb():7.0f} MiB", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dataprep-bench-tfrecord-"))
    try:
        (work / "rec").mkdir()
        size = step("write foreign records", args.examples, lambda: foreign_records(work / "rec", args.examples))
        print(f"{'':28} {size / 2**20:.1f} MiB in 2 shards")
        files = sorted((work / "rec").iterdir())
        step("scan_records (framing, CRC)", args.examples,
             lambda: sum(1 for f in files for r in scan_records(f) if r.data is not None))
        ds = step("read_tfrecord (+ staging)", args.examples, lambda: read_tfrecord(work / "rec"))
        print(f"{'':28} {ds.num_images} images, {ds.num_boxes} boxes, {len(ds.findings)} findings")
        step("export_annotations yolo", args.examples, lambda: export_annotations(ds, work / "yolo", "yolo"))
        step("export_annotations coco", args.examples, lambda: export_annotations(ds, work / "coco", "coco"))
        del ds
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "tensorflow" not in sys.modules, "TensorFlow was imported"


if __name__ == "__main__":
    main()
