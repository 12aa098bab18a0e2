"""TF1 model folders as ``--init-from`` sources: their weights by TF1 variable name.

    DIR/pipeline.config + DIR/model.ckpt[-N].{index,data-*}   (a TF1 zoo folder, a TF1 OD API training folder)
    DIR/pipeline.config + DIR/frozen_inference_graph.pb       (what the TF1 exporter writes)
    DIR/pipeline.config + DIR/saved_model/saved_model.pb      (the TF1 exporter's SavedModel: the same frozen graph)
      -> (path, shapes, getter) by TF1 variable name: a CheckpointSource (dataprep.train.restore)

Which checkpoint: the one the ``checkpoint`` state file names (``model_checkpoint_path``; an
absolute path from the training machine is looked up by its file name in DIR), else the
newest ``model.ckpt-N`` (largest N), else ``model.ckpt``. Checkpoints are read with
``tf.train.load_checkpoint`` (no TF1 runtime, no TF OD API).

EMA: with ``use_moving_averages: true`` in ``eval_config`` (what the TF1 exporter and
evaluator honour) or ``train_config``, each variable is read from its shadow
``NAME/ExponentialMovingAverage`` when the checkpoint has one (batch-norm moving
statistics have none and are read as they are): TF1's ``ema.variables_to_restore()``.

Frozen graphs: the exporter's ``convert_variables_to_constants`` turns every variable into
a ``Const`` node of the same name, so the same variable map reads them; batch norms stay
unfolded there (``FusedBatchNorm`` with gamma/beta/moving_mean/moving_variance constants).
A graph whose batch norms were folded into the convolutions afterwards (no ``BatchNorm``
constants) is refused with an error that says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dataprep.errors import UsageError

FROZEN_GRAPH = "frozen_inference_graph.pb"
SAVED_MODEL = Path("saved_model") / "saved_model.pb"
EMA_SUFFIX = "/ExponentialMovingAverage"
#: TF1 checkpoint entries that are not model variables.
_NOT_MODEL = re.compile(r"(^global_step$|/ExponentialMovingAverage$|/(Momentum|RMSProp(_1)?|Adam(_1)?)$|^beta[12]_power)")
#: The TF1 feature-extractor scopes and the architecture each belongs to (for messages).
_TF1_SCOPES = (("FeatureExtractor/MobilenetV1", "ssd_mobilenet_v1"),
               ("FeatureExtractor/MobilenetV2", "ssd_mobilenet_v2 / ssdlite_mobilenet_v2 (TF1)"),
               ("FeatureExtractor/InceptionV2", "SSD Inception V2 (TF1)"),
               ("FeatureExtractor/InceptionV3", "SSD Inception V3 (TF1)"),
               ("FeatureExtractor/resnet_v1", "SSD ResNet FPN (TF1)"),
               ("FirstStageFeatureExtractor", "Faster R-CNN / R-FCN (TF1)"))


@dataclass(frozen=True)
class TF1Weights:
    """Where a TF1 folder's weights are: ``kind`` "checkpoint" (``path`` = prefix) or "graph"."""

    kind: str
    path: str
    note: str = ""  # what was decided (which checkpoint), for the report


def has_tf1_weights(folder: Path) -> bool:
    return ((folder / "checkpoint").is_file() or any(folder.glob("model.ckpt*.index"))
            or (folder / FROZEN_GRAPH).is_file() or (folder / SAVED_MODEL).is_file())


def find_tf1_weights(folder: Path) -> TF1Weights:
    """The checkpoint (see the module docstring), else the frozen graph, else the SavedModel of ``folder``."""
    prefix, note = _tf1_checkpoint_prefix(folder)
    if prefix is not None:
        return TF1Weights("checkpoint", prefix, note)
    for name in (FROZEN_GRAPH, SAVED_MODEL):
        if (folder / name).is_file():
            return TF1Weights("graph", os.fspath(folder / name), f"no model.ckpt: weights from {name}'s constants")
    raise UsageError(f"{folder}: a TF1 folder needs model.ckpt[-N].index, {FROZEN_GRAPH} or {SAVED_MODEL}; "
                     "found none")


def _step(path: Path) -> int:
    match = re.fullmatch(r"model\.ckpt-(\d+)\.index", path.name)
    return int(match.group(1)) if match else -1


def _tf1_checkpoint_prefix(folder: Path) -> tuple[str | None, str]:
    state = folder / "checkpoint"
    named = None
    if state.is_file():
        match = re.search(r'^model_checkpoint_path:\s*"([^"]*)"', state.read_text(errors="replace"), re.M)
        named = match.group(1) if match else None
    candidates = sorted(folder.glob("model.ckpt*.index"), key=_step)
    if named:
        for prefix in ((folder / named), folder / Path(named.replace("\\", "/")).name):
            if prefix.with_name(prefix.name + ".index").is_file():
                return os.fspath(prefix), f"checkpoint {prefix.name} (named by {state.name})"
        if candidates:
            newest = candidates[-1].with_suffix("")
            return os.fspath(newest), (f"{state.name} names {named}, which is not in {folder}; "
                                       f"using the newest, {newest.name}")
    if candidates:
        newest = candidates[-1].with_suffix("")
        return os.fspath(newest), f"checkpoint {newest.name} (the newest)"
    return None, ""


def use_moving_averages(pipeline_text: str) -> bool:
    """``use_moving_averages: true`` anywhere in the pipeline.config (eval_config or train_config)."""
    return re.search(r"^\s*use_moving_averages\s*:\s*true\b", pipeline_text, re.M | re.I) is not None


def open_tf1_weights(weights: TF1Weights, ema: bool):
    """``(path, {TF1 variable name: shape}, name -> array)``: what a
    :class:`dataprep.train.restore.CheckpointSource` is made of."""
    if weights.kind == "checkpoint":
        return _checkpoint_source(weights.path, ema)
    return _graph_source(weights.path)


def _checkpoint_source(prefix: str, ema: bool):
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as exc:
        raise UsageError(f"{prefix}: cannot read the TF1 checkpoint: {str(exc).splitlines()[0]}") from None
    all_shapes = reader.get_variable_to_shape_map()
    shapes = {k: tuple(s) for k, s in all_shapes.items() if not _NOT_MODEL.search(k)}

    def get(key):
        if ema and key + EMA_SUFFIX in all_shapes:
            return reader.get_tensor(key + EMA_SUFFIX)
        return reader.get_tensor(key)

    return prefix, shapes, get


def _graph_source(path: str):
    import tensorflow as tf

    data = Path(path).read_bytes()
    try:
        if path.endswith(os.fspath(SAVED_MODEL)):
            from tensorflow.core.protobuf import saved_model_pb2

            saved = saved_model_pb2.SavedModel()
            saved.ParseFromString(data)
            nodes = [n for mg in saved.meta_graphs for n in mg.graph_def.node]
        else:
            graph = tf.compat.v1.GraphDef()
            graph.ParseFromString(data)
            nodes = list(graph.node)
    except Exception as exc:  # noqa: BLE001 -- protobuf raises DecodeError (not exported by TF)
        raise UsageError(f"{path}: not a TensorFlow GraphDef ({type(exc).__name__}: {exc})") from None
    consts = {n.name: n for n in nodes if n.op == "Const" and not _NOT_MODEL.search(n.name)}
    shapes = {k: tuple(d.size for d in n.attr["value"].tensor.tensor_shape.dim) for k, n in consts.items()}
    if any(k.startswith("FeatureExtractor/") and k.endswith("/weights") for k in shapes) and \
            not any("/BatchNorm/" in k for k in shapes):
        raise UsageError(f"{path}: the batch norms of this graph are folded into its convolutions (no BatchNorm "
                         "constants: a graph rewritten by optimize_for_inference, transform_graph fold_batch_norms "
                         "or a TFLite-ready export); dataprep reads frozen graphs as the TF1 exporter writes them "
                         "(unfolded). Use the training checkpoint (model.ckpt[-N]) or the exporter's "
                         "frozen_inference_graph.pb")
    return path, shapes, lambda key: tf.make_ndarray(consts[key].attr["value"].tensor)


def describe_tf1(keys) -> str | None:
    """The TF1 architecture a set of variable names belongs to, or None when they are not TF1 names."""
    for scope, name in _TF1_SCOPES:
        if any(k.startswith(scope) for k in keys):
            return name
    if any(k.startswith("FeatureExtractor/") for k in keys):
        return "a TF1 SSD with another feature extractor"
    return None
