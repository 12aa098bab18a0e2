"""``dataprep export``: a SavedModel with the TF OD API's serving interface.

The ``serving_default`` signature takes ``images``: uint8 ``[batch, height,
width, 3]`` of any size, resizes inside, and returns ``detection_boxes``
(normalized ymin, xmin, ymax, xmax), ``detection_scores``,
``detection_classes`` (label-map ids, float32) and ``num_detections``.
``label_map.pbtxt`` and ``dataprep_export.json`` (input size, classes) are
written beside it. The model is a trained run's, or (``--init-from``) a TF2
detection-zoo model taken as it is; ``tflite`` adds ``model.tflite`` (fixed input
``[1, S, S, 3]`` uint8, same outputs, builtin ops only).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from dataprep.errors import UsageError
from dataprep.label_map import LabelMap
from dataprep.train.config import LABEL_MAP_FILE
from dataprep.train.predict import Detector

EXPORT_META_FILE = "dataprep_export.json"
TFLITE_FILE = "model.tflite"


@dataclass
class ExportResult:
    out: Path
    tflite: Path | None
    input_size: int
    num_classes: int
    restored: int | None = None  # variables taken from an --init-from checkpoint
    note: str = ""  # what --init-from decided (which TF1 checkpoint, EMA shadows)

    def summary_lines(self) -> list[str]:
        lines = [f"Exported {self.out}" + (f" ({self.restored} variables from the checkpoint, no training)"
                                           if self.restored is not None else ""),
                 "  signature serving_default: images uint8 [batch, height, width, 3] -> detection_boxes, "
                 "detection_scores, detection_classes, num_detections",
                 f"  model input {self.input_size}x{self.input_size}, {self.num_classes} classes, "
                 f"label map {self.out / LABEL_MAP_FILE}"]
        if self.note:
            lines.append(f"  from   {self.note}")
        if self.tflite is not None:
            lines.append(f"  tflite   {self.tflite} ({self.tflite.stat().st_size / 2**20:.1f} MiB)")
        return lines


def write_saved_model(detector: Detector, path: str | os.PathLike, input_shape=(None, None, None, 3)) -> None:
    """Save ``detector`` (model variables + its uint8 -> detections function) as a SavedModel
    whose ``serving_default`` signature takes ``images`` of ``input_shape``."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(detector.model)
    archive.add_endpoint("serving_default", detector.detect_graph,
                         input_signature=[tf.TensorSpec(input_shape, tf.uint8, name="images")])
    archive.write_out(os.fspath(path), verbose=False)


def export_saved_model(run_dir: str | os.PathLike, out: str | os.PathLike, *, tflite: bool = False,
                       overwrite: bool = False) -> ExportResult:
    """Export the trained model of ``run_dir`` to ``out``."""
    run_dir, out = Path(run_dir), Path(out)
    occupied = _check_out(out, overwrite)
    detector = Detector.from_run(run_dir, nms="tf")  # before removing anything
    return _write_export(detector, out, LabelMap.read(run_dir / LABEL_MAP_FILE), occupied, tflite,
                         {"source_run": os.fspath(run_dir.resolve())})


def export_init_from(folder: str | os.PathLike, out: str | os.PathLike, *, tflite: bool = False,
                     overwrite: bool = False, label_map_path: str | os.PathLike | None = None) -> ExportResult:
    """Export a TF2 or TF1 detection-zoo model folder (or a run folder) as it is, with no training:
    the whole checkpoint (feature extractor, box head, every class column) in our Keras 3 model,
    with the same SavedModel interface as a trained run. ``label_map_path`` names the classes
    (label-map id i = the model's class i) where the folder has no label map of its own."""
    from dataprep.train.config import TrainConfig
    from dataprep.train.build import build_model
    from dataprep.train.restore import complete_label_map, open_source, read_init_source, restore

    out = Path(out)
    occupied = _check_out(out, overwrite)
    source = read_init_source(folder)
    given = LabelMap.read(label_map_path) if label_map_path is not None else None
    label_map = complete_label_map(given or source.label_map, source.num_classes,
                                   os.fspath(label_map_path or folder))
    config = TrainConfig(model=source.model, input_size=source.input_size, alpha=source.alpha,
                         anchor_config=source.anchor_config, backbone_weights="none",
                         class_ids=tuple(i.id for i in label_map), class_names=tuple(i.name for i in label_map))
    model = build_model(config, weights=False)
    report = restore(model, open_source(source), "all", config.class_names, label_map, model_name=config.model)
    detector = Detector.from_config(config, model, nms="tf")
    result = _write_export(detector, out, label_map, occupied, tflite,
                           {"source_model": os.fspath(Path(folder).resolve()), "model": config.model,
                            "restored_variables": len(report.restored)})
    result.restored = len(report.restored)
    result.note = source.note
    return result


def _check_out(out: Path, overwrite: bool) -> bool:
    occupied = out.exists() and any(out.iterdir())
    if occupied and not overwrite:
        raise UsageError(f"{out} exists and is not empty; pass --overwrite or choose another --out")
    return occupied


def _write_export(detector: Detector, out: Path, label_map: LabelMap, occupied: bool, tflite: bool,
                  source: dict) -> ExportResult:
    if occupied:
        shutil.rmtree(out)
    write_saved_model(detector, out)
    label_map.write(out / LABEL_MAP_FILE)
    meta = {"input_size": detector.input_size, "class_ids": detector.class_ids, "class_names": detector.class_names,
            "outputs": ["detection_boxes", "detection_scores", "detection_classes", "num_detections"], **source}
    (out / EXPORT_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tflite_path = export_tflite(detector, out / TFLITE_FILE) if tflite else None
    return ExportResult(out, tflite_path, detector.input_size, len(detector.class_ids))


def export_tflite(detector: Detector, path: Path) -> Path:
    """A TFLite model of ``detector`` for one ``[1, S, S, 3]`` uint8 image.

    The NMS is the ``keras.ops`` one (:func:`dataprep.train.decoder.nms_ops`),
    which converts to TFLite builtin ops, so no Flex delegate is needed.
    """
    from dataprep.train.decoder import DetectionDecoder

    d = detector.decoder
    portable = Detector(detector.model, DetectionDecoder(d.anchors, d.class_ids, d.score_threshold,
                                                         d.iou_threshold, d.max_detections, nms="ops"),
                        detector.input_size, detector.class_ids, detector.class_names)
    size = detector.input_size
    with tempfile.TemporaryDirectory() as tmp:  # Keras' own route: ExportArchive -> SavedModel -> TFLite
        write_saved_model(portable, tmp, (1, size, size, 3))
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        path.write_bytes(converter.convert())
    return path
