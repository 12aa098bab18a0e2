#!/usr/bin/env python3
"""Make tests/data/tf1/<model>/: small TF1 zoo-style folders built by the genuine TF1-era TF OD API.

Needs the TF1-era TF OD API environment (never a dependency of dataprep or its tests):
``build.sh`` of the shared tf1-odapi tools makes DEST/venv and DEST/research (object_detection,
slim, compiled protos) from a TF1-era clone of tensorflow/models, and its ``tf1shim.py`` lets that
code import under TF 2.x (tf.compat.v1 graph mode, tf.contrib -> tf_slim)::

    DEST/venv/bin/python tools/make_tf1_fixtures.py --research DEST/research --shim-dir TOOLS_DIR [--out tests/data/tf1]

``--migration`` writes tests/data/tf1_migrate/<model>/ instead, at the depth multipliers and
min_depth that migrate to the TF2 TF OD API (``MIGRATION``; ``dataprep migrate``).

For each of the TF1 zoo sample configs ``ssd_mobilenet_v1_coco``, ``ssd_mobilenet_v2_coco`` and
``ssdlite_mobilenet_v2_coco`` it sets depth_multiplier 0.125 (most layers at min_depth 16: small files), a 96x96 fixed_shape_resizer and 3 classes,
builds the model with ``model_builder.build(is_training=False)``, gives every variable seeded values
(batch-norm variances positive, heads scaled so that scores are distinct), and writes:

- ``pipeline.config`` and ``label_map.pbtxt`` (3 classes);
- a TF1 checkpoint written by ``tf.train.Saver`` with its ``checkpoint`` state file: ``model.ckpt``
  (v1), ``model.ckpt-1200`` (v2, as a TF1 training folder), ``model.ckpt-50`` with ExponentialMovingAverage shadows and ``use_moving_averages: true`` (SSDLite:
  the outputs are those of the shadows, the plain variables hold other values);
- ``frozen_inference_graph.pb`` (v1 only, to keep the fixtures small) from the TF1 exporter;
- ``outputs.npz``: the image (uint8 [1, 96, 96, 3]), ``anchors``, ``feature_map_<i>``,
  ``box_encodings``, ``class_predictions_with_background`` of ``predict()`` and the
  ``detection_*`` of ``postprocess()`` (classes 0-based), and for v1 ``frozen_detection_*``
  from running the frozen graph (classes 1-based there).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys

SIZE, CLASSES, DEPTH = 96, 3, 0.125
NAMES = ("cat", "dog", "person")
# model -> (sample config, checkpoint steps written (the last is the one named), EMA, frozen graph)
MODELS = {
    "ssd_mobilenet_v1": ("ssd_mobilenet_v1_coco.config", (None,), False, True),
    "ssd_mobilenet_v2_tf1": ("ssd_mobilenet_v2_coco.config", (1200,), False, False),
    "ssdlite_mobilenet_v2_tf1": ("ssdlite_mobilenet_v2_coco.config", (50,), True, False),
}


# --migration (tests/data/tf1_migrate): (depth multiplier, min_depth) at which the slim network and the
# TF2 API's Keras one are the same (dataprep.train.tf1_migrate.migration_problem), small: MobileNetV1 at
# 1/64 (every layer at min_depth 16: the TF2 Keras MobileNetV1 multiplies by alpha twice), MobileNetV2
# at 0.125 with min_depth 8 (at min_depth 16 Keras and slim add residuals in other blocks).
MIGRATION = {"ssd_mobilenet_v1": (0.015625, 16), "ssd_mobilenet_v2_tf1": (0.125, 8),
             "ssdlite_mobilenet_v2_tf1": (0.125, 8)}


def small_config(text: str, ema: bool, full_size: bool = False, depth: float = DEPTH,
                 min_depth: int | None = None) -> str:
    if full_size:  # the zoo config as it is (300x300, depth 1.0, 90 COCO classes)
        return text.replace("eval_config: {", "eval_config: {\n  use_moving_averages: true", 1) if ema else text
    text = re.sub(r"num_classes: \d+", f"num_classes: {CLASSES}", text)
    text = re.sub(r"depth_multiplier: [\d.]+", f"depth_multiplier: {depth}", text)
    if min_depth is not None:
        text = re.sub(r"min_depth: 16", f"min_depth: {min_depth}", text)
    text = re.sub(r"height: 300", f"height: {SIZE}", text)
    text = re.sub(r"width: 300", f"width: {SIZE}", text)
    text = re.sub(r'label_map_path: "[^"]*"', 'label_map_path: "PATH_TO_BE_CONFIGURED/label_map.pbtxt"', text)
    if ema:
        text = text.replace("eval_config: {", "eval_config: {\n  use_moving_averages: true", 1)
    return text


def seeded_value(rng, name: str, value):
    """A seeded value of variable ``name`` of the shape and dtype of ``value``."""
    import numpy as np

    head = ("ClassPredictor" in name or "BoxEncodingPredictor" in name) and "BatchNorm" not in name
    if value.ndim == 4:
        fan_in = value.shape[0] * value.shape[1] * (1 if "depthwise" in name else value.shape[2])
        scale = 0.5 / np.sqrt(fan_in) if head else np.sqrt(2.0 / fan_in)
        return rng.normal(0.0, scale, value.shape).astype(value.dtype)
    if "moving_variance" in name or name.endswith("gamma:0"):
        return rng.uniform(0.6, 1.4, value.shape).astype(value.dtype)
    if value.ndim == 1:  # beta, moving_mean, biases
        centre = -2.0 if head and "Class" in name else 0.0
        return (centre + rng.normal(0.0, 0.2, value.shape)).astype(value.dtype)
    return value


def build_one(name: str, research: str, out: str, seed: int, full_size: bool = False,
              migration: bool = False) -> None:
    import numpy as np
    import tensorflow as tf  # tf.compat.v1 under the shim
    from google.protobuf import text_format
    from object_detection.builders import model_builder
    from object_detection.protos import pipeline_pb2

    sample, steps, ema, frozen = MODELS[name]
    depth, min_depth = MIGRATION[name] if migration else (DEPTH, None)
    text = small_config(open(os.path.join(research, "object_detection/samples/configs", sample)).read(), ema,
                        full_size, depth, min_depth)
    size = 300 if full_size else SIZE
    frozen = frozen or full_size
    folder = os.path.join(out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(folder, "pipeline.config"), "w") as f:
        f.write(text)
    if not full_size:  # (full size: COCO's 90 classes, whose label map dataprep ships)
        with open(os.path.join(folder, "label_map.pbtxt"), "w") as f:
            f.writelines(f"item {{\n  id: {i}\n  name: '{n}'\n}}\n" for i, n in enumerate(NAMES, start=1))
    config = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Merge(text, config)
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    with tf.Graph().as_default():
        model = model_builder.build(config.model, is_training=False)
        images = tf.placeholder(tf.uint8, [1, size, size, 3], name="image_tensor")
        preprocessed, shapes = model.preprocess(tf.cast(images, tf.float32))
        prediction = model.predict(preprocessed, shapes)
        detections = model.postprocess(prediction, shapes)
        tf.train.get_or_create_global_step()
        model_vars = tf.global_variables()
        averages = tf.train.ExponentialMovingAverage(0.999).apply(tf.trainable_variables()) if ema else None
        fetch = {"anchors": prediction["anchors"], "box_encodings": prediction["box_encodings"],
                 "class_predictions_with_background": prediction["class_predictions_with_background"],
                 **{f"feature_map_{i}": m for i, m in enumerate(prediction["feature_maps"])},
                 **{k: detections[k] for k in ("detection_boxes", "detection_scores", "detection_classes",
                                               "num_detections")}}
        saver = tf.train.Saver(max_to_keep=5)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for v in model_vars:
                v.load(seeded_value(rng, v.name, sess.run(v)), sess)
            outputs = sess.run(fetch, {images: image})
            if ema:  # the shadows hold the values the outputs came from; the variables move on
                ema_obj = [e for e in tf.global_variables() if e.name.endswith("ExponentialMovingAverage:0")]
                by_name = {v.op.name: v for v in tf.trainable_variables()}
                for shadow in ema_obj:
                    var = by_name[shadow.op.name[: -len("/ExponentialMovingAverage")]]
                    value = sess.run(var)
                    shadow.load(value, sess)
                    var.load(value + rng.normal(0.0, 0.05, value.shape).astype(value.dtype), sess)
            for step in steps:
                saver.save(sess, os.path.join(folder, "model.ckpt"), global_step=step)
    prefix = os.path.join(folder, "model.ckpt" if steps[-1] is None else f"model.ckpt-{steps[-1]}")
    state = os.path.join(folder, "checkpoint")  # relative paths, as a folder copied elsewhere has them
    with open(state) as f:
        text = re.sub(r'"[^"]*[/\\](model\.ckpt[^"/\\]*)"', r'"\1"', f.read())
    with open(state, "w") as f:
        f.write(text)
    for meta in [f for f in os.listdir(folder) if f.endswith(".meta")]:
        os.remove(os.path.join(folder, meta))  # the graph, not needed to restore (and the largest file)
    if frozen:
        outputs.update(export_frozen(config, prefix, folder, image))
    np.savez_compressed(os.path.join(folder, "outputs.npz"), image=image, **outputs)
    print(f"{folder}: {len(outputs['anchors'])} anchors, top score {outputs['detection_scores'][0, 0]:.4f}")


def export_frozen(config, prefix: str, folder: str, image) -> dict:
    """The TF1 exporter's frozen_inference_graph.pb and its detections on ``image``."""
    import tensorflow as tf
    from object_detection import exporter

    exporter.profile_inference_graph = lambda graph: None  # tfprof is gone from TF 2.x; it only logs sizes
    tmp = os.path.join(folder, "_export")
    with tf.Graph().as_default():
        exporter.export_inference_graph("image_tensor", config, prefix, tmp)
    shutil.move(os.path.join(tmp, "frozen_inference_graph.pb"), os.path.join(folder, "frozen_inference_graph.pb"))
    shutil.rmtree(tmp)
    graph_def = tf.GraphDef()
    with open(os.path.join(folder, "frozen_inference_graph.pb"), "rb") as f:
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        with tf.Session(graph=graph) as sess:
            names = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
            out = sess.run({k: f"{k}:0" for k in names}, {"image_tensor:0": image})
    return {f"frozen_{k}": v for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--research", required=True, help="DEST/research made by build.sh")
    ap.add_argument("--shim-dir", required=True, help="the folder holding tf1shim.py")
    ap.add_argument("--out", default=None, help="default tests/data/tf1 (--migration: tests/data/tf1_migrate)")
    ap.add_argument("--migration", action="store_true",
                    help="the depth multipliers and min_depth that migrate to the TF2 API (MIGRATION)")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--full-size", action="store_true",
                    help="the zoo configs as they are (300x300, depth 1.0, 90 classes), each with a frozen graph")
    a = ap.parse_args()
    research = os.path.abspath(a.research)
    sys.path[:0] = [research, os.path.join(research, "slim"), os.path.abspath(a.shim_dir)]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf1shim  # noqa: F401  (must come before object_detection)

    out = a.out or os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                "tf1_migrate" if a.migration else "tf1")
    for i, name in enumerate(a.models):
        build_one(name, research, out, a.seed + i, a.full_size, a.migration)


if __name__ == "__main__":
    main()
