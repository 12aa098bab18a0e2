"""Small and rare classes (issue 10): the class-weighted anchor suggestion, the
"cannot be covered at this input size" message, one default model for stats
and train, the anchors JSON that carries it, and the synthetic cells scene."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataprep.anchors import AnchorConfig, AnchorConfigError, anchor_coverage
from dataprep.models import read_anchors_file, write_anchors_json
from dataprep.models import DEFAULT_INPUT_SIZE, DEFAULT_MODEL
from dataprep.anchors.reach import reachable_iou, ssd_grid_centres, stride_grid_centres
from dataprep.anchors.multiscale import MultiscaleAnchorConfig
from dataprep.anchors.suggest import ANCHOR_SCALE_GRID, suggest_anchors, suggest_multiscale_anchors
from dataprep.cli import main
from dataprep.stats import analyse_anchors, resolve_settings
from dataprep.stats.anchor_analysis import COVERABLE_FRACTION, class_limits, format_anchor_analysis, format_limits
from dataprep.stats.collect import _make_table
from dataprep.synth import CELL_CLASSES, generate_cells_voc, render_cells_image


# ------------------------------------------------------------------ helpers
def square_boxes(rng: np.random.Generator, n: int, side_px: tuple[float, float], size: int = 320) -> np.ndarray:
    """``n`` square-ish boxes of ``side_px`` (at a ``size`` input), centres anywhere."""
    side = rng.uniform(*side_px, n) / size
    aspect = np.exp(rng.uniform(-0.15, 0.15, n))
    h, w = side / np.sqrt(aspect), side * np.sqrt(aspect)
    cy, cx = rng.uniform(h / 2, 1 - h / 2), rng.uniform(w / 2, 1 - w / 2)
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1).astype(np.float32)


def table_of(classes: dict[str, np.ndarray]):
    """A one-image-per-box BoxTable of 320x320 images with these boxes per class."""
    names = sorted(classes)
    boxes = np.concatenate([classes[n] for n in names])
    codes = np.concatenate([np.full(len(classes[n]), i) for i, n in enumerate(names)])
    n = len(boxes)
    return _make_table(np.array(["train"] * n, dtype=object), [f"{i}.jpg" for i in range(n)],
                       np.full(n, 320.0), np.full(n, 320.0), np.arange(n), codes, names, boxes)


# ----------------------------------------------------- suggestion by class
def mean_class_coverage(report) -> float:
    return float(np.mean([g.matched_fraction for g in report.by_class().values()]))


def test_class_objective_serves_the_rare_class():
    rng = np.random.default_rng(0)
    # at 640 the smallest default anchor is 64 px: the rare 26-34 px class starts near 0%
    boxes = np.concatenate([square_boxes(rng, 900, (100, 160), 640), square_boxes(rng, 60, (26, 34), 640)])
    labels = np.array([0] * 900 + [1] * 60)
    by_boxes = suggest_anchors(boxes, 640, labels=labels, objective="boxes", max_evaluations=100)
    by_class = suggest_anchors(boxes, 640, labels=labels, objective="classes", max_evaluations=100)
    assert by_class.objective == "classes" and by_boxes.objective == "boxes"
    # never below the all-boxes search by its own measure (it climbs both and keeps the better)
    assert mean_class_coverage(by_class.after) >= mean_class_coverage(by_boxes.after)
    rare = by_class.after.by_class()[1].matched_fraction
    assert rare >= by_class.before.by_class()[1].matched_fraction + 0.3
    # same model output: anchors per location unchanged
    assert by_class.config.num_anchors_per_location() == AnchorConfig().num_anchors_per_location()
    summary = by_class.summary()
    assert summary["objective"] == "classes"
    assert summary["worst_class_matched_after"] >= summary["worst_class_matched_before"]


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective must be one of classes, boxes"):
        suggest_anchors(np.array([[0.1, 0.1, 0.5, 0.5]], np.float32), 320, objective="area")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), small=st.floats(6, 40), big=st.floats(40, 200), n_small=st.integers(1, 40),
       objective=st.sampled_from(["classes", "boxes"]))
def test_suggestion_never_lowers_the_worst_class_or_overall_coverage(seed, small, big, n_small, objective):
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([square_boxes(rng, 120, (big * 0.8, big)), square_boxes(rng, n_small, (small * 0.7, small))])
    labels = np.array([0] * 120 + [1] * n_small)
    r = suggest_anchors(boxes, 320, labels=labels, objective=objective, max_evaluations=30, seed=seed)
    worst = lambda rep: min(g.matched_fraction for g in rep.by_class().values())  # noqa: E731
    assert worst(r.after) >= worst(r.before)
    assert r.after.matched_fraction >= r.before.matched_fraction
    # the reported coverage is that of the returned settings
    again = anchor_coverage(boxes, 320, r.config, labels=labels)
    assert again.matched_fraction == r.after.matched_fraction


def test_search_on_a_sample_falls_back_when_all_boxes_disagree():
    """With a sample far smaller than the data the result is checked on all boxes."""
    rng = np.random.default_rng(3)
    boxes = np.concatenate([square_boxes(rng, 400, (50, 80)), square_boxes(rng, 5, (20, 26))])
    labels = np.array([0] * 400 + [1] * 5)
    r = suggest_anchors(boxes, 320, labels=labels, sample_size=30, max_evaluations=60, seed=1)
    worst = lambda rep: min(g.matched_fraction for g in rep.by_class().values())  # noqa: E731
    assert worst(r.after) >= worst(r.before)
    assert r.kept_initial == (r.config == AnchorConfig())


# ------------------------------------------- FPN models: their anchor_scale
def test_multiscale_suggestion_brings_fpnlite_anchors_down_to_small_boxes():
    rng = np.random.default_rng(5)
    # at 320 FPNLite's smallest anchor is 32 px (stride 8 x anchor_scale 4): 11-15 px boxes match none
    boxes = np.concatenate([square_boxes(rng, 400, (40, 60)), square_boxes(rng, 40, (11, 15))])
    labels = np.array([0] * 400 + [1] * 40)
    r = suggest_multiscale_anchors(boxes, 320, labels=labels)
    before, after = r.before.by_class(), r.after.by_class()
    assert before[1].matched_fraction == 0.0 and after[1].matched_fraction >= 0.6
    assert after[0].matched_fraction >= before[0].matched_fraction - 0.1
    assert r.config.anchor_scale < 4.0 and r.config.anchor_scale in ANCHOR_SCALE_GRID
    # only anchor_scale moves: the model's output keeps its size
    assert r.config == MultiscaleAnchorConfig(anchor_scale=r.config.anchor_scale)
    assert r.config.num_anchors(320) == MultiscaleAnchorConfig().num_anchors(320)
    # it is the grid's best by the class-weighted objective, measured here
    best = max(ANCHOR_SCALE_GRID, key=lambda a: mean_class_coverage(anchor_coverage(
        boxes, 320, MultiscaleAnchorConfig(anchor_scale=a), labels=labels)))
    assert mean_class_coverage(r.after) == pytest.approx(mean_class_coverage(anchor_coverage(
        boxes, 320, MultiscaleAnchorConfig(anchor_scale=best), labels=labels)), abs=0.01)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), small=st.floats(6, 40), big=st.floats(40, 200), n_small=st.integers(1, 40),
       objective=st.sampled_from(["classes", "boxes"]))
def test_multiscale_suggestion_never_lowers_the_worst_class_or_overall_coverage(seed, small, big, n_small,
                                                                                 objective):
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([square_boxes(rng, 120, (big * 0.8, big)), square_boxes(rng, n_small, (small * 0.7, small))])
    labels = np.array([0] * 120 + [1] * n_small)
    r = suggest_multiscale_anchors(boxes, 320, labels=labels, objective=objective)
    worst = lambda rep: min(g.matched_fraction for g in rep.by_class().values())  # noqa: E731
    assert worst(r.after) >= worst(r.before)
    assert r.after.matched_fraction >= r.before.matched_fraction
    assert anchor_coverage(boxes, 320, r.config, labels=labels).matched_fraction == r.after.matched_fraction


def test_stats_suggest_for_fpnlite_writes_the_anchors_train_reads(tmp_path, capsys):
    rng = np.random.default_rng(6)
    table = table_of({"big": square_boxes(rng, 200, (40, 60)), "tiny": square_boxes(rng, 40, (11, 15))})
    settings_ = resolve_settings(model="ssd_mobilenet_v2_fpnlite")
    analysis = analyse_anchors(table, settings_, worst_k=0, suggest=True)
    doc = analysis.to_dict()["suggestion"]
    assert "anchor_scale: " + f"{analysis.suggestion.config.anchor_scale:g}" in doc["multiscale_anchor_generator"]
    assert doc["after"]["by_class"]["tiny"]["matched_fraction"] > doc["before"]["by_class"]["tiny"]["matched_fraction"]
    # the "cannot be covered" remedy that names FPNLite gives its suggested coverage too
    lim = analyse_anchors(table, resolve_settings(), worst_k=0).limits[0]
    fpn = next(r for r in lim.remedies if r["change"] == "--model ssd_mobilenet_v2_fpnlite")
    assert fpn["suggested"] == pytest.approx(analysis.suggestion.after.by_class()[1].matched_fraction)
    assert fpn["suggested"] > fpn["default"]


# ----------------------------------------------- what the strides allow
def brute_force_best_iou(side: float, offset: float) -> float:
    """Best IoU of a ``side`` px square with any anchor whose centre is ``offset`` px off in x and y."""
    a = np.linspace(0.5, 4 * side, 800)
    ov = np.maximum(np.minimum(offset + side / 2, a / 2) - np.maximum(offset - side / 2, -a / 2), 0)
    inter = ov[:, None] * ov[None, :]
    return float((inter / (side * side + a[:, None] * a[None, :] - inter)).max())


def test_reachable_iou_is_one_on_a_grid_point_and_low_between():
    cfg = AnchorConfig()
    # grid centres at 320: stride 16 at 8, 24, 40, 56, 72 ...; stride 32 at 16, 48, 80 ...;
    # 5x5 at 32, 96 ...; 3x3 at 53.3, 160 ...; 2x2 at 80 ...; 1x1 at 160
    centres = ssd_grid_centres(cfg, 320)
    on_point = np.array([[8 - 5, 8 - 5, 8 + 5, 8 + 5]], np.float64) / 320  # 10 px box centred on (8, 8)
    between = np.array([[64 - 5, 64 - 5, 64 + 5, 64 + 5]], np.float64) / 320  # 8 px from the nearest centres
    assert reachable_iou(on_point, 320, centres)[0] == pytest.approx(1.0)
    low = reachable_iou(between, 320, centres)[0]
    assert low == pytest.approx(brute_force_best_iou(10, 8), abs=0.01) and low < 0.3
    # a stride-8 grid has centres at (60, 60) and (68, 68): 4 px off
    finer = reachable_iou(between, 320, stride_grid_centres((8, 16), 320))[0]
    assert finer == pytest.approx(brute_force_best_iou(10, 4), abs=0.01) and finer > low


def test_cannot_be_covered_message_for_boxes_below_the_smallest_anchor():
    rng = np.random.default_rng(1)
    table = table_of({"big": square_boxes(rng, 200, (60, 100)), "tiny": square_boxes(rng, 80, (7, 10))})
    analysis = analyse_anchors(table, resolve_settings(), worst_k=0)
    assert [lim.name for lim in analysis.limits] == ["tiny"]
    lim = analysis.limits[0]
    assert lim.reachable < COVERABLE_FRACTION and lim.finest_stride == 16
    lines = "\n".join(format_limits(analysis.limits, analysis.settings, 0.5))
    assert "class 'tiny' cannot be covered at 320x320" in lines
    assert "stride 16 px" in lines
    changes = [r["change"] for r in lim.remedies]
    assert changes[0] == "--input-size 480" and "--model ssd_mobilenet_v2_fpnlite" in changes
    sizes = [r for r in lim.remedies if r["change"].startswith("--input-size")]
    # larger inputs reach more of the class, and the computed coverage is a coverage
    assert all(b["reachable"] >= a["reachable"] for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1]["reachable"] > lim.reachable
    assert all(0.0 <= r["suggested"] <= r["reachable"] + 1e-9 for r in sizes)
    fpn = lim.remedies[-1]
    assert fpn["reachable"] > lim.reachable and "stride-8" in fpn["note"]
    # FPNLite's own multiscale anchors are computed now, not only named
    assert fpn["default"] is not None and 0.0 <= fpn["default"] <= fpn["reachable"] + 1e-9
    assert analysis.to_dict()["uncoverable_classes"][0]["name"] == "tiny"


def test_no_message_when_every_class_is_above_the_smallest_anchor():
    rng = np.random.default_rng(2)
    table = table_of({"big": square_boxes(rng, 200, (60, 100)), "mid": square_boxes(rng, 80, (36, 48))})
    analysis = analyse_anchors(table, resolve_settings(), worst_k=0)
    assert analysis.limits == [] and format_limits(analysis.limits, analysis.settings, 0.5) == []
    assert class_limits(table, resolve_settings()) == []


def test_larger_input_coverage_is_computed_not_named():
    rng = np.random.default_rng(4)
    tiny = square_boxes(rng, 60, (10, 14))
    table = table_of({"tiny": tiny, "big": square_boxes(rng, 60, (80, 100))})
    lim = class_limits(table, resolve_settings())[0]
    r640 = next(r for r in lim.remedies if r["input_size"] == [640, 640])
    # the figure is the coverage of the default anchors at 640 on these very boxes
    expected = anchor_coverage(tiny, 640, AnchorConfig()).matched_fraction
    assert r640["default"] == pytest.approx(expected)


# ------------------------------------------------------- one default model
def test_stats_and_train_share_the_default_model_and_input():
    from dataprep.train.config import TrainConfig

    settings_ = resolve_settings()
    assert settings_.input_size == (DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE) and settings_.model == DEFAULT_MODEL
    assert settings_.origin == f"defaults of {DEFAULT_MODEL}"
    at_480 = resolve_settings(input_size="480")
    assert (at_480.origin, at_480.input_size) == (f"defaults of {DEFAULT_MODEL}", (480, 480))
    cfg = TrainConfig()
    assert (cfg.model, cfg.input_size) == (DEFAULT_MODEL, DEFAULT_INPUT_SIZE)
    assert AnchorConfig.from_dict(cfg.anchor_config).num_anchors(cfg.input_size) == \
        settings_.config.num_anchors(settings_.input_size)


def test_anchors_json_records_the_model_and_old_files_still_read(tmp_path):
    path = tmp_path / "a.json"
    write_anchors_json(path, AnchorConfig(min_scale=0.1), 640, "ssd_mobilenet_v2")
    saved = read_anchors_file(path)
    assert (saved.model, saved.input_size, saved.config) == ("ssd_mobilenet_v2", (640, 640),
                                                             AnchorConfig(min_scale=0.1))
    old = json.loads(path.read_text())
    del old["model"]  # written before the model was recorded
    path.write_text(json.dumps(old))
    assert read_anchors_file(path).model == DEFAULT_MODEL and not read_anchors_file(path).model_recorded
    old["model"] = "yolo"
    path.write_text(json.dumps(old))
    with pytest.raises(AnchorConfigError, match=r"a.json: unknown model 'yolo' \(known: ssdlite_mobilenet_v2"):
        read_anchors_file(path)


def test_train_anchors_takes_the_files_model_and_refuses_a_conflicting_one(tmp_path, capsys):
    """Every model trains now (``--model``): the file's model is the run's, and an
    explicit ``--model`` that contradicts it is a usage error, not a silent pick."""
    from dataprep.train.restore import model_settings

    path = tmp_path / "a.json"
    write_anchors_json(path, AnchorConfig(min_scale=0.15), 300, "ssd_mobilenet_v2")
    settings_ = model_settings(anchors_json=path)
    assert (settings_.model, settings_.input_size) == ("ssd_mobilenet_v2", 300)
    assert settings_.anchor_config == AnchorConfig(min_scale=0.15).to_dict()
    assert model_settings("ssd_mobilenet_v2", anchors_json=path).model == "ssd_mobilenet_v2"
    rc = main(["train", "--records", str(tmp_path), "--out", str(tmp_path / "run"), "--anchors", str(path),
               "--model", "ssdlite_mobilenet_v2"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "anchors are for model 'ssd_mobilenet_v2', but --model gives 'ssdlite_mobilenet_v2'" in err
    assert "Traceback" not in err
    # a file from before the model was recorded takes --model (of the same anchor kind)
    old = json.loads(path.read_text())
    del old["model"]
    path.write_text(json.dumps(old))
    assert model_settings("ssd_mobilenet_v2", anchors_json=path).model == "ssd_mobilenet_v2"
    assert model_settings(anchors_json=path).model == DEFAULT_MODEL


# ------------------------------------------------------------- cells scene
def test_cells_are_deterministic_and_classes_have_their_sizes(tmp_path):
    a = generate_cells_voc(tmp_path / "a", 6, seed=3)
    b = generate_cells_voc(tmp_path / "b", 6, seed=3)
    for sub in ("Annotations", "JPEGImages"):
        names = sorted(p.name for p in (a / sub).iterdir())
        assert len(names) == 6 and names[0].startswith("cells_000001")
        for n in names:
            assert (a / sub / n).read_bytes() == (b / sub / n).read_bytes()
    c = generate_cells_voc(tmp_path / "c", 1, seed=4)
    assert (c / "JPEGImages" / "cells_000001.jpg").read_bytes() != (a / "JPEGImages" / "cells_000001.jpg").read_bytes()
    stems = [s for split in ("train", "val") for s in (a / "ImageSets/Main" / f"{split}.txt").read_text().split()]
    assert sorted(stems) == [f"cells_{i:06d}" for i in range(1, 7)]


def test_cells_sizes_and_frequencies():
    diam = {c.name: c.diameter for c in CELL_CLASSES}
    counts = {name: 0 for name in diam}
    for i in range(25):
        img, objects = render_cells_image(7, i)
        assert img.size == (640, 480)
        for o in objects:
            counts[o["name"]] += 1
            w, h = o["xmax"] - o["xmin"] + 1, o["ymax"] - o["ymin"] + 1
            assert 1 <= o["xmin"] <= o["xmax"] <= 640 and 1 <= o["ymin"] <= o["ymax"] <= 480
            lo, hi = diam[o["name"]]
            # slightly elliptic: each side within exp(+-0.1) of the diameter, +-1 px of rasterisation
            assert lo * 640 * 0.9 - 1 <= max(w, h) and min(w, h) <= hi * 640 * 1.11 + 1
    total = sum(counts.values())
    assert counts["medium"] / total > 0.75  # abundant
    assert 0.05 < counts["small"] / total < 0.2 and counts["large"] / total < 0.08  # rare
    small_px = [c.diameter for c in CELL_CLASSES if c.name == "small"][0]
    assert 0.03 <= small_px[0] and small_px[1] <= 0.05  # 3-5% of the image side


@pytest.fixture(scope="module")
def cells_records(tmp_path_factory) -> Path:
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc

    base = tmp_path_factory.mktemp("cells")
    voc = generate_cells_voc(base / "voc", 12, seed=0)
    convert(read_voc(voc), ConvertOptions(out=base / "rec", workers=1, progress=False))
    return base / "rec"


def test_cells_stats_output_names_the_uncoverable_class(cells_records, capsys):
    """End to end through the CLI: the analysis names the class and the remedies."""
    assert main(["stats", str(cells_records), "--anchors", "--suggest", "--worst", "0", "-q"]) == 0
    out = capsys.readouterr().out
    assert ("anchors: 2034 at 320x320 input (fixed_shape_resizer), ssd anchors of ssdlite_mobilenet_v2; "
            "settings from defaults of ssdlite_mobilenet_v2") in out
    assert "class 'small' cannot be covered at 320x320" in out
    assert "class 'medium' cannot" not in out and "class 'large' cannot" not in out
    assert "would cover it: --input-size" in out and "would cover it: --model ssd_mobilenet_v2_fpnlite" in out
    assert "suggested anchors (mean coverage over classes;" in out
    assert "class   boxes  matched before" in out


def test_anchors_out_then_train_anchors_builds_exactly_the_analysed_anchors(cells_records, tmp_path, capsys):
    """``stats --anchors-out`` -> ``train --anchors``: the trainer's anchors are the
    ones ``stats --dump-anchors`` analyses from the same file."""
    from dataprep.anchors import anchor_config_from_dict
    from dataprep.train.anchor_generator import AnchorGenerator
    from dataprep.train.restore import model_settings

    out_json, dumped = tmp_path / "anchors.json", tmp_path / "anchors.npy"
    assert main(["stats", str(cells_records), "--anchors", "--suggest", "--input-size", "480", "--worst", "0",
                 "--anchors-out", str(out_json), "-q"]) == 0
    assert main(["stats", str(cells_records), "--anchors-json", str(out_json), "--dump-anchors", str(dumped),
                 "-q"]) == 0
    saved = read_anchors_file(out_json)
    assert saved.input_size == (480, 480) and saved.model == DEFAULT_MODEL
    assert saved.config != AnchorConfig()  # the suggestion, not the defaults
    run = model_settings(anchors_json=out_json)  # what `dataprep train --anchors` builds
    assert (run.model, run.input_size) == (DEFAULT_MODEL, 480)
    config, size = anchor_config_from_dict(run.anchor_config), run.input_size
    np.testing.assert_array_equal(AnchorGenerator(config, size).anchors(), np.load(dumped))
    # the default run (no file) trains what the default analysis reads
    assert main(["stats", str(cells_records), "--dump-anchors", str(dumped), "-q"]) == 0
    run = model_settings()
    assert (run.model, run.input_size) == (DEFAULT_MODEL, DEFAULT_INPUT_SIZE)
    config, size = anchor_config_from_dict(run.anchor_config), run.input_size
    np.testing.assert_array_equal(AnchorGenerator(config, size).anchors(), np.load(dumped))


@pytest.mark.slow
def test_train_cli_with_anchors_json_trains_those_anchors(cells_records, tmp_path):
    """The real ``dataprep train --anchors`` (one step): the run's config and its
    detector carry exactly the anchors ``stats --dump-anchors`` reads from the file."""
    from dataprep.train.config import TrainConfig
    from dataprep.train.predict import Detector

    out_json, dumped, run = tmp_path / "anchors.json", tmp_path / "anchors.npy", tmp_path / "run"
    assert main(["stats", str(cells_records), "--suggest", "--input-size", "256", "--worst", "0",
                 "--anchors-out", str(out_json), "-q"]) == 0
    assert main(["stats", str(cells_records), "--anchors-json", str(out_json), "--dump-anchors", str(dumped),
                 "-q"]) == 0
    assert main(["train", "--records", str(cells_records), "--out", str(run), "--anchors", str(out_json),
                 "--alpha", "0.35", "--backbone-weights", "none", "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "2", "--eval-split", "none", "-q"]) == 0
    saved = TrainConfig.load(run)
    assert (saved.model, saved.input_size) == (DEFAULT_MODEL, 256)
    detector = Detector.from_run(run)
    np.testing.assert_array_equal(detector.decoder.anchors, np.load(dumped))
    assert detector.model.num_predictions == len(np.load(dumped))


def test_suggesting_at_an_uncoverable_size_cautions_and_names_the_remedies():
    rng = np.random.default_rng(1)
    table = table_of({"big": square_boxes(rng, 200, (60, 100)), "tiny": square_boxes(rng, 80, (7, 10))})
    analysis = analyse_anchors(table, resolve_settings(), worst_k=0, suggest=True)
    lines = [line for line in format_anchor_analysis(analysis) if "caution:" in line]
    assert len(lines) == 1
    assert "class 'tiny' cannot be covered at 320x320" in lines[0]
    assert "--model ssd_mobilenet_v2_fpnlite or --input-size 480" in lines[0]
    assert "16 px grid stride" in lines[0]
    # every class above the smallest anchor: the suggestion comes without the caution
    rng = np.random.default_rng(2)
    covered = table_of({"big": square_boxes(rng, 200, (60, 100)), "mid": square_boxes(rng, 80, (36, 48))})
    analysis = analyse_anchors(covered, resolve_settings(), worst_k=0, suggest=True)
    assert analysis.suggestion is not None
    assert not [line for line in format_anchor_analysis(analysis) if "caution:" in line]
