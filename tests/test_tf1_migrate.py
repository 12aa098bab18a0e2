"""``dataprep migrate``: TF1 SSD folders as TF2 zoo folders the genuine TF2 TF OD API restores.

``tests/data/tf1_migrate/<model>/`` are TF1 folders made by the genuine TF1-era TF OD API
(``tools/make_tf1_fixtures.py --migration``: the depth multipliers at which slim's networks
and the TF2 API's Keras ones are the same -- MobileNetV1 at 1/64 with min_depth 16,
MobileNetV2 at 0.125 with min_depth 8). ``tf2_outputs.npz`` holds what the genuine TF2
TF OD API gave for the folders ``dataprep migrate`` writes of them
(``tools/make_tf2_migration_fixtures.py``: ``model_builder.build``, ``tf.train.Checkpoint(model=
...).restore()`` with ``assert_existing_objects_matched()`` and ``assert_consumed()``, then
``predict()`` / ``postprocess()``). The test migrates the TF1 folders again and checks (a) the
migrated checkpoint read back into our model gives the TF1 model's outputs and (b) the genuine TF2
outputs are the TF1 model's (top-10 detections within 1e-3, classes equal). With
DATAPREP_ODAPI_TF2_PYTHON pointing at the TF2 venv's python, the genuine check also runs live.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dataprep.cli import main  # noqa: E402
from dataprep.errors import UsageError  # noqa: E402
from dataprep.train.restore import CheckpointSource, read_init_source, restore  # noqa: E402
from dataprep.train.tf1_migrate import (  # noqa: E402
    CHECKPOINT_PREFIX,
    migrate_tf1,
    migration_problem,
    tf2_pipeline_config,
    tf2_slots,
)

DATA = Path(__file__).parent / "data"
MIGRATE = DATA / "tf1_migrate"
NAMES = ["ssd_mobilenet_v1", "ssd_mobilenet_v2_tf1", "ssdlite_mobilenet_v2_tf1"]
TF2_PYTHON = os.environ.get("DATAPREP_ODAPI_TF2_PYTHON")
TOOL = Path(__file__).parents[1] / "tools" / "make_tf2_migration_fixtures.py"


def read_back(tf1_folder: Path, migrated: Path):
    """Our TF1 model of ``tf1_folder``'s settings with the weights of ``migrated``'s TF2 checkpoint."""
    from dataprep.anchors.kinds import anchor_config_from_dict
    from dataprep.train.tf1 import TF1SSD

    source = read_init_source(tf1_folder, any_min_depth=True)
    anchors = anchor_config_from_dict(source.anchor_config)
    model = TF1SSD(source.model, source.num_classes, anchors.num_anchors_per_location(),
                   input_size=source.input_size, alpha=source.alpha, min_depth=source.min_depth)
    names = [i.name for i in source.label_map]
    checkpoint = CheckpointSource.from_tf_checkpoint(migrated / CHECKPOINT_PREFIX)
    report = restore(model, checkpoint, "all", names, source.label_map, slots=tf2_slots(model))
    assert not report.fresh and not report.skipped
    return source, anchors, model


def detections(source, anchors, model, image) -> dict:
    from dataprep.train.config import TrainConfig
    from dataprep.train.predict import Detector

    names = tuple(i.name for i in source.label_map)
    config = TrainConfig(model=source.model, input_size=source.input_size, alpha=source.alpha,
                         anchor_config=anchors.to_dict(), backbone_weights="none", score_threshold=1e-8,
                         class_ids=tuple(range(1, len(names) + 1)), class_names=names)
    out = Detector.from_config(config, model, nms="tf").detect_graph(tf.constant(image))
    return {k: np.asarray(v)[0] for k, v in out.items()}


def assert_top10(boxes, scores, classes, reference: dict, offset: int = 0) -> None:
    """Top-10 boxes and scores within 1e-3, classes equal (``offset``: ours are 1-based)."""
    np.testing.assert_allclose(scores[:10], reference["detection_scores"][0, :10], atol=1e-3)
    np.testing.assert_allclose(boxes[:10], reference["detection_boxes"][0, :10], atol=1e-3)
    np.testing.assert_array_equal(np.asarray(classes[:10]), reference["detection_classes"][0, :10] + offset)


@pytest.mark.parametrize("name", NAMES)
def test_migrated_folders_give_the_tf1_detections_here_and_in_the_genuine_tf2_api(tmp_path, name):
    folder = MIGRATE / name
    result = migrate_tf1(folder, tmp_path / name)
    assert (tmp_path / name / "checkpoint" / "ckpt-0.index").is_file()
    assert (tmp_path / name / "label_map.pbtxt").read_text() == (folder / "label_map.pbtxt").read_text()
    text = (tmp_path / name / "pipeline.config").read_text()
    assert '"ssd_mobilenet_v1_keras"' in text if name == "ssd_mobilenet_v1" else '"ssd_mobilenet_v2_keras"' in text
    reference = dict(np.load(folder / "outputs.npz"))
    # (a) the migrated checkpoint, read back through the TF2 names, is the TF1 model.
    source, anchors, model = read_back(folder, tmp_path / name)
    assert result.variables == len(model.weights)
    ours = model.predict_model()(reference["image"].astype("float32"), training=False)
    for key in ("box_encodings", "class_predictions_with_background"):
        np.testing.assert_allclose(np.asarray(ours[key]), reference[key], atol=1e-4)
    mine = detections(source, anchors, model, reference["image"])
    assert_top10(mine["detection_boxes"], mine["detection_scores"], mine["detection_classes"], reference, 1)
    # (b) the genuine TF2 TF OD API, on the same migration, gave the TF1 model's outputs.
    tf2 = np.load(MIGRATE / "tf2_outputs.npz")
    assert_top10(tf2[f"{name}/detection_boxes"][0], tf2[f"{name}/detection_scores"][0],
                 tf2[f"{name}/detection_classes"][0], reference)
    np.testing.assert_allclose(tf2[f"{name}/anchors"], reference["anchors"], atol=1e-6)
    for key in ("box_encodings", "class_predictions_with_background"):
        np.testing.assert_allclose(tf2[f"{name}/{key}"], np.asarray(ours[key]), atol=1e-4)


@pytest.mark.slow  # the default run's time budget; the checkpoint folders above migrate in every run
def test_a_frozen_graph_folder_migrates_too(tmp_path):
    import shutil

    frozen = tmp_path / "frozen"
    frozen.mkdir()
    for f in ("pipeline.config", "frozen_inference_graph.pb", "label_map.pbtxt"):
        shutil.copy(MIGRATE / "ssd_mobilenet_v1" / f, frozen / f)
    assert main(["migrate", str(frozen), "--out", str(tmp_path / "out")]) == 0
    a = tf.train.load_checkpoint(str(tmp_path / "out" / CHECKPOINT_PREFIX))
    b_dir = tmp_path / "from_ckpt"
    migrate_tf1(MIGRATE / "ssd_mobilenet_v1", b_dir)
    b = tf.train.load_checkpoint(str(b_dir / CHECKPOINT_PREFIX))
    keys = [k for k in b.get_variable_to_shape_map() if k.startswith("model/")]
    assert sorted(keys) == sorted(k for k in a.get_variable_to_shape_map() if k.startswith("model/"))
    for key in keys:
        np.testing.assert_allclose(a.get_tensor(key), b.get_tensor(key), atol=1e-6, err_msg=key)


def test_depths_that_do_not_migrate_are_refused_with_the_value(tmp_path, capsys):
    # tests/data/tf1: depth multiplier 0.125, min_depth 16: slim's MobileNetV2 adds residuals the Keras one does not.
    assert main(["migrate", str(DATA / "tf1" / "ssd_mobilenet_v2_tf1"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "depth_multiplier 0.125 (min_depth 16) cannot migrate" in err and "blocks" in err
    assert "migrate at min_depth 16: 0.75, 1" in err and not (tmp_path / "o").exists()
    assert "applies the depth multiplier twice" in migration_problem("mobilenet_v1", 0.5, 16)
    assert migration_problem("mobilenet_v1", 1.0, 16) is None
    # depth 1.4: the TF2 API's Keras MobileNetV2 keeps Conv_1 at 1280 channels, slim has 1792.
    assert "Conv_1 has 1792 channels in slim, 1280" in migration_problem("mobilenet_v2", 1.4, 16)


def test_the_migration_check_describes_the_two_builders():
    """migration_problem's arithmetic is the two MobileNetV2 builders' (residual blocks and channels)."""
    from keras import layers

    from dataprep.train.tf1 import slim_mobilenet_v2
    from dataprep.train.tf1_migrate import v2_layout
    from dataprep.train.zoo import zoo_mobilenet_v2

    def adds(net):
        return sorted(int(re.search(r"(\d+)_+add$", la.name).group(1)) if re.search(r"\d+_+add$", la.name) else 0
                      for la in net.layers if isinstance(la, layers.Add))

    def kernels(net):
        return [int(w.shape[-1]) for w in net.weights if len(w.shape) == 4 and w.shape[-1] != 1]

    for alpha, md in ((0.25, 16), (0.125, 8)):
        for keras, net in ((False, slim_mobilenet_v2(32, alpha, md)),
                           (True, zoo_mobilenet_v2(32, alpha, md, outputs=("block_13_expand_relu", "out_relu")))):
            layout, residuals = v2_layout(alpha, md, keras)
            assert residuals == adds(net), (alpha, md, keras)
            assert [c for _, c in layout] == kernels(net), (alpha, md, keras)


def test_only_tf1_folders_migrate_and_out_is_not_overwritten(tmp_path):
    with pytest.raises(UsageError, match="not a TF1 folder"):
        migrate_tf1(DATA / "zoo" / "ssd_mobilenet_v2", tmp_path / "x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    with pytest.raises(UsageError, match="--overwrite"):
        migrate_tf1(MIGRATE / "ssd_mobilenet_v2_tf1", tmp_path / "busy")


def test_the_tf2_pipeline_config():
    text, notes = tf2_pipeline_config((MIGRATE / "ssdlite_mobilenet_v2_tf1" / "pipeline.config").read_text()
                                      + "\ngraph_rewriter {\n  quantization {\n    delay: 48000\n  }\n}\n",
                                      "/m/checkpoint/ckpt-0")
    assert 'type: "ssd_mobilenet_v2_keras"' in text and "ssd_mobilenet_v2'" not in text
    assert 'fine_tune_checkpoint: "/m/checkpoint/ckpt-0"' in text and "PATH_TO_BE_CONFIGURED/model.ckpt" not in text
    assert 'fine_tune_checkpoint_type: "full"' in text and "fine_tune_checkpoint_version: V2" in text
    assert "from_detection_checkpoint" not in text and "graph_rewriter" not in text and "delay" not in text
    assert re.search(r"use_moving_averages:\s*false", text) and not re.search(r"use_moving_averages:\s*true", text)
    for kept in ("use_depthwise: true", "num_classes: 3", "depth_multiplier: 0.125", "min_depth: 8",
                 "height: 96", "max_total_detections: 100", "score_converter: SIGMOID"):
        assert kept in text, kept
    assert any("graph_rewriter" in n for n in notes) and any("moving averages" in n for n in notes)


def test_tf2_names_of_ssd_mobilenet_v2_are_the_zoo_readers():
    """The TF1 MobileNetV2 SSD's TF2 keys and shapes are those the zoo reader gives the TF2 zoo model."""
    from dataprep.train.restore import checkpoint_slots
    from dataprep.train.tf1 import TF1SSD
    from dataprep.train.zoo import ZooSSDMobileNetV2

    anchors = [3, 6, 6, 6, 6, 6]
    tf1 = TF1SSD("ssd_mobilenet_v2_tf1", 3, anchors, input_size=64, alpha=0.125, min_depth=8)
    zoo = ZooSSDMobileNetV2(3, anchors, input_size=64, alpha=0.125, min_depth=8)
    assert [(s.key, tuple(s.variable.shape)) for s in tf2_slots(tf1)] == \
        [(s.key, tuple(s.variable.shape)) for s in checkpoint_slots(zoo)]


@pytest.mark.skipif(not TF2_PYTHON, reason="set DATAPREP_ODAPI_TF2_PYTHON to the TF2 TF OD API venv's python")
def test_the_genuine_tf2_api_restores_the_migrated_folders_live(tmp_path):
    specs = []
    for name in NAMES:
        migrate_tf1(MIGRATE / name, tmp_path / name)
        specs.append(f"{name}={tmp_path / name}:{MIGRATE / name / 'outputs.npz'}")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    subprocess.run([TF2_PYTHON, str(TOOL), "--out", str(tmp_path / "tf2.npz"), *specs], check=True, env=env,
                   capture_output=True)
    tf2 = np.load(tmp_path / "tf2.npz")
    for name in NAMES:
        reference = np.load(MIGRATE / name / "outputs.npz")
        assert_top10(tf2[f"{name}/detection_boxes"][0], tf2[f"{name}/detection_scores"][0],
                     tf2[f"{name}/detection_classes"][0], reference)


def test_a_frozen_graph_with_folded_batch_norms_is_refused_clearly(tmp_path, capsys):
    import shutil

    graph = tf.compat.v1.GraphDef()
    with tf.Graph().as_default() as g:  # a conv weight and no BatchNorm constants: what folding leaves
        tf.constant(np.zeros((3, 3, 3, 16), np.float32), name="FeatureExtractor/MobilenetV1/Conv2d_0/weights")
        tf.constant(np.zeros((16,), np.float32), name="FeatureExtractor/MobilenetV1/Conv2d_0/biases")
        graph.CopyFrom(g.as_graph_def())
    (tmp_path / "frozen_inference_graph.pb").write_bytes(graph.SerializeToString())
    shutil.copy(MIGRATE / "ssd_mobilenet_v1" / "pipeline.config", tmp_path / "pipeline.config")
    assert main(["migrate", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "frozen_inference_graph.pb" in err and "folded" in err and "model.ckpt" in err


# ------------------------------------------------------------------ full size (slow, needs both venvs)
TF1_ODAPI = Path(os.environ.get("DATAPREP_TF1_ODAPI", "/work/venvs/tf1-odapi"))
TF1_SHIM = Path(os.environ.get("DATAPREP_TF1_SHIM", "/work/shared/tools/tf1-odapi"))


@pytest.mark.slow
@pytest.mark.skipif(not TF2_PYTHON or not (TF1_ODAPI / "venv" / "bin" / "python").is_file()
                    or not (TF1_SHIM / "tf1shim.py").is_file(),
                    reason="needs the TF1 TF OD API venv (DATAPREP_TF1_ODAPI / DATAPREP_TF1_SHIM) and "
                           "DATAPREP_ODAPI_TF2_PYTHON")
@pytest.mark.parametrize("name", NAMES)
def test_full_size_migrations_give_the_tf1_detections_in_the_genuine_tf2_api(tmp_path, name):
    """300x300, depth 1.0, 90 COCO classes, made by the genuine TF1 code: the migrated folder of the
    checkpoint and of the frozen graph alone, loaded by the genuine TF2 API, give the TF1 top-10."""
    import shutil

    script = Path(__file__).parents[1] / "tools" / "make_tf1_fixtures.py"
    subprocess.run([str(TF1_ODAPI / "venv" / "bin" / "python"), str(script), "--research",
                    str(TF1_ODAPI / "research"), "--shim-dir", str(TF1_SHIM), "--out", str(tmp_path),
                    "--models", name, "--full-size"], check=True, capture_output=True)
    folder = tmp_path / name
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    for f in ("pipeline.config", "frozen_inference_graph.pb"):
        shutil.copy(folder / f, frozen / f)
    migrate_tf1(folder, tmp_path / "m1")
    migrate_tf1(frozen, tmp_path / "m2")
    images = folder / "outputs.npz"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    subprocess.run([TF2_PYTHON, str(TOOL), "--out", str(tmp_path / "tf2.npz"), f"ckpt={tmp_path / 'm1'}:{images}",
                    f"frozen={tmp_path / 'm2'}:{images}"], check=True, env=env, capture_output=True)
    tf2, reference = np.load(tmp_path / "tf2.npz"), np.load(images)
    for kind in ("ckpt", "frozen"):
        assert_top10(tf2[f"{kind}/detection_boxes"][0], tf2[f"{kind}/detection_scores"][0],
                     tf2[f"{kind}/detection_classes"][0], reference)
