"""``dataprep export``: a SavedModel with the TF OD API's serving interface, and a TFLite file.

The ``serving_default`` signature takes ``images``: uint8 ``[batch, height,
width, 3]`` of any size, resizes inside, and returns ``detection_boxes``
(normalized ymin, xmin, ymax, xmax), ``detection_scores``,
``detection_classes`` (label-map ids, float32) and ``num_detections``.
``label_map.pbtxt`` and ``dataprep_export.json`` (input size, classes) are
written beside it. The model is a trained run's, or (``--init-from``) a TF2
detection-zoo model taken as it is.

``tflite`` adds ``model.tflite`` for phones and edge devices
(:mod:`dataprep.train.tflite`): one ``[1, S, S, 3]`` image, post-processing by
``TFLite_Detection_PostProcess``, outputs boxes, classes, scores, count, and
metadata with ``labels.txt`` so MediaPipe Tasks loads it as it is; float32,
float16, dynamic or full-integer int8 calibrated on the run's train images.
After quantising, the float and the quantised files are evaluated on the val
split and a drop of more than 0.03 mAP@0.5 is a warning.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
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
    quantize: str = "none"
    comparison: list[str] = field(default_factory=list)  # float vs quantised mAP@0.5 lines
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
            kind = "float32" if self.quantize == "none" else self.quantize
            lines.append(f"  tflite   {self.tflite} ({kind}, {self.tflite.stat().st_size / 2**20:.2f} MiB; "
                         "TFLite_Detection_PostProcess, metadata + labels.txt for MediaPipe)")
        return lines + self.comparison


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
                       overwrite: bool = False, tflite_options: "TFLiteOptions | None" = None) -> ExportResult:
    """Export the trained model of ``run_dir`` to ``out``."""
    from dataprep.train.config import TrainConfig

    run_dir, out = Path(run_dir), Path(out)
    _check_out(out, overwrite)
    detector = Detector.from_run(run_dir, nms="tf")
    options = tflite_options or TFLiteOptions()
    options = replace(options, calibration_split=TrainConfig.load(run_dir).train_split)
    return _write_export(detector, out, LabelMap.read(run_dir / LABEL_MAP_FILE), tflite,
                         {"source_run": os.fspath(run_dir.resolve())}, options)


def export_init_from(folder: str | os.PathLike, out: str | os.PathLike, *, tflite: bool = False,
                     overwrite: bool = False, tflite_options: "TFLiteOptions | None" = None,
                     label_map_path: str | os.PathLike | None = None) -> ExportResult:
    """Export a TF2 or TF1 detection-zoo model folder (or a run folder) as it is, with no training:
    the whole checkpoint (feature extractor, box head, every class column) in our Keras 3 model,
    with the same SavedModel interface as a trained run. ``label_map_path`` names the classes
    (label-map id i = the model's class i) where the folder has no label map of its own."""
    from dataprep.train.config import TrainConfig
    from dataprep.train.build import build_model
    from dataprep.train.restore import complete_label_map, open_source, read_init_source, restore

    out = Path(out)
    _check_out(out, overwrite)
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
    result = _write_export(detector, out, label_map, tflite,
                           {"source_model": os.fspath(Path(folder).resolve()), "model": config.model,
                            "restored_variables": len(report.restored)}, tflite_options or TFLiteOptions())
    result.restored = len(report.restored)
    result.note = source.note
    return result


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"{out} exists and is not empty; pass --overwrite or choose another --out")


def _write_export(detector: Detector, out: Path, label_map: LabelMap, tflite: bool, source: dict,
                  options: "TFLiteOptions") -> ExportResult:
    """Write every file into a hidden staging folder beside ``out`` and rename it to ``out`` last,
    so a failed or interrupted export leaves neither a half folder nor (with --overwrite) a
    destroyed previous export; the staging folder is removed on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        result = _write_files(detector, staging, label_map, tflite, source, options)
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.out = out
    result.tflite = out / TFLITE_FILE if result.tflite is not None else None
    return result


def _write_files(detector: Detector, out: Path, label_map: LabelMap, tflite: bool, source: dict,
                 options: "TFLiteOptions") -> ExportResult:
    write_saved_model(detector, out)
    label_map.write(out / LABEL_MAP_FILE)
    meta = {"input_size": detector.input_size, "class_ids": detector.class_ids, "class_names": detector.class_names,
            "outputs": ["detection_boxes", "detection_scores", "detection_classes", "num_detections"], **source}
    (out / EXPORT_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if not tflite:
        return ExportResult(out, None, detector.input_size, len(detector.class_ids))
    tflite_path = export_tflite(detector, out / TFLITE_FILE, options)
    result = ExportResult(out, tflite_path, detector.input_size, len(detector.class_ids), quantize=options.quantize)
    if options.quantize != "none" and options.records is not None and options.evaluate_split:
        result.comparison = compare_with_float(detector, tflite_path, options)
    return result


def _publish(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an existing ``out`` (empty, or replaced with --overwrite) is
    renamed aside first and removed only once the new folder is in place."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        old.rmdir()
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class TFLiteOptions:
    """What ``--tflite`` writes: quantisation, the calibration images for int8
    and the post-processing op's settings (None: the model's / TF OD API defaults)."""

    quantize: str = "none"
    records: Path | None = None  # calibration (train split) and the post-quantisation evaluation (val)
    calibration_images: int = 300
    calibration_split: str = "train"
    max_detections: int | None = None
    regular_nms: bool | None = None
    score_threshold: float | None = None
    iou_threshold: float | None = None
    evaluate_split: str | None = "val"  # after quantising: float vs quantised mAP@0.5 here (None: skip)


def export_tflite(detector: Detector, path: Path, options: TFLiteOptions = TFLiteOptions()) -> Path:
    """``model.tflite`` of ``detector`` for one ``[1, S, S, 3]`` image (see :mod:`dataprep.train.tflite`)."""
    from dataprep.train.tflite import PostProcessSettings, convert_tflite

    settings = PostProcessSettings.of(detector, max_detections=options.max_detections,
                                      use_regular_nms=options.regular_nms, score_threshold=options.score_threshold,
                                      iou_threshold=options.iou_threshold)
    calibration = None
    if options.quantize == "int8" and options.records is not None:
        calibration = lambda: calibration_images(options.records, options.calibration_split,  # noqa: E731
                                                 detector.input_size, options.calibration_images)
    return convert_tflite(detector, path, settings, quantize=options.quantize, calibration=calibration)


def calibration_images(records: str | os.PathLike, split: str, input_size: int, count: int):
    """Up to ``count`` images ``[1, S, S, 3]`` float32 of ``split``, decoded and resized
    exactly as evaluation and inference feed the model (:func:`dataprep.train.input_pipeline.eval_dataset`)."""
    from dataprep.train.input_pipeline import eval_dataset

    for batch in eval_dataset(records, split, input_size, batch_size=1).take(count):
        yield batch["image"].numpy()


#: A quantised file that loses more mAP@0.5 than this is reported with a warning.
MAX_QUANTIZATION_DROP = 0.03


def compare_with_float(detector: Detector, quantized: Path, options: TFLiteOptions) -> list[str]:
    """mAP@0.5 of the float TFLite and of ``quantized`` on ``options.evaluate_split``; a warning
    naming the class that lost most when the drop exceeds :data:`MAX_QUANTIZATION_DROP`."""
    from dataprep.train.evaluate import check_label_maps, evaluate_model
    from dataprep.train.litert import TFLiteDetector
    from dataprep.train.trainer import records_info

    split = options.evaluate_split
    info = records_info(options.records)
    if not info.has_split(split):
        return [f"  no {split!r} split in {options.records}: the quantised file is not evaluated"]
    try:
        check_label_maps(detector.class_ids, detector.class_names, info.label_map, "OUT", options.records)
    except UsageError as exc:  # the calibration only needs pixels; the comparison needs the same ids
        return [f"  the quantised file is not evaluated: {exc}"]
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / TFLITE_FILE
        shutil.copy(quantized.parent / EXPORT_META_FILE, Path(tmp) / EXPORT_META_FILE)
        export_tflite(detector, float_path, replace(options, quantize="none"))
        base = evaluate_model(TFLiteDetector(float_path), options.records, split, batch_size=1)
    quant = evaluate_model(TFLiteDetector(quantized), options.records, split, batch_size=1)
    drop = base.mAP50 - quant.mAP50
    lines = [f"  mAP@0.5 on {split} ({quant.images} images): float32 {base.mAP50:.3f}, "
             f"{options.quantize} {quant.mAP50:.3f} ({-drop:+.3f})"]
    if drop > MAX_QUANTIZATION_DROP:
        losses = {n: base.per_class50[n] - quant.per_class50.get(n, 0.0) for n in base.per_class50
                  if base.per_class50[n] == base.per_class50[n]}
        worst = max(losses, key=losses.get) if losses else "?"
        lines.append(f"  WARNING: {options.quantize} loses {drop:.3f} mAP@0.5 (more than {MAX_QUANTIZATION_DROP}); "
                     f"class {worst!r} lost most ({losses.get(worst, float('nan')):.3f}); try more "
                     "--calibration-images or --quantize float16")
    return lines
