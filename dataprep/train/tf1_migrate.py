"""``dataprep migrate TF1_DIR --out TF2_DIR``: a TF1 SSD folder as a TF2 detection-zoo folder.

    TF1_DIR/pipeline.config + model.ckpt[-N] | frozen_inference_graph.pb | saved_model/  (any --init-from TF1 folder)
      -> TF1SSD (dataprep.train.tf1) with every TF1 variable (EMA shadows where the config says so)
      -> TF2_DIR/pipeline.config            the same model for the TF2 TF OD API (see tf2_pipeline_config)
         TF2_DIR/checkpoint/ckpt-0.{index,data-00000-of-00001}, checkpoint/checkpoint
                                            object-based, as tf.train.Checkpoint(model=detection_model) reads it
         TF2_DIR/label_map.pbtxt            the TF1 folder's label map (or --label-map), when there is one

The TF2 TF OD API cannot read TF1 checkpoints (``model_lib_v2`` raises on
``fine_tune_checkpoint_version: V1``) and builds its SSDs from Keras networks;
this writes the TF1 weights under the names the TF2 API's object graph gives
them, with plain TensorFlow (nested ``tf.Module`` objects whose attribute paths
are those of the TF2 model; the TF OD API is never imported). The object graph
(read off checkpoints the genuine TF2 API writes, tools/make_tf2_migration_fixtures.py)::

    model/_feature_extractor/classification_backbone/layer_with_weights-N/{kernel,depthwise_kernel,gamma,...}
        the N-th layer with weights of the Keras MobileNet (slim's order: conv, its batch norm, ...)
    model/_feature_extractor/feature_map_generator/convolutions/<2+i>/<j>/...   (MobileNetV2; MobileNetV1
        says _feature_map_generator): extra layer i, layer j of [1x1 conv, BN, ReLU6, (3x3 depthwise, BN,
        ReLU6,) 3x3 or 1x1 conv, BN, ReLU6]
    model/_box_predictor/_prediction_heads/box_encodings/<level>/_box_encoder_layers/<j>/...
    model/_box_predictor/_prediction_heads/class_predictions_with_background/<level>/_class_predictor_layers/<j>/...
        j of [conv with bias] or, SSDLite, [3x3 depthwise, BN, ReLU6, 1x1 conv with bias]

Which depth multipliers migrate (checked, the migration refuses the others naming the
layer): MobileNetV1 only 1.0 in practice -- the TF2 API's Keras MobileNetV1 applies the
multiplier twice (``max(int(int(d * alpha) * alpha), min_depth)``: keras.applications.MobileNet,
then ``_LayersOverride.Conv2D``) where slim has ``max(int(d * alpha), min_depth)``, so below 1
the two agree only where every layer is at min_depth; MobileNetV2 those at which
the TF2 API's Keras MobileNetV2 (:func:`dataprep.train.zoo.zoo_mobilenet_v2`) is
slim's network (:func:`dataprep.train.tf1.slim_mobilenet_v2`): same depths and the
same residual connections. Keras decides a residual on the unrounded depth
(``make_divisible(int(d * alpha))`` before min_depth), slim on the real one, so at
0.25 or 0.5 with min_depth 16 (16 = 16 in slim, 16 vs 8 in Keras) the two
networks differ and the migration is refused, naming the multipliers that work
(:func:`migration_problem`).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.errors import UsageError

#: TF1 feature extractor type -> the TF2 API's Keras one.
TF2_FEATURE_EXTRACTORS = {"ssd_mobilenet_v1": "ssd_mobilenet_v1_keras", "ssd_mobilenet_v2": "ssd_mobilenet_v2_keras"}
#: The feature-map generator's attribute in the TF2 feature extractors (ssd_mobilenet_v{1,2}_keras_feature_extractor).
_FEATURE_MAP_GENERATOR = {"mobilenet_v1": "_feature_map_generator", "mobilenet_v2": "feature_map_generator"}
CHECKPOINT_PREFIX = Path("checkpoint") / "ckpt-0"
#: Depth multipliers offered in the refusal message when they migrate.
_USUAL_ALPHAS = (0.25, 0.35, 0.5, 0.75, 1.0)


@dataclass
class MigrationResult:
    out: Path
    model: str
    variables: int
    checkpoint: Path
    label_map: Path | None
    notes: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = [f"Migrated {self.model} to {self.out}: {self.variables} variables in {self.checkpoint} "
                 f"(TF2 object-based), pipeline.config for the TF2 TF OD API"
                 + (f", {self.label_map.name}" if self.label_map else "")]
        lines += [f"  {note}" for note in self.notes]
        return lines


# ------------------------------------------------------------------ which depths migrate
def v2_layout(alpha: float, min_depth: int, keras: bool) -> tuple[list[tuple[str, int]], list[int]]:
    """``([(layer, channels)], residual blocks)`` of MobileNetV2 up to Conv_1, as slim builds it
    (:func:`dataprep.train.tf1.slim_mobilenet_v2`) or as the TF2 API's Keras network does
    (:func:`dataprep.train.zoo.zoo_mobilenet_v2`); the rules are those two builders', in arithmetic
    (tests/test_tf1_migrate.py checks them against the builders)."""
    from dataprep.train.tf1 import V2_BLOCKS
    from dataprep.train.zoo import make_divisible

    def min_depth_of(filters: int) -> int:  # Keras: every conv but the expansions (_LayersOverride.Conv2D)
        return max(filters, min_depth) if min_depth else filters

    def slim_depth(d: float) -> int:
        return make_divisible(d * alpha, 8, min_depth)

    x = min_depth_of(make_divisible(32 * alpha)) if keras else slim_depth(32)
    layers, residuals = [("Conv", x)], []
    for block, (filters, stride) in enumerate(V2_BLOCKS):
        if block:
            layers.append((f"block {block} expansion", 6 * x if keras else make_divisible(x * 6, 8)))
        nominal = make_divisible(int(filters * alpha)) if keras else slim_depth(filters)
        out = min_depth_of(nominal) if keras else nominal
        layers.append((f"block {block} projection", out))
        if stride == 1 and x == nominal:  # Keras compares with the unrounded depth, slim with the real one
            residuals.append(block)
        x = out
    last = 1280 if alpha >= 1.0 else make_divisible(1280 * alpha)
    layers.append(("Conv_1", min_depth_of(last) if keras else slim_depth(1280)))
    return layers, residuals


def migration_problem(backbone: str, alpha: float, min_depth: int) -> str | None:
    """Why a slim ``backbone`` at ``alpha`` / ``min_depth`` has no TF2 Keras twin, or None when it has one."""
    if backbone == "mobilenet_v1":
        return _v1_problem(alpha, min_depth)
    (slim, ours), (keras_layers, theirs) = v2_layout(alpha, min_depth, False), v2_layout(alpha, min_depth, True)
    for (name, a), (_, b) in zip(slim, keras_layers):
        if a != b:
            return f"MobileNetV2 {name} has {a} channels in slim, {b} in the TF2 Keras network"
    if ours != theirs:
        return (f"slim adds residuals in blocks {ours}, the TF2 Keras MobileNetV2 in {theirs} "
                f"(it compares the unrounded depth; blocks {sorted(set(ours) ^ set(theirs))} differ)")
    return None


def _v1_problem(alpha: float, min_depth: int) -> str | None:
    """MobileNetV1: slim's depth ``max(int(d * alpha), min_depth)`` against the TF2 API's Keras one,
    ``max(int(int(d * alpha) * alpha), min_depth)`` (keras.applications.MobileNet multiplies by alpha,
    then object_detection/models/keras_models/mobilenet_v1.py's _LayersOverride.Conv2D once more)."""
    from dataprep.train.tf1 import V1_SEPARABLE
    from dataprep.train.zoo import depth_fn

    layers = [("Conv2d_0", 32)] + [(f"Conv2d_{i}_pointwise", d) for i, (d, _) in enumerate(V1_SEPARABLE, start=1)]
    for name, depth in layers:
        slim, keras_depth = depth_fn(depth, alpha, min_depth), max(int(int(depth * alpha) * alpha), min_depth)
        if slim != keras_depth:
            return (f"{name} has {slim} channels in slim, {keras_depth} in the TF2 Keras MobileNetV1 (which applies "
                    "the depth multiplier twice: keras.applications and the TF OD API's _LayersOverride)")
    return None


def check_migratable(model: str, alpha: float, min_depth: int, where: str) -> None:
    from dataprep.train.tf1 import tf1_architecture

    backbone = tf1_architecture(model).backbone
    problem = migration_problem(backbone, alpha, min_depth)
    if problem is None:
        return
    working = [a for a in _USUAL_ALPHAS if migration_problem(backbone, a, min_depth) is None]
    network = "MobileNetV1" if backbone == "mobilenet_v1" else "MobileNetV2"
    raise UsageError(
        f"{where}: depth_multiplier {alpha:g} (min_depth {min_depth}) cannot migrate to the TF2 TF OD API: {problem}. "
        f"{network} depth multipliers that migrate at min_depth {min_depth}: {', '.join(f'{a:g}' for a in working)}. "
        "This model still exports as it is: dataprep export --init-from")


# ------------------------------------------------------------------ TF2 names
def tf2_slots(model) -> list:
    """Every variable of a :class:`dataprep.train.tf1.TF1SSD` with its TF2 object-graph key
    (see the module docstring), as :class:`dataprep.train.restore.Slot` in model order."""
    from dataprep.train.restore import BOX_HEAD, CLASS_HEAD, FEATURE_EXTRACTOR, layer_slots
    from dataprep.train.tf1 import tf1_architecture
    from dataprep.train.zoo import weighted_layers

    arch = tf1_architecture(model.architecture)
    fe = "model/_feature_extractor"
    slots = []
    for n, layer in enumerate(weighted_layers(model.backbone)):
        slots += layer_slots(layer, f"{fe}/classification_backbone/layer_with_weights-{n}", FEATURE_EXTRACTOR)
    maps = f"{fe}/{_FEATURE_MAP_GENERATOR[arch.backbone]}/convolutions"
    for i, block in enumerate(model.feature_maps.blocks):
        for j, layer in enumerate(block.layers):
            slots += layer_slots(layer, f"{maps}/{i + 2}/{j}", FEATURE_EXTRACTOR)
    heads = "model/_box_predictor/_prediction_heads"
    for head, part, path in ((model.box_head, BOX_HEAD, "box_encodings/{}/_box_encoder_layers"),
                             (model.class_head, CLASS_HEAD,
                              "class_predictions_with_background/{}/_class_predictor_layers")):
        for level, tower in enumerate(head.towers):
            anchors = model.anchors_per_location[level]
            for j, layer in enumerate(tower.layers):
                slots += layer_slots(layer, f"{heads}/{path.format(level)}/{j}", part, anchors)
    return slots


def write_object_checkpoint(values: dict, prefix: Path) -> Path:
    """``values`` (``"model/a/b/kernel"`` -> array) as the object-based checkpoint ``prefix``
    that ``tf.train.Checkpoint(model=...)`` restores: nested ``tf.Module`` nodes, one per
    path component, the last one a ``tf.Variable``."""
    import tensorflow as tf

    class Node(tf.Module):
        """One object of the checkpoint's object graph."""

    nodes: dict[tuple[str, ...], Node] = {(): Node()}
    for key, value in values.items():
        *path, leaf = key.split("/")
        for depth in range(1, len(path) + 1):
            if tuple(path[:depth]) not in nodes:
                nodes[tuple(path[:depth])] = Node()
                setattr(nodes[tuple(path[: depth - 1])], path[depth - 1], nodes[tuple(path[:depth])])
        setattr(nodes[tuple(path)], leaf, tf.Variable(value, name=leaf, trainable=False))
    root = nodes[()]
    prefix.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = tf.train.Checkpoint(**{name: getattr(root, name) for name in {k.split("/")[0] for k in values}})
    checkpoint.save_counter  # noqa: B018 -- created on access: the TF2 API's Checkpoint expects it (as .save() writes it)
    checkpoint.write(os.fspath(prefix))
    (prefix.parent / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n', encoding="utf-8")
    return prefix


# ------------------------------------------------------------------ pipeline.config
def _remove_block(text: str, name: str) -> tuple[str, bool]:
    """``text`` without the top-level-or-nested message ``name { ... }`` (braces matched), and whether it was there."""
    match = re.search(rf"^[ \t]*{name}\s*:?\s*\{{", text, re.M)
    if match is None:
        return text, False
    depth, i = 1, match.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    end = text.find("\n", i)
    return text[: match.start()] + text[(len(text) if end < 0 else end + 1):], True


def _set_field(text: str, block: str, name: str, value: str) -> str:
    """``name: value`` in the first ``block { ... }``: replaced where it is, else added at the block's start."""
    pattern = re.compile(rf"^([ \t]*){name}\s*:[^\n]*$", re.M)
    start = re.search(rf"^[ \t]*{block}\s*:?\s*\{{[ \t]*\n?", text, re.M)
    if start is None:
        return text + f"\n{block} {{\n  {name}: {value}\n}}\n"
    found = pattern.search(text, start.end())
    if found is not None and _inside(text, start.end(), found.start()):
        return text[: found.start()] + f"{found.group(1)}{name}: {value}" + text[found.end():]
    return text[: start.end()] + f"  {name}: {value}\n" + text[start.end():]


def _inside(text: str, start: int, position: int) -> bool:
    """Whether ``position`` is inside the block opened just before ``start`` (at its top level)."""
    depth = 0
    for ch in text[start:position]:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def tf2_pipeline_config(text: str, checkpoint: str) -> tuple[str, list[str]]:
    """The TF2 TF OD API's pipeline.config of the TF1 one ``text`` and what was changed, line by line:

    - ``feature_extractor.type`` ``ssd_mobilenet_v{1,2}`` -> ``ssd_mobilenet_v{1,2}_keras`` (SSDLite stays
      ``ssd_mobilenet_v2_keras`` with ``use_depthwise: true`` in the feature extractor and the box predictor,
      as the TF1 config has it); anchors, box coder, matcher, NMS, score converter, classes, image size, depth
      multiplier and min_depth stay as they are (the same proto fields in TF2);
    - ``train_config``: ``fine_tune_checkpoint`` = the migrated ``ckpt-0``, ``fine_tune_checkpoint_type: "full"``
      (the whole model, class head included: set "detection" when changing num_classes),
      ``fine_tune_checkpoint_version: V2``; the TF1-only ``from_detection_checkpoint`` and
      ``load_all_detection_checkpoint_vars`` go;
    - ``eval_config.use_moving_averages`` -> false: the checkpoint holds the averages already;
    - ``graph_rewriter`` (TF1 quantisation-aware training) goes: model_lib_v2 does not rewrite graphs.
    """
    notes = []

    def feature_type(match):
        notes.append(f"feature_extractor.type {match.group(2)} -> {TF2_FEATURE_EXTRACTORS[match.group(2)]}")
        return f'{match.group(1)}"{TF2_FEATURE_EXTRACTORS[match.group(2)]}"'

    text = re.sub(r"""(\btype\s*:\s*)["'](ssd_mobilenet_v[12])["']""", feature_type, text)
    for name in ("from_detection_checkpoint", "load_all_detection_checkpoint_vars"):
        text, count = re.subn(rf"^[ \t]*{name}\s*:[^\n]*\n", "", text, flags=re.M)
        if count:
            notes.append(f"train_config.{name} removed (TF1 only)")
    text = _set_field(text, "train_config", "fine_tune_checkpoint_version", "V2")
    text = _set_field(text, "train_config", "fine_tune_checkpoint_type", '"full"')
    text = _set_field(text, "train_config", "fine_tune_checkpoint", f'"{checkpoint}"')
    notes.append(f'train_config.fine_tune_checkpoint "{checkpoint}" (type "full": the whole model; set '
                 '"detection" to keep only the feature extractor when changing num_classes)')
    eval_start = re.search(r"^[ \t]*eval_config\s*:?\s*\{", text, re.M)
    if eval_start and re.search(r"^\s*use_moving_averages\s*:\s*true", text[eval_start.end():], re.M | re.I):
        text = _set_field(text, "eval_config", "use_moving_averages", "false")
        notes.append("eval_config.use_moving_averages -> false (the checkpoint holds the moving averages)")
    text, removed = _remove_block(text, "graph_rewriter")
    if removed:
        notes.append("graph_rewriter removed (TF1 quantisation-aware training; model_lib_v2 does not rewrite "
                     "graphs: quantise with dataprep export --tflite --quantize instead)")
    return text, notes


# ------------------------------------------------------------------ the migration
def migrate_tf1(folder: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False,
                label_map_path: str | os.PathLike | None = None) -> MigrationResult:
    """Write the TF2 zoo folder ``out`` of the TF1 folder ``folder`` (see the module docstring)."""
    from dataprep.label_map import LabelMap
    from dataprep.models.resolve import ZOO_CONFIG_FILE
    from dataprep.train.restore import complete_label_map, open_source, read_init_source, restore
    from dataprep.train.tf1 import TF1SSD

    folder, out = Path(folder), Path(out)
    source = read_init_source(folder, any_min_depth=True)
    if source.kind != "tf1":
        raise UsageError(f"{folder}: not a TF1 folder ({source.kind} folder of {source.model}); migrate reads a "
                         "TF1 OD API folder: pipeline.config + model.ckpt[-N], frozen_inference_graph.pb or saved_model/")
    pipeline = folder / ZOO_CONFIG_FILE
    check_migratable(source.model, source.alpha, source.min_depth, os.fspath(pipeline))
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"{out} exists and is not empty; pass --overwrite or choose another --out")
        shutil.rmtree(out)
    given = LabelMap.read(label_map_path) if label_map_path is not None else None
    label_map = given or source.label_map
    names = complete_label_map(label_map, source.num_classes, os.fspath(label_map_path or folder))
    from dataprep.anchors.kinds import anchor_config_from_dict

    anchors = anchor_config_from_dict(source.anchor_config).num_anchors_per_location()
    model = TF1SSD(source.model, source.num_classes, anchors, input_size=source.input_size, alpha=source.alpha,
                   min_depth=source.min_depth)
    report = restore(model, open_source(source), "all", [i.name for i in names], names, model_name=source.model)
    values = {slot.key: slot.variable.numpy() for slot in tf2_slots(model)}
    out.mkdir(parents=True, exist_ok=True)
    prefix = write_object_checkpoint(values, out / CHECKPOINT_PREFIX)
    text, notes = tf2_pipeline_config(pipeline.read_text(encoding="utf-8", errors="replace"),
                                      os.fspath(prefix.resolve()))
    (out / ZOO_CONFIG_FILE).write_text(text, encoding="utf-8")
    written = None
    if label_map is not None:
        written = out / "label_map.pbtxt"
        if label_map.source and Path(label_map.source).is_file():
            shutil.copyfile(label_map.source, written)  # as it is (comments, display names)
        else:
            label_map.write(written)
    notes = [f"weights: {source.note}"] + notes if source.note else notes
    if len(report.restored) != len(values):
        raise UsageError(f"{folder}: {len(report.restored)} TF1 variables restored for {len(values)} TF2 ones")
    return MigrationResult(out, source.model, len(values), prefix, written, notes)
