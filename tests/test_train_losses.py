"""Focal and smooth-L1 losses against direct numpy formulas, normalisation by
positives, and hard negative mining."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from dataprep.train.losses import BoxLoss, FocalLoss, hard_negative_mask  # noqa: E402


def focal_np(labels, logits, k, alpha=0.25, gamma=2.0):
    onehot = np.zeros(logits.shape)
    pos = labels >= 0
    onehot[pos, labels[pos]] = 1.0
    p = 1 / (1 + np.exp(-logits))
    pt = np.where(onehot == 1, p, 1 - p)
    at = np.where(onehot == 1, alpha, 1 - alpha)
    loss = -at * (1 - pt) ** gamma * np.log(pt)
    loss = loss.sum(-1) * (labels != -2)  # -2: ignored anchors
    return loss


def test_focal_loss_matches_the_formula_and_is_normalised_by_positives():
    rng = np.random.default_rng(0)
    labels = rng.integers(-2, 3, (3, 50)).astype(np.float32)  # -2 ignore, -1 background, 0..2 classes
    logits = rng.normal(0, 2, (3, 50, 3)).astype(np.float32)
    expected = focal_np(labels.astype(int), logits, 3).sum() / (labels >= 0).sum()
    got = float(FocalLoss(3)(labels, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Per image values sum to the batch loss (Keras' mean over the batch size).
    per_image = keras.ops.convert_to_numpy(FocalLoss(3, reduction=None)(labels, logits))
    np.testing.assert_allclose(per_image.mean(), expected, rtol=1e-5)


def test_no_positives_stays_finite():
    labels = -np.ones((2, 10), np.float32)
    logits = np.zeros((2, 10, 4), np.float32)
    assert np.isfinite(float(FocalLoss(4)(labels, logits)))
    assert float(BoxLoss()(np.zeros((2, 10, 5), np.float32), np.ones((2, 10, 4), np.float32))) == 0.0


def test_box_loss_is_smooth_l1_on_positive_anchors_only():
    rng = np.random.default_rng(1)
    targets = rng.normal(0, 1, (2, 30, 4)).astype(np.float32)
    weight = (rng.random((2, 30)) < 0.2).astype(np.float32)
    pred = rng.normal(0, 1.5, (2, 30, 4)).astype(np.float32)
    d = np.abs(pred - targets)
    smooth = np.where(d < 1, 0.5 * d * d, d - 0.5).sum(-1)
    expected = (smooth * weight).sum() / weight.sum()
    y_true = np.concatenate([targets, weight[..., None]], -1)
    np.testing.assert_allclose(float(BoxLoss()(y_true, pred)), expected, rtol=1e-5)


def test_hard_negative_mining_keeps_three_negatives_per_positive():
    rng = np.random.default_rng(2)
    anchor_loss = rng.random((2, 20)).astype(np.float32)
    labels = -np.ones((2, 20), int)
    labels[0, [3, 7]] = 1  # image 0: 2 positives -> 6 negatives
    # image 1: no positives -> no negatives
    keep = keras.ops.convert_to_numpy(hard_negative_mask(anchor_loss, labels >= 0, labels == -1, 3.0))
    assert keep[0].sum() == 6 and keep[1].sum() == 0
    negatives = np.where(labels[0] == -1)[0]
    top = negatives[np.argsort(-anchor_loss[0, negatives])[:6]]
    assert set(np.where(keep[0])[0]) == set(top)
    # With mining the loss only counts positives + the kept negatives.
    logits = rng.normal(0, 1, (2, 20, 2)).astype(np.float32)
    y = labels.astype(np.float32)
    full = float(FocalLoss(2)(y, logits))
    mined = float(FocalLoss(2, hard_negative_ratio=3.0)(y, logits))
    assert 0 < mined < full
