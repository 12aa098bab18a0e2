"""Run every data command on ``sample_data/`` and list each output file's sha256, to show that a change
leaves the outputs byte-identical (issue 21)::

    python tools/cli_snapshot.py --out /tmp/snap > after.txt
    git stash  # or check out the revision before, e.g. in a worktree, with PYTHONPATH=that worktree
    python tools/cli_snapshot.py --out /tmp/snap > before.txt
    diff before.txt after.txt

The same ``--out`` both times: manifests record the output path. Every command runs in-process through
``dataprep.cli.main`` (the ``dataprep`` on PYTHONPATH); each command's exit code and console text are listed too.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def commands(out: Path) -> list[tuple[str, list[str]]]:
    voc, coco, csv, yolo = SAMPLE / "voc", SAMPLE / "coco_instances.json", SAMPLE / "labels.csv", SAMPLE / "yolo"
    images = SAMPLE / "voc" / "JPEGImages"
    return [
        ("convert-voc", ["convert", "voc", str(voc), "--out", str(out / "voc")]),
        ("convert-voc-split", ["convert", "voc", str(voc), "--out", str(out / "voc-split"),
                               "--split", "train=0.7,val=0.3", "--rebalance", "images"]),
        ("convert-coco", ["convert", "coco", str(coco), "--images", str(images), "--out", str(out / "coco")]),
        ("convert-csv", ["convert", "csv", str(csv), "--images", str(images), "--out", str(out / "csv")]),
        ("convert-yolo", ["convert", "yolo", str(yolo), "--out", str(out / "yolo")]),
        ("convert-records", ["convert", "tfrecord", str(out / "voc"), "--out", str(out / "records")]),
        ("validate", ["validate", str(voc)]),
        ("inspect", ["inspect", str(out / "voc")]),
        ("stats", ["stats", str(out / "voc"), "--anchors", "--json", str(out / "stats.json")]),
        ("split", ["split", str(out / "voc"), "--out", str(out / "resplit"), "--split", "train=0.5,val=0.5",
                   "--rebalance", "images"]),
        ("export-voc", ["export-annotations", str(out / "voc"), "--format", "voc", "--out", str(out / "back-voc")]),
        ("export-coco", ["export-annotations", str(out / "voc"), "--format", "coco", "--out",
                         str(out / "back-coco")]),
        ("export-yolo", ["export-annotations", str(out / "voc"), "--format", "yolo", "--out",
                         str(out / "back-yolo")]),
    ]


def run(argv: list[str]) -> tuple[int, str]:
    from dataprep.cli import main

    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        try:
            code = main(argv + ["-q"] if argv[0] in ("convert", "split", "stats", "validate") else argv)
        except SystemExit as exc:
            code = exc.code
    return int(code or 0), text.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="scratch folder (replaced)")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    for name, argv in commands(args.out):
        code, text = run(argv)
        lines = [line for line in text.splitlines()  # timings and progress bars aside
                 if " s, " not in line and "time " not in line and "%|" not in line]
        print(f"## {name}: exit {code}; console sha256 {hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:16]}")
    for path in sorted(p for p in args.out.rglob("*") if p.is_file()):
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}  {path.relative_to(args.out)}")


if __name__ == "__main__":
    main()
