"""Benchmark `dataprep convert voc` against a minimal TensorFlow script.

    python benchmarks/convert.py                 # 2,000 and 20,000 images
    python benchmarks/convert.py --sizes 2000    # one size

Generates VOC folders of photo-like 500x375 JPEGs (cached in
benchmarks/_data/), then measures, in the same run, the whole-process wall
time, images/s and peak memory of

  * dataprep convert voc (default options: every image decoded and checked,
    all cores);
  * the same with --no-decode-check;
  * a minimal single-process script: parse each XML, read each JPEG, wrap it
    in a tf.train.Example and write one TFRecord with TensorFlow.

Memory is the peak over the whole process tree (workers included): PSS, which
counts pages shared by forked workers once, and the plain RSS sum.

Every file of a dataset is read once before the timed runs, so all three read
from the page cache (the first run would otherwise also measure the disk).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import run_measured  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

MINIMAL = r'''
import sys, os, xml.etree.ElementTree as ET
import tensorflow as tf
root, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(os.path.join(root, "Annotations")))
with tf.io.TFRecordWriter(out) as w:
    for name in names:
        ann = ET.parse(os.path.join(root, "Annotations", name)).getroot()
        size = ann.find("size")
        width, height = int(size.findtext("width")), int(size.findtext("height"))
        boxes = [[float(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")] for o in ann.iter("object")]
        texts = [o.findtext("name").encode() for o in ann.iter("object")]
        fname = ann.findtext("filename")
        data = open(os.path.join(root, "JPEGImages", fname), "rb").read()
        f = {
            "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
            "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"jpeg"])),
            "image/filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[fname.encode()])),
            "image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
            "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
            "image/object/bbox/xmin": tf.train.Feature(float_list=tf.train.FloatList(value=[b[0] / width for b in boxes])),
            "image/object/bbox/ymin": tf.train.Feature(float_list=tf.train.FloatList(value=[b[1] / height for b in boxes])),
            "image/object/bbox/xmax": tf.train.Feature(float_list=tf.train.FloatList(value=[b[2] / width for b in boxes])),
            "image/object/bbox/ymax": tf.train.Feature(float_list=tf.train.FloatList(value=[b[3] / height for b in boxes])),
            "image/object/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(value=texts)),
        }
        w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
'''


def dataset(n: int) -> Path:
    root = DATA / f"voc-{n}"
    if not (root / ".complete").exists():
        from dataprep.synth import generate_shapes_voc

        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        generate_shapes_voc(root, n, width=500, height=375, seed=n, workers=os.cpu_count())
        (root / ".complete").touch()
        print(f"# generated {n} images in {time.perf_counter() - t:.1f} s", flush=True)
    return root


def warm_cache(root: Path) -> float:
    t = time.perf_counter()
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass
    return time.perf_counter() - t


def line(name: str, n: int, r: dict) -> str:
    ok = "" if r["rc"] == 0 else f"  FAILED rc={r['rc']}: {r['output'][-400:]}"
    return (f"{name:28} {n:6d} images  wall {r['wall']:6.2f} s  {n / r['wall']:7.0f} images/s  "
            f"peak PSS {r['pss_mb']:6.0f} MB  peak RSS sum {r['rss_mb']:6.0f} MB{ok}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,20000")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    exe = shutil.which("dataprep") or str(Path(sys.executable).parent / "dataprep")
    out = HERE / "_out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"# machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    for n in (int(s) for s in args.sizes.split(",")):
        root = dataset(n)
        print(f"# read {n} images once into the page cache in {warm_cache(root):.1f} s", flush=True)
        extra = ["--workers", str(args.workers)] if args.workers else []
        shutil.rmtree(out, ignore_errors=True)
        full = run_measured([exe, "convert", "voc", str(root), "--out", str(out), "--overwrite", "-q", *extra], env)
        print(line("dataprep convert (decode)", n, full), flush=True)
        fast = run_measured([exe, "convert", "voc", str(root), "--out", str(out), "--overwrite", "-q",
                             "--no-decode-check", *extra], env)
        print(line("dataprep --no-decode-check", n, fast), flush=True)
        minimal = run_measured([sys.executable, "-c", MINIMAL, str(root), str(out / "minimal.tfrecord")], env)
        print(line("minimal TF script", n, minimal), flush=True)
        print(f"ratio dataprep/minimal wall at {n}: {full['wall'] / minimal['wall']:.2f}", flush=True)
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
