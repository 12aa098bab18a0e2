"""An independent check of ``dataprep evaluate FILE.tflite``: the same file run
by MediaPipe Tasks' ``ObjectDetector`` on the image files, scored by
pycocotools from the Pascal VOC annotations, with no dataprep code on the way
(no records, no resize, no class mapping, no evaluation helper of ours).

MediaPipe is set to return exactly the detections ``evaluate`` scores: all
``count`` rows of the ``TFLite_Detection_PostProcess`` op (``max_results`` =
the op's maximum, ``score_threshold`` 0, below every sigmoid score, so the
metadata's own threshold, if any, is overridden and nothing is dropped).

What the two paths still do differently, and so what the comparison measures:
MediaPipe resizes the image itself (OpenCV, bilinear at pixel corners,
stretched to the model input, no letterbox), dataprep with ``tf.image.resize``
(pixel centres), after TF's JPEG decoder where :func:`load_rgb` uses PIL's
(the test gives PNG images, which every decoder reads alike); MediaPipe turns each
box into whole pixels, its corner and its width separately, each cut to the
image (``DetectionTransformationCalculator``: ``xmin = clamp(int(xmin * W),
0, W)``, ``width = clamp(int((xmax - xmin) * W), 0, W)``), dataprep clips the
normalised corners to the image. A box that sticks out of the left or top edge
therefore comes back from MediaPipe moved right or down by the part that
sticks out (README, "Deploying to phones and edge devices").

Used by tests/test_tflite.py; the MediaPipe figures of benchmarks/RESULTS.md
("`evaluate` on a .tflite against MediaPipe") were measured with it.
"""

from __future__ import annotations

import contextlib
import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Detection:
    name: str
    score: float
    box: np.ndarray  # xmin, ymin, xmax, ymax in pixels of the image given


def mediapipe_detect(model: str | os.PathLike, images, max_results: int, score_threshold: float = 0.0):
    """MediaPipe ``ObjectDetector`` on each uint8 RGB ``[H, W, 3]`` image: a list of
    :class:`Detection` lists, best first. MediaPipe folds rows of the op with the same
    pixel box into one detection with several categories (``DetectionsDeduplicateCalculator``;
    the op's regular NMS gives such rows, one per class): every category is one detection here."""
    import mediapipe as mp
    from mediapipe.tasks import python as tasks
    from mediapipe.tasks.python import vision

    options = vision.ObjectDetectorOptions(base_options=tasks.BaseOptions(model_asset_path=os.fspath(model)),
                                           max_results=max_results, score_threshold=score_threshold)
    out = []
    with vision.ObjectDetector.create_from_options(options) as detector:
        for image in images:
            result = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                                              data=np.ascontiguousarray(image, dtype=np.uint8)))
            found = []
            for d in result.detections:
                b = d.bounding_box
                box = np.array([b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height], float)
                found.extend(Detection(c.category_name, float(c.score), box) for c in d.categories)
            out.append(sorted(found, key=lambda d: -d.score))
    return out


@dataclass
class VocImage:
    path: Path
    width: int
    height: int
    objects: list  # (name, [xmin, ymin, xmax, ymax] continuous pixels, difficult)


def read_voc_split(root: str | os.PathLike, split: str) -> list[VocImage]:
    """The images of ``ImageSets/Main/{split}.txt`` with their boxes. VOC corners
    are 1-based inclusive pixel indices: a box over pixel columns c0..c1 is
    written ``c0 + 1 .. c1 + 1`` and covers ``[c0, c1 + 1)``, so xmin - 1, xmax."""
    root = Path(root)
    out = []
    for stem in (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split():
        tree = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
        size = tree.find("size")
        objects = []
        for obj in tree.findall("object"):
            bb = obj.find("bndbox")
            x0, y0, x1, y1 = (float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            difficult = obj.find("difficult")
            objects.append((obj.find("name").text, [x0 - 1, y0 - 1, x1, y1],
                            difficult is not None and difficult.text.strip() == "1"))
        out.append(VocImage(root / "JPEGImages" / tree.find("filename").text, int(size.find("width").text),
                            int(size.find("height").text), objects))
    return out


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def coco_map50(images: list[VocImage], detections: list[list[Detection]], names: list[str]) -> float:
    """pycocotools' AP@0.5 (``COCOeval.stats[1]``: area all, up to 100 detections per
    image) of ``detections`` against the VOC boxes; difficult objects are crowd
    (ignored: neither missed nor matched)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    category = {n: i + 1 for i, n in enumerate(names)}
    gt_images, annotations, results = [], [], []
    for image_id, (image, found) in enumerate(zip(images, detections), start=1):
        gt_images.append({"id": image_id, "width": image.width, "height": image.height})
        for name, (x0, y0, x1, y1), difficult in image.objects:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category[name],
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                                "iscrowd": int(difficult)})
        for d in found:
            x0, y0, x1, y1 = (float(v) for v in d.box)
            results.append({"image_id": image_id, "category_id": category[d.name],
                            "bbox": [x0, y0, x1 - x0, y1 - y0], "score": d.score})
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": gt_images, "annotations": annotations,
                         "categories": [{"id": i, "name": n} for n, i in category.items()]}
        truth.createIndex()
        evaluator = COCOeval(truth, truth.loadRes(results), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[1])


def mediapipe_map50(model: str | os.PathLike, voc_root: str | os.PathLike, split: str, max_results: int,
                    names: list[str]) -> float:
    """AP@0.5 of ``model`` through MediaPipe on ``split`` of a VOC folder."""
    images = read_voc_split(voc_root, split)
    detections = mediapipe_detect(model, (load_rgb(i.path) for i in images), max_results)
    return coco_map50(images, detections, names)
