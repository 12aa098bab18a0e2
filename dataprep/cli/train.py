"""``dataprep train``, ``dataprep evaluate``, ``dataprep export`` and ``dataprep predict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, List, Optional

import typer

Records = Annotated[Path, typer.Option("--records", help="Output folder of `dataprep convert` (manifest.json).")]
RunDir = Annotated[Path, typer.Argument(help="Run folder written by `dataprep train --out`.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _echo_lines(lines) -> None:
    for line in lines:
        typer.echo(line)


def train_cmd(
    records: Records,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, logs, config, final weights.")],
    input_size: Annotated[Optional[int], typer.Option(
        "--input-size", help="Square model input in pixels (default: the anchor file's, else 320, as stats "
                             "--anchors assumes).")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="MobileNetV2 width multiplier.")] = 1.0,
    backbone_weights: Annotated[str, typer.Option(
        "--backbone-weights", help="imagenet (downloaded by Keras), none (random), or a weights file.")] = "imagenet",
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs in all (default 20; with --resume: "
                                                  "the saved run's).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Global batch size.")] = 16,
    anchors: Annotated[Optional[Path], typer.Option(
        "--anchors", help="Anchors JSON from `dataprep stats --anchors --anchors-out`: its model, input size "
                          "and anchor settings.")] = None,
    anchor_config: Annotated[Optional[Path], typer.Option(
        "--anchor-config", help="TF OD API pipeline.config to take the ssd_anchor_generator from.")] = None,
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
    no_augment: Annotated[bool, typer.Option("--no-augment", help="No crop, flip or colour jitter.")] = False,
    mixed_precision: Annotated[str, typer.Option(
        "--mixed-precision", help="auto (on when a GPU is visible), on or off.")] = "auto",
    xla: Annotated[str, typer.Option("--xla", help="auto (on with one GPU), on or off.")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed for weights, shuffling and augmentation.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last epoch.")] = False,
    quiet: Quiet = False,
):
    """Train SSD MobileNetV2 (SSDLite) on the records; checkpoints every epoch, mAP at the end."""
    from dataprep.train.anchors import training_anchors
    from dataprep.train.config import TrainConfig

    anchor_settings, size, model = training_anchors(anchors, anchor_config, input_size)  # before TensorFlow loads
    from dataprep.train.trainer import train

    config = TrainConfig(
        model=model, input_size=size, alpha=alpha, backbone_weights=backbone_weights,
        anchor_config=anchor_settings.to_dict(),
        epochs=epochs or 20, batch_size=batch_size, optimizer=optimizer,
        learning_rate=learning_rate or (1e-3 if optimizer == "adam" else 0.02), warmup_epochs=warmup_epochs,
        steps_per_epoch=steps_per_epoch, hard_negative_ratio=hard_negative_ratio, train_split=train_split,
        eval_split=eval_split, eval_every=eval_every, augment=not no_augment, mixed_precision=mixed_precision,
        jit_compile=xla, seed=seed,
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
):
    """COCO mAP (mAP, mAP@0.5, per class) of a trained run on a split, with pycocotools."""
    from dataprep.train.evaluate import evaluate_model
    from dataprep.train.predict import Detector
    from dataprep.train.trainer import records_info

    records_info(records, split)  # a clear error before building the model
    result = evaluate_model(Detector.from_run(run_dir), records, split, batch_size)
    _echo_lines(result.summary_lines())
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")


def export_cmd(
    run_dir: RunDir,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the SavedModel.")],
    tflite: Annotated[bool, typer.Option("--tflite", help="Also write model.tflite.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
):
    """SavedModel (uint8 images of any size -> detection_boxes/scores/classes, num_detections) + label map."""
    from dataprep.train.export import export_saved_model

    _echo_lines(export_saved_model(run_dir, out, tflite=tflite, overwrite=overwrite).summary_lines())


def predict_cmd(
    images: Annotated[List[Path], typer.Argument(help="Image files.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Run folder or exported SavedModel folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNGs with the detections drawn.")],
    min_score: Annotated[float, typer.Option("--min-score", help="Draw detections of at least this score.")] = 0.3,
):
    """Detect objects in images and draw them to OUT/<name>.png."""
    from dataprep.train.predict import load_detector, predict_images

    for p in predict_images(load_detector(model), images, out, min_score):
        shown = int((p.scores >= min_score).sum())
        typer.echo(f"{p.image}: {shown} detection{'s' if shown != 1 else ''} >= {min_score} -> {p.output}")
