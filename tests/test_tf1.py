"""The TF1 detection-zoo SSDs against the genuine TF1-era TF OD API.

``tests/data/tf1/<model>/`` was made by ``tools/make_tf1_fixtures.py`` with the TF1 TF OD API's
own ``model_builder`` and exporter (slim networks, depth multiplier 0.125, input 96, 3 classes,
seeded weights): TF1 zoo-style folders (pipeline.config, label_map.pbtxt, model.ckpt[-N] with its
``checkpoint`` state file; the v1 folder also the exporter's frozen_inference_graph.pb; the SSDLite
one ExponentialMovingAverage shadows with ``use_moving_averages: true``) and the outputs of
``predict()`` / ``postprocess()`` for a fixed image (outputs.npz). Our Keras 3 models restored from
them must give the same anchors, feature maps, box encodings and class logits (1e-4) and the same
100 detections (1e-5; classes equal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dataprep.cli import main  # noqa: E402
from dataprep.errors import UsageError  # noqa: E402
from dataprep.train.build import build_model  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402
from dataprep.train.restore import (  # noqa: E402
    CheckpointMismatchError,
    model_settings,
    open_source,
    read_init_source,
    restore,
)

TF1 = Path(__file__).parent / "data" / "tf1"
V1, V2, LITE = TF1 / "ssd_mobilenet_v1", TF1 / "ssd_mobilenet_v2_tf1", TF1 / "ssdlite_mobilenet_v2_tf1"
FOLDERS = [V1, V2, LITE]
IDS = ["v1", "v2", "ssdlite"]
TF1_ODAPI = Path(os.environ.get("DATAPREP_TF1_ODAPI", "/work/venvs/tf1-odapi"))
TF1_SHIM = Path(os.environ.get("DATAPREP_TF1_SHIM", "/work/shared/tools/tf1-odapi"))


def tf1_config(folder: Path, class_names=None) -> TrainConfig:
    s = model_settings(init_from=folder)
    source = read_init_source(folder)
    names = tuple(class_names or [i.name for i in source.label_map])
    return TrainConfig(model=s.model, input_size=s.input_size, alpha=s.alpha, anchor_config=s.anchor_config,
                       backbone_weights="none", class_ids=tuple(range(1, len(names) + 1)), class_names=names)


def restored(folder: Path, parts: str = "all", class_names=None, source=None):
    config = tf1_config(folder, class_names)
    source = source or read_init_source(folder)
    model = build_model(config, weights=False)
    report = restore(model, open_source(source), parts, config.class_names, source.label_map, model_name=config.model)
    return config, model, report


def assert_same_detections(ours: dict, boxes, scores, classes, n: int) -> None:
    """The same detections; two whose scores differ by less than 1e-5 may come in either order."""
    assert int(ours["num_detections"]) == n
    np.testing.assert_allclose(ours["detection_scores"][:n], scores[:n], atol=1e-5)
    theirs = sorted(zip(np.round(scores[:n], 4), classes[:n], map(tuple, np.round(boxes[:n], 3))))
    mine = sorted(zip(np.round(ours["detection_scores"][:n], 4), ours["detection_classes"][:n],
                      map(tuple, np.round(ours["detection_boxes"][:n], 3))))
    assert len(theirs) == len(mine)
    for (s1, c1, b1), (s2, c2, b2) in zip(mine, theirs):
        assert c1 == c2 and abs(s1 - s2) < 2e-4 and np.abs(np.subtract(b1, b2)).max() < 2e-3


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_tf1_models_equal_the_tf1_od_api(folder):
    from dataprep.train.anchor_generator import AnchorGenerator

    config, model, report = restored(folder)
    assert config.model == folder.name and not report.fresh and not report.skipped
    reference = dict(np.load(folder / "outputs.npz"))
    np.testing.assert_allclose(AnchorGenerator(config.anchors, config.input_size).anchors(), reference["anchors"],
                               atol=1e-6, rtol=0)
    out = model.predict_model()(reference["image"].astype("float32"), training=False)
    for i, fmap in enumerate(out["feature_maps"]):
        assert_close_to_scale(np.asarray(fmap), reference[f"feature_map_{i}"], f"map {i}")
    for key in ("box_encodings", "class_predictions_with_background"):
        assert_close_to_scale(np.asarray(out[key]), reference[key], key)


def assert_close_to_scale(ours, theirs, what: str, tol: float = 1e-4) -> None:
    """max |ours - theirs| <= tol x max(1, max |theirs|): the seeded fixtures' activations reach 6
    (ReLU6) after 17 MobileNetV2 blocks, where TF1's and Keras' float32 convolutions (other summation
    orders) differ by a few 1e-4 in absolute terms; any wrong layer differs by far more."""
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.abs(ours - theirs).max() <= tol * scale, f"{what}: max diff {np.abs(ours - theirs).max():.2e}"


@pytest.mark.parametrize("folder", FOLDERS, ids=IDS)
def test_tf1_detections_equal_the_tf1_postprocess(folder):
    from dataprep.train.predict import Detector

    config, model, _ = restored(folder)
    reference = np.load(folder / "outputs.npz")
    detector = Detector.from_config(config.replace(score_threshold=1e-8), model, nms="tf")
    ours = {k: np.asarray(v)[0] for k, v in detector.detect_graph(tf.constant(reference["image"])).items()}
    assert_same_detections(ours, reference["detection_boxes"][0], reference["detection_scores"][0],
                           reference["detection_classes"][0] + 1, int(reference["num_detections"][0]))


def test_export_of_a_frozen_graph_folder_gives_the_tf1_exporter_detections(tmp_path, capsys):
    """A folder with only pipeline.config + frozen_inference_graph.pb: weights from the GraphDef's constants."""
    from dataprep.train.predict import SavedModelDetector

    frozen = tmp_path / "frozen_only"
    frozen.mkdir()
    for name in ("pipeline.config", "frozen_inference_graph.pb"):
        shutil.copy(V1 / name, frozen / name)
    (tmp_path / "labels.pbtxt").write_text((V1 / "label_map.pbtxt").read_text())
    out = tmp_path / "export"
    assert main(["export", "--init-from", str(frozen), "--label-map", str(tmp_path / "labels.pbtxt"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no model.ckpt: weights from frozen_inference_graph.pb's constants" in printed
    assert "3 classes" in printed
    reference = np.load(V1 / "outputs.npz")
    ours = SavedModelDetector(out).detect(reference["image"][0])
    # The frozen graph's own detections (1-based classes) and the checkpoint graph's postprocess().
    assert_same_detections(ours, reference["frozen_detection_boxes"][0], reference["frozen_detection_scores"][0],
                           reference["frozen_detection_classes"][0], int(reference["frozen_num_detections"][0]))
    assert_same_detections(ours, reference["detection_boxes"][0], reference["detection_scores"][0],
                           reference["detection_classes"][0] + 1, int(reference["num_detections"][0]))


def test_moving_averages_are_read_when_the_config_asks():
    source = read_init_source(LITE)
    assert source.ema and "ExponentialMovingAverage" in source.note
    reference = np.load(LITE / "outputs.npz")
    _, model, _ = restored(LITE, source=source)
    logits = np.asarray(model.predict_model()(reference["image"].astype("float32"))["box_encodings"])
    np.testing.assert_allclose(logits, reference["box_encodings"], atol=1e-4)
    source.ema = False  # the plain variables hold other values (training moved on)
    _, model, _ = restored(LITE, source=source)
    logits = np.asarray(model.predict_model()(reference["image"].astype("float32"))["box_encodings"])
    assert np.abs(logits - reference["box_encodings"]).max() > 1e-2


def test_the_checkpoint_state_file_is_honoured(tmp_path):
    """``checkpoint`` names model.ckpt-5 (by the training machine's absolute path): that one, not the
    newest; without a state file the newest model.ckpt-N."""
    folder = tmp_path / "train_dir"
    folder.mkdir()
    shutil.copy(V1 / "pipeline.config", folder)
    for step in (5, 10):
        for f in V1.glob("model.ckpt.*"):
            shutil.copy(f, folder / f.name.replace("model.ckpt", f"model.ckpt-{step}"))
    (folder / "checkpoint").write_text('model_checkpoint_path: "/home/me/train/model.ckpt-5"\n'
                                       'all_model_checkpoint_paths: "/home/me/train/model.ckpt-5"\n')
    source = read_init_source(folder)
    assert source.kind == "tf1" and Path(source.checkpoint).name == "model.ckpt-5"
    (folder / "checkpoint").unlink()
    source = read_init_source(folder)
    assert Path(source.checkpoint).name == "model.ckpt-10" and "the newest" in source.note
    assert source.label_map is None  # no label map in the folder and not 90 classes


def test_class_rows_follow_the_names():
    _, model, report = restored(V1, "all", ["person", "bird", "cat"])
    assert report.classes_restored == {"person": 3, "cat": 1} and report.classes_fresh == ["bird"]
    reference = np.load(V1 / "outputs.npz")
    out = model.predict_model()(reference["image"].astype("float32"))
    logits = np.asarray(out["class_predictions_with_background"])[0]
    np.testing.assert_allclose(logits[:, [0, 1, 3]], reference["class_predictions_with_background"][0][:, [0, 3, 1]],
                               atol=1e-4)
    _, _, report = restored(V1, "feature-extractor", ["bird"])
    assert all(k.startswith("BoxPredictor_") for k in report.fresh + report.skipped)
    assert len(report.fresh) == 6 * 4  # 6 levels x 2 heads x (weights, biases)


def test_a_checkpoint_that_does_not_fit_names_the_variable(tmp_path):
    folder = tmp_path / "misfit"
    shutil.copytree(V1, folder)
    text = (folder / "pipeline.config").read_text()
    (folder / "pipeline.config").write_text(text.replace("depth_multiplier: 0.125", "depth_multiplier: 0.5"))
    with pytest.raises(CheckpointMismatchError, match=r"FeatureExtractor/MobilenetV1/Conv2d_\d+_pointwise/weights is "
                                                      r"shape \[.*the ssd_mobilenet_v1 model expects shape .*"
                                                      r"belong to ssd_mobilenet_v1"):
        restored(folder)
    # a TF1 checkpoint offered to a TF2 zoo model
    config = TrainConfig(model="ssd_mobilenet_v2", input_size=96, alpha=0.125, backbone_weights="none",
                         class_ids=(1,), class_names=("a",))
    with pytest.raises(CheckpointMismatchError, match=r"seems to belong to ssd_mobilenet_v2 / ssdlite_mobilenet_v2 "
                                                      r"\(TF1\)"):
        restore(build_model(config, weights=False), open_source(read_init_source(V2)))


@pytest.mark.parametrize("model, found", [
    ("faster_rcnn { num_classes: 3 feature_extractor { type: 'faster_rcnn_resnet50' } }", "faster_rcnn"),
    ("ssd { num_classes: 3 feature_extractor { type: 'ssd_inception_v2' } "
     "anchor_generator { ssd_anchor_generator { } } box_predictor { convolutional_box_predictor { } } }",
     "'ssd_inception_v2' is not a model dataprep builds"),
])
def test_unsupported_tf1_architectures_are_named(tmp_path, capsys, model, found):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "pipeline.config").write_text(f"model {{ {model} }}\n")
    for f in V1.glob("model.ckpt.*"):
        shutil.copy(f, folder / f.name)
    with pytest.raises(UsageError, match=found) as err:
        read_init_source(folder)
    assert "--init-from builds these TF1 models: ssd_mobilenet_v1, ssd_mobilenet_v2_tf1, ssdlite_mobilenet_v2_tf1" \
        in str(err.value)
    assert main(["export", "--init-from", str(folder), "--out", str(tmp_path / "e")]) == 2
    assert found.split()[0] in capsys.readouterr().err


def test_model_settings_and_anchor_models_know_the_tf1_models():
    from dataprep.models.registry import generate_anchors

    s = model_settings(init_from=V2)
    assert (s.model, s.input_size, s.alpha) == ("ssd_mobilenet_v2_tf1", 96, 0.125)
    assert read_init_source(V2).note.startswith("checkpoint model.ckpt-1200")
    for name in ("ssd_mobilenet_v1", "ssd_mobilenet_v2_tf1", "ssdlite_mobilenet_v2_tf1"):
        assert generate_anchors(name).shape == (1917, 4)
    config = TrainConfig(model="ssd_mobilenet_v1", input_size=300, backbone_weights="none", class_ids=(1, 2),
                         class_names=("a", "b"))
    assert build_model(config, weights=False).num_predictions == 1917


@pytest.mark.slow
def test_one_fine_tuning_step_from_a_tf1_checkpoint_with_other_classes(tmp_path):
    """train --init-from a TF1 folder on records of other classes: the feature extractor is restored,
    the heads start fresh, and a step of training runs."""
    import json

    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc
    from dataprep.train.trainer import train

    generate_shapes_voc(tmp_path / "voc", 4, width=64, height=64, seed=5, size_range=(0.3, 0.6),
                        splits={"train": 1.0})
    convert(read_voc(tmp_path / "voc"), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    config = tf1_config(V1, ["unused"]).replace(init_from=str(V1), epochs=1, steps_per_epoch=1, batch_size=2,
                                                optimizer="adam", learning_rate=1e-4)
    result = train(config, tmp_path / "records", tmp_path / "run", progress=False, log=lambda line: None,
                   evaluate_at_end=False)
    init = json.loads((tmp_path / "run" / "init_from.json").read_text())
    assert init["parts"] == "feature-extractor"
    assert init["counts"]["fresh"] == 24 and init["counts"]["skipped"] == 24 and init["counts"]["restored"] > 150
    assert result.config.model == "ssd_mobilenet_v1" and np.isfinite(result.history[-1]["loss"])


@pytest.mark.slow
def test_fine_tuning_with_all_parts_keeps_the_matching_classes(tmp_path):
    """train --init-from a TF1 folder --init-parts all on records of classes cat and bird: the box
    head and cat's class rows come from the TF1 checkpoint (its label map's id 1), bird's start fresh."""
    import json

    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc
    from dataprep.train.trainer import train

    generate_shapes_voc(tmp_path / "voc", 4, width=64, height=64, seed=5, size_range=(0.3, 0.6),
                        splits={"train": 1.0}, classes=("cat", "bird"))
    convert(read_voc(tmp_path / "voc"), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    config = tf1_config(V1, ["cat", "bird"]).replace(init_from=str(V1), init_parts="all", epochs=1,
                                                     steps_per_epoch=1, batch_size=2, optimizer="adam",
                                                     learning_rate=1e-9)
    result = train(config, tmp_path / "records", tmp_path / "run", progress=False, log=lambda line: None,
                   evaluate_at_end=False)
    init = json.loads((tmp_path / "run" / "init_from.json").read_text())
    assert init["parts"] == "all" and init["counts"]["fresh"] == 0 and init["counts"]["skipped"] == 0
    assert init["classes_restored"] == {"cat": 1} and init["classes_fresh"] == ["bird"]
    assert result.config.class_names == ("bird", "cat")  # the records' order: cat is column 2
    # After one step at a negligible rate the background and cat rows of the class head are still the
    # TF1 checkpoint's (columns 0 and 1 of its label map; ours 0 and 2), bird's are not.
    from dataprep.train.build import build_model
    from dataprep.train.predict import latest_weights

    model = build_model(result.config, weights=False)
    model.load_weights(latest_weights(tmp_path / "run"))
    reader = tf.train.load_checkpoint(str(V1 / "model.ckpt"))
    for level, tower in enumerate(model.class_head.towers):
        theirs = reader.get_tensor(f"BoxPredictor_{level}/ClassPredictor/weights")
        ours = tower.layers[-1].kernel.numpy()
        anchors = model.anchors_per_location[level]
        theirs = theirs.reshape(theirs.shape[:-1] + (anchors, -1))
        ours = ours.reshape(ours.shape[:-1] + (anchors, -1))
        np.testing.assert_allclose(ours[..., [0, 2]], theirs[..., [0, 1]], atol=1e-6)
        assert not np.allclose(ours[..., 1], theirs[..., 2], atol=1e-3)


# ------------------------------------------------------------------ full size (slow, needs the TF1 venv)
@pytest.mark.slow
@pytest.mark.skipif(not (TF1_ODAPI / "venv" / "bin" / "python").is_file() or not (TF1_SHIM / "tf1shim.py").is_file(),
                    reason="no TF1 TF OD API venv (set DATAPREP_TF1_ODAPI / DATAPREP_TF1_SHIM)")
@pytest.mark.parametrize("name", ["ssd_mobilenet_v1", "ssd_mobilenet_v2_tf1", "ssdlite_mobilenet_v2_tf1"])
def test_full_size_tf1_models_export_the_tf1_detections(tmp_path, name):
    """300x300, depth 1.0, 90 COCO classes: export --init-from of the checkpoint folder and of the
    frozen-graph-only folder give the TF1 model's top-10 detections within 1e-3."""
    from dataprep.train.predict import SavedModelDetector

    script = Path(__file__).parents[1] / "tools" / "make_tf1_fixtures.py"
    subprocess.run([str(TF1_ODAPI / "venv" / "bin" / "python"), str(script), "--research",
                    str(TF1_ODAPI / "research"), "--shim-dir", str(TF1_SHIM), "--out", str(tmp_path),
                    "--models", name, "--full-size"], check=True, capture_output=True)
    folder = tmp_path / name
    reference = np.load(folder / "outputs.npz")
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    for f in ("pipeline.config", "frozen_inference_graph.pb"):
        shutil.copy(folder / f, frozen / f)
    for src, out in ((folder, tmp_path / "e1"), (frozen, tmp_path / "e2")):
        assert main(["export", "--init-from", str(src), "--out", str(out)]) == 0
        ours = SavedModelDetector(out).detect(reference["image"][0])
        np.testing.assert_allclose(ours["detection_scores"][:10], reference["detection_scores"][0, :10], atol=1e-3)
        np.testing.assert_allclose(ours["detection_boxes"][:10], reference["detection_boxes"][0, :10], atol=1e-3)
        np.testing.assert_array_equal(ours["detection_classes"][:10], reference["detection_classes"][0, :10] + 1)
    assert sys.modules.get("object_detection") is None
