"""``dataprep config``: a complete TF OD API ``pipeline.config`` for a records folder.

For users who train with the TensorFlow Object Detection API (or the Model
Garden's copy of it) rather than ``dataprep train``. Pure Python: importing this
module imports neither TensorFlow nor ``object_detection``.

::

    records/manifest.json  -> splits, shard names, label map   (read_records)
    --model / --init-from  -> model, input size, depth, anchors (choose_model: the one resolver)
    --anchors anchors.json -> anchors (stats --anchors --suggest --anchors-out)
        -> render_pipeline_config (our text, modelled on the TF2 zoo configs)
        -> parse it back with dataprep.anchors.parse_pipeline_config and
           compare (the file says what we meant) -> write OUT atomically

Paths in the file are absolute, so it works from any directory. Shards are
named by one glob per split (``train-?????-of-00008.tfrecord``), as in the zoo
configs.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dataprep.anchors import AnyAnchorConfig, render_anchor_generator
from dataprep.anchors.generator import Size
from dataprep.errors import DataprepError, UsageError
from dataprep.label_map import LabelMap
from dataprep.models import PipelineSettings, model_spec, parse_pipeline_config
from dataprep.models.registry import PipelineSignature, ZooRecipe, tf2_models
from dataprep.models.resolve import resolve_model
from dataprep.records.naming import SHARD_RE as _SHARD_RE

# [1] Learning rate: linear scaling rule (Goyal et al., "Accurate, Large
#     Minibatch SGD", 2017) from each zoo recipe's momentum-SGD base rate and
#     batch (ModelSpec.recipe): lr = base * batch / zoo_batch, cosine decay to
#     0 over num_steps, linear warmup from lr / 3 over min(zoo warmup,
#     num_steps / 10) steps.


@dataclass(frozen=True)
class RecordsInfo:
    """What a pipeline.config needs from a dataprep records folder."""

    folder: Path  # absolute
    label_map_path: Path  # absolute
    num_classes: int  # the largest label-map id (ids need not be contiguous)
    class_names: tuple[str, ...]
    #: split -> (input_path globs or files, examples)
    splits: dict[str, tuple[tuple[str, ...], int]]


@dataclass(frozen=True)
class ModelChoice:
    """The network, its input and anchors, and where its starting weights are."""

    model: str
    input_size: Size
    anchors: AnyAnchorConfig
    depth_multiplier: float = 1.0
    min_depth: int = 16
    fine_tune_checkpoint: str | None = None
    origin: str = "defaults"


@dataclass(frozen=True)
class PipelineConfigResult:
    """What ``dataprep config`` wrote, for the summary and tests."""

    path: Path
    text: str
    settings: PipelineSettings  # the written file read back by our reader
    choice: ModelChoice
    records: RecordsInfo
    train_split: str
    eval_split: str | None
    batch_size: int
    num_steps: int
    notes: tuple[str, ...] = ()

    def summary_lines(self) -> list[str]:
        c, s = self.choice, self.settings
        h, w = c.input_size
        lines = [
            f"wrote {self.path}: {c.model} at {h}x{w}, {s.num_classes} classes, "
            f"{c.anchors.num_anchors(c.input_size)} {c.anchors.kind} anchors ({c.origin})",
            f"  train: {self.train_split} ({self.records.splits[self.train_split][1]} examples), "
            f"batch {self.batch_size}, {self.num_steps} steps",
        ]
        if self.eval_split is not None:
            lines.append(f"  eval: {self.eval_split} ({self.records.splits[self.eval_split][1]} examples)")
        if c.fine_tune_checkpoint:
            lines.append(f"  fine_tune_checkpoint: {c.fine_tune_checkpoint} (type detection: the feature "
                         "extractor is restored, the box predictor starts fresh)")
        lines += [f"  note: {n}" for n in self.notes]
        return lines


# --------------------------------------------------------------- records
def read_records(folder: str | os.PathLike) -> RecordsInfo:
    """Splits, shard globs and label map of a ``dataprep convert`` output folder."""
    from dataprep.records.manifest import MANIFEST, read_manifest

    root = Path(folder).resolve()
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise UsageError(f"{folder}: no manifest.json; give the output folder of `dataprep convert`")
    manifest = read_manifest(root)  # untrusted: names are plain, counts are counts
    if manifest.get("compression"):
        raise UsageError(f"{manifest_path}: the shards are {manifest['compression']}-compressed; the TF OD API "
                         "reads uncompressed TFRecords only (convert again without compression)")
    label_map_path = root / (manifest.get("label_map") or "label_map.pbtxt")
    label_map = LabelMap.read(label_map_path)
    out: dict[str, tuple[tuple[str, ...], int]] = {}
    for split, info in manifest["splits"].items():
        names = [s["file"] for s in info["shards"]]
        if names:
            out[split] = (_input_paths(root, names), info["examples"])
    return RecordsInfo(folder=root, label_map_path=label_map_path, num_classes=max(item.id for item in label_map),
                       class_names=tuple(label_map.names), splits=out)


def _input_paths(root: Path, names: list[str]) -> tuple[str, ...]:
    """One ``?????`` glob when the shards are exactly ``split-00000-of-N .. N-1``; else each file
    (``names`` are plain names: :func:`~dataprep.records.manifest.read_manifest` checked them)."""
    paths = [root / n for n in names]
    matches = [_SHARD_RE.fullmatch(n) for n in names]
    if all(matches):
        groups = {(m.group("split"), m.group("count")) for m in matches if m}
        indices = sorted(int(m.group("index")) for m in matches if m)
        if len(groups) == 1:
            split, count = groups.pop()
            if indices == list(range(int(count))):
                return (str(root / f"{split}-?????-of-{count}.tfrecord"),)
    return tuple(str(p) for p in paths)


# ----------------------------------------------------------------- model
def _checkpoint_prefix(zoo: Path) -> str:
    """``ZOO/checkpoint/ckpt-0`` of an extracted zoo folder (the one the ``checkpoint`` file names)."""
    folder = zoo / "checkpoint"
    indexes = sorted(folder.glob("*.index")) if folder.is_dir() else []
    if not indexes:
        raise UsageError(f"{zoo}: no checkpoint/*.index; expected an extracted TF2 zoo folder "
                         "(pipeline.config + checkpoint/ckpt-0.*)")
    if len(indexes) > 1 and (folder / "checkpoint").is_file():
        match = re.search(r'model_checkpoint_path:\s*"([^"]+)"', (folder / "checkpoint").read_text(errors="replace"))
        if match and (folder / (Path(match.group(1)).name + ".index")).is_file():
            return str(folder / Path(match.group(1)).name)
    return str(indexes[-1])[: -len(".index")]


def _refuse_tf1(model: str, what: str) -> None:
    """TF1 models have no TF2 TF OD API config (issue 20: migration to a TF2 zoo folder is not built yet)."""
    if model_spec(model).tf1_checkpoint:
        raise UsageError(f"{what}: dataprep config writes TF2 TF OD API configs, and the TF2 TF OD API cannot "
                         "build the TF1 slim networks nor read TF1 checkpoints; train and export the model with "
                         f"dataprep (train/export --init-from), or pick a TF2 model: {', '.join(tf2_models())}")


def choose_model(
    model: str | None = None,
    *,
    anchors_json: str | os.PathLike | None = None,
    init_from: str | os.PathLike | None = None,
) -> tuple[ModelChoice, list[str]]:
    """The model to write, by :func:`dataprep.models.resolve.resolve_model` (as ``train`` and
    ``stats`` resolve it): ``--init-from``'s pipeline.config, else ``--model`` (default
    ``DEFAULT_MODEL``, or the model ``--anchors`` records) with its zoo defaults;
    ``--anchors`` replaces the anchors and the input size."""
    zoo = Path(init_from).resolve() if init_from is not None else None
    if zoo is not None and not (zoo / "pipeline.config").is_file():
        raise UsageError(f"{init_from}: no pipeline.config; expected an extracted TF2 zoo folder")
    resolved = resolve_model(model, anchors=anchors_json, init_from=zoo)
    name, init = resolved.model, resolved.init
    assert name is not None
    _refuse_tf1(name, f"--model {name}" if model is not None else (
        f"{zoo / 'pipeline.config'} (a TF1 {name})" if zoo is not None else f"{anchors_json} (anchors of {name})"))
    origin = f"settings of {zoo / 'pipeline.config'}" if zoo is not None else f"defaults of {name}"
    anchors, notes = resolved.anchors, []
    if anchors_json is not None:
        base_size = init.input_size if init is not None else (model_spec(name).input_size,) * 2
        if resolved.input_size != base_size:
            notes.append(f"input size {resolved.input_size[0]}x{resolved.input_size[1]} from {anchors_json} (the "
                         f"anchors were chosen for it), not {name}'s {base_size[0]}x{base_size[1]}")
        pad = init.anchors.pad_to_multiple if init is not None else 1  # the feature extractor's, not the file's
        anchors, origin = anchors.replace(pad_to_multiple=pad), f"{origin}, anchors from {anchors_json}"
    return ModelChoice(model=name, input_size=resolved.input_size, anchors=anchors,
                       depth_multiplier=resolved.alpha, min_depth=resolved.min_depth,
                       fine_tune_checkpoint=_checkpoint_prefix(zoo) if zoo is not None else None,
                       origin=origin), notes


# ---------------------------------------------------------------- render
def _q(text: str) -> str:
    """A text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _indent(block: str, spaces: int) -> str:
    return "\n".join((" " * spaces + line) if line else line for line in block.splitlines())


def _hyperparams(activation: str, initializer: str, bn_decay: float) -> str:
    return f"""conv_hyperparams {{
  activation: {activation}
  regularizer {{ l2_regularizer {{ weight: 0.00004 }} }}
  initializer {{ {initializer} }}
  batch_norm {{ train: true scale: true center: true decay: {bn_decay!r} epsilon: 0.001 }}
}}"""


def _feature_extractor(choice: ModelChoice, recipe: ZooRecipe) -> str:
    sig = _signature(choice.model)
    lines = [f"type: {_q(sig.extractor_types[0])}",
             f"depth_multiplier: {choice.depth_multiplier!r}",
             f"min_depth: {choice.min_depth}"]
    if choice.anchors.pad_to_multiple > 1:
        lines.append(f"pad_to_multiple: {choice.anchors.pad_to_multiple}")
    if sig.extractor_depthwise or sig.predictor_depthwise:  # SSDLite / FPNLite: depthwise convolutions throughout
        lines.append("use_depthwise: true")
    if sig.fpn_levels is not None:
        lines.append(f"fpn {{ min_level: {sig.fpn_levels[0]} max_level: {sig.fpn_levels[1]} additional_layer_depth: 128 }}")
    lines += _hyperparams("RELU_6", recipe.extractor_initializer, recipe.bn_decay).splitlines()
    lines.append("override_base_feature_extractor_hyperparams: true")
    return "feature_extractor {\n" + _indent("\n".join(lines), 2) + "\n}"


def _signature(model: str) -> PipelineSignature:
    sig = model_spec(model).pipeline
    if sig is None:
        raise UsageError(f"dataprep config cannot write a pipeline.config for {model} (no TF OD API network declared)")
    return sig


def _box_predictor(choice: ModelChoice, bn_decay: float) -> str:
    sig = _signature(choice.model)
    if sig.box_predictor == "weight_shared_convolutional_box_predictor":
        body = ["depth: 128", "class_prediction_bias_init: -4.6", "num_layers_before_predictor: 4",
                "share_prediction_tower: true", "use_depthwise: true", "kernel_size: 3"]
    else:
        lite = bool(sig.predictor_depthwise)
        body = ["min_depth: 0", "max_depth: 0", "num_layers_before_predictor: 0", "use_dropout: false",
                f"kernel_size: {3 if lite else 1}", "box_code_size: 4", "apply_sigmoid_to_scores: false",
                "class_prediction_bias_init: -4.6"]
        if lite:
            body.append("use_depthwise: true")
    body += _hyperparams("RELU_6", "random_normal_initializer { mean: 0.0 stddev: 0.01 }", bn_decay).splitlines()
    return "box_predictor {\n  " + sig.box_predictor + " {\n" + _indent("\n".join(body), 4) + "\n  }\n}"


# The crops of the zoo recipes: SSD's (Liu et al. 2016, Sec. 2.2 "data
# augmentation") for the SSD models, a milder random crop for FPNLite.
_SSD_CROP = "ssd_random_crop {\n}"
_RANDOM_CROP = """random_crop_image {
  min_object_covered: 0.0
  min_aspect_ratio: 0.75
  max_aspect_ratio: 3.0
  min_area: 0.75
  max_area: 1.0
  overlap_thresh: 0.0
}"""


def _learning_rate(recipe: ZooRecipe, batch_size: int, num_steps: int) -> tuple[float, float, int]:
    base = float(f"{recipe.lr * batch_size / recipe.batch:.6g}")
    warmup_steps = max(0, min(recipe.warmup, num_steps // 10))
    return base, float(f"{base / 3:.6g}"), warmup_steps


def render_pipeline_config(
    choice: ModelChoice,
    records: RecordsInfo,
    *,
    train_split: str = "train",
    eval_split: str | None = "val",
    batch_size: int = 16,
    num_steps: int = 25000,
) -> str:
    """The pipeline.config text (see the module docstring)."""
    recipe = model_spec(choice.model).recipe
    if recipe is None:
        raise UsageError(f"dataprep config cannot write a pipeline.config for {choice.model} (no zoo recipe declared)")
    height, width = choice.input_size
    anchors = render_anchor_generator(choice.anchors, indent=0, wrap=True)
    base_lr, warmup_lr, warmup_steps = _learning_rate(recipe, batch_size, num_steps)
    crop = _SSD_CROP if recipe.crop == "ssd" else _RANDOM_CROP
    model_body = "\n".join([
        f"num_classes: {records.num_classes}",
        "image_resizer {\n  fixed_shape_resizer {\n" f"    height: {height}\n    width: {width}\n  }}\n}}",
        anchors,
        "box_coder {\n  faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 }\n}",
        "matcher {\n  argmax_matcher {\n    matched_threshold: 0.5\n    unmatched_threshold: 0.5\n"
        "    ignore_thresholds: false\n    negatives_lower_than_unmatched: true\n"
        "    force_match_for_each_row: true\n    use_matmul_gather: true\n  }\n}",
        "similarity_calculator {\n  iou_similarity {\n  }\n}",
        "encode_background_as_zeros: true",
        "inplace_batchnorm_update: true",
        "freeze_batchnorm: false",
        _feature_extractor(choice, recipe),
        _box_predictor(choice, recipe.bn_decay),
        "loss {\n  classification_loss {\n    weighted_sigmoid_focal {\n"
        f"      alpha: {recipe.focal_alpha!r}\n      gamma: 2.0\n    }}\n  }}\n"
        "  localization_loss {\n    weighted_smooth_l1 {\n      delta: 1.0\n    }\n  }\n"
        "  classification_weight: 1.0\n  localization_weight: 1.0\n}",
        "normalize_loss_by_num_matches: true",
        "normalize_loc_loss_by_codesize: true",
        "post_processing {\n  batch_non_max_suppression {\n    score_threshold: 1e-8\n    iou_threshold: 0.6\n"
        "    max_detections_per_class: 100\n    max_total_detections: 100\n  }\n  score_converter: SIGMOID\n}",
    ])
    train_lines = [f"batch_size: {batch_size}", f"num_steps: {num_steps}"]
    if choice.fine_tune_checkpoint:
        train_lines += ["fine_tune_checkpoint_version: V2",
                        f"fine_tune_checkpoint: {_q(choice.fine_tune_checkpoint)}",
                        'fine_tune_checkpoint_type: "detection"']
    train_lines += [
        "data_augmentation_options {\n  random_horizontal_flip {\n  }\n}",
        "data_augmentation_options {\n" + _indent(crop, 2) + "\n}",
        "optimizer {\n  momentum_optimizer {\n    learning_rate {\n      cosine_decay_learning_rate {\n"
        f"        learning_rate_base: {base_lr!r}\n        total_steps: {num_steps}\n"
        f"        warmup_learning_rate: {warmup_lr!r}\n        warmup_steps: {warmup_steps}\n"
        "      }\n    }\n    momentum_optimizer_value: 0.9\n  }\n  use_moving_average: false\n}",
        "max_number_of_boxes: 100",
        "unpad_groundtruth_tensors: false",
    ]
    label_map = _q(str(records.label_map_path))
    paths = "\n".join(f"    input_path: {_q(p)}" for p in records.splits[train_split][0])
    parts = [
        "# TF Object Detection API pipeline.config written by `dataprep config`.",
        f"# Model {choice.model} ({choice.origin}); records {records.folder}.",
        f"# Classes ({len(records.class_names)}): {', '.join(records.class_names)}",
        "",
        "model {\n  ssd {\n" + _indent(model_body, 4) + "\n  }\n}",
        "",
        "train_config {\n" + _indent("\n".join(train_lines), 2) + "\n}",
        "",
        f"train_input_reader {{\n  label_map_path: {label_map}\n  tf_record_input_reader {{\n{paths}\n  }}\n}}",
    ]
    if eval_split is not None:
        eval_paths = "\n".join(f"    input_path: {_q(p)}" for p in records.splits[eval_split][0])
        parts += [
            "",
            'eval_config {\n  metrics_set: "coco_detection_metrics"\n  use_moving_averages: false\n}',
            "",
            f"eval_input_reader {{\n  label_map_path: {label_map}\n  shuffle: false\n  num_epochs: 1\n"
            f"  tf_record_input_reader {{\n{eval_paths}\n  }}\n}}",
        ]
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------- write
def _check_round_trip(text: str, choice: ModelChoice, records: RecordsInfo, source: str) -> PipelineSettings:
    """Read the text back with our reader: the same model, anchors, classes and paths."""
    settings = parse_pipeline_config(text, source)
    expected = {
        "model": choice.model,
        "input_size": choice.input_size,
        "anchor_config": choice.anchors,
        "num_classes": records.num_classes,
        "depth_multiplier": choice.depth_multiplier,
        "label_map_path": str(records.label_map_path),
        "fine_tune_checkpoint": choice.fine_tune_checkpoint,
    }
    got = {key: getattr(settings, key) for key in expected}
    if got != expected:
        diff = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
        raise DataprepError(f"internal error: the written pipeline.config reads back differently: {diff}")
    return settings


def write_pipeline_config(
    records: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str | None = None,
    anchors_json: str | os.PathLike | None = None,
    init_from: str | os.PathLike | None = None,
    batch_size: int = 16,
    num_steps: int = 25000,
    train_split: str = "train",
    eval_split: str | None = "val",
    overwrite: bool = False,
) -> PipelineConfigResult:
    """Write a TF OD API pipeline.config for ``records`` to ``out`` (see the module docstring)."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if num_steps < 1:
        raise UsageError(f"--steps must be >= 1, got {num_steps}")
    out_path = Path(out)
    if out_path.exists() and not overwrite:
        raise UsageError(f"{out} exists; give --overwrite to replace it")
    if out_path.is_dir():
        raise UsageError(f"{out} is a folder; give a file name such as {Path(out) / 'pipeline.config'}")
    info = read_records(records)
    notes: list[str] = []
    if train_split not in info.splits:
        raise UsageError(f"{records}: no shards for split {train_split!r} (splits: {', '.join(info.splits) or 'none'})")
    if eval_split is not None and eval_split not in info.splits:
        notes.append(f"no split {eval_split!r} in {records}: no eval_input_reader written")
        eval_split = None
    choice, model_notes = choose_model(model, anchors_json=anchors_json, init_from=init_from)
    text = render_pipeline_config(choice, info, train_split=train_split, eval_split=eval_split,
                                  batch_size=batch_size, num_steps=num_steps)
    settings = _check_round_trip(text, choice, info, str(out_path))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return PipelineConfigResult(path=out_path, text=text, settings=settings, choice=choice, records=info,
                                train_split=train_split, eval_split=eval_split, batch_size=batch_size,
                                num_steps=num_steps, notes=tuple(model_notes + notes))


__all__ = [
    "ModelChoice",
    "PipelineConfigResult",
    "RecordsInfo",
    "read_records",
    "render_pipeline_config",
    "choose_model",
    "write_pipeline_config",
]
