"""An exported ``model.tflite`` behind the :class:`~dataprep.train.predict.Detector`
interface, run with LiteRT (``ai-edge-litert``; ``tf.lite.Interpreter`` is
deprecated), so ``evaluate`` scores a TFLite file like a run.

The file is one written by ``dataprep export --tflite``: input ``[1, S, S, 3]``
float32 pixels 0..255 (or uint8 pixels for int8), outputs of
``TFLite_Detection_PostProcess`` in the op's order (boxes, classes, scores,
count). Its classes are contiguous indices, mapped back to label-map ids with
the export folder's ``dataprep_export.json``; boxes are clipped to the image as
the SavedModel's are.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from dataprep.errors import UsageError


def _interpreter(path: Path, threads: int | None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise UsageError(f"{path}: running a TFLite file needs LiteRT: pip install 'dataprep[edge]' "
                         "(ai-edge-litert)") from None
    return Interpreter(model_path=os.fspath(path), num_threads=threads)


class TFLiteDetector:
    """``model.tflite`` of an export folder, one image per invocation."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        path = Path(path)
        meta_file = path.parent / "dataprep_export.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: the classes of a TFLite file come from the export folder's "
                             f"dataprep_export.json ({exc})") from None
        self.path = path
        self.class_ids = [int(i) for i in meta["class_ids"]]
        self.class_names = [str(n) for n in meta["class_names"]]
        self.interpreter = _interpreter(path, threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = [o["index"] for o in self.interpreter.get_output_details()]
        self.input_size = int(self.input["shape"][1])
        self.latencies: list[float] = []  # seconds per invocation

    def _run(self, image: np.ndarray) -> list[np.ndarray]:
        if self.input["dtype"] == np.uint8:
            image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        self.interpreter.set_tensor(self.input["index"], image[None].astype(self.input["dtype"]))
        start = time.perf_counter()
        self.interpreter.invoke()
        self.latencies.append(time.perf_counter() - start)
        return [self.interpreter.get_tensor(i)[0] for i in self.outputs]

    def detect_resized(self, images) -> dict[str, np.ndarray]:
        """Detections for float images ``[B, S, S, 3]`` already resized to the model input."""
        images = np.asarray(images, dtype=np.float32)
        ids = np.asarray(self.class_ids, dtype=np.float32)
        boxes, classes, scores, counts = [], [], [], []
        for image in images:
            b, c, s, n = self._run(image)
            n = int(n)
            valid = np.arange(len(c)) < n  # the op leaves the rows past the count unset
            index = np.clip(np.where(valid, np.nan_to_num(c), 0).astype(int), 0, len(ids) - 1)
            s = np.where(valid, s, 0.0)
            b = np.where(valid[:, None], np.nan_to_num(b), 0.0)
            boxes.append(np.clip(b, 0.0, 1.0))
            classes.append(np.where(valid, ids[index], 0.0))
            scores.append(s)
            counts.append(n)
        return {"detection_boxes": np.stack(boxes), "detection_classes": np.stack(classes),
                "detection_scores": np.stack(scores), "num_detections": np.asarray(counts, dtype=np.float32)}

    def detect(self, images) -> dict[str, np.ndarray]:
        """Detections for uint8 images of any size (resized as the pipeline does)."""
        from dataprep.train.input_pipeline import resize

        images = np.asarray(images)
        single = images.ndim == 3
        resized = resize(images[None] if single else images, self.input_size).numpy()
        out = self.detect_resized(resized)
        return {k: v[0] for k, v in out.items()} if single else out
