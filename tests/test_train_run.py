"""Training end to end on a tiny shapes dataset (input 96, alpha 0.35, random
weights, a few steps): the loss falls when overfitting one batch; the CLI
trains, checkpoints, resumes, evaluates, exports and predicts; the exported
SavedModel gives the same detections as the in-memory model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dataprep.cli import main  # noqa: E402
from dataprep.errors import UsageError  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402
from helpers import shapes_records  # noqa: E402

def history(run):
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


TINY = ["--input-size", "96", "--alpha", "0.35", "--backbone-weights", "none", "--batch-size", "4"]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return shapes_records(tmp_path_factory.mktemp("shapes"), 16, 96, 80, 2, {"train": 0.75, "val": 0.25},
                          size_range=(0.25, 0.6))


@pytest.fixture(scope="module")
def run_dir(records, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    code = main(["train", "--records", str(records), "--out", str(run), *TINY, "--epochs", "2", "--eval-every", "1",
                 "--steps-per-epoch", "2", "--optimizer", "adam", "--quiet"])
    assert code == 0
    return run


def test_loss_falls_when_overfitting_one_batch(records):
    from dataprep.train.anchor_generator import AnchorGenerator
    from dataprep.train.encoder import LabelEncoder
    from dataprep.train.build import build_model
    from dataprep.train.input_pipeline import train_dataset
    from dataprep.train.optim import compile_model

    config = TrainConfig(input_size=96, alpha=0.35, backbone_weights="none", class_ids=(1, 2, 3),
                         class_names=("circle", "square", "triangle"), optimizer="adam", learning_rate=3e-3,
                         warmup_epochs=0, epochs=1, clipnorm=None)
    encoder = LabelEncoder(AnchorGenerator(config.anchors, 96).anchors(), config.class_ids)
    images, targets = next(iter(train_dataset(records, "train", encoder, 96, 4, augment_images=False)))
    model = build_model(config)
    compile_model(model, config, steps_per_epoch=100)
    losses = [model.train_on_batch(images, targets, return_dict=True)["loss"] for _ in range(25)]
    assert all(np.isfinite(losses))
    assert min(losses[-5:]) < 0.5 * losses[0], losses


def test_train_writes_a_complete_run(run_dir):
    for name in ("config.json", "label_map.pbtxt", "model.weights.h5", "history.csv", "summary.json",
                 "checkpoints/epoch-001.weights.h5", "checkpoints/epoch-002.weights.h5", "backup/latest.weights.h5",
                 "best/model.weights.h5", "best/evaluation.json", "curves.png", "recipe.json"):
        assert (run_dir / name).is_file(), name
    assert not [p for p in run_dir.rglob("*") if "partial" in p.name or p.name.endswith(".old")]
    config = TrainConfig.load(run_dir)
    assert config.class_names == ("circle", "square", "triangle") and config.input_size == 96
    rows = history(run_dir)
    assert len(rows) == 2 and float(rows[0]["loss"]) > 0 and all(r["mAP50"] != "nan" for r in rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluation"]["split"] == "val" and summary["epochs_run"] == 2
    recipe = json.loads((run_dir / "recipe.json").read_text())
    assert recipe["start"] == "random" and recipe["settings"]["optimizer"] == "adam"
    assert recipe["reasons"]["optimizer"] == "given" and recipe["reasons"]["weight_decay"] != "given"
    events = list((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)  # TensorBoard logs


def test_best_is_what_evaluate_reports(run_dir, records, tmp_path):
    """best/ holds the evaluation with the highest val mAP@0.5 (the first of equals), and `evaluate RUN`
    gives the figures the run printed for it; `--weights final` the last epoch's."""
    rows = history(run_dir)
    best = json.loads((run_dir / "best" / "evaluation.json").read_text())
    scores = [float(r["mAP50"]) for r in rows]
    assert best["epoch"] == 1 + scores.index(max(scores)) and best["mAP50"] == pytest.approx(max(scores), abs=1e-5)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best"]["epoch"] == best["epoch"] and summary["best"]["mAP50"] == best["mAP50"]
    for weights, expected in (("best", best), ("final", summary["evaluation"])):
        out = tmp_path / f"{weights}.json"
        assert main(["evaluate", str(run_dir), "--records", str(records), "--weights", weights,
                     "--json", str(out)]) == 0
        got = json.loads(out.read_text())
        assert got["detections"] == expected["detections"] and got["mAP50"] == pytest.approx(expected["mAP50"],
                                                                                             abs=1e-9)
        assert got["per_class50"] == pytest.approx(expected["per_class50"], abs=1e-9, nan_ok=True)


def test_existing_run_needs_resume(records, run_dir, capsys):
    assert main(["train", "--records", str(records), "--out", str(run_dir), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err


def test_missing_records_are_a_usage_error(tmp_path, records, capsys):
    assert main(["train", "--records", str(tmp_path), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert main(["train", "--records", str(records), "--out", str(tmp_path / "run"), *TINY,
                 "--train-split", "test"]) == 2
    assert "no examples in split 'test'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def export_dir(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "export"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    return out


def test_export_reload_gives_the_same_detections(run_dir, export_dir):
    from dataprep.train.predict import Detector, SavedModelDetector

    assert (export_dir / "label_map.pbtxt").read_text() == (run_dir / "label_map.pbtxt").read_text()
    exported = SavedModelDetector(export_dir)
    in_memory = Detector.from_run(run_dir)
    rng = np.random.default_rng(0)
    for shape in [(2, 80, 96, 3), (1, 150, 70, 3)]:  # any size, resized inside
        images = rng.integers(0, 255, shape, dtype=np.uint8)
        a, b = in_memory.detect(images), exported.detect(images)
        assert sorted(b) == ["detection_boxes", "detection_classes", "detection_scores", "num_detections"]
        assert b["detection_boxes"].shape == (shape[0], 100, 4)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
        assert set(np.unique(b["detection_classes"])) <= {0.0, 1.0, 2.0, 3.0}


def test_cli_evaluate_export_predict(run_dir, export_dir, records, tmp_path, capsys):
    assert main(["evaluate", str(run_dir), "--records", str(records), "--json", str(tmp_path / "ev.json")]) == 0
    assert "mAP@0.5" in capsys.readouterr().out
    assert json.loads((tmp_path / "ev.json").read_text())["images"] == 4
    assert main(["evaluate", str(run_dir), "--records", str(records), "--split", "test"]) == 2
    assert main(["export", str(run_dir), "--out", str(export_dir)]) == 2  # not empty: needs --overwrite
    assert "--overwrite" in capsys.readouterr().err
    images = sorted((records.parent / "voc" / "JPEGImages").glob("*.jpg"))[:2]
    for model in (run_dir, export_dir):
        capsys.readouterr()
        assert main(["predict", *map(str, images), "--model", str(model), "--out", str(tmp_path / "pred"),
                     "--min-score", "0.0"]) == 0
        assert "detections >= 0.0" in capsys.readouterr().out
    from PIL import Image

    with Image.open(tmp_path / "pred" / f"{images[0].stem}.png") as im:
        assert im.size == (96, 80)
    assert main(["predict", str(images[0]), "--model", str(tmp_path), "--out", str(tmp_path / "p2")]) == 2


def test_resume_continues_from_the_last_epoch(run_dir, records, tmp_path):
    import shutil

    run = tmp_path / "resumed"
    shutil.copytree(run_dir, run)
    assert main(["train", "--records", str(records), "--out", str(run), "--resume", "--epochs", "3", "--quiet"]) == 0
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert (run / "checkpoints" / "epoch-003.weights.h5").is_file()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 1
    assert TrainConfig.load(run).epochs == 3
    with pytest.raises(UsageError, match="not a training run folder"):
        TrainConfig.load(tmp_path / "nothing")


def _batchnorm_stats(model):
    from dataprep.train.precise_bn import trainable_batchnorms

    return [np.concatenate([bn.moving_mean.numpy(), bn.moving_variance.numpy()]) for bn in trainable_batchnorms(model)]


def _recomputed(run, records):
    """(saved statistics, statistics recomputed from the saved weights on the run's train images)."""
    from dataprep.train.input_pipeline import eval_dataset
    from dataprep.train.precise_bn import recalibrate_batchnorm
    from dataprep.train.predict import Detector

    model = Detector.from_run(run).model
    saved = _batchnorm_stats(model)
    images = (b["image"] for b in eval_dataset(records, "train", 96, 4))
    assert recalibrate_batchnorm(model, images) == 3  # 12 train images in batches of 4
    return saved, _batchnorm_stats(model)


def test_the_saved_weights_carry_batchnorm_statistics_of_the_final_weights(run_dir, records, tmp_path, monkeypatch,
                                                                           capsys):
    saved, recomputed = _recomputed(run_dir, records)
    assert len(saved) > 30
    for a, b in zip(saved, recomputed):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    # without it the saved statistics are training's moving averages, far from those of the weights
    run = tmp_path / "no-precise-bn"
    assert main(["train", "--records", str(records), "--out", str(run), *TINY, "--epochs", "1",
                 "--steps-per-epoch", "2", "--optimizer", "adam", "--precise-bn-images", "0", "--quiet"]) == 0
    assert TrainConfig.load(run).precise_bn_images == 0
    saved, recomputed = _recomputed(run, records)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(saved, recomputed)) > 0.1

    # dataprep evaluate --precise-bn-images recomputes them for such a run before evaluating
    from dataprep.train.predict import Detector

    loaded = []
    from_run = Detector.from_run.__func__
    monkeypatch.setattr(Detector, "from_run", classmethod(lambda cls, *a, **k: loaded.append(from_run(cls, *a, **k))
                                                           or loaded[-1]))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--records", str(records), "--batch-size", "4",
                 "--precise-bn-images", "12"]) == 0
    assert "Batch-norm statistics recomputed on 12 train images" in capsys.readouterr().out
    for a, b in zip(_batchnorm_stats(loaded[0].model), recomputed):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
