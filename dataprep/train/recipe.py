"""The training recipe ``dataprep train`` chooses when the user does not:
optimizer, learning rate, weight decay, batch size and epochs, by how the run
starts (random weights, an ImageNet backbone, or a zoo/run checkpoint) and by
the size of the train split. Each choice carries the reason (the measurement
behind it, ``benchmarks/RESULTS.md``), printed at the start of a run and
stored as ``RUN_DIR/recipe.json``.

The recipe never touches what ``--init-from`` restores (model, input size,
width, anchors: :func:`dataprep.train.restore.model_settings`); it only sets
how the weights are trained. Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECIPE_FILE = "recipe.json"
STARTS = ("random", "imagenet", "checkpoint")
#: The settings a recipe chooses (TrainConfig field names).
RECIPE_FIELDS = ("optimizer", "learning_rate", "weight_decay", "batch_size", "warmup_epochs", "epochs",
                 "random_rotate", "alpha")

#: Fine-tuning pretrained weights: the TF OD API ssd_mobilenet_v2 recipe (SGD, momentum 0.9, warmup, cosine)
#: scaled to a batch of 16. Not re-measured here (no pretrained weights can be downloaded on the benchmark
#: machine).
_PRETRAINED = {
    "optimizer": ("sgd", "TF OD API ssd_mobilenet_v2 fine-tuning recipe (momentum 0.9), not re-measured"),
    "learning_rate": (0.02, "the TF OD API's peak rate scaled to a batch of 16"),
    "weight_decay": (0.0, "short fine-tuning runs; decay not measured to help"),
    "batch_size": (16, "fits a CPU and a small GPU"),
    "warmup_epochs": (1.0, "one epoch of linear warmup before the cosine"),
    "epochs": (20, "without --time-budget"),
}
#: From random weights (no download possible): measured on the real sets of benchmarks/train_real.py at 30
#: CPU-minutes of training steps. Adam 1e-3 on the narrower backbone (alpha 0.35: 2.4x the epochs in the same
#: time) beat SGD 0.02 at alpha 1.0 on both sets where it ran: blood cells 0.496 against 0.475, raccoons
#: 0.706 against 0.679 (val mAP@0.5; one seed each, margins of 0.02-0.03); Adam alone at alpha 1.0 did not
#: (0.465 on blood cells).
_MEASURED = "benchmarks/RESULTS.md, 'Real datasets'"
_RANDOM = {
    "optimizer": ("adam", "from random weights at 30 CPU-minutes Adam 1e-3 with alpha 0.35 beat SGD 0.02 with "
                          f"alpha 1.0 on both real sets measured ({_MEASURED})"),
    "learning_rate": (1e-3, "Adam's usual rate"),
    "weight_decay": (0.0, "not measured to help in short budgets"),
    "batch_size": (16, "fits a CPU and a small GPU"),
    "warmup_epochs": (1.0, "one epoch of linear warmup before the cosine"),
    "epochs": (20, "without --time-budget; use --time-budget to size the run to the time you have"),
    "alpha": (0.35, "a narrower backbone trains 2.4x the epochs in the same time; from random weights that won "
                    f"({_MEASURED}); give --alpha 1.0 for the full width"),
}


@dataclass
class Recipe:
    start: str  # random, imagenet or checkpoint
    train_images: int
    settings: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # setting -> why (or "given")

    def lines(self) -> list[str]:
        head = f"Recipe ({_START_TEXT[self.start]}, {self.train_images} train images):"
        width = max(len(k) for k in self.settings)
        return [head] + [f"  {k:<{width}}  {_fmt(v)}  ({self.reasons.get(k, '')})" for k, v in self.settings.items()]

    def to_dict(self) -> dict:
        return {"start": self.start, "train_images": self.train_images, "settings": dict(self.settings),
                "reasons": dict(self.reasons)}

    def write(self, run_dir: str | os.PathLike) -> Path:
        path = Path(run_dir) / RECIPE_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


_START_TEXT = {"random": "random initial weights", "imagenet": "ImageNet backbone",
               "checkpoint": "a zoo or run checkpoint"}


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def start_of(backbone_weights: str | None, init_from: str | os.PathLike | None) -> str:
    """How a run starts: ``checkpoint`` (--init-from), ``random`` (--backbone-weights none) or ``imagenet``
    (ImageNet or a weights file)."""
    if init_from is not None:
        return "checkpoint"
    return "random" if str(backbone_weights).lower() == "none" else "imagenet"


def choose_recipe(start: str, train_images: int, given: dict[str, Any] | None = None,
                  rotate: bool = False) -> Recipe:
    """The recipe for a run that starts from ``start`` on ``train_images``;
    ``given`` (settings the user chose, None values ignored) wins over it."""
    if start not in STARTS:
        raise ValueError(f"start: expected one of {', '.join(STARTS)}, got {start!r}")
    table = _RANDOM if start == "random" else _PRETRAINED
    recipe = Recipe(start, int(train_images))
    for name, (value, why) in table.items():
        recipe.settings[name], recipe.reasons[name] = value, why
    recipe.settings["random_rotate"] = bool(rotate)
    recipe.reasons["random_rotate"] = ("--rotate: vertical flips and quarter turns (no canonical 'up')" if rotate
                                       else "off: the images have an 'up' (pass --rotate for microscopy, aerial)")
    optimizer = (given or {}).get("optimizer")
    if optimizer is not None and optimizer != recipe.settings["optimizer"] and \
            (given or {}).get("learning_rate") is None:
        # another optimizer given without a rate: that optimizer's usual rate
        recipe.settings["learning_rate"] = 1e-3 if optimizer == "adam" else 0.02
        recipe.reasons["learning_rate"] = f"the usual rate of {optimizer}"
    for name, value in (given or {}).items():
        if value is not None:
            recipe.settings[name], recipe.reasons[name] = value, "given"
    return recipe
