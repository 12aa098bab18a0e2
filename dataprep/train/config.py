"""The settings of one training run, saved as ``RUN_DIR/config.json``.

Everything needed to rebuild the model for evaluation, export or prediction
lives here (input size, width multiplier, classes, anchors, post-processing),
so a run folder is self-describing. Importing this module never imports
TensorFlow or Keras.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dataprep.anchors import AnchorConfig, AnyAnchorConfig, anchor_config_from_dict
from dataprep.errors import UsageError
from dataprep.models import DEFAULT_INPUT_SIZE, DEFAULT_MODEL, MODELS
from dataprep.models.resolve import RUN_CONFIG_FILE

#: File names inside a run folder.
CONFIG_FILE = RUN_CONFIG_FILE
WEIGHTS_FILE = "model.weights.h5"
LABEL_MAP_FILE = "label_map.pbtxt"
SUMMARY_FILE = "summary.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"

OPTIMIZERS = ("sgd", "adam")
BUDGET_CLOCKS = ("wall", "cpu-steps")
#: With ``eval_every=None``: evaluations in a run (the last epoch always evaluates).
EVALUATIONS_PER_RUN = 8
AUTO_CHOICES = ("auto", "on", "off")


@dataclass
class TrainConfig:
    """Model, data, loss and optimiser settings of an SSD MobileNetV2 run.

    Defaults are sized for fine-tuning ImageNet weights on a small dataset:
    SGD with momentum 0.9, a linear warmup of one epoch, then cosine decay
    (TF OD API ``ssd_mobilenet_v2`` recipe scaled to a batch of 16).
    """

    # -- model
    model: str = DEFAULT_MODEL
    input_size: int = DEFAULT_INPUT_SIZE
    alpha: float = 1.0
    backbone_weights: str = "imagenet"  # "imagenet", "none" or a path to a .h5/.keras weights file
    use_depthwise: bool = True  # SSDLite: depthwise 3x3 convs in the extra layers and the heads
    batchnorm_momentum: float = 0.99  # moving-average momentum of every batch norm
    anchor_config: dict[str, Any] = field(default_factory=lambda: AnchorConfig().to_dict())
    init_from: str | None = None  # a TF2 zoo model folder or a dataprep run folder to start from
    init_parts: str = "feature-extractor"  # or "all": also the box head and the matching class rows
    # -- classes (filled from the records' label map)
    class_ids: tuple[int, ...] = ()
    class_names: tuple[str, ...] = ()
    # -- data
    train_split: str = "train"
    eval_split: str = "val"
    augment: bool = True
    random_crop: bool = True
    random_flip: bool = True
    random_rotate: bool = False  # vertical flips and quarter turns, for data with no canonical "up"
    photometric: bool = True
    shuffle_buffer: int = 1024
    seed: int = 0
    # -- targets and loss
    match_threshold: float = 0.5
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    hard_negative_ratio: float | None = None  # e.g. 3.0 for SSD's 3:1 hard negative mining
    box_loss_weight: float = 1.0
    class_loss_weight: float = 1.0
    # -- optimisation
    epochs: int = 20
    batch_size: int = 16
    steps_per_epoch: int | None = None  # None: one pass over the split
    optimizer: str = "sgd"
    learning_rate: float = 0.02
    warmup_epochs: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 0.0  # decoupled (lr * wd); 0 keeps the first step fast to trace on CPU
    clipnorm: float | None = 10.0
    # -- hardware
    mixed_precision: str = "auto"  # auto: on when a GPU is visible
    jit_compile: str = "auto"  # auto: XLA when a GPU is visible
    # -- post-processing (decoder)
    score_threshold: float = 0.01
    iou_threshold: float = 0.6
    max_detections: int = 100
    # -- evaluation during training
    eval_every: int | None = None  # epochs between mAP evaluations on eval_split; 0: only at the end;
    #                                None: about EVALUATIONS_PER_RUN evaluations in the run
    early_stop: int = 0  # stop after this many evaluations without a better val mAP@0.5; 0: never
    # -- time budget: epochs, the cosine's length and the evaluations sized from the measured speed
    time_budget: float | None = None  # seconds; None: train ``epochs``
    budget_clock: str = "wall"  # wall (everything counts) or cpu-steps (CPU time of the training steps)
    # -- batch-norm statistics recomputed from the final weights before every evaluation and the
    #    final save (precise BN, dataprep.train.precise_bn); at most this many train images, 0: off
    precise_bn_images: int = 512

    def __post_init__(self) -> None:
        self.anchor_config = anchor_config_from_dict(dict(self.anchor_config)).to_dict()
        self.class_ids = tuple(int(i) for i in self.class_ids)
        self.class_names = tuple(str(n) for n in self.class_names)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first bad value."""

        def bad(name: str, expected: str) -> UsageError:
            return UsageError(f"{name}: expected {expected}, got {getattr(self, name)!r}")

        if self.model not in MODELS:
            raise bad("model", " or ".join(MODELS))
        if self.init_parts not in ("feature-extractor", "all"):
            raise bad("init_parts", "feature-extractor or all")
        if not isinstance(self.input_size, int) or self.input_size < 32:
            raise bad("input_size", "an integer >= 32 (MobileNetV2's smallest input)")
        if not self.alpha > 0:
            raise bad("alpha", "a positive width multiplier such as 0.35, 0.5, 0.75, 1.0")
        for name in ("epochs", "batch_size", "shuffle_buffer", "max_detections"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "an integer >= 1")
        if not isinstance(self.precise_bn_images, int) or self.precise_bn_images < 0:
            raise bad("precise_bn_images", "an integer >= 0 (0: keep the moving averages of training)")
        if self.eval_every is not None and (not isinstance(self.eval_every, int) or self.eval_every < 0):
            raise bad("eval_every", "an integer >= 0 (0: only at the end) or None (automatic)")
        if not isinstance(self.early_stop, int) or self.early_stop < 0:
            raise bad("early_stop", "an integer >= 0 (evaluations without gain; 0: never stop early)")
        if self.time_budget is not None and not self.time_budget > 0:
            raise bad("time_budget", "a positive number of seconds or None")
        if self.budget_clock not in BUDGET_CLOCKS:
            raise bad("budget_clock", " or ".join(BUDGET_CLOCKS))
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise bad("steps_per_epoch", "an integer >= 1 or None")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", " or ".join(OPTIMIZERS))
        for name in ("mixed_precision", "jit_compile"):
            if getattr(self, name) not in AUTO_CHOICES:
                raise bad(name, ", ".join(AUTO_CHOICES))
        if not self.learning_rate > 0:
            raise bad("learning_rate", "a positive number")
        if not 0.0 <= self.batchnorm_momentum < 1.0:
            raise bad("batchnorm_momentum", "a number in [0, 1)")
        if self.warmup_epochs < 0:
            raise bad("warmup_epochs", "a number >= 0")
        for name in ("match_threshold", "focal_alpha", "score_threshold", "iou_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "a number in [0, 1]")
        if self.hard_negative_ratio is not None and not self.hard_negative_ratio > 0:
            raise bad("hard_negative_ratio", "a positive ratio (3.0 for SSD's 3:1) or None")
        if len(self.class_ids) != len(self.class_names):
            raise UsageError(f"class_ids has {len(self.class_ids)} entries but class_names has {len(self.class_names)}")
        if any(i < 1 for i in self.class_ids):
            raise bad("class_ids", "label-map ids >= 1")

    # ------------------------------------------------------------ derived
    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def anchors(self) -> AnyAnchorConfig:
        return anchor_config_from_dict(self.anchor_config)

    def evaluation_interval(self) -> int:
        """Epochs between evaluations: ``eval_every``, or with None about
        :data:`EVALUATIONS_PER_RUN` over ``epochs``."""
        if self.eval_every is not None:
            return self.eval_every
        return max(1, -(-self.epochs // EVALUATIONS_PER_RUN))

    def weights_path(self) -> str | None:
        """``backbone_weights`` as Keras wants it: "imagenet", None or a path."""
        value = str(self.backbone_weights)
        if value.lower() == "none":
            return None
        if value.lower() == "imagenet":
            return "imagenet"
        return os.fspath(value)

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

    # ------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown training setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data)

    def save(self, run_dir: str | os.PathLike) -> Path:
        path = Path(run_dir) / CONFIG_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "TrainConfig":
        path = Path(run_dir) / CONFIG_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{run_dir}: not a training run folder (no {CONFIG_FILE}); "
                             "pass the --out folder of `dataprep train`") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: cannot read the training config: {exc}") from None
        return cls.from_dict(data)
