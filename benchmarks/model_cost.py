"""Multiply-adds of each registered model at its own input size (and of
SSDLite at a few sizes), counted by TensorFlow's graph profiler.

``dataprep.anchors.advice.MODEL_COST`` holds the figures this script prints:
the advice ranks alternatives by them (``stats --anchors --suggest`` and
``train --model auto``). Run::

    python benchmarks/model_cost.py [--classes 3]

Method: build the Keras model with random weights, trace it on a
``[1, S, S, 3]`` input into a graph, and sum the ``float_operation`` counts of
``tf.compat.v1.profiler`` (2 FLOPs per multiply-add, so MAdds = FLOPs / 2).
The count is that of the convolutions and matrix products, which dominate.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def flops(model_name: str, size: int, classes: int) -> int:
    import tensorflow as tf

    from dataprep.models.registry import default_anchor_config
    from dataprep.train.build import build_model
    from dataprep.train.config import TrainConfig

    cfg = TrainConfig(model=model_name, input_size=size, backbone_weights="none",
                      anchor_config=default_anchor_config(model_name).to_dict(),
                      class_ids=tuple(range(1, classes + 1)), class_names=tuple(f"c{i}" for i in range(classes)))
    model = build_model(cfg, weights=False)
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32)).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=3)
    args = parser.parse_args()
    from dataprep.models.registry import MODELS

    for name, spec in MODELS.items():
        for size in sorted({spec.input_size, 320}):
            f = flops(name, size, args.classes)
            print(f"{name:28s} {size:4d}  {f / 2e9:.3f} G multiply-adds")


if __name__ == "__main__":
    main()
