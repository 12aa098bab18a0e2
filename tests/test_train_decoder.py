"""The decoder: the portable keras.ops NMS agrees with TensorFlow's
combined NMS, suppresses per class, and pads like the TF OD API."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from dataprep.train.decoder import DetectionDecoder, nms_ops, nms_tf  # noqa: E402


def as_np(out):
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def test_per_class_suppression():
    boxes = np.array([[[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]],
                     np.float32)
    scores = np.array([[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.6, 0.0]]], np.float32)
    for nms in (nms_ops, nms_tf):
        b, s, c, n = (keras.ops.convert_to_numpy(x) for x in nms(boxes, scores, 0.1, 0.5, 5))
        assert int(n[0]) == 3, nms.__name__  # box 1 overlaps box 0 of the same class; box 2 is another class
        np.testing.assert_allclose(s[0], [0.9, 0.7, 0.6, 0, 0], atol=1e-6)
        assert c[0, :3].tolist() == [0, 1, 0]
        assert not b[0, 3:].any()


def test_portable_nms_agrees_with_tensorflow():
    rng = np.random.default_rng(0)
    n, k = 60, 3
    centres = rng.uniform(0.2, 0.8, (2, n, 2))
    sizes = rng.uniform(0.05, 0.3, (2, n, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], -1).astype(np.float32)
    scores = rng.random((2, n, k)).astype(np.float32) ** 3
    a = [keras.ops.convert_to_numpy(x) for x in nms_ops(boxes, scores, 0.05, 0.5, 20, max_candidates=n * k)]
    b = [keras.ops.convert_to_numpy(x) for x in nms_tf(boxes, scores, 0.05, 0.5, 20)]
    assert a[3].tolist() == b[3].tolist()
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_allclose(x, y, atol=1e-6)


def test_decoder_outputs_use_the_tf_od_api_names_and_pad_with_zero():
    anchors = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)
    logits = np.array([[[4.0, -9.0], [-9.0, -9.0]]], np.float32)
    out = as_np(DetectionDecoder(anchors, [2, 7], score_threshold=0.5, max_detections=4, nms="ops")(
        {"boxes": np.zeros((1, 2, 4), np.float32), "classes": logits}))
    assert sorted(out) == ["detection_boxes", "detection_classes", "detection_scores", "num_detections"]
    assert out["num_detections"].tolist() == [1.0]
    assert out["detection_classes"][0].tolist() == [2.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(out["detection_boxes"][0, 0], [0, 0, 0.5, 0.5], atol=1e-6)
    with pytest.raises(ValueError, match="nms must be"):
        DetectionDecoder(anchors, [2, 7], nms="fast")
