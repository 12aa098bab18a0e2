"""Benchmark of ``dataprep stats`` on records: about a million boxes.

Writes a records set cheaply (a 1x1 PNG as every image, seeded random boxes of
five classes in two splits) with the TensorFlow-free writer, then times each
step on it, printing wall time and the process's peak RSS so far
(``resource.getrusage(...).ru_maxrss``)::

    python benchmarks/stats.py                          # 100,000 examples x 10 boxes
    python benchmarks/stats.py --examples 20000 --anchors --suggest
    python benchmarks/stats.py --data DIR               # keep/reuse the records in DIR

TensorFlow is never imported (checked at the end).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.records.example import ExampleData, encode_example  # noqa: E402
from dataprep.records.framing import ShardWriter, frame  # noqa: E402

CLASSES = ("bicycle", "car", "dog", "person", "traffic light")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@contextmanager
def step(name: str, times: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    times[name] = seconds
    print(f"{name}: {seconds:.2f} s, peak RSS {peak_rss_mb():.0f} MiB", flush=True)


def tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (128, 128, 128)).save(buf, "PNG")
    return buf.getvalue()


def write_records(out: Path, examples: int, boxes_per_example: int, shards: int, seed: int) -> int:
    """``examples`` records in ``shards`` train shards + 1 val shard, with a manifest; returns the box count."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    png = tiny_png()
    n_val = examples // 10
    plan = {"train": (examples - n_val, shards), "val": (n_val, 1)}
    manifest = {"format": "tfrecord", "label_map": "label_map.pbtxt", "splits": {}}
    total_boxes = 0
    source_id = 0
    for split, (n, n_shards) in plan.items():
        writers = [ShardWriter(out / f"{split}-{i:05d}-of-{n_shards:05d}.tfrecord") for i in range(n_shards)]
        for k in range(n):
            source_id += 1
            width, height = (640, 480) if k % 3 else (1280, 720)
            m = boxes_per_example
            labels = rng.integers(1, len(CLASSES) + 1, m)
            size = np.clip(0.12 * np.exp(rng.normal(0.0, 0.7, m)), 0.01, 1.0)
            ratio = np.exp(rng.normal(0.0, 0.4, m))
            h = np.clip(size / np.sqrt(ratio), 0.005, 1.0)
            w = np.clip(size * np.sqrt(ratio), 0.005, 1.0)
            cy, cx = rng.uniform(h / 2, 1 - h / 2), rng.uniform(w / 2, 1 - w / 2)
            boxes = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1)
            texts = [CLASSES[i - 1] for i in labels]
            data = ExampleData(
                encoded=png, format="png", height=height, width=width, filename=f"img/{source_id:07d}.jpg",
                source_id=source_id, boxes=boxes, texts=texts, labels=labels.tolist(), difficult=[0] * m,
                truncated=[0] * m, is_crowd=[0] * m, area=(w * h * width * height).tolist(), view=[""] * m)
            writers[k % n_shards].write_framed(frame(encode_example(data)))
            total_boxes += m
        infos = [w.close() for w in writers]
        manifest["splits"][split] = {
            "examples": n, "boxes": n * boxes_per_example,
            "shards": [{"file": w.path.name, **info} for w, info in zip(writers, infos)],
        }
    (out / "label_map.pbtxt").write_text(
        "".join(f"item {{\n  id: {i}\n  name: '{c}'\n}}\n" for i, c in enumerate(CLASSES, 1)), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return total_boxes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--boxes-per-example", type=int, default=10)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--data", type=Path, default=None, help="records folder to write or reuse (default: temp)")
    parser.add_argument("--anchors", action="store_true", help="also time the anchor coverage")
    parser.add_argument("--suggest", action="store_true", help="also time the anchor suggestion")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    times: dict[str, float] = {}
    tmp = None
    data = args.data
    if data is None:
        tmp = tempfile.mkdtemp(prefix="dataprep-stats-bench-")
        data = Path(tmp) / "records"
    try:
        if not (data / "manifest.json").is_file():
            with step(f"write {args.examples} examples x {args.boxes_per_example} boxes", times):
                boxes = write_records(data, args.examples, args.boxes_per_example, args.shards, args.seed)
            size = sum(p.stat().st_size for p in data.glob("*.tfrecord"))
            print(f"records: {boxes} boxes, {size / 2**20:.0f} MiB in {data}", flush=True)
        baseline = peak_rss_mb()
        print(f"before stats: peak RSS {baseline:.0f} MiB", flush=True)

        from dataprep.stats import analyse_anchors, collect, format_summary, resolve_settings, summarise

        with step("collect (stream and decode records)", times):
            table = collect(data)
        with step("summarise", times):
            summary = summarise(table)
        with step("format", times):
            lines = format_summary(summary)
        print(f"table: {table.num_images} images, {table.num_boxes} boxes; report {len(lines)} lines")
        if args.anchors or args.suggest:
            with step("anchor coverage" + (" + suggestion" if args.suggest else ""), times):
                analysis = analyse_anchors(table, resolve_settings(), suggest=args.suggest)
            print(f"matched fraction {analysis.report.matched_fraction:.4f}")
        total = times["collect (stream and decode records)"] + times["summarise"]
        print(f"stats total (collect + summarise): {total:.2f} s for {table.num_boxes} boxes, "
              f"peak RSS {peak_rss_mb():.0f} MiB")
        print(f"tensorflow imported: {'tensorflow' in sys.modules}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
