"""``dataprep train``, ``dataprep evaluate``, ``dataprep export`` and ``dataprep predict``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dataprep.errors import UsageError
from dataprep.cli import options as o

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
    model: o.ModelOpt = None,
    init_from: o.InitFromOpt = None,
    init_parts: Annotated[str, typer.Option(
        "--init-parts", help="With --init-from: feature-extractor (backbone + extra layers, as the TF OD API's "
        "'detection' fine-tuning) or all (also the box head and the rows of classes in both label maps).")
    ] = "feature-extractor",
    input_size: o.InputSizeOpt = None,
    alpha: Annotated[Optional[float], typer.Option(
        "--alpha", help="MobileNetV2 width multiplier (default: --init-from's; from random weights the "
        "recipe's, 0.35; else 1.0).")] = None,
    backbone_weights: Annotated[Optional[str], typer.Option(
        "--backbone-weights", help="imagenet (downloaded by Keras; the default without --init-from), none "
        "(random), or a weights file.")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs in all (default 20, or sized by "
                                                  "--time-budget; with --resume: the saved run's).")] = None,
    time_budget: Annotated[Optional[str], typer.Option(
        "--time-budget", help="How long you can wait, e.g. 30m, 90s, 2h: the epochs, the cosine schedule and the "
        "evaluations are sized to it from the measured speed of the first steps (instead of --epochs).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Global batch size (default: the "
                                                      "recipe's, 16).")] = None,
    anchors: Annotated[Optional[Path], typer.Option(
        "--anchors", help="Anchors JSON from `dataprep stats --anchors --anchors-out`: its model, input size "
                          "and anchor settings.", rich_help_panel=o.MODEL_PANEL)] = None,
    anchor_config: o.AnchorConfigOpt = None,
    optimizer: Annotated[Optional[str], typer.Option(
        "--optimizer", help="sgd (momentum 0.9) or adam (default: the recipe's, sgd; adam with its own rate, "
        "1e-3, when given without --learning-rate).")] = None,
    learning_rate: Annotated[Optional[float], typer.Option(
        "--learning-rate", "--lr", help="Peak learning rate (default: the recipe's).")] = None,
    weight_decay: Annotated[Optional[float], typer.Option(
        "--weight-decay", help="Decoupled weight decay (default: the recipe's, 0).")] = None,
    warmup_epochs: Annotated[Optional[float], typer.Option("--warmup-epochs", help="Linear warmup length "
                                                           "(default 1).")] = None,
    steps_per_epoch: Annotated[Optional[int], typer.Option(
        "--steps-per-epoch", help="Steps per epoch (default: one pass over the train split).")] = None,
    hard_negative_ratio: Annotated[Optional[float], typer.Option(
        "--hard-negative-ratio", help="Keep only the hardest negatives, this many per positive (SSD: 3).")] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to train on.")] = "train",
    eval_split: Annotated[str, typer.Option("--eval-split", help="Split for mAP (skipped if absent).")] = "val",
    eval_every: Annotated[Optional[int], typer.Option(
        "--eval-every", min=0, help="Epochs between val mAP evaluations (the best is kept in RUN/best/); 0: only "
        "at the end; default: about 8 in the run.")] = None,
    early_stop: Annotated[int, typer.Option(
        "--early-stop", min=0, help="Stop after this many evaluations without a better val mAP@0.5 (0: never).")
    ] = 0,
    precise_bn_images: Annotated[int, typer.Option(
        "--precise-bn-images", min=0, help="Recompute the batch-norm statistics from the final weights on up to "
        "this many train images before each evaluation and the final save (0: keep training's moving "
        "averages, which lag behind the weights in short runs).")] = 512,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="No crop, flip or colour jitter.")] = False,
    rotate: Annotated[bool, typer.Option(
        "--rotate", help="Also vertical flips and quarter turns: for images with no 'up' (microscopy, aerial, "
        "documents scanned any way round).")] = False,
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
    from dataprep.train.budget import parse_duration
    from dataprep.train.config import TrainConfig

    budget = parse_duration(time_budget) if time_budget is not None else None
    if budget is not None and epochs is not None:
        raise UsageError("give --epochs or --time-budget, not both")
    weights = backbone_weights or ("none" if init_from else "imagenet")
    recipe = _recipe(records, train_split, weights, init_from, rotate, time_budget if budget else None,
                     {"optimizer": optimizer, "learning_rate": learning_rate, "weight_decay": weight_decay,
                      "batch_size": batch_size, "warmup_epochs": warmup_epochs, "epochs": epochs, "alpha": alpha})
    # the width: given, else --init-from's (the recipe has none for a checkpoint start), else the recipe's
    settings = _model_settings(records, train_split, model, init_from, o.square_size(input_size),
                               recipe.settings.get("alpha"), anchors, anchor_config, quiet)
    from dataprep.train.trainer import train

    config = TrainConfig(
        model=settings.model, input_size=settings.input_size, alpha=settings.alpha, backbone_weights=weights,
        anchor_config=settings.anchor_config, init_from=None if init_from is None else str(init_from),
        init_parts=init_parts, steps_per_epoch=steps_per_epoch, hard_negative_ratio=hard_negative_ratio,
        train_split=train_split, eval_split=eval_split, eval_every=eval_every, early_stop=early_stop,
        time_budget=budget, augment=not no_augment, mixed_precision=mixed_precision, jit_compile=xla, seed=seed,
        precise_bn_images=precise_bn_images,
        **{k: v for k, v in recipe.settings.items()
           if k != "alpha" and not (k == "epochs" and not isinstance(v, int))},
    )
    if resume and epochs is None:
        config = config.replace(epochs=TrainConfig.load(out).epochs)
    result = train(config, records, out, resume=resume, progress=not quiet, recipe=recipe)
    typer.echo("")
    _echo_lines(result.summary_lines())


def _model_settings(records: Path, train_split: str, model, init_from, input_size, alpha, anchors, anchor_config,
                    quiet: bool):
    """--model (or auto), --init-from, --anchors (whose model, input size and anchors stats --anchors-out
    recorded), --input-size: settled before TensorFlow loads, and what was decided printed."""
    from dataprep.train.restore import model_settings

    if model == "auto":
        return _auto_model(records, train_split, alpha, input_size, init_from, anchors, anchor_config, quiet=quiet)
    settings = model_settings(model, init_from, input_size, alpha, anchors, anchor_config)
    _echo_lines(f"note: {note}" for note in settings.notes)
    _echo_lines(_coverage_check(records, train_split, settings))
    return settings


def _coverage_check(records: Path, train_split: str, settings) -> list[str]:
    """The classes the anchors about to be trained cover poorly (advisory: records
    train() cannot read are reported by train() itself)."""
    from dataprep.errors import DataprepError
    from dataprep.stats.advice import coverage_warnings

    try:
        return coverage_warnings(str(records), train_split, settings.model, settings.input_size,
                                 settings.anchor_config)
    except (DataprepError, OSError, ValueError):
        return []


def _recipe(records: Path, train_split: str, weights: str, init_from, rotate: bool, time_budget: str | None,
            given: dict):
    """The training recipe for how the run starts and the train split's size, the user's settings winning."""
    from dataprep.train.recipe import choose_recipe, start_of
    from dataprep.train.trainer import records_info

    try:
        train_images = records_info(records, train_split).examples(train_split)
    except UsageError:
        train_images = 0  # train() reports what is wrong with the records
    recipe = choose_recipe(start_of(weights, init_from), train_images, given, rotate=rotate)
    if time_budget is not None:
        recipe.settings["epochs"], recipe.reasons["epochs"] = "sized by --time-budget", time_budget
    return recipe


def evaluate_cmd(
    run_dir: Annotated[Path, typer.Argument(
        help="Run folder (`dataprep train --out`), export folder (SavedModel of `dataprep export`) or an "
        "exported model.tflite.")],
    records: Records,
    split: Annotated[str, typer.Option("--split", help="Split of the records to evaluate on.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per inference batch.")] = 8,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the figures to this file.")] = None,
    weights: Annotated[str, typer.Option(
        "--weights", help="best (RUN/best/: the run's best val mAP@0.5; the final weights when there is none), "
        "final, or a weights file.")] = "best",
    precise_bn_images: Annotated[int, typer.Option(
        "--precise-bn-images", min=0, help="First recompute the batch-norm statistics from the weights on up to "
        "this many images of the run's train split (for runs saved with training's moving averages: "
        "trained with --precise-bn-images 0, or before dataprep did it; the run folder is not changed).")] = 0,
    compare: Annotated[Optional[Path], typer.Option(
        "--compare", help="Another run, export folder or .tflite: evaluate it too and print a per-class delta "
        "table.")] = None,
    threads: Annotated[Optional[int], typer.Option(
        "--threads", min=1, help="CPU threads of a .tflite (LiteRT's default otherwise).")] = None,
):
    """COCO mAP (mAP, mAP@0.5, per class) of a trained run or an exported model on a split, with pycocotools;
    exported models also get their file size and latency per image."""
    records = _local_records(records)
    quiet_tensorflow()
    from dataprep.train.trainer import records_info

    label_map = records_info(records, split).label_map  # a clear error before building the model
    result, cost = _evaluate_one(run_dir, records, split, batch_size, precise_bn_images, threads, weights, label_map)
    _echo_lines(result.summary_lines())
    if cost is not None:
        typer.echo(cost.summary_line())
    figures = {**result.to_dict(), **({"model": cost.to_dict()} if cost is not None else {})}
    if compare is not None:
        from dataprep.train.evaluate import delta_lines

        other, other_cost = _evaluate_one(compare, records, split, batch_size, precise_bn_images, threads, weights,
                                          label_map)
        typer.echo("")
        _echo_lines(delta_lines(result, other, str(run_dir), str(compare)))
        if other_cost is not None:
            typer.echo(other_cost.summary_line())
        figures["compare"] = {**other.to_dict(), **({"model": other_cost.to_dict()} if other_cost else {})}
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def _evaluate_one(path: Path, records: Path, split: str, batch_size: int, precise_bn_images: int,
                  threads: Optional[int], weights: str, label_map):
    """(EvalResult, ModelCost or None) of a run folder, export folder or .tflite file on records
    whose label map is ``label_map``."""
    from dataprep.records.tfdata import named_record_errors
    from dataprep.train.config import CONFIG_FILE
    from dataprep.train.evaluate import check_label_maps, evaluate_exported, evaluate_model
    from dataprep.train.predict import Detector, load_detector

    exported = not (path / CONFIG_FILE).is_file()
    if exported and precise_bn_images:
        from dataprep.errors import UsageError

        raise UsageError(f"{path}: --precise-bn-images recomputes a run's statistics; an exported model's "
                         "are frozen in it")
    detector = load_detector(path, threads) if exported else Detector.from_run(path, weights)
    check_label_maps(detector.class_ids, detector.class_names, label_map,
                     str(path.parent if path.suffix == ".tflite" else path), records)
    if exported:
        with named_record_errors(records, split):
            return evaluate_exported(detector, path, records, split, threads)
    if precise_bn_images:
        from dataprep.train.config import TrainConfig
        from dataprep.train.precise_bn import recalibrate_on_records
        from dataprep.train.trainer import records_info

        train_split = TrainConfig.load(path).train_split
        records_info(records, train_split)
        used = recalibrate_on_records(detector.model, records, train_split, detector.input_size, batch_size,
                                      precise_bn_images)
        typer.echo(f"Batch-norm statistics recomputed on {used} {train_split} images (the run folder is unchanged)")
    with named_record_errors(records, split):
        return evaluate_model(detector, records, split, batch_size), None


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
    tflite: Annotated[bool, typer.Option("--tflite", help="Also write model.tflite (TFLite_Detection_PostProcess, "
                                         "metadata and labels for MediaPipe Tasks).")] = False,
    quantize: Annotated[str, typer.Option(
        "--quantize", help="With --tflite: none (float32), float16, dynamic (int8 weights) or int8 (full integer, "
        "uint8 input, calibrated on --records).")] = "none",
    records: Annotated[Optional[str], typer.Option(
        "--records", help="Records of the model (`dataprep convert` output): int8 calibration images from the "
        "train split; after quantising, float and quantised mAP@0.5 on --evaluate-split.")] = None,
    calibration_images: Annotated[int, typer.Option(
        "--calibration-images", min=1, help="Train images for the int8 calibration.")] = 300,
    evaluate_split: Annotated[str, typer.Option(
        "--evaluate-split", help="Split to compare the quantised file with the float one on; 'none' skips it.")
    ] = "val",
    max_detections: Annotated[int, typer.Option(
        "--max-detections", min=1, help="Detections of the TFLite post-processing op (TF OD API default).")] = 10,
    regular_nms: Annotated[bool, typer.Option(
        "--regular-nms", help="TFLite: per-class NMS instead of the op's fast class-agnostic NMS.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
):
    """SavedModel (uint8 images of any size -> detection_boxes/scores/classes, num_detections) + label map;
    --tflite adds model.tflite for phones and edge devices."""
    from dataprep.train.tflite import QUANTIZE_CHOICES

    if (run_dir is None) == (init_from is None):
        raise UsageError("give a run folder or --init-from DIR (one of them)")
    if label_map is not None and init_from is None:
        raise UsageError("--label-map goes with --init-from (a run folder has its own label map)")
    if quantize not in QUANTIZE_CHOICES:
        raise UsageError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
    if quantize != "none" and not tflite:
        raise UsageError("--quantize applies to the TFLite file: add --tflite")
    if quantize == "int8" and records is None:
        raise UsageError("--quantize int8 calibrates on the model's records: give --records")
    records_path = None if records is None else _local_records(records)
    quiet_tensorflow()
    from dataprep.train.export import TFLiteOptions, export_init_from, export_saved_model

    options = TFLiteOptions(quantize=quantize, records=records_path, calibration_images=calibration_images,
                            max_detections=max_detections, regular_nms=regular_nms,
                            evaluate_split=None if evaluate_split == "none" else evaluate_split)
    if init_from is not None:
        result = export_init_from(init_from, out, tflite=tflite, overwrite=overwrite, tflite_options=options,
                                  label_map_path=label_map)
    else:
        result = export_saved_model(run_dir, out, tflite=tflite, overwrite=overwrite, tflite_options=options)
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
