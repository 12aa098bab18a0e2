"""COCO-style evaluation of detections with pycocotools' ``COCOeval``.

:func:`coco_evaluate` compares per-image ground truth and detections given as
plain arrays (normalized boxes, label-map ids); :func:`evaluate_model` runs a
detector over a split of the records first. Results: mAP (IoU 0.50:0.95),
mAP@0.5, mAP@0.75, AP per small/medium/large, and AP per class.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np


@dataclass
class ImageGroundTruth:
    image_id: int
    height: int
    width: int
    boxes: np.ndarray  # [M, 4] normalized ymin, xmin, ymax, xmax
    classes: np.ndarray  # [M] label-map ids
    is_crowd: np.ndarray | None = None


@dataclass
class ImageDetections:
    image_id: int
    boxes: np.ndarray  # [D, 4] normalized ymin, xmin, ymax, xmax
    scores: np.ndarray  # [D]
    classes: np.ndarray  # [D] label-map ids


@dataclass
class EvalResult:
    mAP: float
    mAP50: float
    mAP75: float
    mAP_small: float
    mAP_medium: float
    mAP_large: float
    per_class: dict[str, float] = field(default_factory=dict)  # class name -> AP@[.5:.95]
    per_class50: dict[str, float] = field(default_factory=dict)  # class name -> AP@0.5
    images: int = 0
    detections: int = 0
    split: str = ""

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    def summary_lines(self) -> list[str]:
        lines = [
            f"mAP {self.mAP:.3f}  mAP@0.5 {self.mAP50:.3f}  mAP@0.75 {self.mAP75:.3f}  "
            f"(small {_fmt(self.mAP_small)}, medium {_fmt(self.mAP_medium)}, large {_fmt(self.mAP_large)}) "
            f"on {self.images} images{f' of {self.split}' if self.split else ''}",
        ]
        width = max((len(n) for n in self.per_class), default=5)
        for name, ap in self.per_class.items():
            lines.append(f"  {name:<{width}}  AP {_fmt(ap)}  AP@0.5 {_fmt(self.per_class50.get(name, math.nan))}")
        return lines


def _fmt(value: float) -> str:
    return "  n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def _to_coco_xywh(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ymin, xmin, ymax, xmax = boxes[:, 0] * height, boxes[:, 1] * width, boxes[:, 2] * height, boxes[:, 3] * width
    return np.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=1)


def coco_evaluate(ground_truth: Iterable[ImageGroundTruth], detections: Iterable[ImageDetections],
                  class_ids: Sequence[int], class_names: Sequence[str] | None = None, split: str = "") -> EvalResult:
    """COCO bbox evaluation of ``detections`` against ``ground_truth``.

    Boxes are converted from normalized corners to COCO pixel ``[x, y, w, h]``
    with each image's size. AP per class is the mean of COCOeval's precision
    over IoU thresholds and recall points (area "all", 100 detections), like
    its summary line; classes without ground truth get NaN.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    class_ids = [int(i) for i in class_ids]
    class_names = list(class_names) if class_names is not None else [str(i) for i in class_ids]
    gt_list = list(ground_truth)
    sizes = {g.image_id: (g.height, g.width) for g in gt_list}
    images, annotations = [], []
    for g in gt_list:
        images.append({"id": int(g.image_id), "height": int(g.height), "width": int(g.width)})
        xywh = _to_coco_xywh(g.boxes, g.height, g.width)
        crowd = np.zeros(len(xywh), int) if g.is_crowd is None else np.asarray(g.is_crowd).reshape(-1)
        for box, cls, iscrowd in zip(xywh, np.asarray(g.classes).reshape(-1), crowd):
            annotations.append({"id": len(annotations) + 1, "image_id": int(g.image_id), "category_id": int(cls),
                                "bbox": [float(v) for v in box], "area": float(box[2] * box[3]),
                                "iscrowd": int(iscrowd)})
    results = []
    for d in detections:
        height, width = sizes[d.image_id]
        xywh = _to_coco_xywh(d.boxes, height, width)
        for box, score, cls in zip(xywh, np.asarray(d.scores).reshape(-1), np.asarray(d.classes).reshape(-1)):
            results.append({"image_id": int(d.image_id), "category_id": int(cls), "bbox": [float(v) for v in box],
                            "score": float(score)})
    nan = float("nan")
    if not results or not annotations:
        return EvalResult(0.0 if annotations else nan, 0.0 if annotations else nan, 0.0 if annotations else nan,
                          nan, nan, nan, {n: nan for n in class_names}, {n: nan for n in class_names},
                          images=len(images), detections=len(results), split=split)

    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "annotations": annotations,
                       "categories": [{"id": i, "name": n} for i, n in zip(class_ids, class_names)]}
    with contextlib.redirect_stdout(io.StringIO()):  # COCO and COCOeval print their progress
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [float(s) if s >= 0 else nan for s in evaluator.stats]
    # precision[T, R, K, A, M]: IoU thresholds, recall points, classes, areas, max detections.
    precision = evaluator.eval["precision"]
    per_class, per_class50 = {}, {}
    iou50 = int(np.argmin(np.abs(evaluator.params.iouThrs - 0.5)))
    for k, (cid, name) in enumerate(zip(evaluator.params.catIds, class_names)):
        p = precision[:, :, k, 0, -1]
        per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else nan
        p50 = p[iou50]
        per_class50[name] = float(p50[p50 > -1].mean()) if (p50 > -1).any() else nan
    return EvalResult(stats[0], stats[1], stats[2], stats[3], stats[4], stats[5], per_class, per_class50,
                      images=len(images), detections=len(results), split=split)


def _image_id(source_id: bytes, fallback: int) -> int:
    text = source_id.decode("utf-8", "replace") if isinstance(source_id, bytes) else str(source_id)
    return int(text) if text.isdigit() else fallback


def collect(records: str | os.PathLike, split: str, input_size: int, detect, batch_size: int = 8,
            ) -> tuple[list[ImageGroundTruth], list[ImageDetections]]:
    """Run ``detect(images) -> dict of numpy detections`` over a split."""
    from dataprep.train.input_pipeline import eval_dataset

    gts, dets = [], []
    ids: set[int] = set()
    for batch in eval_dataset(records, split, input_size, batch_size):
        out = detect(batch["image"])
        boxes, scores, classes = (np.asarray(out[k]) for k in
                                  ("detection_boxes", "detection_scores", "detection_classes"))
        num = np.asarray(out["num_detections"]).astype(int)
        for b in range(len(num)):
            image_id = _image_id(batch["source_id"][b].numpy(), len(gts) + 1)
            if image_id in ids:  # source ids are unique in dataprep records; be safe with others
                image_id = max(ids) + 1
            ids.add(image_id)
            valid = batch["classes"][b].numpy() > 0  # padding of padded_batch has class 0
            gts.append(ImageGroundTruth(image_id, int(batch["height"][b]), int(batch["width"][b]),
                                        batch["boxes"][b].numpy()[valid], batch["classes"][b].numpy()[valid],
                                        batch["is_crowd"][b].numpy()[valid]))
            n = num[b]
            dets.append(ImageDetections(image_id, boxes[b, :n], scores[b, :n], classes[b, :n].astype(int)))
    return gts, dets


def evaluate_model(detector, records: str | os.PathLike, split: str, batch_size: int = 8) -> EvalResult:
    """COCO evaluation of a :class:`dataprep.train.predict.Detector` on ``split`` of ``records``."""
    gts, dets = collect(records, split, detector.input_size, detector.detect_resized, batch_size)
    return coco_evaluate(gts, dets, detector.class_ids, detector.class_names, split=split)


# ------------------------------------------------------------------ exported files
@dataclass
class ModelCost:
    """Size on disk and latency per image (one image per call, on this CPU) of an exported model."""

    path: str
    file_bytes: int
    latencies: list[float]  # seconds per image
    threads: int | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "file_bytes": self.file_bytes, "latency_median_ms": self.median_ms,
                "latency_p90_ms": self.p90_ms, "threads": self.threads}

    @property
    def median_ms(self) -> float:
        return float(np.median(self.latencies) * 1e3) if self.latencies else math.nan

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.latencies, 90) * 1e3) if self.latencies else math.nan

    def summary_line(self) -> str:
        threads = "" if self.threads is None else f", {self.threads} thread{'s' * (self.threads != 1)}"
        return (f"  {self.path}: {self.file_bytes / 2**20:.2f} MiB; latency per image median {self.median_ms:.1f} ms, "
                f"p90 {self.p90_ms:.1f} ms (this CPU{threads})")


def model_bytes(path: str | os.PathLike) -> int:
    """Size of a file, or of every file under a folder (a SavedModel)."""
    from pathlib import Path

    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _Timed:
    """``detect_resized`` of a detector, one image per call, timing each call."""

    def __init__(self, detector):
        self.detector = detector
        self.latencies: list[float] = []

    def __call__(self, images):
        import time

        outs = []
        for image in np.asarray(images):
            start = time.perf_counter()
            outs.append(self.detector.detect_resized(image[None]))
            self.latencies.append(time.perf_counter() - start)
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def check_label_maps(class_ids: Sequence[int], class_names: Sequence[str], label_map, model: str,
                     records: str | os.PathLike) -> None:
    """The evaluation compares the model's label-map ids with the records' ids: a clear error when
    the same id names different classes, or the same class has different ids (a zoo export
    evaluated on records converted with their own label map), instead of a meaningless mAP."""
    from dataprep.errors import UsageError

    model_by_id = dict(zip((int(i) for i in class_ids), class_names))
    model_by_name = {n: i for i, n in model_by_id.items()}
    clashes = [f"{item.id}={item.name!r} (model: {model_by_id[item.id]!r})" for item in label_map
               if item.id in model_by_id and model_by_id[item.id] != item.name]
    clashes += [f"{item.name!r}={item.id} (model: {model_by_name[item.name]})" for item in label_map
                if item.name in model_by_name and model_by_name[item.name] != item.id and item.id not in model_by_id]
    if clashes:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise UsageError(f"{records}: the records' label map numbers the classes differently from the model's "
                         f"({model}): {shown}. Evaluation compares ids; convert the records with the model's "
                         f"label map (dataprep convert ... --label-map {model}/label_map.pbtxt)")


def evaluate_exported(detector, path: str | os.PathLike, records: str | os.PathLike, split: str,
                      threads: int | None = None) -> tuple[EvalResult, ModelCost]:
    """COCO evaluation of an exported model (SavedModel folder or ``.tflite``) with its size and latency.
    The first image's time (graph building, allocation) is left out of the latency."""
    timed = _Timed(detector)
    gts, dets = collect(records, split, detector.input_size, timed, batch_size=1)
    result = coco_evaluate(gts, dets, detector.class_ids, detector.class_names, split=split)
    return result, ModelCost(os.fspath(path), model_bytes(path), timed.latencies[1:] or timed.latencies, threads)


def delta_lines(result: EvalResult, other: EvalResult, name: str, other_name: str) -> list[str]:
    """A per-class table of AP@0.5 and AP of ``result`` and ``other`` and their difference."""
    width = max([len(n) for n in result.per_class] + [5])
    lines = [f"{'class':<{width}}  {'AP@0.5':>7} {'other':>7} {'delta':>7}   {'AP':>6} {'other':>6} {'delta':>7}",
             f"{'(all)':<{width}}  {_fmt(result.mAP50):>7} {_fmt(other.mAP50):>7} "
             f"{_delta(result.mAP50, other.mAP50):>7}   {_fmt(result.mAP):>6} {_fmt(other.mAP):>6} "
             f"{_delta(result.mAP, other.mAP):>7}"]
    for cls in result.per_class:
        a50, b50 = result.per_class50.get(cls, math.nan), other.per_class50.get(cls, math.nan)
        a, b = result.per_class[cls], other.per_class.get(cls, math.nan)
        lines.append(f"{cls:<{width}}  {_fmt(a50):>7} {_fmt(b50):>7} {_delta(a50, b50):>7}   {_fmt(a):>6} "
                     f"{_fmt(b):>6} {_delta(a, b):>7}")
    return [f"Compared with {other_name} (delta = {name} - other):"] + lines


def _delta(a: float, b: float) -> str:
    return "  n/a" if math.isnan(a) or math.isnan(b) else f"{a - b:+.3f}"
