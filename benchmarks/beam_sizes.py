"""Image sizes on an object store: one listing against a request per image.

    python benchmarks/beam_sizes.py                  # 20,000 and 200,000 images
    python benchmarks/beam_sizes.py --sizes 1000

Without ``--num-shards`` the Beam launcher needs every image's size to plan
the shards. It lists the images folder once (``BeamStore.sizes``: Beam's
``FileSystems.match`` returns sizes with the listing) and asks alone only for
what the listing lacks. This counts the requests each way on the test file
system ``memtest://`` (``tests/memfs.py``, which counts them) and measures
the launcher memory the listing takes while it is held (``tracemalloc``
peak, per image, for 60-character ``gs://``-like names). Needs
``pip install "dataprep[beam]"``. On GCS a listing page holds 1,000 objects,
so the listing is images / 1,000 requests, against one per image.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import memfs  # noqa: E402

from dataprep.beam.files import BeamStore  # noqa: E402

ROOT = "memtest://my-bucket/datasets/openimages/train/images"


def measure(n: int) -> dict:
    memfs.FILES.clear()
    files = [f"{i:016x}.jpg" for i in range(n)]
    for name in files:
        memfs.FILES[f"{ROOT}/{name}"] = b""  # sizes are 0: the names are what the listing holds
    files.append("missing.jpg")
    store = BeamStore()
    out = {"images": n}
    for how in ("listing", "one request per image"):
        memfs.CALLS.clear()
        tracemalloc.start()
        t0 = time.perf_counter()
        if how == "listing":
            store.sizes(ROOT, files)
        else:
            [store.size(ROOT, f) for f in files]
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[how] = {"requests": dict(memfs.CALLS), "wall_s": round(wall, 2), "peak_bytes_per_image": round(peak / n)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    for n in ap.parse_args().sizes:
        r = measure(n)
        for how in ("listing", "one request per image"):
            m = r[how]
            print(f"{n:>9,} images  {how:<22}  requests {m['requests']}  {m['wall_s']:.2f} s  "
                  f"peak {m['peak_bytes_per_image']} B/image")


if __name__ == "__main__":
    main()
