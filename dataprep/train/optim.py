"""Optimiser, schedule and ``compile`` of the detector: Keras only (no
TensorFlow import), so the same step runs under any Keras backend
(``benchmarks/train_step.py``)."""

from __future__ import annotations

import keras
import numpy as np

from dataprep.train.config import TrainConfig
from dataprep.train.losses import BoxLoss, FocalLoss


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (or Adam), linear warmup then cosine decay to 0.

    [1] lr(t) = lr * t / T_w for t < T_w, then lr * (1 + cos(pi (t - T_w) / (T - T_w))) / 2.
        Ref: Goyal et al., "Accurate, Large Minibatch SGD", 2017 (warmup);
        Loshchilov & Hutter, "SGDR", ICLR 2017 (cosine).
    """
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate, decay_steps=max(1, total - warmup),
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup, alpha=0.0,
    )
    common = {"learning_rate": schedule, "weight_decay": config.weight_decay or None,
              "global_clipnorm": config.clipnorm}
    if config.optimizer == "adam":
        return keras.optimizers.Adam(**common)
    return keras.optimizers.SGD(momentum=config.momentum, **common)


def compile_model(model, config: TrainConfig, steps_per_epoch: int, jit_compile: bool = False) -> None:
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss={"boxes": BoxLoss(),
              "classes": FocalLoss(config.num_classes, config.focal_alpha, config.focal_gamma,
                                   config.hard_negative_ratio)},
        loss_weights={"boxes": config.box_loss_weight, "classes": config.class_loss_weight},
        jit_compile=jit_compile,
    )
    # Create the optimizer's and the loss trackers' variables now: a variable created while
    # the train step is traced makes tf.function trace it twice (tens of seconds on a CPU).
    model.optimizer.build(model.trainable_variables)
    n, k = model.num_predictions, config.num_classes
    model.compute_loss(y={"boxes": np.zeros((1, n, 5), "float32"), "classes": np.full((1, n), -1.0, "float32")},
                       y_pred={"boxes": np.zeros((1, n, 4), "float32"), "classes": np.zeros((1, n, k), "float32")})
