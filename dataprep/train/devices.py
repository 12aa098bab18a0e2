"""Which devices a run uses: the GPUs when some are visible (mixed precision
on by default there, XLA on one GPU; several GPUs through
``MirroredStrategy``), the CPU otherwise. Every decision is returned as a
sentence for the log."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


@dataclass
class DeviceSetup:
    strategy: tf.distribute.Strategy
    gpus: int
    mixed_precision: bool
    jit_compile: bool
    description: str

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)


def _auto(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


def setup_devices(mixed_precision: str = "auto", jit_compile: str = "auto",
                  strategy: tf.distribute.Strategy | None = None) -> DeviceSetup:
    """Pick the strategy and precision; sets the global Keras dtype policy.

    ``strategy`` overrides the choice (e.g. a ``MirroredStrategy`` over logical
    CPU devices).
    """
    import keras

    gpus = len(tf.config.list_physical_devices("GPU"))
    if strategy is None:
        if gpus > 1:
            strategy = tf.distribute.MirroredStrategy()
        elif gpus == 1:
            strategy = tf.distribute.OneDeviceStrategy("/gpu:0")
        else:
            strategy = tf.distribute.get_strategy()  # the default strategy: this machine's CPU
    replicas = strategy.num_replicas_in_sync
    use_mp = _auto(mixed_precision, gpus > 0)
    # XLA is slower than plain TensorFlow on a CPU here, and Keras itself leaves it off under
    # tf.distribute; "auto" therefore means one GPU.
    use_xla = _auto(jit_compile, gpus > 0 and replicas == 1)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    if gpus:
        where = f"{gpus} GPU{'s' if gpus > 1 else ''}" + (" with MirroredStrategy" if replicas > 1 else "")
    elif replicas > 1:
        where = f"CPU, {replicas} replicas with {type(strategy).__name__}"
    else:
        where = "CPU (no GPU visible)"
    extras = ["mixed precision float16" if use_mp else "float32"] + (["XLA"] if use_xla else [])
    return DeviceSetup(strategy, gpus, use_mp, use_xla, f"Training on {where}, {', '.join(extras)}")
