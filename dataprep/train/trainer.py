"""The training loop: ``keras.Model.fit`` over the ``tf.data`` pipeline, with
checkpoints every epoch, ``--resume``, TensorBoard logs, a progress bar with
the losses, images/s and val mAP@0.5, per-epoch history, evaluations during
the run with the best kept, ``--early-stop``, learning curves and
``--time-budget`` (:mod:`dataprep.train.budget`).

Run folder (written as :mod:`dataprep.train.run_folder` says: locked,
partial names, summary.json last)::

    RUN_DIR/config.json            TrainConfig (everything needed to rebuild the model)
    RUN_DIR/recipe.json            the recipe chosen for the options not given (dataprep.train.recipe)
    RUN_DIR/label_map.pbtxt        the records' label map
    RUN_DIR/model.weights.h5       final weights
    RUN_DIR/best/                  model.weights.h5 + evaluation.json of the best val mAP@0.5
    RUN_DIR/checkpoints/epoch-NNN.weights.h5   model weights after every epoch
    RUN_DIR/backup/                model + optimizer state for --resume (Keras BackupAndRestore)
    RUN_DIR/logs/                  TensorBoard
    RUN_DIR/history.csv            one row per epoch: losses, learning rate, images/s, mAP
    RUN_DIR/curves.png             loss and per-class val AP@0.5 over the epochs (dataprep.train.curves)
    RUN_DIR/summary.json           final figures, the best evaluation, the time budget's plan
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
from dataprep.train.config import (CONFIG_FILE, CURVES_FILE, HISTORY_FILE, LABEL_MAP_FILE, SUMMARY_FILE, WEIGHTS_FILE,
                                   TrainConfig)
from dataprep.train.devices import setup_devices
from dataprep.train.encoder import LabelEncoder
from dataprep.train.evaluate import EvalResult, evaluate_model
from dataprep.train.optim import compile_model
from dataprep.train.input_pipeline import train_dataset
from dataprep.train.precise_bn import recalibrate_on_records
from dataprep.train.predict import Detector
from dataprep.train.recipe import RECIPE_FILE, Recipe
from dataprep.train.run_folder import BEST_DIR, RunFolder

#: With --time-budget, ``fit`` runs until the budget's plan stops it.
MAX_BUDGET_EPOCHS = 100_000
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
class BestKeeper:
    """After every evaluation: ``best/`` when val mAP@0.5 beats the best so far
    (the weights as evaluated, precise-BN statistics included), ``--early-stop``
    after ``patience`` evaluations without gain, and ``curves.png``."""

    def __init__(self, folder: RunFolder, patience: int = 0, log: Callable[[str], None] = print, title: str = ""):
        self.folder, self.patience, self.log, self.title = folder, patience, log, title
        self.evaluations: list[dict] = []
        self.best: dict | None = None
        self.since_best = 0

    def update(self, model, epoch: int, result: EvalResult) -> bool:
        """Record the evaluation after ``epoch``; True when the run should stop early."""
        doc = {"epoch": epoch, **result.to_dict()}
        self.evaluations.append(doc)
        score = result.mAP50 if result.mAP50 == result.mAP50 else -1.0
        if self.best is None or score > (self.best["mAP50"] if self.best["mAP50"] is not None else -1.0):
            self.best, self.since_best = doc, 0
            self.folder.publish_best(model, json.dumps(_finite(doc), indent=2) + "\n")
            return False
        self.since_best += 1
        if self.patience and self.since_best >= self.patience:
            self.log(f"Early stop: {self.since_best} evaluations without a better val mAP@0.5 than "
                     f"{self.best['mAP50']:.3f} (epoch {self.best['epoch']}); its weights are in "
                     f"{self.folder.path / BEST_DIR}")
            return True
        return False

    def draw(self, rows: list[dict]) -> None:
        from dataprep.train.curves import draw_curves

        self.folder.write_png(CURVES_FILE, lambda path: draw_curves(rows, self.evaluations, path, self.title))

    def to_dict(self) -> dict | None:
        if self.best is None:
            return None
        return {"epoch": self.best["epoch"], "mAP50": self.best["mAP50"], "mAP": self.best["mAP"],
                "weights": os.fspath(self.folder.path / BEST_DIR / WEIGHTS_FILE)}


class EpochCheckpoint(keras.callbacks.Callback):
    """``checkpoints/epoch-NNN.weights.h5`` after every epoch, written whole or not at all."""

    def __init__(self, folder: RunFolder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        self.folder.save_weights(self.model, f"checkpoints/epoch-{epoch + 1:03d}.weights.h5")


class EpochReport(keras.callbacks.Callback):
    """Progress bar (loss, box/class loss, images/s, val mAP@0.5), one log line
    per epoch, mAP evaluations every ``eval_every`` epochs and after the last,
    ``history.csv``; each evaluation goes to ``keeper`` (best/, early stop, curves)."""

    def __init__(self, epochs: int, steps: int, batch_size: int, history_path: Path, progress: bool = True,
                 log: Callable[[str], None] = print, evaluate: Callable[[], EvalResult] | None = None,
                 eval_every: int = 0, keeper: BestKeeper | None = None):
        super().__init__()
        self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
        self.history_path = history_path
        self.progress = progress
        self.log = log
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.keeper = keeper
        self.rows: list[dict] = []
        self.last_evaluation: EvalResult | None = None
        self.last_evaluation_epoch = 0
        self.stopped_early = False
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
                f"{(batch + 1) * self.batch_size / max(elapsed, 1e-9):.1f} img/s{self._val_text()}", refresh=False)

    def _val_text(self) -> str:
        if self.last_evaluation is None:
            return ""
        best = self.keeper.best if self.keeper is not None else None
        text = f", val mAP@0.5 {self.last_evaluation.mAP50:.3f}"
        return text + (f" (best {best['mAP50']:.3f} @{best['epoch']})" if best and best["mAP50"] is not None else "")

    def due(self, epoch: int) -> bool:
        """Whether the evaluation runs after ``epoch`` (0-based)."""
        return self.evaluate is not None and (
            (bool(self.eval_every) and (epoch + 1) % self.eval_every == 0) or epoch + 1 == self.epochs)

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
        self.rows.append(row)
        if self.due(epoch):
            line += self.evaluated(epoch + 1, self.evaluate(), logs)
        logs["images_per_second"] = rate
        self._append(row)
        self.log(line)

    def evaluated(self, epoch: int, result: EvalResult, logs: dict | None = None) -> str:
        """Take the evaluation after ``epoch`` (1-based; also the one after training): row, logs
        (TensorBoard), best/, early stop, curves; returns the text for the epoch line."""
        self.last_evaluation, self.last_evaluation_epoch = result, epoch
        row = self.rows[-1]
        row["mAP"], row["mAP50"] = result.mAP, result.mAP50
        if logs is not None:
            logs["mAP"], logs["mAP50"] = result.mAP, result.mAP50
            logs.update({f"AP50/{name}": ap for name, ap in result.per_class50.items()})
        text = f", val mAP {result.mAP:.3f}, mAP@0.5 {result.mAP50:.3f}"
        if self.keeper is None:
            return text
        stop = self.keeper.update(self.model, epoch, result)
        if stop and self.model is not None:
            self.model.stop_training = self.stopped_early = True
        self.keeper.draw(self.rows)
        best = self.keeper.best
        return text + (" (best)" if best is not None and best["epoch"] == epoch else
                       f" (best {best['mAP50']:.3f} after epoch {best['epoch']})" if best else "")

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
        best = self.extra.get("best")
        if best and best["mAP50"] is not None:
            lines.append(f"  best     val mAP@0.5 {best['mAP50']:.3f} after epoch {best['epoch']}: {best['weights']} "
                         "(evaluate and export use it)")
        lines.append(f"  final    {self.run_dir / WEIGHTS_FILE}")
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


@dataclass
class _Session:
    """What the steps of :func:`train` share."""
    config: TrainConfig
    records: Path
    info: RecordsInfo
    folder: RunFolder
    model: keras.Model
    steps: int
    num_train: int
    log: Callable[[str], None]

    def precise_bn(self) -> int:
        """Batch-norm statistics of the current weights (see dataprep.train.precise_bn); images used."""
        c = self.config
        if not c.precise_bn_images:
            return 0
        return recalibrate_on_records(self.model, self.records, c.train_split, c.input_size, c.batch_size,
                                      min(c.precise_bn_images, self.num_train))


def train(config: TrainConfig, records: str | os.PathLike, run_dir: str | os.PathLike, *, resume: bool = False,
          strategy: tf.distribute.Strategy | None = None, progress: bool = True,
          log: Callable[[str], None] = print, callbacks: Sequence[keras.callbacks.Callback] = (),
          evaluate_at_end: bool = True, recipe: Recipe | None = None) -> TrainResult:
    """Train SSD MobileNetV2 on ``records`` (a ``dataprep convert`` output) into ``run_dir``
    (its layout: :mod:`dataprep.train.run_folder`)."""
    start = time.perf_counter()
    records, run_dir = Path(records), Path(run_dir)
    info = records_info(records, config.train_split)
    if info.boxes(config.train_split) == 0:
        raise UsageError(f"{records}: the {config.train_split!r} split has {info.examples(config.train_split)} "
                         "images but 0 boxes: a model trained on it detects nothing. See report.json for why the "
                         "boxes were dropped (normalized coordinates converted without --normalized?)")
    config = prepare_run(config, info, run_dir, resume)
    AnchorGenerator(config.anchors, config.input_size)  # validates the anchor settings first
    with RunFolder(run_dir) as folder:
        session, dataset, devices = _start(config, records, info, folder, resume, strategy, log, recipe)
        has_eval = info.has_split(config.eval_split)
        if not has_eval and evaluate_at_end:
            log(f"No {config.eval_split!r} split in {records}: no mAP evaluation (choose one with --eval-split)")
        report, budget, cbs = _callbacks(session, has_eval and evaluate_at_end, resume, progress, start)
        with named_record_errors(records):
            session.model.fit(dataset, epochs=MAX_BUDGET_EPOCHS if budget is not None else config.epochs,
                              steps_per_epoch=session.steps, callbacks=[*cbs, *callbacks], verbose=0, shuffle=False)
        return _finish(session, report, budget, has_eval and evaluate_at_end, devices.description, start)


def _start(config: TrainConfig, records: Path, info: RecordsInfo, folder: RunFolder, resume: bool, strategy,
           log: Callable[[str], None], recipe: Recipe | None):
    """Devices, input pipeline, model (restored --init-from), the run folder's first files."""
    devices = setup_devices(config.mixed_precision, config.jit_compile, strategy)
    if config.batch_size % devices.replicas:
        raise UsageError(f"--batch-size {config.batch_size} must be a multiple of the {devices.replicas} replicas")
    log(devices.description)
    anchors = AnchorGenerator(config.anchors, config.input_size)
    encoder = LabelEncoder(anchors.anchors(), config.class_ids, config.match_threshold)
    dataset = train_dataset(
        records, config.train_split, encoder, config.input_size, config.batch_size,
        augment_images=config.augment, crop=config.random_crop, flip=config.random_flip,
        jitter=config.photometric, rotate=config.random_rotate, shuffle_buffer=config.shuffle_buffer,
        seed=config.seed,
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
    folder.write_text(CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    if recipe is not None and not resume:
        folder.write_text(RECIPE_FILE, json.dumps(recipe.to_dict(), indent=2) + "\n")
        for line in recipe.lines():
            log(line)
    if init_report is not None:
        init_report.write(folder.path)
        log(init_report.summary())
    folder.write_text(LABEL_MAP_FILE, info.label_map.to_pbtxt())
    return _Session(config, records, info, folder, model, steps, num_train, log), dataset, devices


def _callbacks(session: _Session, evaluating: bool, resume: bool, progress: bool, start: float):
    """The run's callbacks: report (evaluations, best/, early stop, curves), time budget, backup,
    checkpoints, TensorBoard."""
    config, folder, log = session.config, session.folder, session.log
    detector = Detector.from_config(config, session.model)

    def run_eval() -> EvalResult:
        session.precise_bn()
        return evaluate_model(detector, session.records, config.eval_split, batch_size=max(1, config.batch_size))

    keeper = BestKeeper(folder, config.early_stop, log, f"{folder.path.name}: {config.model} {config.input_size}, "
                        f"{config.optimizer} lr {config.learning_rate:g}")
    report = EpochReport(config.epochs, session.steps, config.batch_size, folder.path / HISTORY_FILE, progress, log,
                         run_eval if evaluating else None, config.evaluation_interval(), keeper)
    budget = None
    if config.time_budget and not resume:
        from dataprep.train import config as config_module
        from dataprep.train.budget import TimeBudget

        eval_images = (session.info.examples(config.eval_split) + min(config.precise_bn_images, session.num_train)
                       if evaluating else 0)
        budget = TimeBudget(config.time_budget, config.budget_clock, session.steps, config.batch_size,
                            session.model.optimizer._learning_rate, report, eval_images,
                            auto_eval=config.eval_every is None, evals_per_run=config_module.EVALUATIONS_PER_RUN,
                            start=start, log=log)
    elif config.time_budget:
        log(f"--resume: the run keeps its planned {config.epochs} epochs (the time budget sized them)")
    cbs = [
        report,  # first, so that its timing does not include the checkpoints
        *([budget] if budget is not None else []),  # after the report: it times the evaluations
        keras.callbacks.BackupAndRestore(os.fspath(folder.path / "backup"), delete_checkpoint=False),
        EpochCheckpoint(folder),
        *[cb for cb in (_tensorboard(folder.path / "logs", log),) if cb is not None],
    ]
    return report, budget, cbs


def _finish(session: _Session, report: EpochReport, budget, evaluating: bool, device: str,
            start: float) -> TrainResult:
    """The evaluation after the last epoch (when the last epoch did not have one), precise BN,
    the final weights, curves, and summary.json last."""
    config, folder, log = session.config, session.folder, session.log
    if budget is not None:  # the plan's epochs and evaluations, for --resume and the summary
        config = config.replace(epochs=budget.planned_epochs or len(report.rows), eval_every=report.eval_every)
        folder.write_text(CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    last_epoch = report.rows[-1]["epoch"] if report.rows else 0
    evaluated_last = report.last_evaluation is not None and report.last_evaluation_epoch == last_epoch
    if evaluating and not evaluated_last and report.rows:
        with named_record_errors(session.records):  # stopped early by a callback, or --resume of a finished run
            session.precise_bn()
            result = evaluate_model(Detector.from_config(config, session.model), session.records, config.eval_split,
                                    batch_size=max(1, config.batch_size))
        report.evaluated(last_epoch, result)
    elif config.precise_bn_images and not evaluated_last:
        used = session.precise_bn()  # (an evaluation after the last epoch has just done it)
        log(f"Batch-norm statistics recomputed from the final weights on {used} {config.train_split} images")
    folder.save_weights(session.model, WEIGHTS_FILE)
    if report.keeper is not None and report.rows:
        report.keeper.draw(report.rows)
    extra = {"best": report.keeper.to_dict() if report.keeper else None, "stopped_early": report.stopped_early}
    if budget is not None:
        extra["time_budget"] = budget.to_dict()
    result = TrainResult(folder.path, config, report.rows, report.last_evaluation, time.perf_counter() - start,
                         device, len(report.rows), session.steps, extra)
    folder.write_text(SUMMARY_FILE, json.dumps(result.to_dict(), indent=2) + "\n")
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
