"""TFLite export in the layout phones and edge runtimes expect.

::

    image float32 [1, S, S, 3] 0..255  (uint8 with --quantize int8)
      -> the Keras model -> box-coder offsets [1, N, 4], sigmoid(logits) [1, N, K]
      -> TFLite_Detection_PostProcess(offsets, scores, anchors [N, 4] as y, x, h, w)
      -> boxes [1, D, 4] (ymin, xmin, ymax, xmax), classes [1, D], scores [1, D], count [1]

One subgraph, the post-processing by the ``TFLite_Detection_PostProcess``
custom op that every TFLite runtime, MediaPipe Tasks and the Edge TPU compiler
know, outputs in that standard order and TFLite metadata
(:mod:`dataprep.train.tflite_metadata`), so MediaPipe's ``ObjectDetector``
loads the file with no code.

How the op gets there: the post-processing is a ``tf.function`` whose
``experimental_implements`` attribute names the op and carries its settings;
the TFLite converter replaces the whole function by the fused op (the TF OD
API's ``export_tflite_graph_tf2`` does the same). The function's body is never
run. The op decodes with the Faster R-CNN box coder (the model's scale
factors) against the anchors in centre form and runs either its fast NMS
(the top class per anchor, then class-agnostic NMS: TF OD API's default) or
its regular per-class NMS. The scores fed to it are already converted
(sigmoid: the model has no background column, so the op's label offset is 0
and its classes are the contiguous indices 0..K-1 of the label file).

Quantisation (``quantize``): ``float16`` stores the weights as float16;
``dynamic`` int8 weights with float activations; ``int8`` full-integer
post-training quantisation (per-channel weights, int8 activations calibrated on
images given by the caller, uint8 input with scale 1 and zero point 0 so raw
pixels go in; the post-processing stays float).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from dataprep.errors import UsageError

QUANTIZE_CHOICES = ("none", "float16", "dynamic", "int8")
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
#: export_tflite_graph_tf2's default number of detections.
DEFAULT_MAX_DETECTIONS = 10


@dataclass(frozen=True)
class PostProcessSettings:
    """The attributes of ``TFLite_Detection_PostProcess`` (TF OD API defaults for
    everything the model's own configuration does not give)."""

    num_classes: int
    score_threshold: float
    iou_threshold: float
    scale_factors: tuple[float, float, float, float]
    max_detections: int = DEFAULT_MAX_DETECTIONS
    max_classes_per_detection: int = 1
    detections_per_class: int = 100
    use_regular_nms: bool = False

    @classmethod
    def of(cls, detector, **changes) -> "PostProcessSettings":
        """The settings of ``detector``'s decoder, with ``changes`` (None values ignored)."""
        d = detector.decoder
        settings = cls(len(detector.class_ids), d.score_threshold, d.iou_threshold, tuple(d.scale_factors))
        return replace(settings, **{k: v for k, v in changes.items() if v is not None})

    def implements_signature(self) -> str:
        """The ``experimental_implements`` text the converter turns into the op's options."""
        y, x, h, w = self.scale_factors
        attrs = [("max_detections", "i", self.max_detections),
                 ("max_classes_per_detection", "i", self.max_classes_per_detection),
                 ("detections_per_class", "i", self.detections_per_class),
                 ("use_regular_nms", "b", str(self.use_regular_nms).lower()),
                 ("nms_score_threshold", "f", self.score_threshold), ("nms_iou_threshold", "f", self.iou_threshold),
                 ("y_scale", "f", y), ("x_scale", "f", x), ("h_scale", "f", h), ("w_scale", "f", w),
                 ("num_classes", "i", self.num_classes)]
        return " ".join([f'name: "{POSTPROCESS_OP}"']
                        + [f'attr {{ key: "{k}" value {{ {t}: {v} }} }}' for k, t, v in attrs])


def center_anchors(anchors: np.ndarray) -> np.ndarray:
    """``[N, 4]`` ymin, xmin, ymax, xmax -> y centre, x centre, height, width (the op's anchor layout)."""
    a = np.asarray(anchors, dtype=np.float32)
    return np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2, a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]],
                    axis=1).astype(np.float32)


def convert_tflite(detector, path: str | os.PathLike, settings: PostProcessSettings, *,
                   quantize: str = "none", calibration: Callable[[], Iterable[np.ndarray]] | None = None) -> Path:
    """Write ``detector`` as a TFLite file with the fused post-processing op, the
    standard output order and metadata. ``calibration`` (for ``int8``) yields
    float32 ``[1, S, S, 3]`` images exactly as the model sees them."""
    import tensorflow as tf

    from dataprep.train.tflite_metadata import add_metadata, standard_outputs

    if quantize not in QUANTIZE_CHOICES:
        raise UsageError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
    if quantize == "int8" and calibration is None:
        raise UsageError("--quantize int8 needs calibration images: give --records")
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        _write_tflite_saved_model(detector, settings, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        converter.allow_custom_ops = True  # the fused TFLite_Detection_PostProcess
        _configure_quantization(converter, quantize, calibration)
        model = converter.convert()
    model = standard_outputs(model, POSTPROCESS_OP)
    model = add_metadata(model, detector.class_names, quantized_input=quantize == "int8",
                         input_size=detector.input_size)
    path.write_bytes(model)
    return path


def _write_tflite_saved_model(detector, settings: PostProcessSettings, directory: str) -> None:
    import keras
    import tensorflow as tf

    anchors = tf.constant(center_anchors(detector.decoder.anchors))
    model, size = detector.model, detector.input_size

    @tf.function(experimental_implements=settings.implements_signature())
    def postprocess(box_encodings, class_scores, anchor_boxes):  # replaced by the op: never run
        del box_encodings, class_scores, anchor_boxes
        zero = tf.constant(0.0, dtype=tf.float32)
        return zero, zero, zero, zero

    def serve(image):
        out = model(image, training=False)
        boxes, classes, scores, count = postprocess(tf.cast(out["boxes"], tf.float32),
                                                    tf.sigmoid(tf.cast(out["classes"], tf.float32)), anchors)
        return {"detection_boxes": boxes, "detection_classes": classes, "detection_scores": scores,
                "num_detections": count}

    archive = keras.export.ExportArchive()  # Keras' route: the variables become constants in the conversion
    archive.track(model)
    archive.add_endpoint("serving_default", serve,
                         input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
    archive.write_out(directory, verbose=False)


def _configure_quantization(converter, quantize: str, calibration) -> None:
    import tensorflow as tf

    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        def representative():
            for image in calibration():
                yield [np.asarray(image, dtype=np.float32)]

        converter.representative_dataset = representative
        # int8 kernels for every builtin op; the custom post-processing op stays float
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.uint8
