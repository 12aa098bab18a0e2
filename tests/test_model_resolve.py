"""One resolver: ``stats``, ``train`` and ``config`` turn the same ``--model``, ``--input-size``,
``--anchors``, ``--anchor-config`` and ``--init-from`` into the same model, input size and anchors.

No TensorFlow: the resolver and the three commands' front ends are numpy only.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from dataprep.anchors import AnchorConfig, MultiscaleAnchorConfig
from dataprep.errors import DataprepError, UsageError
from dataprep.models import write_anchors_json
from dataprep.models.registry import MODELS, model_from_pipeline, model_spec
from dataprep.models.resolve import read_init_folder, resolve_model
from dataprep.stats.anchor_analysis import resolve_settings
from dataprep.train.config import TrainConfig
from dataprep.train.odapi_config import choose_model
from dataprep.train.restore import model_settings

# The network part of each model's pipeline.config (as the TF2 zoo configs write it).
NETWORKS = {
    "ssdlite_mobilenet_v2": "box_predictor { convolutional_box_predictor { kernel_size: 3 use_depthwise: true } }\n"
                            "feature_extractor { type: 'ssd_mobilenet_v2_keras' min_depth: 16 use_depthwise: true }",
    "ssd_mobilenet_v2": "box_predictor { convolutional_box_predictor { kernel_size: 1 } }\n"
                        "feature_extractor { type: 'ssd_mobilenet_v2_keras' depth_multiplier: 0.75 min_depth: 16 }",
    "ssd_mobilenet_v2_fpnlite": "box_predictor { weight_shared_convolutional_box_predictor { depth: 128 } }\n"
                                "feature_extractor { type: 'ssd_mobilenet_v2_fpn_keras' use_depthwise: true "
                                "min_depth: 16 fpn { min_level: 3 max_level: 7 } }",
    "resnet": "box_predictor { convolutional_box_predictor { kernel_size: 1 } }\n"
              "feature_extractor { type: 'ssd_resnet50_v1_fpn_keras' }",
}
SSD_BLOCK = "ssd_anchor_generator { min_scale: 0.15 max_scale: 0.9 aspect_ratios: [1.0, 2.0, 0.5] }"
MULTISCALE_BLOCK = "multiscale_anchor_generator { anchor_scale: 3.0 aspect_ratios: [1.0, 2.0, 0.5] }"


def write_pipeline(path: Path, network: str, size: int) -> Path:
    block = MULTISCALE_BLOCK if network == "ssd_mobilenet_v2_fpnlite" else SSD_BLOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"model {{ ssd {{ num_classes: 3\n"
                    f"image_resizer {{ fixed_shape_resizer {{ height: {size} width: {size} }} }}\n"
                    f"anchor_generator {{ {block} }}\n{NETWORKS[network]}\n}} }}\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path | None]:
    root = tmp_path_factory.mktemp("resolve")
    write_anchors_json(root / "ssd.json", AnchorConfig(min_scale=0.1), 300, "ssd_mobilenet_v2")
    write_anchors_json(root / "fpn.json", MultiscaleAnchorConfig(anchor_scale=3.0), 384, "ssd_mobilenet_v2_fpnlite")
    write_anchors_json(root / "legacy.json", AnchorConfig(min_scale=0.12), 288)
    legacy = json.loads((root / "legacy.json").read_text())
    del legacy["model"], legacy["kind"], legacy["anchor_config"]["kind"]  # as written before both were recorded
    (root / "legacy.json").write_text(json.dumps(legacy))
    TrainConfig(model="ssdlite_mobilenet_v2", input_size=224, alpha=0.5,
                anchor_config=AnchorConfig(min_scale=0.3).to_dict()).save(_mkdir(root / "run"))
    return {
        "none": None,
        "json-ssd": root / "ssd.json",
        "json-fpn": root / "fpn.json",
        "json-legacy": root / "legacy.json",
        "cfg-ssdlite": write_pipeline(root / "ssdlite.config", "ssdlite_mobilenet_v2", 352),
        "cfg-ssd": write_pipeline(root / "ssd.config", "ssd_mobilenet_v2", 300),
        "cfg-fpn": write_pipeline(root / "fpn.config", "ssd_mobilenet_v2_fpnlite", 320),
        "zoo-ssd": write_pipeline(root / "zoo-ssd" / "pipeline.config", "ssd_mobilenet_v2", 256).parent,
        "zoo-fpn": write_pipeline(root / "zoo-fpn" / "pipeline.config", "ssd_mobilenet_v2_fpnlite", 320).parent,
        "run": root / "run",
    }


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _outcome(call):
    """``(model, (h, w), anchors dict, width)`` or ``(error class, message)``."""
    try:
        return call()
    except DataprepError as exc:
        return type(exc).__name__, str(exc)


MODEL_CHOICES = [None, *MODELS]
ANCHOR_CHOICES = ["none", "json-ssd", "json-fpn", "json-legacy", "cfg-ssdlite", "cfg-ssd", "cfg-fpn"]
INIT_CHOICES = ["none", "zoo-ssd", "zoo-fpn", "run"]


def test_stats_and_train_resolve_the_same_model_size_and_anchors(files):
    outcomes = []
    for model, size, anchor, init in itertools.product(MODEL_CHOICES, [None, 256], ANCHOR_CHOICES, INIT_CHOICES):
        path = files[anchor]
        json_path = path if anchor.startswith("json") else None
        cfg_path = path if anchor.startswith("cfg") else None
        init_from = files[init]

        def stats():
            s = resolve_settings(model=model, input_size=None if size is None else str(size), anchors_json=json_path,
                                 anchor_config=cfg_path, init_from=init_from)
            return s.model, s.input_size, s.config.to_dict()

        def train():
            t = model_settings(model, init_from, size, None, json_path, cfg_path)
            return t.model, (t.input_size, t.input_size), t.anchor_config

        got_stats, got_train = _outcome(stats), _outcome(train)
        assert got_stats == got_train, (model, size, anchor, init)
        outcomes.append(((model, size, anchor, init), got_train))
    resolved = dict(outcomes)
    errors = [k for k, v in outcomes if len(v) == 2]
    assert 0 < len(errors) < len(outcomes)  # the table holds both agreements and refusals
    # the case the two resolvers used to disagree on: a pipeline.config names its model
    assert resolved[(None, None, "cfg-fpn", "none")][:2] == ("ssd_mobilenet_v2_fpnlite", (320, 320))
    assert resolved[(None, None, "cfg-ssd", "none")][:2] == ("ssd_mobilenet_v2", (300, 300))
    # sources in turn: --input-size, then the anchor file, then --init-from, then the model
    assert resolved[(None, 256, "json-fpn", "zoo-fpn")][:2] == ("ssd_mobilenet_v2_fpnlite", (256, 256))
    assert resolved[(None, None, "json-fpn", "zoo-fpn")][:2] == ("ssd_mobilenet_v2_fpnlite", (384, 384))
    assert resolved[(None, None, "none", "zoo-ssd")][:2] == ("ssd_mobilenet_v2", (256, 256))
    assert resolved[(None, None, "none", "run")] == (
        "ssdlite_mobilenet_v2", (224, 224), AnchorConfig(min_scale=0.3).to_dict())
    assert resolved[(None, None, "json-legacy", "none")] == (
        "ssdlite_mobilenet_v2", (288, 288), AnchorConfig(min_scale=0.12).to_dict())
    assert resolved[("ssd_mobilenet_v2", None, "none", "none")][:2] == ("ssd_mobilenet_v2", (300, 300))
    # two sources naming different models: a usage error naming both
    assert resolved[("ssdlite_mobilenet_v2", None, "cfg-fpn", "none")][0] == "UsageError"
    assert resolved[(None, None, "json-ssd", "zoo-fpn")] == (
        "UsageError", f"{files['json-ssd']}: the anchors are for model 'ssd_mobilenet_v2', but --init-from "
        f"{files['zoo-fpn']} gives 'ssd_mobilenet_v2_fpnlite'; leave --init-from {files['zoo-fpn']} out or make "
        "the anchors for ssd_mobilenet_v2_fpnlite")
    assert resolved[("ssd_mobilenet_v2_fpnlite", None, "json-legacy", "none")] == (
        "UsageError", f"{files['json-legacy']} holds ssd anchors, but ssd_mobilenet_v2_fpnlite uses multiscale anchors")


@pytest.mark.parametrize("model", MODEL_CHOICES)
@pytest.mark.parametrize("anchor", ["none", "json-ssd", "json-fpn", "json-legacy"])
@pytest.mark.parametrize("init", ["none", "zoo-ssd", "zoo-fpn"])
def test_config_resolves_as_train(files, model, anchor, init):
    """``dataprep config`` (no --input-size or --anchor-config; --init-from a zoo folder) resolves as train."""
    json_path = files[anchor]
    init_from = files[init]
    if init_from is not None:  # config writes the checkpoint as fine_tune_checkpoint: give it one
        (init_from / "checkpoint").mkdir(exist_ok=True)
        (init_from / "checkpoint" / "ckpt-0.index").touch()

    def config():
        choice, _ = choose_model(model, anchors_json=json_path, init_from=init_from)
        return choice.model, choice.input_size, choice.anchors.replace(pad_to_multiple=1).to_dict()

    def train():
        t = model_settings(model, init_from, None, None, json_path, None)
        return t.model, (t.input_size, t.input_size), t.anchor_config

    want = _outcome(train)
    if want[0] != "UsageError" and model_spec(want[0]).tf1_checkpoint:
        # config resolves the TF1 model as train does, then refuses: it writes TF2 TF OD API configs only
        error, message = _outcome(config)
        assert error == "UsageError" and f"--model {want[0]}: dataprep config writes TF2 TF OD API" in message
        return
    assert _outcome(config) == want


def test_a_pipeline_config_of_another_network(files, tmp_path):
    """stats analyses its anchors for no model; train builds the default model of the anchor kind, and says so."""
    path = write_pipeline(tmp_path / "resnet.config", "resnet", 320)
    settings = resolve_settings(anchor_config=path)
    assert settings.model is None and settings.input_size == (320, 320)
    resolved = resolve_model(anchor_config=path)
    assert resolved.model == "ssdlite_mobilenet_v2" and resolved.anchors.min_scale == 0.15
    assert "'ssd_resnet50_v1_fpn_keras' is not a model dataprep builds" in resolved.notes[0]


def test_init_folder_errors(tmp_path, files):
    with pytest.raises(UsageError, match="neither a TF2 zoo model folder"):
        read_init_folder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the training config"):
        read_init_folder(tmp_path)
    folder = _mkdir(tmp_path / "keep")
    (folder / "pipeline.config").write_text(
        files["cfg-ssd"].read_text().replace("fixed_shape_resizer { height: 300 width: 300 }",
                                             "keep_aspect_ratio_resizer { min_dimension: 300 max_dimension: 600 }"))
    with pytest.raises(UsageError, match="input size is not fixed"):
        read_init_folder(folder)
    assert read_init_folder(files["zoo-ssd"]).alpha == 0.75


def test_pipeline_signatures_name_each_model():
    """Every registered model with a pipeline signature is recognised from it, and nearly-it is refused."""
    for spec in MODELS.values():
        sig = spec.pipeline
        assert sig is not None
        for extractor_type in sig.extractor_types:
            got = model_from_pipeline(extractor_type, sig.box_predictor, bool(sig.predictor_depthwise),
                                      bool(sig.extractor_depthwise), sig.fpn_levels)
            assert got == (spec.name, None)
    name, problem = model_from_pipeline("ssd_mobilenet_v2_fpn_keras", "weight_shared_convolutional_box_predictor",
                                        extractor_depthwise=False)
    assert name is None and "full FPN, not FPNLite" in problem
    assert model_spec("ssd_mobilenet_v2").recipe.batch == 512 and model_spec("ssd_mobilenet_v2_fpnlite").recipe.batch == 128
