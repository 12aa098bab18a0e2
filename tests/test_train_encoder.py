"""Anchor targets: the argmax matcher with force-match, the box coder round
trip (encode in the tf.data pipeline, decode with keras.ops), and the mapping
of non-contiguous label-map ids to class indices and back."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from dataprep.anchors import AnchorConfig  # noqa: E402
from dataprep.train.decoder import DetectionDecoder, decode_boxes  # noqa: E402
from dataprep.train.encoder import LabelEncoder, class_index_table, encode_boxes, match, pairwise_iou  # noqa: E402


def random_boxes(n, seed=0, lo=0.05, hi=0.6):
    rng = np.random.default_rng(seed)
    h, w = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)
    y, x = rng.uniform(0, 1 - h), rng.uniform(0, 1 - w)
    return np.stack([y, x, y + h, x + w], 1).astype(np.float32)


def iou_np(a, b):
    ih = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iw = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ih * iw
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


ANCHORS = AnchorConfig().generate(128)


def test_targets_decode_back_to_the_boxes():
    boxes = random_boxes(12, seed=1)
    labels = np.array([1, 5, 90] * 4)
    encoder = LabelEncoder(ANCHORS, class_ids=[1, 5, 90])
    targets = {k: v.numpy() for k, v in encoder(boxes, labels).items()}
    positive = targets["boxes"][:, 4] > 0
    assert (positive == (targets["classes"] >= 0)).all()
    decoded = keras.ops.convert_to_numpy(decode_boxes(keras.ops.convert_to_tensor(targets["boxes"][:, :4]), ANCHORS))
    # Every positive anchor decodes to exactly the box it was matched to, with that box's class.
    iou = iou_np(decoded[positive], boxes)
    best = iou.argmax(1)
    np.testing.assert_allclose(iou.max(1), 1.0, atol=1e-4)
    np.testing.assert_allclose(decoded[positive], boxes[best], atol=1e-5)
    assert (targets["classes"][positive] == np.array([0, 1, 2] * 4)[best]).all()
    # Force-match: every box has at least one positive anchor.
    assert set(best) == set(range(len(boxes)))
    # Negatives carry zero offsets and weight.
    assert not targets["boxes"][~positive].any()


def test_matcher_threshold_and_force_match():
    anchors = np.array([[0, 0, 0.5, 0.5],     # IoU 1 with box 0
                        [0, 0, 0.5, 1.0],     # IoU exactly 0.5 with box 0: positive (>= 0.5)
                        [0, 0, 0.51, 1.0],    # IoU < 0.5: negative
                        [0.9, 0.9, 1, 1],     # nothing: negative
                        [0.6, 0.6, 0.9, 0.9]], np.float32)  # the best (IoU 0.11) for box 1: forced
    boxes = np.array([[0, 0, 0.5, 0.5], [0.55, 0.55, 0.65, 0.65]], np.float32)
    matched, positive = match(tf.constant(boxes), tf.constant(anchors), 0.5)
    assert positive.numpy().tolist() == [True, True, False, False, True]
    assert matched.numpy()[[0, 1, 4]].tolist() == [0, 0, 1]
    np.testing.assert_allclose(pairwise_iou(tf.constant(boxes), tf.constant(anchors)).numpy(),
                               iou_np(boxes, anchors), atol=1e-6)


def test_a_tiny_box_still_gets_an_anchor():
    tiny = np.array([[0.50, 0.50, 0.51, 0.52]], np.float32)
    targets = LabelEncoder(ANCHORS, [1])(tiny, [1])
    assert int(tf.reduce_sum(tf.cast(targets["classes"] >= 0, tf.int32))) == 1
    assert np.isfinite(targets["boxes"].numpy()).all()


def test_images_without_boxes_and_degenerate_or_unknown_boxes():
    encoder = LabelEncoder(ANCHORS, [1, 2])
    empty = encoder(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64))
    assert (empty["classes"].numpy() == -1).all() and not empty["boxes"].numpy().any()
    bad = np.array([[0.2, 0.2, 0.2, 0.6],   # zero height
                    [0.1, 0.1, 0.5, 0.5]],  # unknown class 7
                   np.float32)
    targets = encoder(bad, [1, 7])
    assert (targets["classes"].numpy() == -1).all()
    assert np.isfinite(targets["boxes"].numpy()).all()


def test_class_ids_map_to_indices_and_back():
    table = class_index_table([1, 5, 90])
    assert table[[1, 5, 90]].tolist() == [0, 1, 2] and table[2] == -1 and len(table) == 91
    encoder = LabelEncoder(ANCHORS, [1, 5, 90])
    assert encoder.class_indices(tf.constant([90, 5, 1, 3, 200, 0])).numpy().tolist() == [2, 1, 0, -1, -1, -1]
    # The decoder returns label-map ids: a confident class index 2 comes back as 90.
    logits = np.full((1, len(ANCHORS), 3), -10.0, np.float32)
    logits[0, 7, 2] = 5.0
    offsets = np.zeros((1, len(ANCHORS), 4), np.float32)
    out = DetectionDecoder(ANCHORS, [1, 5, 90], score_threshold=0.5)({"boxes": offsets, "classes": logits})
    assert int(out["num_detections"][0]) == 1
    assert float(out["detection_classes"][0, 0]) == 90.0 and float(out["detection_classes"][0, 1]) == 0.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out["detection_boxes"][0, 0]),
                               np.clip(ANCHORS[7], 0, 1), atol=1e-6)


def test_encode_matches_the_formula():
    box = np.array([[0.2, 0.3, 0.6, 0.5]], np.float32)
    anchor = np.array([[0.25, 0.25, 0.55, 0.45]], np.float32)
    t = encode_boxes(tf.constant(box), tf.constant(anchor)).numpy()[0]
    ha, wa, yca, xca = 0.3, 0.2, 0.4, 0.35
    expected = [10 * (0.4 - yca) / ha, 10 * (0.4 - xca) / wa, 5 * np.log(0.4 / ha), 5 * np.log(0.2 / wa)]
    np.testing.assert_allclose(t, expected, rtol=1e-4, atol=1e-5)
