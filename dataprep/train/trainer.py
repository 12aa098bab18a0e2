"""The training loop: ``keras.Model.fit`` over the ``tf.data`` pipeline, with
checkpoints every epoch, ``--resume``, TensorBoard logs, a progress bar with
the losses and images/s, per-epoch history and a final COCO evaluation.

Run folder::

    RUN_DIR/config.json            TrainConfig (everything needed to rebuild the model)
    RUN_DIR/label_map.pbtxt        the records' label map
    RUN_DIR/model.weights.h5       final weights
    RUN_DIR/checkpoints/epoch-NNN.weights.h5   model weights after every epoch
    RUN_DIR/backup/                model + optimizer state for --resume (Keras BackupAndRestore)
    RUN_DIR/logs/                  TensorBoard
    RUN_DIR/history.csv            one row per epoch: losses, learning rate, images/s, mAP
    RUN_DIR/summary.json           final figures
    RUN_DIR/init_from.json         with --init-from: which variables came from the checkpoint
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import keras
import tensorflow as tf

from dataprep.errors import UsageError
from dataprep.label_map import LabelMap
from dataprep.records.tfdata import named_record_errors
from dataprep.train.anchor_generator import AnchorGenerator
from dataprep.train.build import build_model
from dataprep.train.config import CONFIG_FILE, HISTORY_FILE, LABEL_MAP_FILE, SUMMARY_FILE, WEIGHTS_FILE, TrainConfig
from dataprep.train.devices import setup_devices
from dataprep.train.encoder import LabelEncoder
from dataprep.train.evaluate import EvalResult, evaluate_model
from dataprep.train.optim import compile_model
from dataprep.train.pipeline import train_dataset
from dataprep.train.precise_bn import recalibrate_on_records
from dataprep.train.predict import Detector

HISTORY_COLUMNS = ("epoch", "loss", "box_loss", "class_loss", "learning_rate", "images_per_second", "seconds",
                   "mAP", "mAP50")


# ----------------------------------------------------------------- records
@dataclass
class RecordsInfo:
    path: Path
    manifest: dict
    label_map: LabelMap

    def examples(self, split: str) -> int:
        return int(self.manifest["splits"][split]["examples"])

    def boxes(self, split: str) -> int | None:
        """Boxes in ``split`` by the manifest's per-class counts (None when it has none)."""
        classes = self.manifest["splits"][split].get("classes")
        if not isinstance(classes, dict):
            return None
        return sum(int(c.get("boxes", 0)) for c in classes.values() if isinstance(c, dict))

    def has_split(self, split: str) -> bool:
        return split in self.manifest["splits"] and self.examples(split) > 0


def records_info(records: str | os.PathLike, split: str | None = None) -> RecordsInfo:
    """The manifest and label map of a ``dataprep convert`` output; a clear
    :class:`UsageError` when there is none or ``split`` is missing/empty."""
    path = Path(records)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"{path}: no manifest.json; --records must be the --out folder of `dataprep convert`")
    from dataprep.records.manifest import ManifestError, read_manifest

    try:
        manifest = read_manifest(path)  # untrusted: split and shard names are plain names
    except ManifestError as exc:
        raise UsageError(f"{manifest_path}: cannot read the manifest: {exc}") from None
    splits = manifest.get("splits") or {}
    if split is not None and (split not in splits or not splits[split].get("examples")):
        known = ", ".join(f"{k} ({v.get('examples', 0)} examples)" for k, v in splits.items()) or "none"
        raise UsageError(f"{path}: no examples in split {split!r} (splits: {known})")
    label_map = LabelMap.read(path / LABEL_MAP_FILE)
    return RecordsInfo(path, manifest, label_map)


# --------------------------------------------------------------- callbacks
class EpochReport(keras.callbacks.Callback):
    """Progress bar (loss, box/class loss, images/s), one log line per epoch,
    optional mAP evaluation, and ``history.csv``."""

    def __init__(self, epochs: int, steps: int, batch_size: int, history_path: Path, progress: bool = True,
                 log: Callable[[str], None] = print, evaluate: Callable[[], EvalResult] | None = None,
                 eval_every: int = 0):
        super().__init__()
        self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
        self.history_path = history_path
        self.progress = progress
        self.log = log
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.rows: list[dict] = []
        self.last_evaluation: EvalResult | None = None
        self.last_evaluation_epoch = 0
        self._bar = None
        self._start = 0.0
        self._first_step_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        self._first_step_end = None
        if self.progress:
            from tqdm import tqdm

            self._bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="step",
                             dynamic_ncols=True, leave=False)

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._first_step_end is None:
            self._first_step_end = now
        if self._bar is not None:
            logs = logs or {}
            elapsed = now - self._start
            self._bar.update(1)
            self._bar.set_postfix_str(
                f"loss {float(logs.get('loss', math.nan)):.3f} box {float(logs.get('boxes_loss', math.nan)):.3f} "
                f"cls {float(logs.get('classes_loss', math.nan)):.3f} "
                f"{(batch + 1) * self.batch_size / max(elapsed, 1e-9):.1f} img/s", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        seconds = time.perf_counter() - self._start
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        # Throughput without the first step of the epoch (which includes tracing in epoch 1).
        steady = time.perf_counter() - (self._first_step_end or self._start)
        rate = (self.steps - 1) * self.batch_size / steady if self.steps > 1 and steady > 0 else \
            self.steps * self.batch_size / max(seconds, 1e-9)
        lr = self.model.optimizer.learning_rate
        row = {"epoch": epoch + 1, "loss": float(logs.get("loss", math.nan)),
               "box_loss": float(logs.get("boxes_loss", math.nan)),
               "class_loss": float(logs.get("classes_loss", math.nan)),
               "learning_rate": float(lr), "images_per_second": rate,
               "seconds": seconds, "mAP": math.nan, "mAP50": math.nan}
        line = (f"epoch {epoch + 1}/{self.epochs}: loss {row['loss']:.4f} (box {row['box_loss']:.4f}, "
                f"class {row['class_loss']:.4f}), lr {row['learning_rate']:.5f}, {rate:.1f} images/s, {seconds:.0f} s")
        due = bool(self.eval_every) and (epoch + 1) % self.eval_every == 0
        if self.evaluate is not None and (due or epoch + 1 == self.epochs):
            result = self.last_evaluation = self.evaluate()
            self.last_evaluation_epoch = epoch + 1
            row["mAP"], row["mAP50"] = result.mAP, result.mAP50
            logs["mAP"], logs["mAP50"] = result.mAP, result.mAP50
            line += f", mAP {result.mAP:.3f}, mAP@0.5 {result.mAP50:.3f}"
        logs["images_per_second"] = rate
        self.rows.append(row)
        self._append(row)
        self.log(line)

    def _append(self, row: dict) -> None:
        new = not self.history_path.exists()
        with open(self.history_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _tensorboard(log_dir: Path, log: Callable[[str], None]) -> keras.callbacks.Callback | None:
    """TensorBoard logs when the ``tensorboard`` package (which ``tf.summary`` needs) is installed."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        log("TensorBoard logs off: install the tensorboard package to get them")
        return None
    return keras.callbacks.TensorBoard(log_dir=os.fspath(log_dir), write_graph=False)


# ------------------------------------------------------------------- train
@dataclass
class TrainResult:
    run_dir: Path
    config: TrainConfig
    history: list[dict]
    evaluation: EvalResult | None
    seconds: float
    device: str
    epochs_run: int
    steps_per_epoch: int
    extra: dict = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        rates = [r["images_per_second"] for r in self.history[1:] or self.history]
        return sum(rates) / len(rates) if rates else math.nan

    def summary_lines(self) -> list[str]:
        c = self.config
        last = self.history[-1] if self.history else {}
        lines = [
            f"Trained {self.run_dir}",
            f"  model    SSD MobileNetV2 alpha {c.alpha}, input {c.input_size}x{c.input_size}, "
            f"{c.num_classes} classes, backbone weights {c.backbone_weights}",
            f"  device   {self.device}",
            f"  epochs   {self.epochs_run} this run ({c.epochs} in all) x {self.steps_per_epoch} steps of "
            f"{c.batch_size} images, {c.optimizer} lr {c.learning_rate}",
            f"  loss     {last.get('loss', math.nan):.4f} (box {last.get('box_loss', math.nan):.4f}, "
            f"class {last.get('class_loss', math.nan):.4f}) in the last epoch",
            f"  speed    {self.images_per_second:.1f} images/s, {self.seconds:.0f} s in all",
        ]
        if self.evaluation is not None:
            lines += ["  eval     " + self.evaluation.summary_lines()[0]]
            lines += ["  " + line for line in self.evaluation.summary_lines()[1:]]
        lines.append(f"  weights  {self.run_dir / WEIGHTS_FILE}")
        return lines

    def to_dict(self) -> dict:
        return _finite({"run_dir": str(self.run_dir), "device": self.device, "seconds": self.seconds,
                        "epochs_run": self.epochs_run, "steps_per_epoch": self.steps_per_epoch,
                        "images_per_second": self.images_per_second, "history": self.history,
                        "evaluation": self.evaluation.to_dict() if self.evaluation else None, **self.extra})


def prepare_run(config: TrainConfig, info: RecordsInfo, run_dir: Path, resume: bool) -> TrainConfig:
    """The config of the run in ``run_dir``: a new one (refusing to overwrite a
    run) or, with ``resume``, the saved one with only ``epochs`` taken from
    ``config``."""
    ids = tuple(i.id for i in info.label_map)
    names = tuple(i.name for i in info.label_map)
    if resume:
        saved = TrainConfig.load(run_dir)
        if saved.class_ids != ids or saved.class_names != names:
            raise UsageError(f"{run_dir}: the run was trained on classes {list(saved.class_names)} but "
                             f"{info.path} has {list(names)}")
        return saved.replace(epochs=config.epochs)
    if (run_dir / CONFIG_FILE).exists():
        raise UsageError(f"{run_dir} already holds a training run; pass --resume to continue it, or choose "
                         "another --out")
    return config.replace(class_ids=ids, class_names=names)


def init_model(model: keras.Model, config: TrainConfig):
    """Restore ``config.init_parts`` of ``config.init_from`` into ``model``
    (:mod:`dataprep.train.restore`); returns the :class:`RestoreReport`."""
    from dataprep.train.restore import open_source, read_init_source, restore

    source = read_init_source(config.init_from)
    return restore(model, open_source(source), config.init_parts, config.class_names, source.label_map,
                   model_name=config.model)


def train(config: TrainConfig, records: str | os.PathLike, run_dir: str | os.PathLike, *, resume: bool = False,
          strategy: tf.distribute.Strategy | None = None, progress: bool = True,
          log: Callable[[str], None] = print, callbacks: Sequence[keras.callbacks.Callback] = (),
          evaluate_at_end: bool = True) -> TrainResult:
    """Train SSD MobileNetV2 on ``records`` (a ``dataprep convert`` output) into ``run_dir``."""
    start = time.perf_counter()
    records, run_dir = Path(records), Path(run_dir)
    info = records_info(records, config.train_split)
    if info.boxes(config.train_split) == 0:
        raise UsageError(f"{records}: the {config.train_split!r} split has {info.examples(config.train_split)} "
                         "images but 0 boxes: a model trained on it detects nothing. See report.json for why the "
                         "boxes were dropped (normalized coordinates converted without --normalized?)")
    config = prepare_run(config, info, run_dir, resume)
    anchors = AnchorGenerator(config.anchors, config.input_size)  # validates the anchor settings first

    devices = setup_devices(config.mixed_precision, config.jit_compile, strategy)
    if config.batch_size % devices.replicas:
        raise UsageError(f"--batch-size {config.batch_size} must be a multiple of the {devices.replicas} replicas")
    log(devices.description)

    encoder = LabelEncoder(anchors.anchors(), config.class_ids, config.match_threshold)
    dataset = train_dataset(
        records, config.train_split, encoder, config.input_size, config.batch_size,
        augment_images=config.augment, crop=config.random_crop, flip=config.random_flip,
        jitter=config.photometric, shuffle_buffer=config.shuffle_buffer, seed=config.seed,
    )
    num_train = info.examples(config.train_split)
    steps = config.steps_per_epoch or max(1, num_train // config.batch_size)
    log(f"Data: {num_train} {config.train_split} images, {steps} steps of {config.batch_size} per epoch, "
        f"{anchors.num_anchors} anchors at {config.input_size}x{config.input_size}, "
        f"{config.num_classes} classes")

    with devices.strategy.scope():
        keras.utils.set_random_seed(config.seed)
        model = build_model(config)  # first, so that a weights download failure leaves no run behind
        init_report = init_model(model, config) if config.init_from and not resume else None
        compile_model(model, config, steps, devices.jit_compile)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    config.save(run_dir)
    if init_report is not None:
        init_report.write(run_dir)
        log(init_report.summary())
    info.label_map.write(run_dir / LABEL_MAP_FILE)

    has_eval = info.has_split(config.eval_split)
    if not has_eval and evaluate_at_end:
        log(f"No {config.eval_split!r} split in {records}: no mAP evaluation (choose one with --eval-split)")

    detector = Detector.from_config(config, model)

    def precise_bn() -> int:
        """Batch-norm statistics of the current weights (see dataprep.train.precise_bn); images used."""
        if not config.precise_bn_images:
            return 0
        return recalibrate_on_records(model, records, config.train_split, config.input_size, config.batch_size,
                                      min(config.precise_bn_images, num_train))

    def run_eval() -> EvalResult:
        precise_bn()
        return evaluate_model(detector, records, config.eval_split, batch_size=max(1, config.batch_size))

    report = EpochReport(config.epochs, steps, config.batch_size, run_dir / HISTORY_FILE, progress, log,
                         run_eval if has_eval and evaluate_at_end else None, config.eval_every)
    cbs = [
        report,  # first, so that its timing does not include the checkpoints
        keras.callbacks.BackupAndRestore(os.fspath(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.fspath(run_dir / "checkpoints" / "epoch-{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        *[cb for cb in (_tensorboard(run_dir / "logs", log),) if cb is not None],
        *callbacks,
    ]
    with named_record_errors(records):
        model.fit(dataset, epochs=config.epochs, steps_per_epoch=steps, callbacks=cbs, verbose=0,
                  shuffle=False)
    evaluation = report.last_evaluation
    last_epoch = report.rows[-1]["epoch"] if report.rows else 0
    if config.precise_bn_images and not (evaluation is not None and report.last_evaluation_epoch == last_epoch):
        used = precise_bn()  # (an evaluation after the last epoch has just done it)
        log(f"Batch-norm statistics recomputed from the final weights on {used} {config.train_split} images")
    model.save_weights(os.fspath(run_dir / WEIGHTS_FILE))

    if evaluate_at_end and has_eval and (evaluation is None or report.last_evaluation_epoch != last_epoch):
        with named_record_errors(records):
            evaluation = run_eval()  # stopped early by a callback, or --resume of a finished run
        if report.rows:
            report.rows[-1]["mAP"], report.rows[-1]["mAP50"] = evaluation.mAP, evaluation.mAP50
    result = TrainResult(run_dir, config, report.rows, evaluation, time.perf_counter() - start, devices.description,
                         len(report.rows), steps)
    (run_dir / SUMMARY_FILE).write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result


def _finite(value):
    """NaN -> None, recursively (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
