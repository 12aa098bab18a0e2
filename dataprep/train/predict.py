"""Detectors for inference: the in-memory model of a run folder, or an
exported SavedModel, with one interface; and drawing detections to PNG.

Both take uint8 images of any size; the image is stretched to the model input
(see :func:`dataprep.train.input_pipeline.resize`) and the boxes come back
normalized to the original image.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dataprep.errors import UsageError
from dataprep.train.config import CONFIG_FILE, WEIGHTS_FILE, TrainConfig

OUTPUT_KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
           "#008080"]


WEIGHTS_CHOICES = ("best", "final")


def run_weights(run_dir: str | os.PathLike, which: str = "best") -> Path:
    """The weights of a run that evaluate, export and predict use: ``best``
    (``best/``, the evaluation with the highest val mAP@0.5, else the final
    weights), ``final`` (the last epoch's, else the last checkpoint), or a
    weights file."""
    run_dir = Path(run_dir)
    if which == "best":
        best = run_dir / "best" / WEIGHTS_FILE
        return best if best.is_file() else latest_weights(run_dir)
    if which == "final":
        return latest_weights(run_dir)
    path = Path(which)
    if not path.is_file():
        raise UsageError(f"--weights: expected best, final or a weights file, got {which!r} (no such file)")
    return path


def latest_weights(run_dir: str | os.PathLike) -> Path:
    """The final weights of a run, else its last epoch checkpoint."""
    run_dir = Path(run_dir)
    final = run_dir / WEIGHTS_FILE
    if final.is_file():
        return final
    checkpoints = sorted((run_dir / "checkpoints").glob("epoch-*.weights.h5"))
    if checkpoints:
        return checkpoints[-1]
    raise UsageError(f"{run_dir}: no weights yet ({WEIGHTS_FILE} or checkpoints/epoch-*.weights.h5); "
                     "has `dataprep train` finished an epoch?")


class Detector:
    """Model + decoder in memory (TensorFlow backend for :meth:`detect`)."""

    def __init__(self, model, decoder, input_size: int, class_ids: Sequence[int], class_names: Sequence[str]):
        self.model = model
        self.decoder = decoder
        self.input_size = int(input_size)
        self.class_ids = [int(i) for i in class_ids]
        self.class_names = [str(n) for n in class_names]
        self._resized_fn = None
        self._any_size_fn = None

    @classmethod
    def from_config(cls, config: TrainConfig, model, nms: str = "auto") -> "Detector":
        from dataprep.train.anchor_generator import AnchorGenerator
        from dataprep.train.decoder import DetectionDecoder

        anchors = AnchorGenerator(config.anchors, config.input_size).anchors()
        decoder = DetectionDecoder(anchors, config.class_ids, config.score_threshold, config.iou_threshold,
                                   config.max_detections, nms=nms, name="decoder")
        return cls(model, decoder, config.input_size, config.class_ids, config.class_names)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, weights: str | os.PathLike | None = None,
                 nms: str = "auto") -> "Detector":
        """Rebuild the model of ``run_dir`` (its config.json) and load its weights
        (``weights``: a file, else :func:`run_weights`' choice, best/ first)."""
        from dataprep.train.build import build_model

        config = TrainConfig.load(run_dir)
        model = build_model(config, weights=False)
        path = run_weights(run_dir, os.fspath(weights) if weights is not None else "best")
        model.load_weights(os.fspath(path))
        return cls.from_config(config, model, nms)

    # ------------------------------------------------------------ inference
    def detect_graph(self, images):
        """uint8 ``[B, H, W, 3]`` -> detections (graph-friendly; used by the export too)."""
        from dataprep.train.input_pipeline import resize

        return self.decoder(self.model(resize(images, self.input_size), training=False))

    def detect_resized(self, images) -> dict[str, np.ndarray]:
        """Detections for float images already resized to the model input."""
        import tensorflow as tf

        if self._resized_fn is None:
            spec = tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)
            self._resized_fn = tf.function(lambda x: self.decoder(self.model(x, training=False)),
                                           input_signature=[spec])
        return {k: np.asarray(v) for k, v in self._resized_fn(tf.cast(images, tf.float32)).items()}

    def detect(self, images) -> dict[str, np.ndarray]:
        """Detections for a uint8 batch ``[B, H, W, 3]`` (or one ``[H, W, 3]`` image)."""
        import tensorflow as tf

        images = tf.convert_to_tensor(images, tf.uint8)
        single = images.shape.rank == 3
        if single:
            images = images[None]
        if self._any_size_fn is None:
            self._any_size_fn = tf.function(self.detect_graph,
                                            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
        out = {k: np.asarray(v) for k, v in self._any_size_fn(images).items()}
        return {k: v[0] for k, v in out.items()} if single else out


class SavedModelDetector:
    """An exported SavedModel (``dataprep export``) behind the :class:`Detector` interface."""

    def __init__(self, export_dir: str | os.PathLike):
        import json

        import tensorflow as tf

        export_dir = Path(export_dir)
        try:
            meta = json.loads((export_dir / "dataprep_export.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{export_dir}: not a `dataprep export` folder (dataprep_export.json: {exc})") from None
        self.input_size = int(meta["input_size"])
        self.class_ids = [int(i) for i in meta["class_ids"]]
        self.class_names = [str(n) for n in meta["class_names"]]
        self.loaded = tf.saved_model.load(os.fspath(export_dir))
        self.serve = self.loaded.signatures["serving_default"]

    def detect_resized(self, images) -> dict[str, np.ndarray]:
        """Detections for float images already resized to the model input: rounded to uint8, the
        signature's input type (its resize to the same size changes nothing)."""
        return self.detect(np.clip(np.round(np.asarray(images)), 0, 255).astype(np.uint8))

    def detect(self, images) -> dict[str, np.ndarray]:
        import tensorflow as tf

        images = tf.convert_to_tensor(images, tf.uint8)
        single = images.shape.rank == 3
        out = {k: np.asarray(v) for k, v in self.serve(images=images[None] if single else images).items()}
        return {k: v[0] for k, v in out.items()} if single else out


def load_detector(path: str | os.PathLike, threads: int | None = None):
    """A :class:`Detector` for a run folder, a :class:`SavedModelDetector` for an export folder,
    a :class:`~dataprep.train.litert.TFLiteDetector` for a ``.tflite`` file of an export folder."""
    path = Path(path)
    if path.suffix == ".tflite" and path.is_file():
        from dataprep.train.litert import TFLiteDetector

        return TFLiteDetector(path, threads)
    if (path / CONFIG_FILE).is_file():
        return Detector.from_run(path)
    if (path / "saved_model.pb").is_file():
        return SavedModelDetector(path)
    raise UsageError(f"{path}: neither a training run ({CONFIG_FILE}), an exported model (saved_model.pb) nor "
                     "a .tflite file")


@dataclass
class Prediction:
    image: Path
    output: Path
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def draw_detections(image, boxes, scores, classes, names: dict[int, str], min_score: float = 0.3):
    """A PIL image with the detections of score >= ``min_score`` drawn on ``image``."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.asarray(image)) if not isinstance(image, Image.Image) else image.copy()
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for box, score, cls in zip(boxes, scores, classes):
        if score < min_score:
            continue
        color = _COLORS[int(cls) % len(_COLORS)]
        ymin, xmin, ymax, xmax = box
        xy = [xmin * width, ymin * height, xmax * width, ymax * height]
        draw.rectangle(xy, outline=color, width=2)
        label = f"{names.get(int(cls), str(int(cls)))} {score:.2f}"
        draw.text((xy[0] + 2, max(xy[1] - 11, 0)), label, fill=color)
    return image


def output_names(paths: Sequence[Path]) -> list[str]:
    """``<stem>.png`` per image, never one name twice: images whose stems
    collide (``d1/x.jpg``, ``d2/x.jpg``) carry the folders that tell them apart
    (``d1_x.png``, ``d2_x.png``), and a name still taken gets ``-2``, ``-3``."""
    stems = Counter(p.stem for p in paths)
    clashing = [Path(os.path.abspath(p)) for p in paths if stems[p.stem] > 1]
    common = Path(os.path.commonpath([str(p.parent) for p in clashing])) if clashing else None
    names, taken = [], set()
    for p in paths:
        if stems[p.stem] > 1:
            rel = Path(os.path.abspath(p)).relative_to(common).with_suffix("")
            base = "_".join(rel.parts)
        else:
            base = p.stem
        name, k = f"{base}.png", 1
        while name in taken:
            k += 1
            name = f"{base}-{k}.png"
        taken.add(name)
        names.append(name)
    return names


def predict_images(detector, paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                   min_score: float = 0.3) -> list[Prediction]:
    """Detect on each image file and write ``out_dir/<stem>.png`` with the boxes
    drawn (see :func:`output_names` when two stems are the same)."""
    from PIL import Image, ImageOps

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = dict(zip(detector.class_ids, detector.class_names))
    results = []
    paths = [Path(p) for p in paths]
    for p, name in zip(paths, output_names(paths)):
        try:
            with Image.open(p) as im:
                image = ImageOps.exif_transpose(im).convert("RGB")
        except OSError as exc:
            raise UsageError(f"{p}: cannot read the image: {exc}") from None
        out = detector.detect(np.asarray(image))
        n = int(out["num_detections"])
        boxes, scores, classes = out["detection_boxes"][:n], out["detection_scores"][:n], out["detection_classes"][:n]
        target = out_dir / name
        draw_detections(image, boxes, scores, classes, names, min_score).save(target)
        results.append(Prediction(p, target, boxes, scores, classes.astype(int)))
    return results

