"""The TF2 detection-zoo architectures against the genuine TF OD API.

``tests/data/zoo/<model>/`` was made by ``tools/make_zoo_fixtures.py`` with
the TF OD API's own ``model_builder`` (depth multiplier 0.25, input 128,
random weights and batch-norm statistics): a zoo-shaped folder
(pipeline.config, label_map.pbtxt, checkpoint/ckpt-0.*) and the outputs of its
``predict()`` for a fixed image. Our Keras 3 model, restored from that
checkpoint with ``--init-from`` semantics, must give the same feature maps,
box encodings and class logits (1e-4) and anchors (1e-6).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dataprep.cli import main  # noqa: E402
from dataprep.label_map import LabelMap  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402
from dataprep.train.build import build_model  # noqa: E402
from dataprep.train.restore import (  # noqa: E402
    CheckpointMismatchError,
    model_settings,
    open_source,
    read_init_source,
    restore,
)

ZOO = Path(__file__).parent / "data" / "zoo"
SSD = ZOO / "ssd_mobilenet_v2"
FPNLITE = ZOO / "ssd_mobilenet_v2_fpnlite"
ODAPI_PYTHON = Path(os.environ.get("DATAPREP_ODAPI_PYTHON", "/work/odapi-venv/bin/python"))


def zoo_config(folder: Path, class_names, **changes) -> TrainConfig:
    s = model_settings(init_from=folder)
    names = tuple(class_names)
    return TrainConfig(model=s.model, input_size=s.input_size, alpha=s.alpha, anchor_config=s.anchor_config,
                       backbone_weights="none", class_ids=tuple(range(1, len(names) + 1)), class_names=names,
                       **changes)


def assert_matches_reference(model, config: TrainConfig, reference: dict, rtol: float = 0.0) -> None:
    from dataprep.train.anchor_generator import AnchorGenerator

    out = model.predict_model()(reference["image"].astype("float32"), training=False)
    for i, fmap in enumerate(out["feature_maps"]):
        np.testing.assert_allclose(np.asarray(fmap), reference[f"feature_map_{i}"], atol=1e-4, rtol=rtol,
                                   err_msg=f"feature map {i}")
    for key in ("box_encodings", "class_predictions_with_background"):
        np.testing.assert_allclose(np.asarray(out[key]), reference[key], atol=1e-4, rtol=rtol, err_msg=key)
    np.testing.assert_allclose(AnchorGenerator(config.anchors, config.input_size).anchors(), reference["anchors"],
                               atol=1e-6)


def test_fixture_folder_reads_as_a_zoo_model():
    source = read_init_source(SSD)
    assert (source.kind, source.model, source.input_size, source.alpha, source.num_classes) == \
        ("zoo", "ssd_mobilenet_v2", 128, 0.25, 6)
    assert source.label_map.names[:2] == ["person", "bicycle"]
    assert source.checkpoint.endswith(os.path.join("checkpoint", "ckpt-0"))


@pytest.mark.parametrize("folder, variables", [(SSD, 324), (FPNLITE, 384)], ids=["ssd", "fpnlite"])
def test_zoo_models_equal_the_tf_od_api(folder, variables):
    source = read_init_source(folder)
    config = zoo_config(folder, source.label_map.names)
    model = build_model(config)
    report = restore(model, open_source(source), "all", config.class_names, source.label_map)
    assert len(report.restored) == variables and not report.fresh and not report.skipped
    assert report.classes_restored == {n: i for i, n in enumerate(source.label_map.names, 1)}
    reference = dict(np.load(folder / "outputs.npz"))
    assert_matches_reference(model, config, reference)
    # The trainer's outputs are the predict() ones without the background column.
    out = model(reference["image"].astype("float32"), training=False)
    np.testing.assert_allclose(np.asarray(out["classes"]), reference["class_predictions_with_background"][..., 1:],
                               atol=1e-4)


def test_fpnlite_feature_extractor_is_backbone_fpn_and_coarse_layers():
    source = read_init_source(FPNLITE)
    assert (source.model, source.input_size, source.anchor_config["min_level"]) == \
        ("ssd_mobilenet_v2_fpnlite", 128, 3)
    config = zoo_config(FPNLITE, ["dog"])
    model = build_model(config)
    report = restore(model, open_source(source), "feature-extractor", config.class_names, source.label_map)
    assert all(k.startswith("model/_feature_extractor/") for k in report.restored)
    assert any("_fpn_features_generator/conv_layers/1/0/pointwise_kernel" in k for k in report.restored)
    assert any("_coarse_feature_layers/1/1/moving_variance" in k for k in report.restored)
    # The weight-shared tower (4 convs x 2 kernels, 5 levels x 4 BNs x 4) and the two heads (3 each) start fresh.
    assert len(report.fresh) == len(report.skipped) == 8 + 5 * 4 * 4 + 6
    reference = np.load(FPNLITE / "outputs.npz")
    maps = model.predict_model()(reference["image"].astype("float32"), training=False)["feature_maps"]
    for i, fmap in enumerate(maps):
        np.testing.assert_allclose(np.asarray(fmap), reference[f"feature_map_{i}"], atol=1e-4)


def test_feature_extractor_only_leaves_the_heads_fresh():
    source = read_init_source(SSD)
    config = zoo_config(SSD, ["dog", "cat"])
    model = build_model(config)
    head_before = [v.numpy().copy() for v in model.box_head.weights]
    report = restore(model, open_source(source), "feature-extractor", config.class_names, source.label_map)
    # 104 backbone layers (52 convs with 1 variable, 52 BNs with 4) + 4 extra layers x (2 convs + 2 BNs).
    assert len(report.restored) == 52 + 52 * 4 + 4 * (2 + 2 * 4)
    assert len(report.fresh) == 24 and len(report.skipped) == 24  # 6 levels x 2 heads x (kernel, bias)
    assert all("_box_predictor" in k for k in report.skipped + report.fresh)
    for before, after in zip(head_before, model.box_head.weights):
        np.testing.assert_array_equal(before, after.numpy())
    reference = np.load(SSD / "outputs.npz")
    out = model.predict_model()(reference["image"].astype("float32"), training=False)
    np.testing.assert_allclose(np.asarray(out["feature_maps"][-1]), reference["feature_map_5"], atol=1e-4)


def test_class_rows_follow_the_names():
    source = read_init_source(SSD)
    reference = np.load(SSD / "outputs.npz")["class_predictions_with_background"]
    config = zoo_config(SSD, ["bus", "dog", "Person"])
    model = build_model(config)
    report = restore(model, open_source(source), "all", config.class_names, source.label_map)
    assert report.classes_restored == {"bus": 6, "Person": 1} and report.classes_fresh == ["dog"]
    logits = np.asarray(model.predict_model()(np.load(SSD / "outputs.npz")["image"].astype("float32"))
                        ["class_predictions_with_background"])
    for ours, theirs in ((0, 0), (1, 6), (3, 1)):
        np.testing.assert_allclose(logits[..., ours], reference[..., theirs], atol=1e-4)
    assert np.abs(logits[..., 2] - reference[..., 2]).max() > 1e-2  # 'dog' starts fresh


def test_a_checkpoint_that_does_not_fit_names_the_variable():
    source = read_init_source(SSD)
    config = zoo_config(SSD, ["a"]).replace(alpha=0.5)
    model = build_model(config)
    with pytest.raises(CheckpointMismatchError) as err:
        restore(model, open_source(source), "feature-extractor", config.class_names, model_name="ssd_mobilenet_v2")
    message = str(err.value)
    assert "classification_backbone/layer_with_weights-" in message and "shape [" in message
    assert "belong to ssd_mobilenet_v2 (depth multiplier 0.25, 6 classes)" in message
    fpn = open_source(read_init_source(FPNLITE))
    with pytest.raises(CheckpointMismatchError, match=r"feature_map_generator/convolutions/2/0/kernel is missing.*"
                                                      r"belong to ssd_mobilenet_v2_fpnlite"):
        restore(build_model(zoo_config(SSD, ["a"])), fpn)


def test_model_settings_come_from_the_folder(tmp_path):
    s = model_settings(init_from=SSD)
    assert (s.model, s.input_size, s.alpha) == ("ssd_mobilenet_v2", 128, 0.25)
    assert model_settings(init_from=SSD, input_size=160, alpha=0.5).input_size == 160
    assert model_settings().model == "ssdlite_mobilenet_v2" and model_settings().input_size == 320
    assert model_settings(model="ssd_mobilenet_v2").input_size == 300
    with pytest.raises(Exception, match="--model ssdlite_mobilenet_v2 but --init-from .* holds a ssd_mobilenet_v2"):
        model_settings(model="ssdlite_mobilenet_v2", init_from=SSD)
    with pytest.raises(Exception, match="neither a TF2 zoo model folder"):
        read_init_source(tmp_path)
    (tmp_path / "pipeline.config").write_text((SSD / "pipeline.config").read_text())
    with pytest.raises(Exception, match="no TF checkpoint"):
        read_init_source(tmp_path)


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["train", "--records", str(tmp_path), "--out", str(tmp_path / "run"),
                 "--init-from", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: neither a TF2 zoo model folder" in capsys.readouterr().err
    assert main(["train", "--records", str(tmp_path), "--out", str(tmp_path / "run"), "--model", "yolo"]) == 2
    assert "unknown model 'yolo'" in capsys.readouterr().err


def test_zoo_model_config_round_trip():
    from dataprep.train.zoo import ZooSSDMobileNetV2

    model = build_model(zoo_config(SSD, ["a", "b"]))
    config = model.get_config()
    assert config["min_depth"] == 16 and config["alpha"] == 0.25 and config["num_classes"] == 2
    clone = ZooSSDMobileNetV2(**config)
    assert [tuple(v.shape) for v in clone.weights] == [tuple(v.shape) for v in model.weights]
    for layer in (model.feature_maps, model.box_head, model.class_head):
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()


@pytest.mark.slow
@pytest.mark.skipif(not ODAPI_PYTHON.is_file(), reason="no TF OD API venv (set DATAPREP_ODAPI_PYTHON)")
@pytest.mark.parametrize("name, size", [("ssd_mobilenet_v2", 300), ("ssd_mobilenet_v2_fpnlite", 320)])
def test_full_size_zoo_models_equal_the_tf_od_api(tmp_path, name, size):
    """The zoo sizes (depth multiplier 1.0, input 300 / 320, 90 classes), built with random weights
    by the TF OD API at test time."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = Path(__file__).parents[1] / "tools" / "make_zoo_fixtures.py"
    done = subprocess.run([os.fspath(ODAPI_PYTHON), os.fspath(script), os.fspath(tmp_path), "--full",
                           "--models", name], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = tmp_path / name
    source = read_init_source(folder)
    assert (source.model, source.input_size, source.alpha, source.num_classes) == (name, size, 1.0, 90)
    names = source.label_map.names  # label_maps/mscoco.pbtxt: 80 names, ids 1..90
    config = zoo_config(folder, names)
    model = build_model(config)
    restore(model, open_source(source), "all", names, source.label_map)
    reference = dict(np.load(folder / "outputs.npz"))
    ids = [source.label_map.id_of(n) for n in names]
    reference["class_predictions_with_background"] = reference["class_predictions_with_background"][..., [0, *ids]]
    # Full width, the sums of the FPN carry float32 rounding of a few 1e-4 on values near 6 (measured: 35 of
    # 204,800 P3 values off by up to 1.9e-4, relative 1.2e-3), so a relative tolerance joins the absolute one.
    assert_matches_reference(model, config, reference, rtol=2e-3)


@pytest.mark.slow
def test_fine_tune_from_a_zoo_checkpoint_end_to_end(tmp_path, capsys):
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc

    generate_shapes_voc(tmp_path / "voc", 12, width=96, height=80, seed=3, size_range=(0.25, 0.6),
                        splits={"train": 0.67, "val": 0.33})
    convert(read_voc(tmp_path / "voc"), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    run = tmp_path / "run"
    assert main(["train", "--records", str(tmp_path / "records"), "--out", str(run), "--init-from", str(SSD),
                 "--init-parts", "all", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
                 "--optimizer", "adam", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "324 variables restored, 0 checkpoint variables skipped, 0 initialised fresh" in out
    init = json.loads((run / "init_from.json").read_text())
    assert init["counts"] == {"restored": 324, "skipped": 0, "fresh": 0}
    assert init["classes_fresh"] == ["circle", "square", "triangle"] and init["classes_restored"] == {}
    assert any(k.endswith("layer_with_weights-0/kernel") for k in init["restored"])
    saved = TrainConfig.load(run)
    assert (saved.model, saved.input_size, saved.alpha, saved.init_from) == ("ssd_mobilenet_v2", 128, 0.25, str(SSD))
    assert main(["evaluate", str(run), "--records", str(tmp_path / "records")]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "export")]) == 0
    from dataprep.train.predict import Detector, SavedModelDetector

    image = np.random.default_rng(0).integers(0, 255, (1, 80, 96, 3), dtype=np.uint8)
    a, b = Detector.from_run(run).detect(image), SavedModelDetector(tmp_path / "export").detect(image)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
    # A run folder is a valid --init-from too: same model, restored in full.
    assert main(["train", "--records", str(tmp_path / "records"), "--out", str(tmp_path / "run2"),
                 "--init-from", str(run), "--init-parts", "all", "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "4", "--quiet"]) == 0
    assert "324 variables restored" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "run2")


def test_mscoco_label_map_is_the_zoo_default():
    from dataprep.train.restore import MSCOCO_LABEL_MAP

    coco = LabelMap.read(MSCOCO_LABEL_MAP)
    assert len(coco) == 80 and coco.id_of("toothbrush") == 90
    assert sys.modules.get("object_detection") is None  # dataprep never imports the TF OD API


@pytest.mark.parametrize("folder", [SSD, FPNLITE], ids=["ssd", "fpnlite"])
def test_export_from_zoo_gives_the_tf_od_api_detections(folder, tmp_path, capsys):
    from dataprep.train.predict import SavedModelDetector

    out = tmp_path / "export"
    assert main(["export", "--init-from", str(folder), "--out", str(out)]) == 0
    assert "variables from the checkpoint, no training" in capsys.readouterr().out
    assert LabelMap.read(out / "label_map.pbtxt") == read_init_source(folder).label_map
    meta = json.loads((out / "dataprep_export.json").read_text())
    assert meta["model"] == folder.name and meta["input_size"] == 128
    reference = np.load(folder / "outputs.npz")
    ours = SavedModelDetector(out).detect(reference["image"][0])
    n = int(reference["num_detections"][0])
    assert int(ours["num_detections"]) == n
    np.testing.assert_allclose(ours["detection_scores"][:n], reference["detection_scores"][0, :n], atol=1e-5)
    np.testing.assert_allclose(ours["detection_boxes"][:n], reference["detection_boxes"][0, :n], atol=1e-5)
    # The TF OD API's postprocess() gives 0-based class indices; the export gives label-map ids.
    np.testing.assert_array_equal(ours["detection_classes"][:n], reference["detection_classes"][0, :n] + 1)


def test_export_needs_a_run_or_init_from(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "e")]) == 2
    assert "give a run folder or --init-from DIR" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--init-from", str(SSD), "--out", str(tmp_path / "e")]) == 2


def test_one_fine_tuning_step_from_a_zoo_checkpoint_records_the_restore(tmp_path):
    """The fast version of the end-to-end run above: one step, no evaluation."""
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc
    from dataprep.train.trainer import train

    generate_shapes_voc(tmp_path / "voc", 4, width=64, height=64, seed=5, size_range=(0.3, 0.6),
                        splits={"train": 1.0})
    convert(read_voc(tmp_path / "voc"), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    config = zoo_config(FPNLITE, ["unused"]).replace(
        init_from=str(FPNLITE), epochs=1, steps_per_epoch=1, batch_size=2, optimizer="adam", learning_rate=1e-4)
    lines = []
    result = train(config, tmp_path / "records", tmp_path / "run", progress=False, log=lines.append,
                   evaluate_at_end=False)
    init = json.loads((tmp_path / "run" / "init_from.json").read_text())
    assert init["parts"] == "feature-extractor"
    assert init["counts"] == {"restored": 384 - 94, "skipped": 94, "fresh": 94}
    assert any(line.startswith(f"Init from {FPNLITE}") for line in lines)
    assert result.config.model == "ssd_mobilenet_v2_fpnlite" and np.isfinite(result.history[-1]["loss"])


def test_keras_applications_weights_load_into_the_zoo_backbone(tmp_path):
    """At depth multiplier 1.0 the TF OD API's MobileNetV2 is keras.applications' one (SAME padding
    computes what its ZeroPadding2D + VALID does), so ImageNet weights load layer for layer; below 1.0
    min_depth changes the network and the copy is refused by name."""
    import keras

    from dataprep.train.model import BackboneWeightsError
    from dataprep.train.zoo import load_imagenet_backbone, zoo_mobilenet_v2

    base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=1.0, include_top=False, weights=None)
    base.save_weights(tmp_path / "a100.weights.h5")
    backbone = zoo_mobilenet_v2(96, 1.0)
    load_imagenet_backbone(backbone, 96, 1.0, str(tmp_path / "a100.weights.h5"))
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (1, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(backbone(x)[1]), np.asarray(base(x)), atol=1e-4)
    small = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    small.save_weights(tmp_path / "a035.weights.h5")
    with pytest.raises(BackboneWeightsError, match=r"layer expanded_conv_project .* expects \(1, 1, 16, 16\)"):
        load_imagenet_backbone(zoo_mobilenet_v2(96, 0.35), 96, 0.35, str(tmp_path / "a035.weights.h5"))


def test_a_run_folder_as_init_source_maps_classes_to_head_columns(tmp_path):
    config = zoo_config(SSD, ["zebra", "ant"]).replace(class_ids=(7, 3), class_names=("zebra", "ant"))
    config.save(tmp_path)
    (tmp_path / "model.weights.h5").write_bytes(b"")
    source = read_init_source(tmp_path)
    assert (source.kind, source.model, source.input_size, source.alpha) == ("run", "ssd_mobilenet_v2", 128, 0.25)
    assert [(i.id, i.name) for i in source.label_map] == [(1, "zebra"), (2, "ant")]  # columns, not label ids
    assert source.checkpoint == str(tmp_path / "model.weights.h5")
