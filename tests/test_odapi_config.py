"""``dataprep config``: the pipeline.config it writes, read back by our reader and by the genuine TF OD API."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dataprep.anchors import AnchorConfig, MultiscaleAnchorConfig
from dataprep.models import default_anchor_config, read_pipeline_config, write_anchors_json
from dataprep.cli import main
from dataprep.label_map import LabelMap
from dataprep.train.odapi_config import read_records, write_pipeline_config
from odapi import needs_odapi

MODELS = ["ssd_mobilenet_v2", "ssdlite_mobilenet_v2", "ssd_mobilenet_v2_fpnlite"]


def make_records(folder: Path, splits: dict[str, int], names=("cat", "dog", "person"), ids=None) -> Path:
    """A records folder as `dataprep convert` writes it (shards are not read by `dataprep config`)."""
    folder.mkdir(parents=True, exist_ok=True)
    label_map = LabelMap.from_names(names) if ids is None else LabelMap.from_pbtxt_string(
        "".join(f'item {{ id: {i} name: "{n}" }}\n' for n, i in zip(names, ids)))
    label_map.write(folder / "label_map.pbtxt")
    manifest = {"format": "tfrecord", "compression": None, "label_map": "label_map.pbtxt", "splits": {}}
    for split, count in splits.items():
        shards = [{"file": f"{split}-{i:05d}-of-{count:05d}.tfrecord", "examples": 5, "bytes": 0,
                   "sha256": hashlib.sha256(b"").hexdigest()} for i in range(count)]
        for shard in shards:
            (folder / shard["file"]).write_bytes(b"")
        manifest["splits"][split] = {"examples": 5 * count, "shards": shards}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def make_zoo(folder: Path, model: str) -> Path:
    """An extracted zoo folder: pipeline.config (what `dataprep config` writes for COCO) + checkpoint files."""
    coco = make_records(folder / "coco", {"train": 1}, names=[f"c{i}" for i in range(90)], ids=range(1, 91))
    write_pipeline_config(coco, folder / "pipeline.config", model=model)
    (folder / "checkpoint").mkdir()
    for name in ("ckpt-0.index", "ckpt-0.data-00000-of-00001"):
        (folder / "checkpoint" / name).write_bytes(b"")
    (folder / "checkpoint" / "checkpoint").write_text('model_checkpoint_path: "ckpt-0"\n')
    return folder


@pytest.fixture
def records(tmp_path) -> Path:
    return make_records(tmp_path / "records", {"train": 4, "val": 1})


# ---------------------------------------------------------- our own reader
@pytest.mark.parametrize("model", MODELS)
def test_written_config_reads_back_with_the_same_settings(records, tmp_path, model):
    out = tmp_path / "pipeline.config"
    result = write_pipeline_config(records, out, model=model, batch_size=8, num_steps=3000)
    s = read_pipeline_config(out, require_model=True)
    assert s.model == model
    size = {"ssd_mobilenet_v2": 300}.get(model, 320)
    assert s.input_size == (size, size)
    assert s.anchor_config == default_anchor_config(model)
    assert s.num_classes == 3
    assert s.label_map_path == str(records.resolve() / "label_map.pbtxt")
    assert s.train_input_paths == (str(records.resolve() / "train-?????-of-00004.tfrecord"),)
    assert s.eval_input_paths == (str(records.resolve() / "val-?????-of-00001.tfrecord"),)
    assert (s.batch_size, s.num_steps) == (8, 3000)
    assert s.fine_tune_checkpoint is None
    assert result.settings == s  # what the command checked before writing is what a reader gets
    assert f"{model} at {size}x{size}, 3 classes" in result.summary_lines()[0]


def test_num_classes_is_the_largest_label_map_id(tmp_path):
    records = make_records(tmp_path / "r", {"train": 1}, names=("a", "b"), ids=(1, 7))
    assert read_records(records).num_classes == 7
    write_pipeline_config(records, tmp_path / "p.config")
    assert read_pipeline_config(tmp_path / "p.config").num_classes == 7


def test_shards_that_are_not_one_complete_set_are_listed(tmp_path):
    records = make_records(tmp_path / "r", {"train": 3})
    manifest = json.loads((records / "manifest.json").read_text())
    manifest["splits"]["train"]["shards"].pop(1)  # 00001 missing: a glob would claim it
    (records / "manifest.json").write_text(json.dumps(manifest))
    root = records.resolve()
    assert read_records(records).splits["train"][0] == (
        str(root / "train-00000-of-00003.tfrecord"), str(root / "train-00002-of-00003.tfrecord"))


def test_suggested_anchors_json_goes_into_the_config(records, tmp_path, capsys):
    anchors = AnchorConfig(min_scale=0.1, max_scale=0.8, aspect_ratios=(1.0, 2.0, 0.5))
    write_anchors_json(tmp_path / "anchors.json", anchors, 256)
    out = tmp_path / "p.config"
    assert main(["config", str(records), "--model", "ssdlite_mobilenet_v2", "--anchors",
                 str(tmp_path / "anchors.json"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input size 256x256 from" in text
    s = read_pipeline_config(out)
    assert (s.anchor_config, s.input_size, s.model) == (anchors, (256, 256), "ssdlite_mobilenet_v2")
    multiscale = MultiscaleAnchorConfig(anchor_scale=3.0)
    write_anchors_json(tmp_path / "ms.json", multiscale, 320)
    assert main(["config", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--anchors", str(tmp_path / "ms.json"),
                 "--out", str(out), "--overwrite"]) == 0
    assert read_pipeline_config(out).anchor_config == multiscale


def test_init_from_a_zoo_folder(records, tmp_path, capsys):
    zoo = make_zoo(tmp_path / "zoo", "ssd_mobilenet_v2_fpnlite")
    out = tmp_path / "p.config"
    assert main(["config", str(records), "--init-from", str(zoo), "--out", str(out), "--batch-size", "4",
                 "--steps", "100"]) == 0
    assert "type detection" in capsys.readouterr().out
    s = read_pipeline_config(out)
    assert s.model == "ssd_mobilenet_v2_fpnlite" and s.num_classes == 3  # ours, not the zoo's 90
    assert s.fine_tune_checkpoint == str(zoo.resolve() / "checkpoint" / "ckpt-0")
    assert s.fine_tune_checkpoint_type == "detection"
    assert (s.batch_size, s.num_steps) == (4, 100)
    assert "warmup_steps: 10\n" in out.read_text()  # min(zoo warmup, steps / 10)


def test_pad_to_multiple_of_the_zoo_config_is_kept(records, tmp_path):
    zoo = make_zoo(tmp_path / "zoo", "ssd_mobilenet_v2")
    text = (zoo / "pipeline.config").read_text().replace("min_depth: 16", "min_depth: 16\n      pad_to_multiple: 32")
    (zoo / "pipeline.config").write_text(text)
    write_pipeline_config(records, tmp_path / "p.config", init_from=zoo)
    s = read_pipeline_config(tmp_path / "p.config")
    assert s.pad_to_multiple == 32 and s.anchor_config.num_anchors(300) == 2034


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "yolo"], "unknown model 'yolo'"),
        (["--train-split", "test"], "no shards for split 'test' (splits: train, val)"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_usage_errors(records, tmp_path, capsys, args, message):
    assert main(["config", str(records), "--out", str(tmp_path / "p.config"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.config").exists()


def test_file_errors(records, tmp_path, capsys):
    out = tmp_path / "p.config"
    out.write_text("keep me")
    assert main(["config", str(records), "--out", str(out)]) == 2
    assert "exists; give --overwrite" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["config", str(tmp_path), "--out", str(tmp_path / "q.config")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    write_anchors_json(tmp_path / "ms.json", MultiscaleAnchorConfig(), 320)
    assert main(["config", str(records), "--anchors", str(tmp_path / "ms.json"), "--model", "ssdlite_mobilenet_v2",
                 "--out", str(tmp_path / "q")]) == 2
    assert "anchors are for model 'ssd_mobilenet_v2_fpnlite', but --model gives 'ssdlite_mobilenet_v2'" in \
        capsys.readouterr().err
    data = json.loads((tmp_path / "ms.json").read_text())
    del data["model"]  # an older file without its model: the anchor kind must still be --model's
    (tmp_path / "ms.json").write_text(json.dumps(data))
    assert main(["config", str(records), "--anchors", str(tmp_path / "ms.json"), "--model", "ssdlite_mobilenet_v2",
                 "--out", str(tmp_path / "q")]) == 2
    assert "holds multiscale anchors, but ssdlite_mobilenet_v2 uses ssd anchors" in capsys.readouterr().err
    assert main(["config", str(records), "--init-from", str(tmp_path), "--out", str(tmp_path / "q")]) == 2
    assert "no pipeline.config" in capsys.readouterr().err
    zoo = make_zoo(tmp_path / "zoo", "ssd_mobilenet_v2")
    assert main(["config", str(records), "--init-from", str(zoo), "--model", "ssd_mobilenet_v2_fpnlite",
                 "--out", str(tmp_path / "q")]) == 2
    assert "holds a ssd_mobilenet_v2 model" in capsys.readouterr().err
    text = (zoo / "pipeline.config").read_text().replace("ssd_mobilenet_v2_keras", "ssd_resnet50_v1_fpn_keras")
    (zoo / "pipeline.config").write_text(text)
    assert main(["config", str(records), "--init-from", str(zoo), "--out", str(tmp_path / "q")]) == 1
    err = capsys.readouterr().err
    assert "'ssd_resnet50_v1_fpn_keras' is not a model dataprep builds" in err and "supported:" in err
    for name in ("ckpt-0.index", "ckpt-0.data-00000-of-00001"):
        (zoo / "checkpoint" / name).unlink()
    (zoo / "pipeline.config").write_text(text.replace("ssd_resnet50_v1_fpn_keras", "ssd_mobilenet_v2_keras"))
    assert main(["config", str(records), "--init-from", str(zoo), "--out", str(tmp_path / "q")]) == 2
    assert "no checkpoint/*.index" in capsys.readouterr().err


def test_untrusted_manifest_names_stay_inside(records, tmp_path, capsys):
    manifest = json.loads((records / "manifest.json").read_text())
    manifest["splits"]["train"]["shards"][0]["file"] = "../../etc/passwd"
    (records / "manifest.json").write_text(json.dumps(manifest))
    # A malformed manifest means the folder given is not a usable records folder: a usage error (exit 2).
    assert main(["config", str(records), "--out", str(tmp_path / "p.config")]) == 2
    assert "'../../etc/passwd' is not a plain name" in capsys.readouterr().err
    manifest["splits"] = "nonsense"
    (records / "manifest.json").write_text(json.dumps(manifest))
    assert main(["config", str(records), "--out", str(tmp_path / "p.config")]) == 2
    assert "not a dataprep manifest" in capsys.readouterr().err


def test_missing_eval_split_is_a_note(tmp_path, capsys):
    records = make_records(tmp_path / "r", {"train": 2})
    assert main(["config", str(records), "--out", str(tmp_path / "p.config")]) == 0
    assert "no split 'val'" in capsys.readouterr().out
    assert "eval_input_reader" not in (tmp_path / "p.config").read_text()


def test_config_does_not_import_tensorflow(records, tmp_path):
    import subprocess

    code = (f"import sys\nfrom dataprep.cli import main\n"
            f"assert main(['config', {str(records)!r}, '--out', {str(tmp_path / 'p.config')!r}]) == 0\n"
            "assert 'tensorflow' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------- genuine TF OD API


@needs_odapi
@pytest.mark.parametrize("model", MODELS)
def test_genuine_tf_od_api_parses_and_builds_it(records, tmp_path, model):
    """config_util reads the file into pipeline_pb2; model_builder builds it; its anchors are ours."""
    import tensorflow as tf
    from object_detection.builders import model_builder
    from object_detection.utils import config_util

    zoo = make_zoo(tmp_path / "zoo", model)
    out = tmp_path / "pipeline.config"
    write_pipeline_config(records, out, init_from=zoo, batch_size=4, num_steps=100)
    configs = config_util.get_configs_from_pipeline_file(str(out))
    ssd = configs["model"].ssd
    assert ssd.num_classes == 3
    assert configs["train_config"].fine_tune_checkpoint_type == "detection"
    assert list(configs["train_input_config"].tf_record_input_reader.input_path) == [
        str(records.resolve() / "train-?????-of-00004.tfrecord")]
    detection_model = model_builder.build(configs["model"], is_training=True)
    size = ssd.image_resizer.fixed_shape_resizer.height
    images, shapes = detection_model.preprocess(tf.zeros([1, size, size, 3]))
    anchors = detection_model.predict(images, shapes)["anchors"].numpy()
    np.testing.assert_array_equal(anchors, default_anchor_config(model).generate(size))


def test_more_refusals(records, tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    assert main(["config", str(records), "--out", str(tmp_path / "folder"), "--overwrite"]) == 2
    assert "is a folder" in capsys.readouterr().err
    manifest = json.loads((records / "manifest.json").read_text())
    (records / "manifest.json").write_text(json.dumps({**manifest, "compression": "GZIP"}))
    assert main(["config", str(records), "--out", str(tmp_path / "p.config")]) == 2
    assert "GZIP-compressed; the TF OD API reads uncompressed TFRecords only" in capsys.readouterr().err
    (records / "manifest.json").write_text(json.dumps(manifest))
    zoo = make_zoo(tmp_path / "zoo", "ssd_mobilenet_v2")
    text = (zoo / "pipeline.config").read_text()
    start = text.index("image_resizer {")
    end = text.index("anchor_generator {")
    (zoo / "pipeline.config").write_text(
        text[:start] + "image_resizer { keep_aspect_ratio_resizer { min_dimension: 300 max_dimension: 600 } }\n"
        + text[end:])
    assert main(["config", str(records), "--init-from", str(zoo), "--out", str(tmp_path / "p.config")]) == 2
    assert "input size is not fixed" in capsys.readouterr().err


def test_checkpoint_named_by_the_checkpoint_file(records, tmp_path):
    zoo = make_zoo(tmp_path / "zoo", "ssd_mobilenet_v2")
    for name in ("ckpt-7.index", "ckpt-7.data-00000-of-00001"):
        (zoo / "checkpoint" / name).write_bytes(b"")
    write_pipeline_config(records, tmp_path / "a.config", init_from=zoo)  # the checkpoint file says ckpt-0
    assert read_pipeline_config(tmp_path / "a.config").fine_tune_checkpoint.endswith("checkpoint/ckpt-0")
    (zoo / "checkpoint" / "checkpoint").write_text('model_checkpoint_path: "ckpt-7"\n')
    write_pipeline_config(records, tmp_path / "b.config", init_from=zoo)
    assert read_pipeline_config(tmp_path / "b.config").fine_tune_checkpoint.endswith("checkpoint/ckpt-7")


@pytest.mark.parametrize("model", ["ssd_mobilenet_v2", "ssd_mobilenet_v2_fpnlite"])
def test_config_round_trips_through_init_from(records, tmp_path, model):
    """A zoo folder re-made from what `dataprep config --init-from ZOO` writes (its pipeline.config beside the
    zoo's checkpoint) gives `train --init-from` the same model, input size, width and anchors as the zoo
    folder itself, with our classes instead of the zoo's."""
    from dataprep.train.restore import model_settings, read_init_source

    zoo = Path(__file__).parent / "data" / "zoo" / model
    remade = tmp_path / "remade"
    remade.mkdir()
    assert main(["config", str(records), "--init-from", str(zoo), "--out", str(remade / "pipeline.config")]) == 0
    (remade / "checkpoint").mkdir()
    for f in (zoo / "checkpoint").iterdir():
        (remade / "checkpoint" / f.name).write_bytes(f.read_bytes())
    (remade / "label_map.pbtxt").write_bytes((records / "label_map.pbtxt").read_bytes())

    want, got = read_init_source(zoo), read_init_source(remade)
    assert (got.kind, got.model, got.input_size, got.alpha) == (want.kind, want.model, want.input_size, want.alpha)
    assert got.anchor_config == want.anchor_config
    assert got.num_classes == 3 != want.num_classes
    assert model_settings(init_from=remade) == model_settings(init_from=zoo)
