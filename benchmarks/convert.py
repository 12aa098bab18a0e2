"""Benchmark `dataprep convert voc` against the TF OD API's script, or a minimal TensorFlow one.

    python benchmarks/convert.py                 # 2,000 and 20,000 images
    python benchmarks/convert.py --sizes 2000    # one size
    ODAPI_PYTHON=/work/venvs/odapi-tf2/bin/python python benchmarks/convert.py --sizes 2000

Generates VOC folders of photo-sized JPEGs (default 640x480, quality 92,
noise 8: ~86 KB each; cached in benchmarks/_data/), then measures, in the same
run, the whole-process wall time, images/s and peak memory of

  * dataprep convert voc (default options: every image decoded and checked,
    all cores);
  * the same with --no-decode-check;
  * the reference: the TF OD API's own
    ``object_detection/dataset_tools/create_pascal_tf_record.py`` when an
    interpreter that imports it is found (this one, ``--odapi-python`` or
    ``$ODAPI_PYTHON``; run as that venv needs: ``TF_USE_LEGACY_KERAS=1
    PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``, its generated protos
    predate protobuf 4), on a ``VOC2007/`` view of the folder made of symbolic
    links; otherwise a minimal single-process script: parse each XML, read each
    JPEG, wrap it in a tf.train.Example and write one TFRecord with TensorFlow.

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


ODAPI_MODULE = "object_detection.dataset_tools.create_pascal_tf_record"
ODAPI_ENV = {"TF_USE_LEGACY_KERAS": "1", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}


def odapi_python(given: str | None) -> str | None:
    """An interpreter that imports the TF OD API's VOC script, or None."""
    import subprocess

    for exe in (given, sys.executable, os.environ.get("ODAPI_PYTHON")):
        if exe and subprocess.run([exe, "-c", f"import {ODAPI_MODULE}"], env=dict(os.environ, **ODAPI_ENV),
                                  capture_output=True).returncode == 0:
            return exe
    return None


def odapi_layout(root: Path, work: Path) -> tuple[Path, Path]:
    """``work/VOC2007/{Annotations,ImageSets/Main/aeroplane_train.txt}`` and
    ``work/<folder>/JPEGImages`` as the script reads them (it joins the XML's
    ``<folder>`` to ``data_dir``), links to ``root``; and a label map of the classes."""
    import re

    shutil.rmtree(work, ignore_errors=True)
    (work / "VOC2007" / "ImageSets" / "Main").mkdir(parents=True)
    (work / "VOC2007" / "Annotations").symlink_to(root / "Annotations")
    xmls = sorted(p.name for p in (root / "Annotations").iterdir() if p.suffix == ".xml")
    (work / "VOC2007" / "ImageSets" / "Main" / "aeroplane_train.txt").write_text(
        "".join(f"{name[:-4]}\n" for name in xmls))
    first = (root / "Annotations" / xmls[0]).read_text()
    folder = re.search(r"<folder>([^<]*)</folder>", first).group(1)
    (work / folder).mkdir(parents=True, exist_ok=True)
    (work / folder / "JPEGImages").symlink_to(root / "JPEGImages")
    names = set()
    for name in xmls:
        names.update(re.findall(r"<name>([^<]*)</name>", (root / "Annotations" / name).read_text()))
    label_map = work / "label_map.pbtxt"
    label_map.write_text("".join(f'item {{ id: {i} name: "{c}" }}\n' for i, c in enumerate(sorted(names), 1)))
    return work, label_map


def dataset(n: int, width: int, height: int, quality: int, noise: float) -> Path:
    root = DATA / f"voc-{n}-{width}x{height}-q{quality}-n{noise:g}"
    if not (root / ".complete").exists():
        from dataprep.synth import generate_shapes_voc

        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        generate_shapes_voc(root, n, width=width, height=height, jpeg_quality=quality, noise=noise, seed=n,
                            workers=os.cpu_count())
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
    return (f"{name:28} {n:6d} images  wall {r['wall']:6.2f} s  cpu {r['cpu_s']:6.2f} s  "
            f"{n / r['wall']:7.0f} images/s  "
            f"peak PSS {r['pss_mb']:6.0f} MB  peak RSS sum {r['rss_mb']:6.0f} MB{ok}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,20000")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--quality", type=int, default=92, help="JPEG quality of the generated images")
    ap.add_argument("--noise", type=float, default=8.0, help="pixel noise of the generated images (file size)")
    ap.add_argument("--odapi-python", default=None, help="interpreter that imports the TF OD API")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of runs per size (alternating)")
    args = ap.parse_args()
    exe = shutil.which("dataprep") or str(Path(sys.executable).parent / "dataprep")
    out = HERE / "_out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    odapi = odapi_python(args.odapi_python)
    print(f"# machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; load {os.getloadavg()[0]:.1f}")
    print(f"# reference: {'TF OD API create_pascal_tf_record.py via ' + odapi if odapi else 'minimal TF script'}")
    for n in (int(s) for s in args.sizes.split(",")):
        root = dataset(n, args.width, args.height, args.quality, args.noise)
        sizes = [p.stat().st_size for p in (root / "JPEGImages").iterdir()]
        print(f"# {n} JPEGs of {args.width}x{args.height}, mean {sum(sizes) / len(sizes) / 1000:.0f} KB; read once "
              f"into the page cache in {warm_cache(root):.1f} s", flush=True)
        extra = ["--workers", str(args.workers)] if args.workers else []
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            full = run_measured([exe, "convert", "voc", str(root), "--out", str(out), "--overwrite", "-q", *extra],
                                env)
            print(line("dataprep convert (decode)", n, full), flush=True)
            fast = run_measured([exe, "convert", "voc", str(root), "--out", str(out), "--overwrite", "-q",
                                 "--no-decode-check", *extra], env)
            print(line("dataprep --no-decode-check", n, fast), flush=True)
            if odapi:
                data_dir, label_map = odapi_layout(root, DATA / "odapi-view")
                ref = run_measured([odapi, "-m", ODAPI_MODULE, f"--data_dir={data_dir}", "--year=VOC2007",
                                    "--set=train", f"--output_path={out / 'odapi.tfrecord'}",
                                    f"--label_map_path={label_map}"], dict(env, **ODAPI_ENV))
                name = "TF OD API create_pascal"
            else:
                ref = run_measured([sys.executable, "-c", MINIMAL, str(root), str(out / "minimal.tfrecord")], env)
                name = "minimal TF script"
            print(line(name, n, ref), flush=True)
            print(f"ratio dataprep/{'odapi' if odapi else 'minimal'} wall at {n}: {full['wall'] / ref['wall']:.2f} "
                  f"(CPU seconds {full['cpu_s'] / ref['cpu_s']:.2f}; load {os.getloadavg()[0]:.1f})", flush=True)
    shutil.rmtree(DATA / "odapi-view", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
