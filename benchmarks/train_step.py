"""Training throughput of SSD MobileNetV2 (SSDLite) for one Keras backend.

Times the model + loss + optimiser step (the code of dataprep.train.model,
losses and optim, which use only Keras layers and ``keras.ops``) on synthetic
images and targets, so it runs under TensorFlow, JAX or PyTorch alike; the
tf.data input pipeline is not part of it::

    python benchmarks/train_step.py                                  # tensorflow, 320x320, batch 32
    python benchmarks/train_step.py --backend jax --batch-size 64
    KERAS_BACKEND=torch python benchmarks/train_step.py --mixed-precision
    python benchmarks/train_step.py --input-size 160 --alpha 0.35 --batch-size 16 --steps 20   # small CPU run

Prints one line per measurement and a final ``images/s`` figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default=None, choices=["tensorflow", "jax", "torch"],
                   help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    p.add_argument("--input-size", type=int, default=320)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--classes", type=int, default=90)
    p.add_argument("--steps", type=int, default=50, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU)")
    p.add_argument("--jit", default="auto", choices=["auto", "on", "off"],
                   help="XLA / jit. auto: as `dataprep train` (TensorFlow: XLA only on a GPU, it is slower on "
                        "a CPU); Keras' own default for the other backends")
    return p.parse_args(argv)


def main(argv=None) -> float:
    args = parse(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras
    import numpy as np

    from dataprep.anchors import AnchorConfig
    from dataprep.train.config import TrainConfig
    from dataprep.train.build import build_model
    from dataprep.train.optim import compile_model

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    backend = keras.backend.backend()
    config = TrainConfig(input_size=args.input_size, alpha=args.alpha, backbone_weights="none",
                         class_ids=tuple(range(1, args.classes + 1)),
                         class_names=tuple(f"c{i}" for i in range(1, args.classes + 1)),
                         batch_size=args.batch_size, optimizer=args.optimizer, epochs=1)
    num_anchors = AnchorConfig().num_anchors(args.input_size)
    model = build_model(config)
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    if jit == "auto" and backend == "tensorflow":
        jit = _device(backend) != "CPU"
    compile_model(model, config, steps_per_epoch=args.steps + args.warmup, jit_compile=jit)

    # Synthetic batch: random images, ~1% positive anchors with random classes and offsets.
    rng = np.random.default_rng(0)
    b, n = args.batch_size, num_anchors
    images = rng.uniform(0, 255, (b, args.input_size, args.input_size, 3)).astype("float32")
    positive = rng.random((b, n)) < 0.01
    classes = np.where(positive, rng.integers(0, args.classes, (b, n)), -1).astype("float32")
    boxes = np.concatenate([rng.normal(0, 1, (b, n, 4)), positive[..., None]], -1).astype("float32")
    x = keras.ops.convert_to_tensor(images)
    y = {"boxes": keras.ops.convert_to_tensor(boxes), "classes": keras.ops.convert_to_tensor(classes)}

    print(f"backend {backend} ({_device(backend)}), SSD MobileNetV2 alpha {args.alpha} at "
          f"{args.input_size}x{args.input_size}, {n} anchors, {args.classes} classes, batch {b}, "
          f"{'mixed_float16' if args.mixed_precision else 'float32'}, jit {jit}, "
          f"{model.count_params():,} parameters", flush=True)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        logs = model.train_on_batch(x, y, return_dict=True)
    _sync(logs)
    print(f"warmup ({args.warmup} steps, includes compilation): {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        logs = model.train_on_batch(x, y, return_dict=True)
    _sync(logs)
    seconds = time.perf_counter() - t0
    rate = args.steps * b / seconds
    print(f"{args.steps} steps in {seconds:.2f} s: {seconds / args.steps * 1000:.1f} ms/step, "
          f"loss {float(logs['loss']):.4f}")
    print(f"images/s: {rate:.1f}")
    return rate


def _sync(logs) -> None:
    float(logs["loss"])  # waits for the device


def _device(backend: str) -> str:
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"{len(gpus)} GPU" if gpus else "CPU"
    if backend == "jax":
        import jax

        return ", ".join(sorted({d.platform for d in jax.devices()}))
    if backend == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "?"


if __name__ == "__main__":
    main()
