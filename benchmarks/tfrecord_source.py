"""Benchmark of ``dataprep convert tfrecord`` (another tool's records read,
checked, every image decoded, rewritten to the contract) and of
``export-annotations``.

Writes ``--examples`` foreign records (distinct small JPEGs, three boxes each,
``generate_tfrecord.py`` keys: ids from 0, no sha256) into two shards (plus a
GZIP copy with ``--gzip``), then times each step, printing wall time,
examples/s and the process's peak RSS so far
(``resource.getrusage(...).ru_maxrss``; the convert step's workers are
forked children, whose peak is ``RUSAGE_CHILDREN``)::

    python benchmarks/tfrecord_source.py                  # 5,000 examples, 2 workers
    python benchmarks/tfrecord_source.py --examples 20000 --workers 2 --gzip

TensorFlow is never imported (checked at the end).
"""

from __future__ import annotations

import argparse
import os
import gzip
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

from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.formats.writers import export_annotations  # noqa: E402
from dataprep.formats.tfrecord import read_tfrecord  # noqa: E402
from dataprep.protos import Example  # noqa: E402
from dataprep.records.framing import frame, scan_records  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def foreign_records(folder: Path, n: int, seed: int = 0, rolled: bool = False, size=(128, 96)) -> int:
    """``n`` records in two shards; returns the bytes written. Each image is
    its own random 8x8 pattern scaled up (distinct for the near-duplicate
    check too), or with ``rolled`` one pattern rolled and XORed per image
    (distinct bytes but near-duplicates of each other: ~8 near-duplicate
    findings per image, which then dominate convert's time and report)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    total = 0
    shards = [open(folder / f"train.record-0000{k}-of-00002", "wb") for k in range(2)]
    try:
        for i in range(n):
            arr = (np.roll(base, i, axis=(0, 1)) ^ np.uint8(i % 251) if rolled
                   else rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
            buf = io.BytesIO()
            Image.fromarray(arr).resize(size).save(buf, "JPEG", quality=80)
            ex = Example()
            f = ex.features.feature
            f["image/encoded"].bytes_list.value.append(buf.getvalue())
            f["image/format"].bytes_list.value.append(b"jpeg")
            f["image/filename"].bytes_list.value.append(f"img{i:07d}.jpg".encode())
            f["image/source_id"].bytes_list.value.append(f"img{i:07d}.jpg".encode())
            f["image/width"].int64_list.value.append(size[0])
            f["image/height"].int64_list.value.append(size[1])
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


def cpu_seconds() -> tuple[float, float]:
    """(this process, its finished children) user + system CPU seconds."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def step(name: str, n: int, fn):
    """Run ``fn``; print wall time and examples/s, and the CPU seconds spent in
    this process and in worker processes: on a machine busy with other work
    the wall time says little, the CPU time per example says what the step
    costs (on 2 free cores the wall is about max(main, (main + workers) / 2))."""
    t0, (m0, k0) = time.perf_counter(), cpu_seconds()
    out = fn()
    dt = time.perf_counter() - t0
    m1, k1 = cpu_seconds()
    main, workers = m1 - m0, k1 - k0
    print(f"{name:32} {dt:7.2f} s {n / dt:7.0f} ex/s | CPU main {main:6.2f} s, workers {workers:6.2f} s: "
          f"{1e3 * (main + workers) / n:5.2f} ms/ex, {n / max(main, (main + workers) / 2):6.0f} ex/s on 2 free cores"
          f" | peak RSS {peak_rss_mb():5.0f} MiB", flush=True)
    return out


def convert_step(name: str, records: Path, out: Path, args) -> None:
    """Read + check + decode + write, end to end, as ``dataprep convert tfrecord``
    runs it: the reader (serial, this process), then the conversion (workers)."""
    t0, (m0, k0) = time.perf_counter(), cpu_seconds()
    ds = read_tfrecord(records)
    m1, _ = cpu_seconds()
    result = convert(ds, ConvertOptions(out=out, workers=args.workers, progress=False))
    dt = time.perf_counter() - t0
    m2, k2 = cpu_seconds()
    read, rest, workers = m1 - m0, m2 - m1, k2 - k0
    # On 2 free cores: the read is serial; the conversion's main and worker CPU share the cores.
    free = args.examples / (read + max(rest, (rest + workers) / 2))
    n = args.examples
    print(f"{name + f' ({args.workers} workers)':32} {dt:7.2f} s {n / dt:7.0f} ex/s | CPU read {read:5.2f} s, "
          f"convert main {rest:5.2f} s, workers {workers:5.2f} s: {1e3 * (read + rest + workers) / n:5.2f} ms/ex, "
          f"{free:6.0f} ex/s on 2 free cores | peak RSS {peak_rss_mb():5.0f} MiB", flush=True)
    c = result.report.counts
    near = result.report.by_code().get("image.near_duplicate", 0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'':32} {c.images_written} written, {c.images_skipped} skipped, {near} near-duplicate findings; "
          f"workers' peak RSS {children:.0f} MiB")


def other_steps(work: Path, files: list, args) -> None:
    """The framing scan, the reader alone and export-annotations."""
    step("scan_records (framing, CRC)", args.examples,
         lambda: sum(1 for f in files for r in scan_records(f) if r.data is not None))
    ds = step("read_tfrecord", args.examples, lambda: read_tfrecord(work / "rec"))
    print(f"{'':32} {ds.num_images} images, {ds.num_boxes} boxes, {len(ds.findings)} findings")
    step("export_annotations yolo", args.examples, lambda: export_annotations(ds, work / "yolo", "yolo"))
    step("export_annotations coco", args.examples, lambda: export_annotations(ds, work / "coco", "coco"))
    del ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="convert's worker processes (default 2)")
    parser.add_argument("--gzip", action="store_true", help="also convert a GZIP copy of the records")
    parser.add_argument("--convert-only", action="store_true",
                        help="only convert (the peak RSS is then convert's own: compare --examples 5000 and 20000)")
    parser.add_argument("--size", default="128x96", help="image width x height (default 128x96)")
    parser.add_argument("--rolled", action="store_true",
                        help="the earlier image set: one pattern rolled per image (near-duplicates of each other)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    work = Path(tempfile.mkdtemp(prefix="dataprep-bench-tfrecord-"))
    try:
        (work / "rec").mkdir()
        written = step("write foreign records", args.examples, lambda: foreign_records(work / "rec", args.examples,
                                                                                rolled=args.rolled, size=size))
        print(f"{'':32} {written / 2**20:.1f} MiB in 2 shards")
        files = sorted((work / "rec").iterdir())
        if not args.convert_only:
            other_steps(work, files, args)
        convert_step("convert tfrecord", work / "rec", work / "out", args)
        if args.gzip:
            (work / "gz").mkdir()
            for f in files:
                with open(f, "rb") as src, gzip.open(work / "gz" / (f.name + ".gz"), "wb") as dst:
                    shutil.copyfileobj(src, dst)
            convert_step("convert tfrecord (GZIP)", work / "gz", work / "out-gz", args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "tensorflow" not in sys.modules, "TensorFlow was imported"


if __name__ == "__main__":
    main()
