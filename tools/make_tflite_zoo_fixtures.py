"""Make the TFLite zoo parity fixtures with the genuine TF OD API TFLite path.

Run once, with a venv holding the TF OD API (TF2) -- not dataprep's own:

    TF_USE_LEGACY_KERAS=1 PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python \\
        /path/to/odapi-venv/bin/python tools/make_tflite_zoo_fixtures.py tests/data/zoo

For each zoo fixture folder made by ``tools/make_zoo_fixtures.py`` (pipeline.config,
checkpoint/ckpt-0, outputs.npz with its fixed ``image``), this runs the TF OD API's
own route to a phone model -- ``export_tflite_graph_lib_tf2.export_tflite_model``
(max_detections 10, fast NMS: the defaults of export_tflite_graph_tf2.py), then
``tf.lite.TFLiteConverter.from_saved_model`` -- and runs the file on the fixture's
image (normalised as the model's preprocess does: 2 / 255 * x - 1; the image already
has the model's input size, so nothing is resized). It writes::

    OUT/<model>/tflite_outputs.npz   boxes [1, 10, 4], classes [1, 10], scores [1, 10], count [1]

``tests/test_tflite.py`` exports the same folder with ``dataprep export --init-from
--tflite`` and requires the same outputs (1e-3). dataprep never imports this script.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from object_detection import export_tflite_graph_lib_tf2
from object_detection.builders import model_builder
from object_detection.protos import pipeline_pb2

MAX_DETECTIONS = 10  # export_tflite_graph_tf2.py's default


def genuine_tflite(folder: Path, work: Path) -> bytes:
    config = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Parse((folder / "pipeline.config").read_text(), config)
    # The fixture holds tf.train.Checkpoint(model=...).write() (no save_counter), which export_tflite_model's
    # CheckpointManager + assert_existing_objects_matched refuses: restore it, save it as a manager would.
    model = model_builder.build(config.model, is_training=False)
    size = config.model.ssd.image_resizer.fixed_shape_resizer
    model.predict(tf.zeros([1, size.height, size.width, 3]), None)  # creates the variables
    checkpoint = tf.train.Checkpoint(model=model)
    checkpoint.read(str(folder / "checkpoint" / "ckpt-0")).assert_existing_objects_matched()
    tf.train.CheckpointManager(checkpoint, str(work / "checkpoint"), max_to_keep=1).save()
    export_tflite_graph_lib_tf2.export_tflite_model(config, str(work / "checkpoint"), str(work / "export"),
                                                    MAX_DETECTIONS, use_regular_nms=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(work / "export" / "saved_model"))
    return converter.convert()


def run(model: bytes, image: np.ndarray) -> dict[str, np.ndarray]:
    interpreter = tf.lite.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                           (image.astype(np.float32) * (2.0 / 255.0) - 1.0))
    interpreter.invoke()
    # the file lists its outputs in the converter's order; take them in the op's: boxes, classes, scores, count
    op = next(o for o in interpreter._get_ops_details() if o["op_name"] == "TFLite_Detection_PostProcess")
    boxes, classes, scores, count = (interpreter.get_tensor(int(i)) for i in op["outputs"])
    return {"boxes": boxes, "classes": classes, "scores": scores, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zoo", type=Path, help="tests/data/zoo")
    args = parser.parse_args()
    for folder in sorted(p for p in args.zoo.iterdir() if (p / "pipeline.config").is_file()):
        image = np.load(folder / "outputs.npz")["image"]
        with tempfile.TemporaryDirectory() as tmp:
            outputs = run(genuine_tflite(folder, Path(tmp)), image)
        np.savez(folder / "tflite_outputs.npz", **outputs)
        print(folder.name, {k: v.shape for k, v in outputs.items()}, "scores", outputs["scores"][0, :3])


if __name__ == "__main__":
    main()
