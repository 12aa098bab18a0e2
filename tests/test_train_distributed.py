"""Training under tf.distribute.MirroredStrategy with two logical CPU devices.

Logical devices must be configured before TensorFlow initialises its devices,
so the run happens in a fresh Python process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow")

from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.formats.voc import read_voc  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402

SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    from dataprep.train.config import TrainConfig
    from dataprep.train.trainer import train

    config = TrainConfig(input_size=96, alpha=0.35, backbone_weights="none", epochs=1, batch_size=4,
                         steps_per_epoch=2, optimizer="adam")
    result = train(config, sys.argv[1], sys.argv[2], strategy=strategy, progress=False, log=lambda line: None,
                   evaluate_at_end=False)
    print(json.dumps({"device": result.device, "loss": result.history[-1]["loss"],
                      "replicas": strategy.num_replicas_in_sync}))
""")


def test_two_replica_mirrored_strategy_on_cpu(tmp_path):
    generate_shapes_voc(tmp_path / "voc", 10, width=96, height=80, seed=4)
    convert(read_voc(tmp_path / "voc"), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "records"), str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert "2 replicas with MirroredStrategy" in out["device"]
    assert out["loss"] > 0 and out["loss"] == out["loss"]  # finite, not NaN
    assert (tmp_path / "run" / "model.weights.h5").is_file()


PRECISE_BN_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    import keras
    from dataprep.train.precise_bn import recalibrate_batchnorm

    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(momentum=0.99)])
    bn = model.layers[0]
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=k, scale=1.0 + k, size=(8, 3)).astype("float32") for k in range(3)]
    used = recalibrate_batchnorm(model, batches)
    per_replica = strategy.experimental_local_results(
        strategy.run(lambda: tf.identity(bn.moving_mean.value)))
    print(json.dumps({"used": used, "momentum": bn.momentum,
                      "expected": np.mean([b.mean(axis=0) for b in batches], axis=0).tolist(),
                      "replicas": [np.asarray(v).tolist() for v in per_replica]}))
""")


def test_precise_bn_under_two_replicas_sets_every_replica(tmp_path):
    # The trainer recomputes batch-norm statistics under the training strategy; with mirrored
    # variables the equal-weight average must reach every replica's copy, not only the first.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", PRECISE_BN_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["used"] == 3
    assert out["momentum"] == 0.99  # restored after the recomputation
    assert len(out["replicas"]) == 2
    for values in out["replicas"]:
        assert values == pytest.approx(out["expected"], rel=1e-5, abs=1e-5)
