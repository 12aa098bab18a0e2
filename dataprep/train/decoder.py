"""The decoder part of the detector: box-coder offsets back to boxes, sigmoid
scores, per-class non-maximum suppression, and contiguous class indices back
to label-map ids. Outputs carry the TF OD API names.

Box decoding and the portable NMS are written with ``keras.ops`` (any
backend); under the TensorFlow backend the NMS defaults to TensorFlow's
``combined_non_max_suppression`` kernel, which is faster.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from keras import ops

from dataprep.train.encoder import SCALE_FACTORS

NMS_CHOICES = ("auto", "tf", "ops")


def decode_boxes(offsets, anchors, scale_factors: Sequence[float] = SCALE_FACTORS):
    """Inverse of :func:`dataprep.train.encoder.encode_boxes` (``keras.ops``).

    [1] y_c = t_y / s_y * h_a + y_a,  x_c = t_x / s_x * w_a + x_a,
        h = exp(t_h / s_h) * h_a,     w = exp(t_w / s_w) * w_a;
        corners = centre -/+ size / 2. Ref: TF OD API faster_rcnn_box_coder._decode.
    """
    anchors = ops.cast(anchors, offsets.dtype)
    ya = (anchors[..., 0] + anchors[..., 2]) / 2.0
    xa = (anchors[..., 1] + anchors[..., 3]) / 2.0
    ha = anchors[..., 2] - anchors[..., 0] + 1e-8
    wa = anchors[..., 3] - anchors[..., 1] + 1e-8
    sy, sx, sh, sw = (float(s) for s in scale_factors)
    yc = offsets[..., 0] / sy * ha + ya
    xc = offsets[..., 1] / sx * wa + xa
    h = ops.exp(offsets[..., 2] / sh) * ha
    w = ops.exp(offsets[..., 3] / sw) * wa
    return ops.stack([yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0], axis=-1)


def batched_iou(a, b):
    """IoU ``[B, M, N]`` of boxes ``a`` ``[B, M, 4]`` and ``b`` ``[B, N, 4]`` (``keras.ops``)."""
    a = ops.expand_dims(a, 2)
    b = ops.expand_dims(b, 1)
    inter_h = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    inter_w = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = inter_h * inter_w
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / ops.maximum(union - inter, 1e-12)


def nms_ops(boxes, scores, score_threshold: float, iou_threshold: float, max_detections: int,
            max_candidates: int = 400):
    """Per-class greedy NMS in ``keras.ops``: ``(boxes, scores, class_index, num)``.

    [2] Take the ``max_candidates`` highest (anchor, class) scores; shift each
        candidate box by 2 * class so boxes of different classes never overlap
        (per-class NMS in one pass); visit candidates by falling score and keep
        one unless a kept candidate overlaps it with IoU > ``iou_threshold``.
        Ref: Neubeck & Van Gool, "Efficient Non-Maximum Suppression", ICPR 2006;
        the class-offset trick is torchvision's batched_nms.
    """
    batch, num_anchors, num_classes = ops.shape(scores)[0], scores.shape[1], scores.shape[2]
    candidates = int(min(max_candidates, num_anchors * num_classes))
    flat = ops.reshape(scores, (batch, num_anchors * num_classes))
    top_scores, top_index = ops.top_k(flat, k=candidates, sorted=True)
    box_index = top_index // num_classes
    class_index = top_index % num_classes
    cand_boxes = ops.take_along_axis(boxes, ops.expand_dims(box_index, -1), axis=1)
    shifted = cand_boxes + ops.cast(ops.expand_dims(class_index, -1), cand_boxes.dtype) * 2.0
    overlaps = ops.cast(batched_iou(shifted, shifted) > iou_threshold, "float32")  # [B, C, C]
    positions = ops.arange(candidates)

    def step(i, keep):
        earlier = ops.cast(positions < i, "float32")
        suppressed = ops.max(overlaps[:, i, :] * keep * earlier, axis=-1)  # [B]
        current = ops.cast(top_scores[:, i] > score_threshold, "float32") * (1.0 - suppressed)
        return ops.where(ops.expand_dims(positions == i, 0), ops.expand_dims(current, -1), keep)

    keep = ops.fori_loop(0, candidates, step, ops.zeros_like(top_scores, dtype="float32"))
    ranked = ops.where(keep > 0, top_scores, -1.0)
    k = min(int(max_detections), candidates)
    out_scores, order = ops.top_k(ranked, k=k, sorted=True)
    valid = out_scores > -1.0
    out_boxes = ops.take_along_axis(cand_boxes, ops.expand_dims(order, -1), axis=1)
    out_classes = ops.take_along_axis(class_index, order, axis=1)
    validf = ops.cast(valid, "float32")
    out_boxes = out_boxes * ops.expand_dims(validf, -1)
    out_scores = out_scores * validf
    if k < max_detections:
        pad = int(max_detections) - k
        out_boxes = ops.pad(out_boxes, [[0, 0], [0, pad], [0, 0]])
        out_scores = ops.pad(out_scores, [[0, 0], [0, pad]])
        out_classes = ops.pad(out_classes, [[0, 0], [0, pad]])
        valid = ops.pad(valid, [[0, 0], [0, pad]])
    return out_boxes, out_scores, out_classes, ops.sum(ops.cast(valid, "int32"), axis=-1)


def nms_tf(boxes, scores, score_threshold: float, iou_threshold: float, max_detections: int):
    """Per-class NMS with TensorFlow's ``combined_non_max_suppression`` (TensorFlow backend only)."""
    import tensorflow as tf

    out_boxes, out_scores, out_classes, num = tf.image.combined_non_max_suppression(
        tf.expand_dims(boxes, 2), scores, max_output_size_per_class=max_detections,
        max_total_size=max_detections, iou_threshold=iou_threshold, score_threshold=score_threshold,
        clip_boxes=False,
    )
    return out_boxes, out_scores, tf.cast(out_classes, tf.int32), num


class DetectionDecoder(keras.layers.Layer):
    """Model outputs -> detections with the TF OD API output names.

    Input: ``{"boxes": [B, N, 4] offsets, "classes": [B, N, K] logits}``.
    Output dict: ``detection_boxes`` float32 ``[B, D, 4]`` (normalized
    ymin, xmin, ymax, xmax, clipped to the image), ``detection_scores``
    ``[B, D]``, ``detection_classes`` ``[B, D]`` (label-map ids as float32, as the
    TF OD API; 0 in padding), ``num_detections`` ``[B]`` float32, with
    ``D = max_detections``.
    """

    def __init__(self, anchors, class_ids: Sequence[int], score_threshold: float = 0.01,
                 iou_threshold: float = 0.6, max_detections: int = 100, nms: str = "auto",
                 scale_factors: Sequence[float] = SCALE_FACTORS, **kwargs):
        super().__init__(**kwargs)
        if nms not in NMS_CHOICES:
            raise ValueError(f"nms must be one of {', '.join(NMS_CHOICES)}, got {nms!r}")
        self.anchors = np.asarray(anchors, dtype=np.float32)
        self.class_ids = [int(i) for i in class_ids]
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.nms = nms
        self.scale_factors = tuple(float(s) for s in scale_factors)

    def call(self, outputs):
        offsets = ops.cast(outputs["boxes"], "float32")
        logits = ops.cast(outputs["classes"], "float32")
        boxes = decode_boxes(offsets, ops.convert_to_tensor(self.anchors), self.scale_factors)
        scores = ops.sigmoid(logits)
        use_tf = self.nms == "tf" or (self.nms == "auto" and keras.backend.backend() == "tensorflow")
        nms = nms_tf if use_tf else nms_ops
        out_boxes, out_scores, index, num = nms(boxes, scores, self.score_threshold, self.iou_threshold,
                                                self.max_detections)
        # NMS on the decoded boxes, clipping to the image after it, in the TF OD API's order
        # (post_processing.multiclass_non_max_suppression): the overlaps are those of the whole boxes.
        out_boxes = ops.clip(out_boxes, 0.0, 1.0)
        ids = ops.take(ops.convert_to_tensor(np.asarray(self.class_ids, dtype=np.int32)), index)
        valid = ops.arange(self.max_detections)[None, :] < ops.expand_dims(num, -1)
        ids = ops.where(valid, ids, 0)
        return {
            "detection_boxes": out_boxes,
            "detection_scores": out_scores,
            "detection_classes": ops.cast(ids, "float32"),
            "num_detections": ops.cast(num, "float32"),
        }

    def get_config(self):
        return {**super().get_config(), "anchors": self.anchors.tolist(), "class_ids": self.class_ids,
                "score_threshold": self.score_threshold, "iou_threshold": self.iou_threshold,
                "max_detections": self.max_detections, "nms": self.nms, "scale_factors": list(self.scale_factors)}

