"""``--init-from``: start a model from a TF2 detection-zoo checkpoint or a dataprep run.

    DIR/pipeline.config + DIR/checkpoint/ckpt-0.*   (a zoo folder, extracted)
    DIR/config.json + DIR/model.weights.h5           (a dataprep run folder)
      -> CheckpointSource: {zoo checkpoint key: array}
      -> checkpoint_slots(model): each of our variables with its zoo key and part
      -> restore(): copy the parts asked for, check every shape, count what happened

Parts (``--init-parts``):

- ``feature-extractor`` (default): the backbone and the extra layers / FPN,
  ``model/_feature_extractor/...`` -- what the TF OD API restores with
  ``fine_tune_checkpoint_type: "detection"``; the heads start fresh, so any
  class count works.
- ``all``: also the box head, and of the class head the background column
  and the columns of the classes whose names appear in both label maps (the
  zoo's 90 COCO ids from ``dataprep/label_maps/mscoco.pbtxt``); the other class
  columns start fresh.

Checkpoints are read with ``tf.train.load_checkpoint``; the TF OD API is never
imported. Keys are object-based, as ``tf.train.Checkpoint(model=...)`` writes
them: ``model/_feature_extractor/classification_backbone/layer_with_weights-N/
kernel/.ATTRIBUTES/VARIABLE_VALUE`` and so on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from dataprep.errors import UsageError
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.models.registry import tf1_models, tf2_models
from dataprep.models.resolve import ZOO_CONFIG_FILE

INIT_PARTS = ("feature-extractor", "all")
#: Written into the run folder by ``dataprep train --init-from``.
INIT_REPORT_FILE = "init_from.json"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
FEATURE_EXTRACTOR, BOX_HEAD, CLASS_HEAD = "feature-extractor", "box-head", "class-head"
#: The label map of the zoo's COCO models (90 ids, 80 used).
MSCOCO_LABEL_MAP = Path(__file__).resolve().parents[1] / "label_maps" / "mscoco.pbtxt"


class CheckpointMismatchError(UsageError):
    """A checkpoint variable is missing or has another shape than the model's."""


@dataclass(frozen=True)
class Slot:
    """One variable of our model and the zoo checkpoint key it corresponds to."""

    key: str  # without /.ATTRIBUTES/VARIABLE_VALUE
    variable: object  # keras.Variable
    part: str  # FEATURE_EXTRACTOR, BOX_HEAD or CLASS_HEAD
    anchors: int = 0  # class-head variables whose last axis is anchors x (classes + 1): the anchors per location


# ------------------------------------------------------------------ our keys
def _short_name(variable, layer) -> str:
    """The zoo's attribute name of a Keras 3 variable (``depthwise_kernel`` where Keras 3 says ``kernel``)."""
    from keras import layers

    name = variable.path.rsplit("/", 1)[-1]
    if isinstance(layer, layers.DepthwiseConv2D) and name == "kernel":
        return "depthwise_kernel"
    return name


def layer_slots(layer, prefix: str, part: str, anchors: int = 0) -> list[Slot]:
    slots = []
    for v in layer.weights:
        name = _short_name(v, layer)
        rows = anchors if part == CLASS_HEAD and name in ("kernel", "pointwise_kernel", "bias") else 0
        slots.append(Slot(f"{prefix}/{name}", v, part, rows))
    return slots


def checkpoint_slots(model) -> list[Slot]:
    """Every variable of a zoo model with its zoo checkpoint key, in model order
    (TF1 models: the TF1 variable names, :func:`dataprep.train.tf1.tf1_slots`)."""
    from dataprep.models.registry import MODELS, load_builder
    from dataprep.train.tf1 import TF1SSD, tf1_slots
    from dataprep.train.zoo import ZooSSDMobileNetV2FPNLite, weighted_layers

    if isinstance(model, TF1SSD):
        return [Slot(key, variable, part, anchors) for key, variable, part, anchors in tf1_slots(model)]
    zoo = [spec for spec in MODELS.values() if spec.zoo_checkpoint]
    if not isinstance(model, tuple(load_builder(spec) for spec in zoo)):
        raise UsageError(f"--init-from needs a TF2 detection-zoo architecture "
                         f"(--model {' or '.join(spec.name for spec in zoo)}) or a TF1 one "
                         f"({', '.join(tf1_models())}), not {model.name}")
    fe = "model/_feature_extractor"
    slots = []
    for n, layer in enumerate(weighted_layers(model.backbone)):
        slots += layer_slots(layer, f"{fe}/classification_backbone/layer_with_weights-{n}", FEATURE_EXTRACTOR)
    if isinstance(model, ZooSSDMobileNetV2FPNLite):
        return slots + _fpnlite_slots(model)
    for i, block in enumerate(model.feature_maps.blocks):
        # KerasMultiResolutionFeatureMaps: convolutions[2 + i] = [1x1 conv, BN, ReLU6, 3x3 conv, BN, ReLU6]
        for j, layer in enumerate(block.layers):
            slots += layer_slots(layer, f"{fe}/feature_map_generator/convolutions/{i + 2}/{j}", FEATURE_EXTRACTOR)
    heads = "model/_box_predictor/_prediction_heads"
    for level, tower in enumerate(model.box_head.towers):
        slots += layer_slots(tower.layers[-1], f"{heads}/box_encodings/{level}/_box_encoder_layers/0", BOX_HEAD)
    for level, tower in enumerate(model.class_head.towers):
        slots += layer_slots(tower.layers[-1],
                              f"{heads}/class_predictions_with_background/{level}/_class_predictor_layers/0",
                              CLASS_HEAD, model.anchors_per_location[level])
    return slots


def _fpnlite_slots(model) -> list[Slot]:
    """ssd_mobilenet_v2_fpn_keras + WeightSharedConvolutionalBoxPredictor (share_prediction_tower)."""
    fe, fpn = "model/_feature_extractor", "model/_feature_extractor/_fpn_features_generator"
    maps = model.feature_maps
    slots = layer_slots(maps.top, f"{fpn}/top_layers/0", FEATURE_EXTRACTOR)
    for idx, (conv, smooth) in enumerate(zip(maps.residuals, maps.smoothing)):
        slots += layer_slots(conv, f"{fpn}/residual_blocks/{idx}/0", FEATURE_EXTRACTOR)
        for j, layer in enumerate(smooth.layers):  # [separable conv, BN, ReLU6]
            slots += layer_slots(layer, f"{fpn}/conv_layers/{idx}/{j}", FEATURE_EXTRACTOR)
    for i, block in enumerate(maps.coarse):
        for j, layer in enumerate(block.layers):
            slots += layer_slots(layer, f"{fe}/_coarse_feature_layers/{i}/{j}", FEATURE_EXTRACTOR)
    bp = "model/_box_predictor"
    tower = model.tower
    for i, conv in enumerate(tower.convs):
        slots += layer_slots(conv, f"{bp}/_head_scope_conv_layers/PredictionTower/{i}", BOX_HEAD)
    for level in range(tower.num_levels):
        for i in range(tower.num_layers):  # base tower = [conv, BN, ReLU6] x num_layers: BN i at 3 i + 1
            slots += layer_slots(tower.batch_norms[level * tower.num_layers + i],
                                  f"{bp}/_base_tower_layers_for_heads/box_encodings/{level}/{3 * i + 1}", BOX_HEAD)
    slots += layer_slots(model.box_head.conv, f"{bp}/_box_prediction_head/_box_encoder_layers/0", BOX_HEAD)
    slots += layer_slots(model.class_head.conv,
                          f"{bp}/_prediction_heads/class_predictions_with_background/_class_predictor_layers/0",
                          CLASS_HEAD, model.class_head.anchors_per_location)
    return slots


# ------------------------------------------------------------------ sources
@dataclass
class CheckpointSource:
    """The arrays of a checkpoint by zoo key, with where they came from."""

    path: str
    shapes: dict[str, tuple[int, ...]]
    _get: object  # key -> np.ndarray

    def get(self, key: str) -> np.ndarray:
        return np.asarray(self._get(key))

    @classmethod
    def from_tf_checkpoint(cls, prefix: str | os.PathLike) -> "CheckpointSource":
        import tensorflow as tf

        try:
            reader = tf.train.load_checkpoint(os.fspath(prefix))
        except (tf.errors.OpError, ValueError) as exc:
            raise UsageError(f"{prefix}: cannot read the TF checkpoint: {str(exc).splitlines()[0]}") from None
        shapes = {k[: -len(SUFFIX)]: tuple(s) for k, s in reader.get_variable_to_shape_map().items()
                  if k.endswith(SUFFIX) and "OPTIMIZER_SLOT" not in k and not k.startswith("optimizer/")}
        return cls(os.fspath(prefix), shapes, lambda key: reader.get_tensor(key + SUFFIX))

    @classmethod
    def from_model(cls, model, path: str) -> "CheckpointSource":
        """A built model (of a dataprep run folder) seen through the zoo keys."""
        values = {s.key: s.variable for s in checkpoint_slots(model)}
        return cls(path, {k: tuple(v.shape) for k, v in values.items()}, lambda key: values[key].numpy())

    def describe(self) -> str:
        """A guess at the model this checkpoint belongs to, from its keys and shapes."""
        from dataprep.models.registry import model_of_checkpoint
        from dataprep.train.tf1_sources import describe_tf1

        keys = self.shapes
        tf1 = describe_tf1(keys)
        if tf1 is not None:
            return tf1
        kind = model_of_checkpoint(list(keys))
        if kind is None and any("_feature_extractor" in k for k in keys):
            kind = "a TF OD API SSD with another feature extractor"
        elif kind is None:
            return "not a TF OD API detection checkpoint (no model/_feature_extractor variables)"
        details = []
        # Conv_1, MobileNetV2's last conv (layer_with_weights-102), has make_divisible(1280 * alpha) filters.
        last = keys.get("model/_feature_extractor/classification_backbone/layer_with_weights-102/kernel")
        if last is not None and len(last) == 4:
            details.append(f"depth multiplier {min(last[-1] / 1280, 1.0):.2g}")
        heads = "model/_box_predictor/_prediction_heads"
        box = keys.get(f"{heads}/box_encodings/1/_box_encoder_layers/0/bias") or \
            keys.get("model/_box_predictor/_box_prediction_head/_box_encoder_layers/0/bias")
        cls_ = keys.get(f"{heads}/class_predictions_with_background/1/_class_predictor_layers/0/bias") or \
            keys.get(f"{heads}/class_predictions_with_background/_class_predictor_layers/0/bias")
        if box and cls_:
            details.append(f"{cls_[0] // (box[0] // 4) - 1} classes")
        return kind + (f" ({', '.join(details)})" if details else "")


@dataclass
class InitSource:
    """What ``--init-from DIR`` points at: a zoo folder or a dataprep run folder."""

    path: Path
    kind: str  # "zoo", "tf1" or "run"
    model: str
    input_size: int
    alpha: float
    num_classes: int
    anchor_config: dict
    label_map: LabelMap | None  # id = the class-head column of each class
    checkpoint: str  # the TF checkpoint prefix, the run's weights file, or a TF1 frozen graph
    tf1_weights: object = None  # TF1 folders: a dataprep.train.tf1_sources.TF1Weights
    ema: bool = False  # TF1 folders: read ExponentialMovingAverage shadows (use_moving_averages)
    note: str = ""  # what was decided while reading the folder (which checkpoint, EMA)
    min_depth: int = 16  # feature_extractor.min_depth (see read_init_source's any_min_depth)


def _checkpoint_prefix(folder: Path) -> str:
    """``DIR/checkpoint/ckpt-0`` (or whatever prefix the folder's checkpoint holds)."""
    candidates = sorted((folder / "checkpoint").glob("*.index")) + sorted(folder.glob("*.index"))
    if not candidates:
        raise UsageError(f"{folder}: no TF checkpoint (checkpoint/ckpt-0.index); --init-from needs an extracted "
                         "TF2 zoo folder (pipeline.config + checkpoint/), a TF1 folder (pipeline.config + model.ckpt[-N] or "
                         "frozen_inference_graph.pb) or a dataprep run folder")
    return os.fspath(candidates[0].with_suffix(""))


def read_init_source(folder: str | os.PathLike, any_min_depth: bool = False) -> InitSource:
    """Model, input size, anchors, classes and checkpoint of ``--init-from DIR``
    (the model part is :func:`dataprep.models.resolve.read_init_folder`'s). A min_depth
    other than dataprep's 16 is refused unless ``any_min_depth`` (the caller builds the
    model with ``min_depth`` itself: ``dataprep migrate``)."""
    from dataprep.train.config import CONFIG_FILE, TrainConfig
    from dataprep.train.model import MIN_DEPTH

    init = _read_init_folder(Path(folder))
    folder = init.path
    if init.kind == "run":
        from dataprep.train.predict import latest_weights

        config = TrainConfig.load(folder)
        # A run's class head has column j + 1 for its j-th class, whatever the label-map ids are.
        label_map = LabelMap([LabelMapItem(j, name) for j, name in enumerate(config.class_names, start=1)],
                             source=os.fspath(folder / CONFIG_FILE))
        return InitSource(folder, "run", config.model, config.input_size, config.alpha, config.num_classes,
                          config.anchor_config, label_map, os.fspath(latest_weights(folder)))
    settings = init.pipeline
    assert settings is not None
    size = init.input_size
    if size[0] != size[1]:
        raise UsageError(f"{settings.source}: the zoo models dataprep builds need a square fixed_shape_resizer, "
                         f"got {settings.resizer} {size}")
    if init.min_depth != MIN_DEPTH and not any_min_depth:
        raise UsageError(f"{settings.source}: feature_extractor min_depth {init.min_depth}; dataprep builds the zoo "
                         f"models with min_depth {MIN_DEPTH}")
    label_map = zoo_label_map(folder, settings.label_map_path, settings.num_classes)
    if init.kind == "tf1":
        from dataprep.train.tf1_sources import find_tf1_weights, use_moving_averages

        tf1 = find_tf1_weights(folder)
        pipeline = folder / ZOO_CONFIG_FILE
        ema = tf1.kind == "checkpoint" and use_moving_averages(pipeline.read_text(errors="replace"))
        note = tf1.note + ("; use_moving_averages: the ExponentialMovingAverage shadows" if ema else "")
        return InitSource(folder, "tf1", init.model, int(size[0]), init.alpha, settings.num_classes,
                          init.anchors.to_dict(), label_map, tf1.path, tf1, ema, note, init.min_depth)
    return InitSource(folder, "zoo", init.model, int(size[0]), init.alpha, settings.num_classes,
                      init.anchors.to_dict(), label_map, _checkpoint_prefix(folder))


def _read_init_folder(folder: Path):
    """:func:`dataprep.models.resolve.read_init_folder`, with what TF1 folders need besides.

    A TF1 folder holds model.ckpt[-N], a ``checkpoint`` state file, a frozen graph or a TF1
    SavedModel, and no ``checkpoint/`` directory (the TF2 zoo layout). One of a network dataprep
    does not build (Faster R-CNN, SSD Inception ...) names the TF1 models it builds; TF1 weights
    with a TF2 network's pipeline.config are refused."""
    from dataprep.anchors.generator import AnchorConfigError
    from dataprep.models.resolve import read_init_folder
    from dataprep.train.tf1_sources import has_tf1_weights

    is_tf1 = not (folder / "checkpoint").is_dir() and has_tf1_weights(folder)
    try:
        init = read_init_folder(folder)
    except AnchorConfigError as exc:
        if not is_tf1:
            raise
        raise UsageError(f"{exc}. --init-from builds these TF1 models: {', '.join(tf1_models())} "
                         f"(and the TF2 zoo's {', '.join(tf2_models())})") from None
    if is_tf1 and init.kind == "zoo":
        settings = init.pipeline
        assert settings is not None
        raise UsageError(f"{settings.source}: feature extractor {settings.feature_extractor_type!r} is a TF2 network "
                         f"but {folder} holds TF1 weights (model.ckpt / frozen graph); TF1 models: "
                         f"{', '.join(tf1_models())}")
    return init


def zoo_label_map(folder: Path, label_map_path: str | None, num_classes: int) -> LabelMap | None:
    """The zoo model's label map: the one its pipeline.config names, if it is in ``folder``; else
    ``dataprep/label_maps/mscoco.pbtxt`` for a 90-class model; else None (no class rows can be matched)."""
    if label_map_path:
        local = folder / Path(label_map_path).name
        if local.is_file():
            return LabelMap.read(local)
    if num_classes == 90 and MSCOCO_LABEL_MAP.is_file():
        return LabelMap.read(MSCOCO_LABEL_MAP)
    return None


def complete_label_map(label_map: LabelMap | None, num_classes: int, where: str) -> LabelMap:
    """``label_map`` with an item ``class_<id>`` for every id in 1..num_classes it lacks, so a model
    exported whole keeps every class column (COCO's 90 ids include 10 unused ones, which the TF
    OD API's postprocess still reports); ids above ``num_classes`` are a usage error."""
    items = list(label_map) if label_map is not None else []
    too_big = [i.id for i in items if i.id > num_classes]
    if too_big:
        raise UsageError(f"{where}: label-map ids {too_big} exceed the model's {num_classes} classes")
    have = {i.id for i in items}
    items += [LabelMapItem(i, f"class_{i}") for i in range(1, num_classes + 1) if i not in have]
    return LabelMap(sorted(items, key=lambda i: i.id),
                    source=label_map.source if label_map is not None else "<class ids of the model>")


def open_source(source: InitSource) -> CheckpointSource:
    if source.kind == "tf1":
        from dataprep.train.tf1_sources import open_tf1_weights

        return CheckpointSource(*open_tf1_weights(source.tf1_weights, source.ema))
    if source.kind == "zoo":
        return CheckpointSource.from_tf_checkpoint(source.checkpoint)
    from dataprep.train.config import TrainConfig
    from dataprep.train.build import build_model

    config = TrainConfig.load(source.path)
    model = build_model(config, weights=False)
    model.load_weights(source.checkpoint)
    return CheckpointSource.from_model(model, source.checkpoint)


@dataclass
class ModelSettings:
    model: str
    input_size: int
    alpha: float
    anchor_config: dict
    #: What the resolver decided that the user did not ask for, to print.
    notes: tuple[str, ...] = ()


def model_settings(model: str | None = None, init_from: str | os.PathLike | None = None,
                   input_size: int | None = None, alpha: float | None = None,
                   anchors_json: str | os.PathLike | None = None,
                   pipeline_config: str | os.PathLike | None = None) -> ModelSettings:
    """The model, input size, width and anchors of ``dataprep train``:
    :func:`dataprep.models.resolve.resolve_model` (the resolver ``stats``, ``config``
    and ``export`` use too), with a square input size."""
    from dataprep.models.resolve import resolve_model

    resolved = resolve_model(model, input_size=input_size, anchors=anchors_json, anchor_config=pipeline_config,
                             init_from=init_from, alpha=alpha)
    return ModelSettings(resolved.model, resolved.square_size(), resolved.alpha, resolved.anchors.to_dict(),
                         resolved.notes)


# ------------------------------------------------------------------ restore
@dataclass
class RestoreReport:
    source: str
    parts: str
    restored: list[str] = field(default_factory=list)  # zoo keys copied into the model
    skipped: list[str] = field(default_factory=list)  # checkpoint keys not used
    fresh: list[str] = field(default_factory=list)  # model variables left as initialised
    classes_restored: dict[str, int] = field(default_factory=dict)  # our class name -> checkpoint class id
    classes_fresh: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"source": self.source, "parts": self.parts,
                "counts": {"restored": len(self.restored), "skipped": len(self.skipped), "fresh": len(self.fresh)},
                "classes_restored": self.classes_restored, "classes_fresh": self.classes_fresh,
                "restored": self.restored, "skipped": self.skipped, "fresh": self.fresh}

    def write(self, run_dir: str | os.PathLike) -> Path:
        path = Path(run_dir) / INIT_REPORT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def summary(self) -> str:
        line = (f"Init from {self.source} ({self.parts}): {len(self.restored)} variables restored, "
                f"{len(self.skipped)} checkpoint variables skipped, {len(self.fresh)} initialised fresh")
        if self.parts == "all":
            line += (f"; class rows restored for {len(self.classes_restored)} classes"
                     f"{', fresh for ' + ', '.join(self.classes_fresh) if self.classes_fresh else ''}")
        return line


def _mismatch(source: CheckpointSource, key: str, expected, found, model_name: str) -> CheckpointMismatchError:
    found_text = "missing" if found is None else f"shape {list(found)}"
    return CheckpointMismatchError(
        f"{source.path}: variable {key} is {found_text}, the {model_name} model expects shape {list(expected)}; "
        f"this checkpoint seems to belong to {source.describe()}"
    )


def restore(model, source: CheckpointSource, parts: str = "feature-extractor",
            class_names: Iterable[str] = (), source_label_map: LabelMap | None = None,
            model_name: str = "", slots: list[Slot] | None = None) -> RestoreReport:
    """Copy ``parts`` of ``source`` into ``model``; every shape is checked before anything is assigned.
    ``slots``: the model's variables and their keys in ``source`` (default :func:`checkpoint_slots`;
    a TF1 model read from a migrated TF2 folder: :func:`dataprep.train.tf1_migrate.tf2_slots`).

    Class rows (``parts="all"``): the class head's kernel ``[k, k, C, A * (K + 1)]``
    is seen as ``[..., A, K + 1]``; our column ``j + 1`` (class ``class_names[j]``)
    takes the checkpoint's column ``id`` of the same name in ``source_label_map``
    (the TF OD API puts label id ``i`` in column ``i``, background in 0).
    """
    if parts not in INIT_PARTS:
        raise UsageError(f"--init-parts: expected {' or '.join(INIT_PARTS)}, got {parts!r}")
    model_name = model_name or model.name
    slots = checkpoint_slots(model) if slots is None else slots
    wanted = [s for s in slots if s.part == FEATURE_EXTRACTOR or parts == "all"]
    # 1. Check everything first: a checkpoint that does not fit changes nothing.
    for s in wanted:
        found = source.shapes.get(s.key)
        expected = tuple(s.variable.shape)
        if s.anchors and found is not None:
            fits = found[:-1] == expected[:-1] and found[-1] % s.anchors == 0
        else:
            fits = found == expected
        if not fits:
            raise _mismatch(source, s.key, expected, found, model_name)
    report = RestoreReport(source.path, parts)
    names = list(class_names)
    columns = _class_columns(names, source_label_map, report) if parts == "all" else {}
    # 2. Assign.
    for s in wanted:
        value = source.get(s.key)
        if s.anchors:
            value = _class_rows(s, value, columns, source)
        s.variable.assign(value.astype(np.float32))
        report.restored.append(s.key)
    used = {s.key for s in wanted}
    report.skipped = sorted(k for k in source.shapes if k not in used and k.startswith(_MODEL_KEY_PREFIXES))
    report.fresh = [s.key for s in slots if s.key not in used]
    return report


#: Checkpoint keys of model variables: TF2 object-based, TF1 feature extractor and box predictor.
_MODEL_KEY_PREFIXES = ("model/", "FeatureExtractor/", "BoxPredictor")


def _class_columns(names: list[str], label_map: LabelMap | None, report: RestoreReport) -> dict[int, int]:
    """Our class column -> checkpoint column, for the classes both label maps name (case-insensitive)."""
    theirs = {item.name.lower(): item.id for item in label_map} if label_map is not None else {}
    columns = {0: 0}  # background
    for j, name in enumerate(names):
        cid = theirs.get(name.lower())
        if cid is None:
            report.classes_fresh.append(name)
        else:
            columns[j + 1] = cid
            report.classes_restored[name] = cid
    return columns


def _class_rows(slot: Slot, value: np.ndarray, columns: dict[int, int], source: CheckpointSource) -> np.ndarray:
    """Our class-head variable with the columns of ``columns`` taken from the checkpoint's ``value``."""
    current = slot.variable.numpy()
    anchors = slot.anchors
    ours_k, theirs_k = current.shape[-1] // anchors, value.shape[-1] // anchors
    new = current.reshape(current.shape[:-1] + (anchors, ours_k)).copy()
    old = value.reshape(value.shape[:-1] + (anchors, theirs_k))
    for ours, theirs in columns.items():
        if theirs >= theirs_k:
            raise CheckpointMismatchError(
                f"{source.path}: {slot.key} has {theirs_k - 1} classes, but its label map gives id {theirs}")
        new[..., ours] = old[..., theirs]
    return new.reshape(current.shape)
