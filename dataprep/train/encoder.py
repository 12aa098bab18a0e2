"""Training targets, computed in the ``tf.data`` pipeline: the matcher, the
box coder and the label encoder.

This is input-pipeline code and therefore TensorFlow (it runs inside
``tf.data`` whatever the Keras backend of the model). Its inverse, box
decoding, is written with ``keras.ops`` in :mod:`dataprep.train.decoder`; the
round trip is tested.

Targets per anchor (``N`` anchors):

- ``classes`` int32 ``[N]``: the contiguous class index ``0..K-1`` of the
  matched box, ``-1`` for background (``-2`` is reserved for "ignore"; the
  ssd_mobilenet_v2 matcher has no ignore band).
- ``boxes`` float32 ``[N, 5]``: the four box-coder offsets of the matched box
  and a trailing 1.0 on positive anchors (0.0 elsewhere), which the box loss
  uses as its mask.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

#: Faster R-CNN box coder scale factors (y, x, h, w) of the TF OD API's ssd_mobilenet_v2.
SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
#: The TF OD API's faster_rcnn_box_coder adds this to heights and widths before dividing / logs.
EPSILON = 1e-8
BACKGROUND = -1
IGNORE = -2


def corners_to_center(boxes):
    """``[..., 4]`` ymin, xmin, ymax, xmax -> y centre, x centre, height, width."""
    ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
    return (ymin + ymax) / 2.0, (xmin + xmax) / 2.0, ymax - ymin, xmax - xmin


def encode_boxes(boxes, anchors, scale_factors: Sequence[float] = SCALE_FACTORS):
    """Faster R-CNN box coder: offsets of ``boxes`` relative to ``anchors`` (both ``[N, 4]`` corners).

    [1] t_y = s_y (y_c - y_a) / h_a,  t_x = s_x (x_c - x_a) / w_a,
        t_h = s_h log(h / h_a),       t_w = s_w log(w / w_a),
        with (s_y, s_x, s_h, s_w) = (10, 10, 5, 5) and h, w, h_a, w_a + 1e-8.
        Ref: Ren et al., "Faster R-CNN", NeurIPS 2015, Eq. (2); TF OD API
        box_coders/faster_rcnn_box_coder.py.
    """
    yc, xc, h, w = corners_to_center(boxes)
    yca, xca, ha, wa = corners_to_center(anchors)
    ha, wa, h, w = ha + EPSILON, wa + EPSILON, h + EPSILON, w + EPSILON
    sy, sx, sh, sw = (float(s) for s in scale_factors)
    return tf.stack(
        [sy * (yc - yca) / ha, sx * (xc - xca) / wa, sh * tf.math.log(h / ha), sw * tf.math.log(w / wa)], axis=-1
    )


def pairwise_iou(boxes, anchors):
    """IoU ``[M, N]`` of ``M`` boxes and ``N`` anchors (corners)."""
    b = tf.expand_dims(boxes, 1)
    a = tf.expand_dims(anchors, 0)
    inter_h = tf.maximum(tf.minimum(b[..., 2], a[..., 2]) - tf.maximum(b[..., 0], a[..., 0]), 0.0)
    inter_w = tf.maximum(tf.minimum(b[..., 3], a[..., 3]) - tf.maximum(b[..., 1], a[..., 1]), 0.0)
    inter = inter_h * inter_w
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    return tf.math.divide_no_nan(inter, area_b + area_a - inter)


def match(boxes, anchors, threshold: float = 0.5):
    """Argmax matcher with force-match: ``(matched_box_index [N], positive [N])``.

    [2] Each anchor takes the box of highest IoU; it is positive when that IoU
        >= ``threshold`` (0.5; no ignore band, as ssd_mobilenet_v2). Then every
        box's best anchor is made positive for that box (force_match_for_each_row),
        so no box goes unmatched. Ref: Liu et al., "SSD", ECCV 2016, Sec. 2.2
        "Matching strategy"; TF OD API matchers/argmax_matcher.py.
    """
    num_boxes = tf.shape(boxes)[0]
    # A zero box appended so that argmax over boxes is defined for images without
    # boxes; its IoU is 0 everywhere, so it is never matched and never forced.
    padded = tf.concat([boxes, tf.zeros([1, 4], boxes.dtype)], axis=0)
    iou = pairwise_iou(padded, anchors)  # [M + 1, N]
    best_box = tf.argmax(iou, axis=0, output_type=tf.int32)
    positive = tf.reduce_max(iou, axis=0) >= threshold
    best_anchor = tf.argmax(iou[:num_boxes], axis=1, output_type=tf.int32)  # [M]
    forced = tf.expand_dims(best_anchor, 1)
    best_box = tf.tensor_scatter_nd_update(best_box, forced, tf.range(num_boxes, dtype=tf.int32))
    positive = tf.tensor_scatter_nd_update(positive, forced, tf.ones([num_boxes], tf.bool))
    return best_box, positive


def class_index_table(class_ids: Sequence[int]) -> np.ndarray:
    """Lookup table from label-map id to contiguous index: ``table[id] = k``, -1 for unknown ids."""
    ids = np.asarray(list(class_ids), dtype=np.int64)
    table = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int32)
    table[ids] = np.arange(len(ids), dtype=np.int32)
    return table


class LabelEncoder:
    """Turn one image's ground truth into per-anchor targets (see the module doc).

    ``class_ids``: the label-map ids, in the order of the model's class
    outputs (ids may have gaps, e.g. COCO's 1..90). Boxes whose id is not
    among them, or with no area, are left out.
    """

    def __init__(self, anchors: np.ndarray, class_ids: Sequence[int], match_threshold: float = 0.5,
                 scale_factors: Sequence[float] = SCALE_FACTORS):
        self.anchors = np.asarray(anchors, dtype=np.float32)
        self.class_ids = [int(i) for i in class_ids]
        self.match_threshold = float(match_threshold)
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self._table = class_index_table(self.class_ids)

    @property
    def num_anchors(self) -> int:
        return int(self.anchors.shape[0])

    def class_indices(self, label_ids):
        """Label-map ids -> contiguous indices (``-1`` for ids not in the label map)."""
        table = tf.constant(self._table)
        ids = tf.cast(label_ids, tf.int32)
        inside = (ids >= 0) & (ids < tf.shape(table)[0])
        return tf.where(inside, tf.gather(table, tf.clip_by_value(ids, 0, tf.shape(table)[0] - 1)), -1)

    def __call__(self, boxes, label_ids) -> dict[str, tf.Tensor]:
        anchors = tf.constant(self.anchors)
        boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
        index = self.class_indices(label_ids)
        keep = (index >= 0) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, index = tf.boolean_mask(boxes, keep), tf.boolean_mask(index, keep)

        matched, positive = match(boxes, anchors, self.match_threshold)
        safe = tf.minimum(matched, tf.maximum(tf.shape(boxes)[0] - 1, 0))
        matched_boxes = tf.gather(tf.concat([boxes, tf.zeros([1, 4])], 0), safe)
        offsets = encode_boxes(matched_boxes, anchors, self.scale_factors)
        weight = tf.cast(positive, tf.float32)
        offsets = offsets * weight[:, None]  # zeros on negatives (they are masked anyway)
        classes = tf.where(positive, tf.gather(tf.concat([index, [BACKGROUND]], 0), safe), BACKGROUND)
        return {"boxes": tf.concat([offsets, weight[:, None]], axis=1), "classes": classes}
