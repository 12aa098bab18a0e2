"""Benchmark ``dataprep convert voc`` locally against ``--runner beam`` on
Beam's in-process runner, and size a large run on Dataflow.

    python benchmarks/convert_beam.py                 # 2,000 and 20,000 images
    python benchmarks/convert_beam.py --sizes 2000    # one size

Needs ``pip install "dataprep[beam]"``. Uses the VOC folders of
``benchmarks/convert.py`` (photo-like 500x375 JPEGs, cached in
``benchmarks/_data/``). For each size, in the same run:

* local: ``dataprep convert voc`` with default options (every image decoded,
  all cores);
* beam: the same with ``--runner beam`` (the in-process ``FnApiRunner``: one
  Python process runs the launcher and the workers' steps, on one core);
* launcher metadata: a process that does what the launcher does before a
  pipeline runs (read the annotations, check them, build the job) and
  reports its memory growth, and the bytes of the per-image job rows it
  ships to the workers through the scratch folder.

It prints wall time, images/s, CPU seconds, peak memory (the command's own
process: the launcher; and its whole process tree), checks that both outputs
have the same shards (sha256), and derives the per-image worker cost (CPU
seconds per image of the Beam run) and the launcher's bytes per image used in
the Dataflow sizing of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_measured  # noqa: E402
from convert import dataset  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "_out"

METADATA = r'''
import resource, sys
from pathlib import Path
from dataprep.beam.executor import job_row
from dataprep.convert import ConvertOptions
from dataprep.convert.pipeline import Report, check_annotations_step, make_job, resolve_label_map
from dataprep.formats import read_voc
import pickle
def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
base = rss_kb()
opts = ConvertOptions(out=Path(sys.argv[2]), workers=1, progress=False)
ds = read_voc(sys.argv[1], workers=1, progress=False)
label_map, _ = resolve_label_map(ds, None)
images, objects = check_annotations_step(ds, label_map, opts, Report())
job = make_job(ds.images_root, images, objects, ds.box_units, opts)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = len(job.files)
pickled = sum(len(pickle.dumps([job_row(job, p) for p in range(k, min(n, k + 256))])) for k in range(0, n, 256))
print(f"{base} {peak} {pickled} {n}")
'''


def warm(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            p.read_bytes()


def shard_digests(out: Path) -> dict:
    m = json.loads((out / "manifest.json").read_text())
    return {s["file"]: s["sha256"] for split in m["splits"].values() for s in split["shards"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--metadata-only", action="store_true", help="Only the launcher-metadata measurement.")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cli = [sys.executable, "-c", "import sys; from dataprep.cli import main; sys.exit(main(sys.argv[1:]))"]
    cores = len(os.sched_getaffinity(0))
    print(f"# {cores} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    print("| run | images | wall | images/s | CPU s | CPU ms/image | launcher peak RSS | tree peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        root = dataset(n)
        warm(root)
        outs = {}
        for name, extra in () if args.metadata_only else (("local", []), ("beam (in-process)", ["--runner", "beam"])):
            out = OUT / f"beam-bench-{n}-{name.split()[0]}"
            shutil.rmtree(out, ignore_errors=True)
            r = run_measured(cli + ["convert", "voc", str(root), "--out", str(out), "-q", *extra], env=env)
            if r["rc"] != 0:
                raise SystemExit(f"{name} failed:\n{r['output'][-3000:]}")
            outs[name] = out
            print(f"| {name} | {n:,} | {r['wall']:.1f} s | {n / r['wall']:.0f} | {r['cpu_s']:.1f} | "
                  f"{1000 * r['cpu_s'] / n:.2f} | {r['root_rss_mb']:.0f} MB | {r['rss_mb']:.0f} MB |", flush=True)
        same = shard_digests(outs["local"]) == shard_digests(outs["beam (in-process)"]) if outs else "not run"
        meta = subprocess.run([sys.executable, "-c", METADATA, str(root), str(OUT / "unused")], env=env,
                              capture_output=True, text=True, check=True).stdout.split()
        base, peak, pickled, rows = (int(x) for x in meta)
        print(f"#   {n:,} images: shards identical to the local run: {same}; launcher tables "
              f"{(peak - base) / 1024:.0f} MB peak growth ({1024 * (peak - base) / rows:.0f} B/image), "
              f"job rows shipped {pickled / 2**20:.1f} MB ({pickled / rows:.0f} B/image)", flush=True)
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
