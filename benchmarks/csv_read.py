"""Benchmark of the CSV reader (``read_csv``) on a large one-row-per-box file.

The reader accounts for every physical line (an unterminated quote is reported
on its line instead of swallowing the rest of the file), so it reads the text
through one helper and re-starts the CSV parser after a bad line. This prints
the wall time and the process's peak RSS for a file of N rows::

    python benchmarks/csv_read.py                  # 500,000 rows
    python benchmarks/csv_read.py --rows 2000000 --bad 100

TensorFlow is never imported.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.formats.csv import read_csv  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--bad", type=int, default=10, help="rows with an unterminated quote")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "boxes.csv"
        bad_every = max(args.rows // max(args.bad, 1), 1) if args.bad else 0
        with open(path, "w", encoding="utf-8") as f:
            f.write("filename,width,height,class,xmin,ymin,xmax,ymax\n")
            for k in range(args.rows):
                cls = ("cat", "dog", "person")[k % 3]
                if bad_every and k % bad_every == bad_every // 2:
                    cls = '"' + cls
                f.write(f"img{k % args.images:06d}.jpg,640,480,{cls},{k % 600},{k % 400},{k % 600 + 30},{k % 400 + 40}\n")
        size_mb = path.stat().st_size / 2**20
        rss0 = peak_rss_mb()
        t0 = time.perf_counter()
        ds = read_csv(path, images=d)
        seconds = time.perf_counter() - t0
    print(f"read_csv: {args.rows:,} rows ({size_mb:.1f} MiB), {len(ds.images):,} images, {len(ds.objects):,} boxes, "
          f"{len(ds.findings)} findings in {seconds:.2f} s ({args.rows / seconds:,.0f} rows/s); "
          f"peak RSS {peak_rss_mb():.0f} MiB (before reading: {rss0:.0f} MiB)")
    assert "tensorflow" not in sys.modules


if __name__ == "__main__":
    main()
