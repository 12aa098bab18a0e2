"""``get_config()`` / ``from_config()`` round trips for every custom Keras
layer, loss and model of ``dataprep.train`` (keras-hub's rule: a part you
cannot rebuild from its config cannot be saved and reloaded).

The list of parts is found, not written down: a new layer without a case
here fails :func:`test_every_custom_part_has_a_round_trip`.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

import dataprep.train  # noqa: E402
from dataprep.train.decoder import DetectionDecoder  # noqa: E402
from dataprep.train.losses import BoxLoss, FocalLoss  # noqa: E402
from dataprep.train.model import PredictionHead, SSDFeatureMaps, SSDMobileNetV2  # noqa: E402
from dataprep.train.tf1 import TF1SSD  # noqa: E402
from dataprep.train.zoo import (  # noqa: E402
    FPNLiteFeatureMaps,
    WeightSharedHead,
    WeightSharedTower,
    ZooSSDMobileNetV2,
    ZooSSDMobileNetV2FPNLite,
)

BASES = (keras.layers.Layer, keras.losses.Loss)


def custom_parts() -> set[type]:
    for info in pkgutil.iter_modules(dataprep.train.__path__):
        importlib.import_module(f"dataprep.train.{info.name}")
    found, todo = set(), list(BASES)
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("dataprep."):
                found.add(sub)
    return found


def feature_maps():
    return SSDFeatureMaps([64, 32, 32, 16], use_depthwise=False, name="fm")


def head():
    return PredictionHead([3, 6], 5, use_depthwise=True, bias_init=-2.5, name="head")


def decoder():
    anchors = np.random.default_rng(0).uniform(0.1, 0.9, (12, 4)).astype(np.float32)
    anchors[:, 2:] = anchors[:, :2] + 0.05
    return DetectionDecoder(anchors, [1, 3, 7], score_threshold=0.2, iou_threshold=0.5, max_detections=5,
                            nms="ops", scale_factors=(10.0, 10.0, 5.0, 5.0), name="decoder")


CASES = {
    SSDFeatureMaps: (feature_maps, lambda: [np.zeros((1, 8, 8, 16), "float32"), np.zeros((1, 4, 4, 24), "float32")]),
    PredictionHead: (head, lambda: [np.ones((1, 4, 4, 8), "float32"), np.ones((1, 2, 2, 8), "float32")]),
    DetectionDecoder: (decoder, lambda: {"boxes": np.zeros((2, 12, 4), "float32"),
                                         "classes": np.linspace(-3, 3, 72, dtype="float32").reshape(2, 12, 3)}),
    FocalLoss: (lambda: FocalLoss(4, alpha=0.3, gamma=1.5, hard_negative_ratio=3.0), None),
    BoxLoss: (lambda: BoxLoss(delta=0.5), None),
    SSDMobileNetV2: (lambda: SSDMobileNetV2(3, [3, 6, 6, 6, 6, 6], input_size=96, alpha=0.35,
                                            batchnorm_momentum=0.9), None),
    FPNLiteFeatureMaps: (lambda: FPNLiteFeatureMaps(depth=8, num_coarse=2, name="fpn"),
                         lambda: [np.linspace(-1, 1, 8 * 8 * 4, dtype="float32").reshape(1, 8, 8, 4),
                                  np.linspace(-1, 1, 4 * 4 * 6, dtype="float32").reshape(1, 4, 4, 6),
                                  np.linspace(-1, 1, 2 * 2 * 5, dtype="float32").reshape(1, 2, 2, 5)]),
    WeightSharedTower: (lambda: WeightSharedTower(2, depth=8, num_layers=2, name="tower"),
                        lambda: [np.linspace(-1, 1, 4 * 4 * 8, dtype="float32").reshape(1, 4, 4, 8),
                                 np.linspace(1, -1, 2 * 2 * 8, dtype="float32").reshape(1, 2, 2, 8)]),
    WeightSharedHead: (lambda: WeightSharedHead(3, 4, bias_init=-4.6, name="shared_head"),
                       lambda: [np.ones((1, 4, 4, 8), "float32"), np.ones((1, 2, 2, 8), "float32")]),
    ZooSSDMobileNetV2: (lambda: ZooSSDMobileNetV2(3, [3, 6, 6, 6, 6, 6], input_size=96, alpha=0.35,
                                                  batchnorm_momentum=0.9), None),
    ZooSSDMobileNetV2FPNLite: (lambda: ZooSSDMobileNetV2FPNLite(3, [6, 6, 6, 6, 6], input_size=128, alpha=0.35,
                                                                batchnorm_momentum=0.9), None),
    TF1SSD: (lambda: TF1SSD("ssdlite_mobilenet_v2_tf1", 3, [3, 6, 6, 6, 6, 6], input_size=96, alpha=0.35,
                            batchnorm_momentum=0.9), None),
}


def test_every_custom_part_has_a_round_trip():
    assert custom_parts() == set(CASES)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_get_config_from_config_round_trip(cls):
    make, inputs = CASES[cls]
    part = make()
    config = part.get_config()
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    if inputs is not None:  # same weights in, same outputs out
        x = inputs()
        want = part(x)
        clone(x)
        clone.set_weights(part.get_weights())
        got = clone(x)
        for a, b in zip(keras.tree.flatten(want), keras.tree.flatten(got)):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6)
    if cls in (SSDMobileNetV2, ZooSSDMobileNetV2, ZooSSDMobileNetV2FPNLite, TF1SSD):
        assert [w.shape for w in clone.get_weights()] == [w.shape for w in part.get_weights()]
