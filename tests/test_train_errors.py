"""Every expected error of the trainer, triggered: bad settings, bad records,
a resume on other classes, a batch the replicas cannot split, missing weights,
unreadable images, unsupported ImageNet widths."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from dataprep.errors import UsageError  # noqa: E402
from dataprep.label_map import LabelMap  # noqa: E402
from dataprep.train.config import TrainConfig  # noqa: E402
from dataprep.train.devices import setup_devices  # noqa: E402
from dataprep.train.model import BackboneWeightsError, build_backbone  # noqa: E402
from dataprep.train.predict import latest_weights, predict_images  # noqa: E402
from dataprep.train.trainer import prepare_run, records_info, train  # noqa: E402


@pytest.mark.parametrize("changes, match", [
    ({"alpha": 0}, "alpha"),
    ({"epochs": 0}, "epochs"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"),
    ({"mixed_precision": "yes"}, "mixed_precision"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"batchnorm_momentum": 1.0}, "batchnorm_momentum"),
    ({"warmup_epochs": -1}, "warmup_epochs"),
    ({"match_threshold": 1.5}, "match_threshold"),
    ({"hard_negative_ratio": 0}, "hard_negative_ratio"),
    ({"class_ids": (1, 2), "class_names": ("a",)}, "class_ids has 2 entries"),
    ({"class_ids": (0,), "class_names": ("a",)}, "class_ids"),
])
def test_bad_settings_are_named(changes, match):
    with pytest.raises(UsageError, match=match):
        TrainConfig(**changes)


def test_unreadable_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the training config"):
        TrainConfig.load(tmp_path)


def write_records(path, names=("circle", "square")):
    path.mkdir(parents=True, exist_ok=True)
    shard = "train-00000-of-00001.tfrecord"
    (path / shard).write_bytes(b"")  # listed, empty: enough for the code paths before reading data
    (path / "manifest.json").write_text(json.dumps({"splits": {"train": {"examples": 4, "shards": [
        {"file": shard, "examples": 4, "bytes": 0, "sha256": ""}]}}}))
    LabelMap.from_names(names).write(path / "label_map.pbtxt")
    return path


def test_bad_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("[")
    with pytest.raises(UsageError, match="cannot read the manifest"):
        records_info(tmp_path)


def test_resume_on_other_classes_is_refused(tmp_path):
    records = write_records(tmp_path / "records")
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(class_ids=(1,), class_names=("circle",)).save(run)
    with pytest.raises(UsageError, match="trained on classes"):
        prepare_run(TrainConfig(), records_info(records, "train"), run, resume=True)


def test_batch_must_split_over_the_replicas(tmp_path):
    class TwoReplicas:
        num_replicas_in_sync = 2

    records = write_records(tmp_path / "records")
    with pytest.raises(UsageError, match="multiple of the 2 replicas"):
        train(TrainConfig(batch_size=3, backbone_weights="none", input_size=96), records, tmp_path / "run",
              strategy=TwoReplicas(), log=lambda line: None)
    assert not (tmp_path / "run").exists()


def test_devices_on_this_cpu():
    setup = setup_devices()
    assert setup.description.startswith("Training on CPU") and not setup.jit_compile
    assert keras.mixed_precision.global_policy().name == "float32"


def test_no_weights_yet(tmp_path):
    with pytest.raises(UsageError, match="no weights yet"):
        latest_weights(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "epoch-002.weights.h5").write_bytes(b"")
    (tmp_path / "checkpoints" / "epoch-001.weights.h5").write_bytes(b"")
    assert latest_weights(tmp_path).name == "epoch-002.weights.h5"


def test_unreadable_image(tmp_path):
    class Nothing:
        class_ids, class_names = [1], ["a"]

    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(UsageError, match="broken.jpg: cannot read the image"):
        predict_images(Nothing(), [tmp_path / "broken.jpg"], tmp_path / "out")


def test_imagenet_weights_need_a_supported_alpha():
    # Keras checks alpha before downloading anything.
    with pytest.raises(BackboneWeightsError, match="alpha=0.2"):
        build_backbone(96, 0.2, "imagenet")


def test_offline_imagenet_download_leaves_no_run_behind(tmp_path, monkeypatch, capsys):
    from dataprep.cli import main

    def offline(**kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    records = write_records(tmp_path / "records")
    assert main(["train", "--records", str(records), "--out", str(tmp_path / "run"), "--input-size", "96"]) == 1
    assert "Are you offline?" in capsys.readouterr().err
    assert not (tmp_path / "run" / "config.json").exists()


def test_cli_takes_anchor_settings_from_the_stats_file(tmp_path, monkeypatch):
    from dataprep.anchors import AnchorConfig
    from dataprep.models import write_anchors_json
    from dataprep.cli import main
    import dataprep.train.trainer as trainer

    seen = {}

    class Done:
        def summary_lines(self):
            return ["done"]

    def fake_train(config, records, out, **kwargs):
        seen.update(config=config, resume=kwargs["resume"])
        return Done()

    monkeypatch.setattr(trainer, "train", fake_train)
    cfg = AnchorConfig(min_scale=0.1, aspect_ratios=(1.0, 2.0, 0.5))
    write_anchors_json(tmp_path / "anchors.json", cfg, 192)
    assert main(["train", "--records", "r", "--out", "o", "--anchors", str(tmp_path / "anchors.json"),
                 "--optimizer", "adam", "--backbone-weights", "none"]) == 0
    config = seen["config"]
    assert config.anchors == cfg and config.input_size == 192  # the file's size when --input-size is absent
    assert config.learning_rate == 1e-3 and config.optimizer == "adam" and config.weights_path() is None
    assert config.alpha == 0.35  # the random-weights recipe's width
    assert main(["train", "--records", "r", "--out", "o", "--anchors", str(tmp_path / "anchors.json"),
                 "--backbone-weights", "none", "--alpha", "1.0"]) == 0
    assert seen["config"].alpha == 1.0 and seen["config"].optimizer == "adam"  # a given width wins
    assert main(["train", "--records", "r", "--out", "o", "--anchors", str(tmp_path / "anchors.json"),
                 "--anchor-config", str(tmp_path / "anchors.json")]) == 2  # not both


@pytest.mark.parametrize("value, expected", [("320", 320), ("96x96", 96), (" 300 X 300", 300), (None, None)])
def test_train_input_size_takes_a_square(value, expected):
    from dataprep.cli.options import square_size

    assert square_size(value) == expected


def test_train_refuses_a_non_square_input_size(tmp_path, capsys):
    from dataprep.cli import main

    records = write_records(tmp_path / "records")
    assert main(["train", "--records", str(records), "--out", str(tmp_path / "run"), "--input-size", "320x240"]) == 2
    assert "--input-size 320x240: expected a square size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
