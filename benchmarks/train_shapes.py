"""End-to-end training benchmark on the synthetic shapes dataset (CPU friendly).

Generates a Pascal VOC folder of coloured shapes (dataprep.synth), converts it
to records, trains SSD MobileNetV2 from scratch (no ImageNet weights: no
network needed) under a wall-clock budget, and prints the learning curve and
the COCO mAP@0.5 on the held-out ``val`` split::

    python benchmarks/train_shapes.py                       # defaults: 20 minute budget
    python benchmarks/train_shapes.py --minutes 5 --images 400 --epochs 10
    python benchmarks/train_shapes.py --json results.json   # also write the figures

The budget covers training and the evaluations; generation and conversion are
timed separately. If an epoch would overrun the budget, training stops early
(the learning-rate schedule is then cut short).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.formats.voc import read_voc  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    p.add_argument("--images", type=int, default=1000, help="images to generate (85%% train, 15%% val)")
    p.add_argument("--image-size", type=int, default=192, help="generated image width and height")
    p.add_argument("--input-size", type=int, default=160)
    p.add_argument("--alpha", type=float, default=0.35)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--optimizer", default="adam", choices=["sgd", "adam"])
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=10, help="epochs between mAP evaluations (0: at the end)")
    p.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget for training + evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="dataprep-train-shapes-"))
    voc, records, run = work / "voc", work / "records", work / "run"
    for path in (voc, records, run):
        shutil.rmtree(path, ignore_errors=True)

    t0 = time.perf_counter()
    generate_shapes_voc(voc, args.images, width=args.image_size, height=args.image_size, seed=args.seed,
                        classes=("circle", "square", "triangle"), objects_per_image=(1, 4),
                        size_range=(0.15, 0.5), splits={"train": 0.85, "val": 0.15}, workers=2)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = convert(read_voc(voc), ConvertOptions(out=records, workers=2, progress=False))
    t_convert = time.perf_counter() - t0
    splits = {k: v["examples"] for k, v in result.manifest["splits"].items()}
    print(f"data: {args.images} images {args.image_size}x{args.image_size} ({splits}), generated in {t_gen:.1f} s, "
          f"converted in {t_convert:.1f} s", flush=True)

    import keras

    from dataprep.train.trainer import train

    budget = args.minutes * 60.0

    class TimeBudget(keras.callbacks.Callback):
        """Stop before an epoch that would overrun the budget."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            per_epoch = elapsed / (epoch + 1)
            if elapsed + 1.5 * per_epoch > budget:
                print(f"time budget: stopping after epoch {epoch + 1} ({elapsed:.0f} s)", flush=True)
                self.model.stop_training = True

    config = TrainConfig(
        input_size=args.input_size, alpha=args.alpha, backbone_weights="none", epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, learning_rate=args.learning_rate,
        warmup_epochs=args.warmup_epochs, eval_every=args.eval_every, seed=args.seed,
    )
    t0 = time.perf_counter()
    run_result = train(config, records, run, progress=False, callbacks=[TimeBudget()])
    t_train = time.perf_counter() - t0
    ev = run_result.evaluation
    print()
    print("epoch  loss    box     class   img/s  mAP@0.5")
    for row in run_result.history:
        m50 = row.get("mAP50")
        print(f"{row['epoch']:5d}  {row['loss']:.4f}  {row['box_loss']:.4f}  {row['class_loss']:.4f}  "
              f"{row['images_per_second']:5.1f}  {'' if m50 is None or m50 != m50 else f'{m50:.3f}'}")
    print()
    for line in run_result.summary_lines():
        print(line)
    print(f"\nmAP@0.5 on held-out val: {ev.mAP50:.3f} (mAP {ev.mAP:.3f}); training + evaluation {t_train / 60:.1f} min "
          f"of a {args.minutes:.0f} min budget, {run_result.images_per_second:.1f} images/s", flush=True)
    out = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "splits": splits, "generate_seconds": t_gen, "convert_seconds": t_convert, "train_seconds": t_train,
           **run_result.to_dict()}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
