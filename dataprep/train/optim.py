"""Optimiser, schedule and ``compile`` of the detector: Keras only (no
TensorFlow import), so the same step runs under any Keras backend
(``benchmarks/train_step.py``)."""

from __future__ import annotations

import keras
import numpy as np

from dataprep.train.config import TrainConfig
from dataprep.train.losses import BoxLoss, FocalLoss


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup then cosine decay to 0, whose length can be changed while
    training (``--time-budget`` sizes it from the measured speed).

    [1] lr(t) = lr * t / T_w for t < T_w, then lr * (1 + cos(pi min(t - T_w, T - T_w) / (T - T_w))) / 2.
        Ref: Goyal et al., "Accurate, Large Minibatch SGD", 2017 (warmup);
        Loshchilov & Hutter, "SGDR", ICLR 2017 (cosine).
    """

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        # A variable, so that a traced train step sees a new length (set_total_steps).
        self.total_steps = keras.Variable(float(max(1, total_steps)), dtype="float32", trainable=False,
                                          name="schedule_total_steps")

    def set_total_steps(self, total_steps: int) -> None:
        self.total_steps.assign(float(max(self.warmup_steps + 1, total_steps)))

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        w = float(self.warmup_steps)
        decay = keras.ops.maximum(self.total_steps - w, 1.0)
        progress = keras.ops.clip((t - w) / decay, 0.0, 1.0)
        cosine = self.peak * 0.5 * (1.0 + keras.ops.cos(np.pi * progress))
        if not self.warmup_steps:
            return cosine
        return keras.ops.where(t < w, self.peak * t / w, cosine)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": int(keras.ops.convert_to_numpy(self.total_steps))}


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (or Adam) on a :class:`WarmupCosine` schedule over ``config.epochs``."""
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total - 1)
    schedule = WarmupCosine(config.learning_rate, warmup, total)
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
