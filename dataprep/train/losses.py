"""Detection losses in ``keras.ops`` (any backend): sigmoid focal loss for the
classes, smooth L1 for the boxes, both normalised by the number of positive
anchors in the batch, with optional hard negative mining.

Targets are those of :class:`dataprep.train.encoder.LabelEncoder`: class
targets ``[B, N]`` (index ``>= 0`` positive, ``-1`` background, ``-2``
ignored) and box targets ``[B, N, 5]`` (four offsets and a positive flag).

Both losses return one value per image, ``L_b * B / max(1, P)`` with ``P`` the
positives of the whole batch, so that Keras' default "sum over batch size"
reduction yields ``sum_b L_b / P`` -- the TF OD API's
``normalize_loss_by_num_matches`` -- and Keras' scaling for ``tf.distribute``
still applies.
"""

from __future__ import annotations

import keras
from keras import ops


def _batch_scale(num_positive_per_image, dtype="float32"):
    batch = ops.cast(ops.shape(num_positive_per_image)[0], dtype)
    return batch / ops.maximum(ops.sum(num_positive_per_image), 1.0)


def hard_negative_mask(anchor_loss, positive, negative, ratio: float):
    """Negatives to keep: per image, the ``ratio * P_b`` negatives of highest loss.

    [1] SSD hard negative mining: sort negatives by loss, keep the top ones
        so that negatives : positives <= ratio (3:1 in the paper). An image
        without positives keeps none. Ref: Liu et al., "SSD", ECCV 2016,
        Sec. 2.2 "Hard negative mining".
    """
    num_anchors = ops.shape(anchor_loss)[1]
    neg_loss = ops.where(negative, anchor_loss, -1.0)
    ranked = -ops.sort(-neg_loss, axis=1)  # descending
    k = ops.minimum(ops.cast(ratio * ops.sum(ops.cast(positive, "float32"), axis=1), "int32"), num_anchors)
    threshold = ops.take_along_axis(ranked, ops.expand_dims(ops.maximum(k - 1, 0), 1), axis=1)
    return negative & (neg_loss >= threshold) & ops.expand_dims(k > 0, 1)


@keras.saving.register_keras_serializable(package="dataprep")
class FocalLoss(keras.losses.Loss):
    """Sigmoid focal loss over all classes of all anchors, normalised by positives.

    [2] FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), p_t = p for the target
        class and 1 - p for the others (sigmoid per class, background has no
        column); alpha = 0.25, gamma = 2. Ref: Lin et al., "Focal Loss for
        Dense Object Detection", ICCV 2017, Eq. (5).
    """

    def __init__(self, num_classes: int, alpha: float = 0.25, gamma: float = 2.0,
                 hard_negative_ratio: float | None = None, name: str = "focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.hard_negative_ratio = None if hard_negative_ratio is None else float(hard_negative_ratio)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        logits = ops.cast(y_pred, "float32")
        positive = labels >= 0
        negative = labels == -1
        onehot = ops.one_hot(ops.maximum(labels, 0), self.num_classes) * ops.expand_dims(
            ops.cast(positive, "float32"), -1)
        # Binary cross-entropy with logits, in the numerically stable form.
        ce = ops.maximum(logits, 0.0) - logits * onehot + ops.log1p(ops.exp(-ops.abs(logits)))
        prob = ops.sigmoid(logits)
        p_t = prob * onehot + (1.0 - prob) * (1.0 - onehot)
        alpha_t = self.alpha * onehot + (1.0 - self.alpha) * (1.0 - onehot)
        anchor_loss = ops.sum(alpha_t * ops.power(1.0 - p_t, self.gamma) * ce, axis=-1)  # [B, N]
        if self.hard_negative_ratio is not None:
            keep = positive | hard_negative_mask(anchor_loss, positive, negative, self.hard_negative_ratio)
        else:
            keep = positive | negative
        per_image = ops.sum(anchor_loss * ops.cast(keep, "float32"), axis=1)
        num_positive = ops.sum(ops.cast(positive, "float32"), axis=1)
        return per_image * _batch_scale(num_positive)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "alpha": self.alpha,
                "gamma": self.gamma, "hard_negative_ratio": self.hard_negative_ratio}


@keras.saving.register_keras_serializable(package="dataprep")
class BoxLoss(keras.losses.Loss):
    """Smooth L1 on the box-coder offsets of positive anchors, normalised by positives.

    [3] smooth_L1(d) = 0.5 d^2 / delta if |d| < delta else |d| - 0.5 delta,
        delta = 1, summed over (t_y, t_x, t_h, t_w). Ref: Girshick, "Fast
        R-CNN", ICCV 2015, Eq. (3); TF OD API WeightedSmoothL1LocalizationLoss.
    """

    def __init__(self, delta: float = 1.0, name: str = "box_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.delta = float(delta)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        targets, weight = y_true[..., :4], y_true[..., 4]
        diff = ops.abs(ops.cast(y_pred, "float32") - targets)
        smooth = ops.where(diff < self.delta, 0.5 * diff * diff / self.delta, diff - 0.5 * self.delta)
        per_image = ops.sum(ops.sum(smooth, axis=-1) * weight, axis=1)
        return per_image * _batch_scale(ops.sum(weight, axis=1))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}
