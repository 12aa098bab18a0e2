"""Precise batch-norm statistics (dataprep.train.precise_bn): the moving
averages become the equal-weight average of the batch statistics of the
current weights; frozen batch norms and the training momentum are left alone;
a training run saves recomputed statistics."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from dataprep.train.precise_bn import recalibrate_batchnorm, trainable_batchnorms  # noqa: E402


def _model(frozen: bool = False):
    inputs = keras.Input((3,))
    first = keras.layers.BatchNormalization(momentum=0.99, name="first")
    second = keras.layers.BatchNormalization(momentum=0.9, name="second")
    second.trainable = not frozen
    return keras.Model(inputs, second(keras.layers.Dense(3, name="dense")(first(inputs)))), first, second


def _batches(seed: int = 0, n: int = 5):
    rng = np.random.default_rng(seed)
    # batches with different means and spreads, so that a moving average differs from the equal-weight one
    return [(rng.normal(size=(8, 3)) * (k + 1) + 3.0 * k).astype("float32") for k in range(n)]


def test_statistics_are_the_equal_weight_average_of_the_batches():
    model, first, second = _model()
    batches = _batches()
    assert recalibrate_batchnorm(model, batches) == len(batches)
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    # the second norm sees the first's output in training mode (batch statistics), as training does
    dense = model.get_layer("dense")
    outs = []
    for b in batches:
        normed = (b - b.mean(0)) / np.sqrt(b.var(0) + first.epsilon)
        outs.append(dense(normed * first.gamma.numpy() + first.beta.numpy()).numpy())
    np.testing.assert_allclose(second.moving_mean.numpy(), np.mean([o.mean(0) for o in outs], 0), rtol=1e-4,
                               atol=1e-5)
    assert (first.momentum, second.momentum) == (0.99, 0.9)  # training's momentum is restored


def test_the_old_moving_averages_do_not_leak_in():
    model, first, _ = _model()
    first.moving_mean.assign(np.full(3, 1000.0, "float32"))
    batches = _batches(seed=1, n=1)
    recalibrate_batchnorm(model, batches)
    np.testing.assert_allclose(first.moving_mean.numpy(), batches[0].mean(0), rtol=1e-5)


def test_frozen_batchnorms_keep_their_statistics_and_max_batches_is_honoured():
    model, first, second = _model(frozen=True)
    assert trainable_batchnorms(model) == [first]
    before = second.moving_mean.numpy().copy(), second.moving_variance.numpy().copy()
    batches = _batches(seed=2)
    assert recalibrate_batchnorm(model, iter(batches), max_batches=2) == 2
    np.testing.assert_array_equal(second.moving_mean.numpy(), before[0])
    np.testing.assert_array_equal(second.moving_variance.numpy(), before[1])
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean([b.mean(0) for b in batches[:2]], 0), rtol=1e-5)


def test_nothing_to_do_changes_nothing():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert recalibrate_batchnorm(model, _batches()) == 0
    model, first, _ = _model()
    before = first.moving_mean.numpy().copy()
    assert recalibrate_batchnorm(model, []) == 0
    np.testing.assert_array_equal(first.moving_mean.numpy(), before)
