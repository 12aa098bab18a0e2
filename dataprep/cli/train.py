"""``dataprep train``, ``dataprep evaluate``, ``dataprep export`` and ``dataprep predict``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dataprep.models.registry import DEFAULT_MODEL, model_names

Records = Annotated[str, typer.Option("--records", help="Output folder of `dataprep convert` (manifest.json).")]
RunDir = Annotated[Path, typer.Argument(help="Run folder written by `dataprep train --out`.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]



def _local_records(value: str) -> Path:
    from dataprep.cli.options import local_path

    return local_path(value, "--records")


def quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up notices (oneDNN, "Could not
    find cuda drivers", "failed call to cuInit: CUDA error" on a CPU machine),
    which users read as failures; ``--debug`` shows them. Must run before
    TensorFlow is first imported: the notices are written straight to the
    process's stderr by the C++ runtime while it loads."""
    from dataprep.cli import debug_enabled

    if debug_enabled() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # later C++ notices (cuInit) go through this
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _echo_lines(lines) -> None:
    for line in lines:
        typer.echo(line)


def _auto_model(records: Path, split: str, alpha: float | None, *given_with_auto, quiet: bool = False):
    """``--model auto``: the pick of :func:`dataprep.stats.advice.advise_records`, and why."""
    from dataprep.errors import UsageError
    from dataprep.stats.advice import advise_records
    from dataprep.train.restore import ModelSettings

    if any(v is not None for v in given_with_auto):
        raise UsageError("--model auto chooses the model, input size and anchors: drop --input-size, --init-from, "
                         "--anchors and --anchor-config, or name a model")
    advice = advise_records(str(records), split, progress=not quiet)
    pick = advice.pick
    typer.echo(f"--model auto: {pick.model} at {pick.size_text()} with "
               f"{'suggested' if advice.pick_anchors() == pick.suggestion.config else 'default'} anchors: "
               f"{advice.reason()}")
    return ModelSettings(pick.model, int(pick.input_size[0]), 1.0 if alpha is None else float(alpha),
                         advice.pick_anchors().to_dict())


def train_cmd(
    records: Records,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, logs, config, final weights.")],
    model: Annotated[Optional[str], typer.Option(
        "--model", help=f"{model_names(', ')} (default {DEFAULT_MODEL}), or auto: the model, input size and "
        "anchors `stats --anchors --suggest` advises for the train split (default with --init-from: the "
        "folder's; with --anchors or --anchor-config: the file's).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", help="Start from a TF2 detection-zoo model folder (pipeline.config + checkpoint/) or a "
        "dataprep run folder: model, input size and anchors come from it.")] = None,
    init_parts: Annotated[str, typer.Option(
        "--init-parts", help="With --init-from: feature-extractor (backbone + extra layers, as the TF OD API's "
        "'detection' fine-tuning) or all (also the box head and the rows of classes in both label maps).")
    ] = "feature-extractor",
    input_size: Annotated[Optional[int], typer.Option(
        "--input-size", help="Square model input in pixels (default: the anchor file's, else the model's: "
                             "320 for the default model, as stats --anchors assumes).")] = None,
    alpha: Annotated[Optional[float], typer.Option(
        "--alpha", help="MobileNetV2 width multiplier (default 1.0, or --init-from's).")] = None,
    backbone_weights: Annotated[Optional[str], typer.Option(
        "--backbone-weights", help="imagenet (downloaded by Keras; the default without --init-from), none "
        "(random), or a weights file.")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs in all (default 20; with --resume: "
                                                  "the saved run's).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Global batch size.")] = 16,
    anchors: Annotated[Optional[Path], typer.Option(
        "--anchors", help="Anchors JSON from `dataprep stats --anchors --anchors-out`: its model, input size "
                          "and anchor settings.")] = None,
    anchor_config: Annotated[Optional[Path], typer.Option(
        "--anchor-config", help="TF OD API pipeline.config: its anchor_generator, input size and model (as "
                                "stats --anchor-config reads it).")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="sgd (momentum 0.9) or adam.")] = "sgd",
    learning_rate: Annotated[Optional[float], typer.Option(
        "--learning-rate", "--lr", help="Peak learning rate (default 0.02 for sgd, 0.001 for adam).")] = None,
    warmup_epochs: Annotated[float, typer.Option("--warmup-epochs", help="Linear warmup length.")] = 1.0,
    steps_per_epoch: Annotated[Optional[int], typer.Option(
        "--steps-per-epoch", help="Steps per epoch (default: one pass over the train split).")] = None,
    hard_negative_ratio: Annotated[Optional[float], typer.Option(
        "--hard-negative-ratio", help="Keep only the hardest negatives, this many per positive (SSD: 3).")] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to train on.")] = "train",
    eval_split: Annotated[str, typer.Option("--eval-split", help="Split for mAP (skipped if absent).")] = "val",
    eval_every: Annotated[int, typer.Option("--eval-every", help="Epochs between mAP evaluations; 0: at the end.")] = 0,
    precise_bn_images: Annotated[int, typer.Option(
        "--precise-bn-images", min=0, help="Recompute the batch-norm statistics from the final weights on up to "
        "this many train images before each evaluation and the final save (0: keep training's moving "
        "averages, which lag behind the weights in short runs).")] = 512,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="No crop, flip or colour jitter.")] = False,
    mixed_precision: Annotated[str, typer.Option(
        "--mixed-precision", help="auto (on when a GPU is visible), on or off.")] = "auto",
    xla: Annotated[str, typer.Option("--xla", help="auto (on with one GPU), on or off.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed for weights, shuffling and augmentation.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last epoch.")] = False,
    quiet: Quiet = False,
):
    """Train an SSD MobileNetV2 detector on the records; checkpoints every epoch, mAP at the end."""
    records = _local_records(records)
    quiet_tensorflow()
    from dataprep.train.config import TrainConfig
    from dataprep.train.restore import model_settings

    # --model, --init-from, --anchors (whose model, input size and anchors stats
    # --anchors-out recorded), --input-size; settled before TensorFlow loads
    if model == "auto":
        settings = _auto_model(records, train_split, alpha, input_size, init_from, anchors, anchor_config,
                               quiet=quiet)
    else:
        settings = model_settings(model, init_from, input_size, alpha, anchors, anchor_config)
        _echo_lines(f"note: {note}" for note in settings.notes)
    from dataprep.train.trainer import train

    config = TrainConfig(
        model=settings.model, input_size=settings.input_size, alpha=settings.alpha,
        backbone_weights=backbone_weights or ("none" if init_from else "imagenet"),
        anchor_config=settings.anchor_config, init_from=None if init_from is None else str(init_from),
        init_parts=init_parts,
        epochs=epochs or 20, batch_size=batch_size, optimizer=optimizer,
        learning_rate=learning_rate or (1e-3 if optimizer == "adam" else 0.02), warmup_epochs=warmup_epochs,
        steps_per_epoch=steps_per_epoch, hard_negative_ratio=hard_negative_ratio, train_split=train_split,
        eval_split=eval_split, eval_every=eval_every, augment=not no_augment, mixed_precision=mixed_precision,
        jit_compile=xla, seed=seed, precise_bn_images=precise_bn_images,
    )
    if resume and epochs is None:
        config = config.replace(epochs=TrainConfig.load(out).epochs)
    result = train(config, records, out, resume=resume, progress=not quiet)
    typer.echo("")
    _echo_lines(result.summary_lines())


def evaluate_cmd(
    run_dir: RunDir,
    records: Records,
    split: Annotated[str, typer.Option("--split", help="Split of the records to evaluate on.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per inference batch.")] = 8,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the figures to this file.")] = None,
    precise_bn_images: Annotated[int, typer.Option(
        "--precise-bn-images", min=0, help="First recompute the batch-norm statistics from the weights on up to "
        "this many images of the run's train split (for runs saved with training's moving averages: "
        "trained with --precise-bn-images 0, or before dataprep did it; the run folder is not changed).")] = 0,
):
    """COCO mAP (mAP, mAP@0.5, per class) of a trained run on a split, with pycocotools."""
    records = _local_records(records)
    quiet_tensorflow()
    from dataprep.train.evaluate import evaluate_model
    from dataprep.train.predict import Detector
    from dataprep.train.trainer import records_info

    records_info(records, split)  # a clear error before building the model
    from dataprep.records.tfdata import named_record_errors

    detector = Detector.from_run(run_dir)
    if precise_bn_images:
        from dataprep.train.config import TrainConfig
        from dataprep.train.precise_bn import recalibrate_on_records

        train_split = TrainConfig.load(run_dir).train_split
        records_info(records, train_split)
        used = recalibrate_on_records(detector.model, records, train_split, detector.input_size, batch_size,
                                      precise_bn_images)
        typer.echo(f"Batch-norm statistics recomputed on {used} {train_split} images (the run folder is unchanged)")
    with named_record_errors(records, split):
        result = evaluate_model(detector, records, split, batch_size)
    _echo_lines(result.summary_lines())
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")


def export_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the SavedModel.")],
    run_dir: Annotated[Optional[Path], typer.Argument(help="Run folder written by `dataprep train --out`.")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", help="Instead of a run: a TF2 detection-zoo model folder (pipeline.config + checkpoint/) "
        "or a TF1 one (pipeline.config + model.ckpt[-N] or frozen_inference_graph.pb), exported as it is, with "
        "no training.")] = None,
    label_map: Annotated[Optional[Path], typer.Option(
        "--label-map", help="With --init-from: the model's class names (label-map id i = the model's class i), "
        "where the folder has none of its own.")] = None,
    tflite: Annotated[bool, typer.Option("--tflite", help="Also write model.tflite.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
):
    """SavedModel (uint8 images of any size -> detection_boxes/scores/classes, num_detections) + label map."""
    quiet_tensorflow()
    from dataprep.errors import UsageError
    from dataprep.train.export import export_init_from, export_saved_model

    if (run_dir is None) == (init_from is None):
        raise UsageError("give a run folder or --init-from DIR (one of them)")
    if label_map is not None and init_from is None:
        raise UsageError("--label-map goes with --init-from (a run folder has its own label map)")
    if init_from is not None:
        result = export_init_from(init_from, out, tflite=tflite, overwrite=overwrite, label_map_path=label_map)
    else:
        result = export_saved_model(run_dir, out, tflite=tflite, overwrite=overwrite)
    _echo_lines(result.summary_lines())


def predict_cmd(
    images: Annotated[List[Path], typer.Argument(help="Image files.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Run folder or exported SavedModel folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNGs with the detections drawn.")],
    min_score: Annotated[float, typer.Option("--min-score", help="Draw detections of at least this score.")] = 0.3,
):
    """Detect objects in images and draw them to OUT/<name>.png."""
    quiet_tensorflow()
    from dataprep.train.predict import load_detector, predict_images

    for p in predict_images(load_detector(model), images, out, min_score):
        shown = int((p.scores >= min_score).sum())
        typer.echo(f"{p.image}: {shown} detection{'s' if shown != 1 else ''} >= {min_score} -> {p.output}")
