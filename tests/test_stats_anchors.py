"""``dataprep stats --anchors``: coverage on the boxes as the model sees them,
settings from flags / pipeline.config / anchors JSON, --dump-anchors,
--suggest and --anchors-out."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dataprep.anchors import AnchorConfig, AnchorConfigError, anchor_coverage, coco_size_buckets, ssd_anchors
from dataprep.models import read_anchors_json, write_anchors_json
from dataprep.cli import main
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import UsageError
from dataprep.formats.voc import read_voc
from dataprep.stats import analyse_anchors, collect, model_input_boxes, resolve_settings
from dataprep.stats.anchor_analysis import KEEP, AnchorSettings, parse_floats, parse_input_size
from dataprep.stats.collect import _make_table
from dataprep.synth import generate_shapes_voc


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("anchors")
    voc = generate_shapes_voc(base / "voc", 12, width=128, height=96, seed=5)
    out = base / "records"
    convert(read_voc(voc), ConvertOptions(out=out, workers=1, progress=False))
    return out


def pipeline_config(path: Path, *, resizer: str, min_scale: float = 0.15, ratios=(1.0, 2.0),
                    num_classes: int = 3) -> Path:
    ratio_lines = "\n".join(f"        aspect_ratios: {r}" for r in ratios)
    path.write_text(textwrap.dedent(f"""\
        model {{
          ssd {{
            num_classes: {num_classes}
            image_resizer {{ {resizer} }}
            feature_extractor {{ type: "ssd_mobilenet_v2_keras" }}
            anchor_generator {{
              ssd_anchor_generator {{
                num_layers: 6
                min_scale: {min_scale}
                max_scale: 0.9
        {ratio_lines}
              }}
            }}
          }}
        }}
        train_config {{ batch_size: 8 }}
        """), encoding="utf-8")
    return path


# ------------------------------------------------------------------ coverage
def test_coverage_equals_anchor_coverage_on_the_same_boxes(records):
    table = collect(records)
    analysis = analyse_anchors(table, resolve_settings(), worst_k=4)
    boxes = np.clip(table.boxes, 0, 1).astype(np.float32)
    expected = anchor_coverage(boxes, 320, AnchorConfig())  # DEFAULT_MODEL at DEFAULT_INPUT_SIZE
    assert analysis.report.matched_fraction == expected.matched_fraction
    np.testing.assert_array_equal(analysis.report.best_iou, expected.best_iou)
    np.testing.assert_array_equal(analysis.report.num_positives, expected.num_positives)
    # the breakdown uses COCO buckets of the boxes at the model input
    np.testing.assert_array_equal(analysis.report.size_bucket, coco_size_buckets(boxes, 320))
    d = analysis.to_dict()
    assert set(d["coverage"]["by_class"]) <= {"circle", "square", "triangle"}
    assert sum(g["count"] for g in d["coverage"]["by_class"].values()) == table.num_boxes
    assert d["coverage"]["force_matched"] == int((expected.best_iou < 0.5).sum())
    # worst boxes: lowest best IoU first, named by file
    worst = analysis.worst
    assert len(worst) == 4
    assert [w["best_iou"] for w in worst] == sorted(w["best_iou"] for w in worst)
    assert worst[0]["best_iou"] == pytest.approx(float(expected.best_iou.min()))
    assert all(w["file"].endswith(".jpg") for w in worst)


def test_cli_anchors_json_report(records, tmp_path, capsys):
    path = tmp_path / "s.json"
    assert main(["stats", str(records), "--anchors", "--worst", "3", "--json", str(path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "anchors: 2034 at 320x320 input (fixed_shape_resizer), ssd anchors of ssdlite_mobilenet_v2" in out
    assert "force-matched only" in out and "worst 3 boxes:" in out
    assert "size (at input)" in out
    doc = json.loads(path.read_text(encoding="utf-8"))
    table = collect(records)
    expected = anchor_coverage(np.clip(table.boxes, 0, 1), 320)
    cov = doc["anchors"]["coverage"]
    assert cov["matched_fraction"] == pytest.approx(expected.matched_fraction)
    assert cov["num_anchors"] == 2034 and cov["num_boxes"] == table.num_boxes
    assert doc["anchors"]["settings"]["model"] == "ssdlite_mobilenet_v2"
    assert len(doc["anchors"]["worst"]) == 3
    assert doc["anchors"]["settings"]["anchor_config"] == AnchorConfig().to_dict()


def test_dump_anchors_defaults_and_flags(records, tmp_path, capsys):
    path = tmp_path / "a.npy"
    assert main(["stats", str(records), "--dump-anchors", str(path), "-q"]) == 0
    assert "wrote 2034 anchors" in capsys.readouterr().out
    anchors = np.load(path)
    assert anchors.dtype == np.float32 and anchors.shape == (2034, 4)
    np.testing.assert_array_equal(anchors, ssd_anchors(320))

    assert main(["stats", str(records), "--dump-anchors", str(path), "--input-size", "320", "--min-scale", "0.1",
                 "--max-scale", "0.9", "--aspect-ratios", "1,2,0.5", "--num-layers", "5", "-q"]) == 0
    np.testing.assert_array_equal(np.load(path), ssd_anchors(320, num_layers=5, min_scale=0.1, max_scale=0.9,
                                                             aspect_ratios=(1.0, 2.0, 0.5)))
    assert "settings from flags" in capsys.readouterr().out


def test_anchor_config_changes_the_anchors(records, tmp_path, capsys):
    config = pipeline_config(tmp_path / "pipeline.config",
                             resizer="fixed_shape_resizer { height: 320 width: 320 }", num_classes=90)
    path = tmp_path / "a.npy"
    assert main(["stats", str(records), "--anchor-config", str(config), "--dump-anchors", str(path), "-q"]) == 0
    out = capsys.readouterr().out
    anchors = np.load(path)
    expected = ssd_anchors(320, min_scale=0.15, max_scale=0.9, aspect_ratios=(1.0, 2.0))
    np.testing.assert_array_equal(anchors, expected)
    assert anchors.shape != ssd_anchors(320).shape  # the settings, not the default at the same size
    assert anchors.shape != ssd_anchors(300).shape  # the config's 320, not a default
    assert f"settings from pipeline.config {config}" in out
    assert "num_classes: 90 but the data has 3 classes" in out
    # a flag overrides the file
    assert main(["stats", str(records), "--anchor-config", str(config), "--min-scale", "0.3",
                 "--dump-anchors", str(path), "-q"]) == 0
    np.testing.assert_array_equal(np.load(path), ssd_anchors(320, min_scale=0.3, max_scale=0.9,
                                                             aspect_ratios=(1.0, 2.0)))
    assert "with flag overrides" in capsys.readouterr().out


def test_anchors_json_in(records, tmp_path, capsys):
    cfg = AnchorConfig(min_scale=0.1, aspect_ratios=(1.0, 0.5))
    write_anchors_json(tmp_path / "anchors.json", cfg, (256, 256))
    path = tmp_path / "a.npy"
    assert main(["stats", str(records), "--anchors-json", str(tmp_path / "anchors.json"),
                 "--dump-anchors", str(path), "-q"]) == 0
    np.testing.assert_array_equal(np.load(path), cfg.generate((256, 256)))
    assert "at 256x256 input" in capsys.readouterr().out


def test_suggest_writes_anchors_json_and_pbtxt_block(records, tmp_path, capsys):
    out_json = tmp_path / "suggested.json"
    plots = tmp_path / "plots"
    doc_path = tmp_path / "s.json"
    assert main(["stats", str(records), "--suggest", "--anchors-out", str(out_json), "--plots", str(plots),
                 "--json", str(doc_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "suggested anchors" in out
    assert "ssd_anchor_generator {" in out
    assert "matched " in out and " -> " in out
    assert f"dataprep train --anchors {out_json}" in out
    config, size = read_anchors_json(out_json)
    assert size == (320, 320)
    assert config.num_anchors_per_location() == AnchorConfig().num_anchors_per_location()
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    sug = doc["anchors"]["suggestion"]
    assert AnchorConfig.from_dict(sug["config"]) == config
    assert sug["matched_fraction_after"] >= sug["matched_fraction_before"]
    assert sug["ssd_anchor_generator"].startswith("ssd_anchor_generator {")
    assert sug["before"]["matched_fraction"] == pytest.approx(doc["anchors"]["coverage"]["matched_fraction"])
    for name in ("anchor_coverage_by_size.png", "anchor_best_iou.png"):
        assert (plots / name).read_bytes()[:4] == b"\x89PNG"


def test_anchors_out_without_suggest_writes_the_analysed_settings(records, tmp_path):
    path = tmp_path / "a.json"
    assert main(["stats", str(records), "--anchors-out", str(path), "--input-size", "320", "-q"]) == 0
    assert read_anchors_json(path) == (AnchorConfig(), (320, 320))


# --------------------------------------------------------------- model frame
def _table(widths, heights, boxes):
    n = len(widths)
    return _make_table(np.array(["train"] * n, dtype=object), [f"{i}.jpg" for i in range(n)],
                       np.array(widths, float), np.array(heights, float), np.arange(n), np.zeros(n, np.int64),
                       ["x"], np.array(boxes, float))


def test_fixed_shape_resizer_keeps_normalized_boxes():
    table = _table([200], [100], [[0.1, 0.2, 0.5, 0.6]])
    got = model_input_boxes(table, AnchorSettings(AnchorConfig(), (300, 300)))
    np.testing.assert_allclose(got, [[0.1, 0.2, 0.5, 0.6]], rtol=1e-6)


def test_keep_aspect_ratio_resizer_fits_and_pads():
    """200 x 100 (w x h) fitted into 300 x 300 becomes 300 x 150, padded below:
    y shrinks by 150 / 300, x is unchanged."""
    table = _table([200, 100], [100, 200], [[0.2, 0.2, 1.0, 1.0], [0.2, 0.2, 1.0, 1.0]])
    got = model_input_boxes(table, AnchorSettings(AnchorConfig(), (300, 300), resizer=KEEP))
    np.testing.assert_allclose(got, [[0.1, 0.2, 0.5, 1.0], [0.2, 0.1, 1.0, 0.5]], rtol=1e-6)


def test_keep_aspect_ratio_resizer_range_from_pipeline_config(tmp_path):
    """min 300 / max 600, padded to 600 x 600 (TF OD API resize_to_range):
    200 x 100 -> short side 300 -> 600 x 300; 400 x 100 -> long side 1200 > 600 -> 600 x 150."""
    config = pipeline_config(tmp_path / "p.config", resizer="keep_aspect_ratio_resizer { min_dimension: 300 "
                                                           "max_dimension: 600 pad_to_max_dimension: true }")
    settings = resolve_settings(anchor_config=config)
    assert (settings.resizer, settings.input_size) == (KEEP, (600, 600))
    assert (settings.min_dimension, settings.max_dimension) == (300, 600)
    table = _table([200, 400], [100, 100], [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    got = model_input_boxes(table, settings)
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.5, 1.0], [0.0, 0.0, 0.25, 1.0]], rtol=1e-6)


def test_keep_aspect_without_padding_needs_an_input_size(tmp_path, records, capsys):
    config = pipeline_config(tmp_path / "p.config",
                             resizer="keep_aspect_ratio_resizer { min_dimension: 300 max_dimension: 600 }")
    with pytest.raises(UsageError, match=r"varies per image \(.*\); give --input-size"):
        resolve_settings(anchor_config=config)
    settings = resolve_settings(anchor_config=config, input_size="320")
    assert (settings.resizer, settings.input_size, settings.min_dimension) == (KEEP, (320, 320), None)
    assert main(["stats", str(records), "--anchor-config", str(config), "-q"]) == 2
    assert "give --input-size" in capsys.readouterr().err


def test_resizer_flag(records):
    table = collect(records)
    fixed = analyse_anchors(table, resolve_settings(input_size="300"), worst_k=0)
    keep = analyse_anchors(table, resolve_settings(input_size="300", resizer="keep-aspect"), worst_k=0)
    # 128 x 96 images fitted into 300 x 300: heights shrink by 225 / 300
    np.testing.assert_allclose(keep.boxes[:, 2] - keep.boxes[:, 0],
                               (fixed.boxes[:, 2] - fixed.boxes[:, 0]) * 0.75, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(keep.boxes[:, 3], fixed.boxes[:, 3], rtol=1e-6)


# --------------------------------------------------------------------- errors
def test_parse_helpers():
    assert parse_input_size("300") == (300, 300)
    assert parse_input_size("320x640") == (320, 640)
    assert parse_floats("1, 2,0.5", "--aspect-ratios") == (1.0, 2.0, 0.5)
    for bad in ("", "0", "axb", "1x2x3"):
        with pytest.raises(UsageError, match="--input-size"):
            parse_input_size(bad)
    for bad in ("a,b", "1,-2", ""):
        with pytest.raises(UsageError, match="--aspect-ratios"):
            parse_floats(bad, "--aspect-ratios")


@pytest.mark.parametrize("args, code, message", [
    (["--input-size", "big"], 2, "--input-size"),
    (["--aspect-ratios", "1,x"], 2, "--aspect-ratios"),
    (["--resizer", "crop"], 2, "--resizer must be fixed or keep-aspect"),
    (["--anchor-config", "{tmp}/p.config", "--anchors-json", "{tmp}/a.json"], 2, "not both"),
    (["--anchor-config", "{tmp}/missing.config"], 1, "cannot read pipeline config"),
    (["--anchors-json", "{tmp}/bad.json"], 1, "not a dataprep anchors file"),
    (["--min-scale", "-1"], 1, "min_scale and max_scale must be positive"),
    (["--anchors", "--iou-threshold", "0"], 2, "--iou-threshold"),
    (["--anchors", "--worst", "-1"], 2, "--worst"),
])
def test_anchor_option_errors(records, tmp_path, capsys, args, code, message):
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    argv = ["stats", str(records), *(a.format(tmp=tmp_path) for a in args), "-q"]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_anchor_config_error_is_a_dataprep_error():
    with pytest.raises(AnchorConfigError):
        resolve_settings(num_layers=0)


def test_unsupported_resizer_and_suggest_without_boxes(tmp_path):
    config = pipeline_config(tmp_path / "p.config", resizer="identity_resizer { }")
    with pytest.raises(UsageError, match="image_resizer identity_resizer is not supported"):
        resolve_settings(anchor_config=config)
    empty = _table([], [], np.zeros((0, 4)))
    assert analyse_anchors(empty, resolve_settings()).report.num_boxes == 0
    with pytest.raises(UsageError, match="--suggest needs boxes"):
        analyse_anchors(empty, resolve_settings(), suggest=True)


# --------------------------------------------------------------- --model
def test_model_option_analyses_that_models_anchors(records, tmp_path, capsys):
    from dataprep.anchors import MultiscaleAnchorConfig

    path, doc_path = tmp_path / "a.npy", tmp_path / "s.json"
    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--dump-anchors", str(path),
                 "--json", str(doc_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert ("anchors: 12804 at 320x320 input (fixed_shape_resizer), multiscale anchors of "
            "ssd_mobilenet_v2_fpnlite") in out
    assert "settings from defaults of ssd_mobilenet_v2_fpnlite" in out
    np.testing.assert_array_equal(np.load(path), MultiscaleAnchorConfig().generate(320))
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    settings = doc["anchors"]["settings"]
    assert (settings["model"], settings["anchor_kind"], settings["input_size"]) == (
        "ssd_mobilenet_v2_fpnlite", "multiscale", [320, 320])
    table = collect(records)
    expected = anchor_coverage(np.clip(table.boxes, 0, 1), 320, MultiscaleAnchorConfig())
    assert doc["anchors"]["coverage"]["matched_fraction"] == pytest.approx(expected.matched_fraction)

    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2", "--dump-anchors", str(path), "-q"]) == 0
    assert "anchors: 1917 at 300x300 input" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(path), ssd_anchors(300))


def test_model_option_errors(records, tmp_path, capsys):
    assert main(["stats", str(records), "--model", "yolo", "-q"]) == 2
    assert "unknown model 'yolo' (known: ssdlite_mobilenet_v2" in capsys.readouterr().err
    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--min-scale", "0.1", "-q"]) == 2
    assert "multiscale anchors" in capsys.readouterr().err
    # --suggest tunes an FPN model's anchor_scale (its only free setting at a fixed output size)
    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--suggest", "-q"]) == 0
    assert "multiscale_anchor_generator {" in capsys.readouterr().out
    config = pipeline_config(tmp_path / "pipeline.config",
                             resizer="fixed_shape_resizer { height: 320 width: 320 }", num_classes=3)
    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--anchor-config", str(config),
                 "-q"]) == 2
    assert "holds ssd anchors" in capsys.readouterr().err


def test_multiscale_anchors_json_round_trip_through_stats(records, tmp_path, capsys):
    from dataprep.anchors import MultiscaleAnchorConfig

    path = tmp_path / "a.json"
    assert main(["stats", str(records), "--model", "ssd_mobilenet_v2_fpnlite", "--anchors-out", str(path),
                 "-q"]) == 0
    assert read_anchors_json(path) == (MultiscaleAnchorConfig(), (320, 320))
    capsys.readouterr()
    assert main(["stats", str(records), "--anchors-json", str(path), "-q"]) == 0
    assert "multiscale anchors of ssd_mobilenet_v2_fpnlite" in capsys.readouterr().out
