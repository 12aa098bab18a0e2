"""Precise batch-norm statistics: recompute every batch norm's moving mean and
variance from the current weights before the model is evaluated or saved.

During training a batch norm normalises with the statistics of the batch and
keeps an exponential moving average of them for inference. With momentum
0.99 that average remembers ``0.99 ** n`` of its state from ``n`` steps ago,
so after the few hundred steps of a short or from-scratch run it still holds
statistics of weights that no longer exist (``0.99 ** 126 = 0.28`` of it is
the initial mean 0 / variance 1). The model then trains well and predicts
badly: on the cells benchmark a 6-epoch run evaluated at mAP@0.5 0.001 with
its moving averages and 0.706 with the statistics recomputed here
(``benchmarks/RESULTS.md``, "Small objects").

The recomputation runs the model in training mode (batch statistics) over
un-augmented training images, as the evaluation sees them, and averages the
batch means and variances with equal weights ([1], "PreciseBN"): the momentum
of batch ``k`` (from 0) is ``k / (k + 1)``, so the first batch replaces the old
average and each later one enters with weight ``1 / (k + 1)``. Batch norms that
are frozen (``trainable=False``, which Keras runs in inference mode) keep
their statistics. Nothing else changes: weights, optimiser state and the
momentum used for training are as before.

[1] Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, section 3 (PreciseBN).
"""

from __future__ import annotations

import math
import os
from typing import Iterable

from keras import layers

from dataprep.train.model import all_layers


def trainable_batchnorms(model) -> list[layers.BatchNormalization]:
    """The batch norms of ``model`` whose statistics training updates."""
    return [layer for layer in all_layers(model)
            if isinstance(layer, layers.BatchNormalization) and layer.trainable]


def recalibrate_batchnorm(model, images: Iterable, max_batches: int | None = None) -> int:
    """Replace the moving statistics of ``model``'s trainable batch norms by the
    equal-weight average over ``images`` (batches of model inputs); returns the
    number of batches used (0: no batch norm or no batch, nothing changed)."""
    norms = trainable_batchnorms(model)
    if not norms:
        return 0
    momenta = [bn.momentum for bn in norms]
    used = 0
    try:
        for batch in images:
            if max_batches is not None and used >= max_batches:
                break
            for bn in norms:
                bn.momentum = used / (used + 1.0)
            model(batch, training=True)
            used += 1
    finally:
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
    return used



def recalibrate_on_records(model, records: str | os.PathLike, split: str, input_size: int, batch_size: int,
                           max_images: int) -> int:
    """:func:`recalibrate_batchnorm` on the first ``max_images`` images of
    ``split`` (rounded up to whole batches; decoded and resized as for
    evaluation, no augmentation); returns the number of images used."""
    from dataprep.records.tfdata import named_record_errors
    from dataprep.train.input_pipeline import eval_dataset

    seen = 0

    def images():
        nonlocal seen
        for batch in eval_dataset(records, split, input_size, batch_size).take(math.ceil(max_images / batch_size)):
            seen += int(batch["image"].shape[0])
            yield batch["image"]

    with named_record_errors(records, split):
        used = recalibrate_batchnorm(model, images())
    return seen if used else 0
