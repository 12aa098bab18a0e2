#!/usr/bin/env python3
"""Load folders written by ``dataprep migrate`` with the genuine TF2 TF OD API and save its outputs.

Run with a venv holding the TF2 TF OD API (never a dependency of dataprep or its tests)::

    TF_USE_LEGACY_KERAS=1 PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python \\
        /path/to/odapi-tf2/bin/python tools/make_tf2_migration_fixtures.py --out OUT.npz NAME=DIR:IMAGES.npz ...

For each ``NAME=DIR:IMAGES.npz``: ``DIR`` is a migrated folder (pipeline.config +
checkpoint/ckpt-0), ``IMAGES.npz`` holds ``image`` (uint8 [1, S, S, 3]; the TF1 fixture's
outputs.npz). As ``model_lib_v2`` does, the model is built from the config with
``model_builder.build(is_training=False)``, run once so that every Keras variable exists,
then restored with ``tf.train.Checkpoint(model=model).restore(DIR/checkpoint/ckpt-0)`` and
``assert_existing_objects_matched()`` (every variable of the TF2 model found in the
checkpoint, shapes checked) and ``assert_consumed()`` (nothing in the checkpoint unused);
then as ``model_main_tf2.py`` restores a ``fine_tune_checkpoint`` of type "full" and
"detection" (``restore_from_objects``, then ``restore().expect_partial().assert_existing_objects_matched()``).
OUT.npz gets, per NAME: ``NAME/anchors``, ``NAME/box_encodings``,
``NAME/class_predictions_with_background`` (``predict()``) and ``NAME/detection_boxes``,
``/detection_scores``, ``/detection_classes`` (0-based), ``/num_detections`` (``postprocess()``).

tests/data/tf1_migrate/tf2_outputs.npz was made from the folders ``dataprep migrate`` writes of
tests/data/tf1/ssd_mobilenet_v1 and tests/data/tf1_migrate/{ssd_mobilenet_v2_tf1,ssdlite_mobilenet_v2_tf1}
(see tests/test_tf1_migrate.py, which runs this script live when DATAPREP_ODAPI_TF2_PYTHON is set).
"""

from __future__ import annotations

import argparse
import os
import sys


def run_one(folder: str, image):
    import tensorflow as tf
    from object_detection.builders import model_builder
    from object_detection.utils import config_util

    configs = config_util.get_configs_from_pipeline_file(os.path.join(folder, "pipeline.config"))
    model = model_builder.build(configs["model"], is_training=False)
    images = tf.cast(tf.constant(image), tf.float32)
    preprocessed, shapes = model.preprocess(images)
    model.predict(preprocessed, shapes)  # builds every Keras variable
    status = tf.train.Checkpoint(model=model).restore(os.path.join(folder, "checkpoint", "ckpt-0"))
    status.assert_existing_objects_matched()
    status.assert_consumed()
    # What model_main_tf2.py does with fine_tune_checkpoint (model_lib_v2.load_fine_tune_checkpoint,
    # which needs cv2 to import: its restore lines here), for both checkpoint types.
    for kind in ("full", "detection"):
        restore_map = model.restore_from_objects(fine_tune_checkpoint_type=kind)
        tf.train.Checkpoint(**restore_map).restore(
            os.path.join(folder, "checkpoint", "ckpt-0")).expect_partial().assert_existing_objects_matched()
    prediction = model.predict(preprocessed, shapes)
    detections = model.postprocess(prediction, shapes)
    out = {k: prediction[k].numpy() for k in ("anchors", "box_encodings", "class_predictions_with_background")}
    out.update({k: detections[k].numpy() for k in ("detection_boxes", "detection_scores", "detection_classes",
                                                  "num_detections")})
    return out


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the .npz to write")
    ap.add_argument("models", nargs="+", help="NAME=DIR:IMAGES.npz")
    a = ap.parse_args()
    saved = {}
    for spec in a.models:
        name, rest = spec.split("=", 1)
        folder, images = rest.rsplit(":", 1)
        out = run_one(folder, np.load(images)["image"])
        saved.update({f"{name}/{k}": v for k, v in out.items()})
        print(f"{name}: restored (assert_existing_objects_matched, assert_consumed; fine-tune full, detection), "
              f"top score {out['detection_scores'][0, 0]:.4f}", file=sys.stderr)
    np.savez_compressed(a.out, **saved)


if __name__ == "__main__":
    main()
