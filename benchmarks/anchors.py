"""Benchmark of the anchor coverage analysis and the anchor suggestion.

Generates seeded random ground-truth boxes (a mix of sizes and aspect ratios),
then times each step and prints one plain line per step with the wall time and
the process's peak RSS so far (``resource.getrusage(...).ru_maxrss``)::

    python benchmarks/anchors.py                 # 1,000,000 boxes, ssd_mobilenet_v2 at 300x300
    python benchmarks/anchors.py --boxes 200000 --input-size 320
    python benchmarks/anchors.py --model ssd_mobilenet_v2_fpnlite   # 12,804 multiscale anchors (no suggestion)

Pure numpy; TensorFlow is never imported.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.anchors import AnchorConfig, anchor_coverage, suggest_anchors  # noqa: E402
from dataprep.models import MODELS, default_anchor_config  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@contextmanager
def step(name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.2f} s, peak RSS {peak_rss_mb():.0f} MiB", flush=True)


def random_boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normalized boxes and class ids 1..5: each class has its own size/shape mix."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 6, n)
    # per class: (median sqrt-area as a fraction of the image, log-spread, aspect w/h)
    median = np.array([0.0, 0.05, 0.12, 0.3, 0.08, 0.5])[labels]
    aspect = np.array([1.0, 1.0, 0.4, 1.5, 4.0, 1.0])[labels]
    size = np.clip(median * np.exp(rng.normal(0.0, 0.6, n)), 0.005, 1.0)
    ratio = aspect * np.exp(rng.normal(0.0, 0.3, n))
    h = np.clip(size / np.sqrt(ratio), 0.003, 1.0)
    w = np.clip(size * np.sqrt(ratio), 0.003, 1.0)
    cy, cx = rng.uniform(h / 2, 1 - h / 2), rng.uniform(w / 2, 1 - w / 2)
    boxes = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1).astype(np.float32)
    return boxes, labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=1_000_000, help="number of boxes for the coverage")
    parser.add_argument("--suggest-boxes", type=int, default=100_000, help="subsample given to the suggestion")
    parser.add_argument("--sample-size", type=int, default=20_000, help="boxes the suggestion search scores")
    parser.add_argument("--model", choices=sorted(MODELS), default="ssd_mobilenet_v2", help="whose anchors")
    parser.add_argument("--input-size", type=int, default=None, help="default: the model's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    side = args.input_size or MODELS[args.model].input_size
    size = (side, side)
    config = default_anchor_config(args.model)
    print(f"numpy {np.__version__}, {args.boxes} boxes, {args.model} input {size[0]}x{size[1]}, seed {args.seed}")
    print(f"start: peak RSS {peak_rss_mb():.0f} MiB")
    with step("generate boxes"):
        boxes, labels = random_boxes(args.boxes, args.seed)
    with step("anchors"):
        grid = config.grid(size)
    print(f"anchors: {grid.num_anchors}")
    with step("coverage (best IoU, positives, buckets)"):
        report = anchor_coverage(boxes, size, grid=grid, labels=labels)
    with step("breakdown (by class, by size bucket, worst 20)"):
        summary = report.summary(worst_k=20)
    print(
        f"matched fraction {summary['matched_fraction']:.4f}, mean best IoU {summary['mean_best_iou']:.4f}, "
        f"force-matched {summary['force_matched']}, mean positives {summary['mean_positives']:.2f}"
    )
    for name, group in report.by_size_bucket().items():
        print(f"  {name}: {group.count} boxes, matched {group.matched_fraction:.4f}")

    if not isinstance(config, AnchorConfig):
        print(f"no suggestion: it searches ssd_anchor_generator settings, {args.model} has {config.kind} anchors")
        print(f"end: peak RSS {peak_rss_mb():.0f} MiB")
        return
    rng = np.random.default_rng(args.seed + 1)
    pick = np.sort(rng.choice(args.boxes, min(args.suggest_boxes, args.boxes), replace=False))
    with step(f"suggest ({pick.size} boxes, search on {min(args.sample_size, pick.size)})"):
        result = suggest_anchors(boxes[pick], size, labels=labels[pick], sample_size=args.sample_size)
    print(
        f"suggestion: matched {result.before.matched_fraction:.4f} -> {result.after.matched_fraction:.4f}, "
        f"{result.evaluations} evaluations, scales {result.config.scales}, "
        f"aspect ratios {result.config.aspect_ratios}, "
        f"interpolated {result.config.interpolated_scale_aspect_ratio}"
    )
    print(f"end: peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
