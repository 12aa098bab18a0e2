"""The model advice (issue 22 part 4, issue 23 part 4): ``stats --anchors --suggest``
names another model or input size that covers the worst class much better, and
``dataprep train --model auto`` takes what that advice picks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataprep.models.registry import DEFAULT_MODEL, MODELS, default_anchor_config
from dataprep.anchors.suggest import suggest_multiscale_anchors
from dataprep.cli import main
from dataprep.stats import analyse_anchors, format_anchor_analysis, resolve_settings
from dataprep.stats.advice import (
    INPUT_STEPS,
    REMEDY_POINTS,
    advise,
    advise_records,
    candidate_options,
    model_cost,
)
from test_small_objects import square_boxes, table_of

FPN = "ssd_mobilenet_v2_fpnlite"


def blood_cells(seed: int = 0, n_rbc: int = 600, n_wbc: int = 60, n_platelets: int = 120) -> dict[str, np.ndarray]:
    """Blood-cell-like geometry at a 320 input: many 60-90 px red cells, rare
    90-130 px white cells, small 20-28 px platelets (BCCD's three classes and
    their sizes on 640x480 smears resized to 320x320)."""
    rng = np.random.default_rng(seed)
    return {"rbc": square_boxes(rng, n_rbc, (60, 90)), "wbc": square_boxes(rng, n_wbc, (90, 130)),
            "platelets": square_boxes(rng, n_platelets, (20, 28))}


def analysed(table):
    """What ``stats --anchors --suggest`` computes: the analysis and the advice on its suggestion."""
    analysis = analyse_anchors(table, resolve_settings(), worst_k=0, suggest=True)
    analysis.advice = advise(table, analysis.settings, suggestion=analysis.suggestion, limits=analysis.limits)
    return analysis


@pytest.fixture(scope="module")
def cells_analysis():
    table = table_of(blood_cells())
    return table, analysed(table)


def test_blood_cell_case_names_fpnlite_with_its_computed_coverage(cells_analysis):
    table, analysis = cells_analysis
    by_class = {table.class_names[int(k)]: g.matched_fraction for k, g in analysis.report.by_class().items()}
    suggested = {table.class_names[int(k)]: g.matched_fraction
                 for k, g in analysis.suggestion.after.by_class().items()}
    # the geometry: the small class about a third covered, the suggestion about half,
    # and no class "cannot be covered" (so the old "would cover it" lines stay silent)
    assert 0.25 <= by_class["platelets"] <= 0.45 and 0.45 <= suggested["platelets"] <= 0.65
    assert analysis.limits == []
    advice = analysis.advice
    assert advice.worst_class == "platelets"
    assert advice.current.worst_suggested == pytest.approx(min(suggested.values()))
    # FPNLite at 320 is named first, with the coverage its suggestion really gives
    best = advice.remedies[0]
    assert (best.model, best.input_size) == (FPN, (320, 320))
    fpn = suggest_multiscale_anchors(analysis.boxes, 320, default_anchor_config(FPN), labels=table.label)
    fpn_worst = min(g.matched_fraction for g in fpn.after.by_class().values())
    assert fpn_worst >= 0.95 and best.worst_suggested == pytest.approx(fpn_worst)
    assert best.worst_suggested >= advice.current.worst_suggested + REMEDY_POINTS
    lines = format_anchor_analysis(analysis, "recs")
    head = [i for i, line in enumerate(lines) if line.startswith("  better model or input size:")]
    assert len(head) == 1 and "covers the worst class 'platelets' " + f"{100 * min(suggested.values()):.1f}%" in \
        lines[head[0]]
    first = lines[head[0] + 1]
    assert first.startswith(f"    would lift it: --model {FPN} --input-size 320: {100 * fpn_worst:.1f}% with its "
                            "suggested anchors")
    assert any(line == f"    use the first: dataprep stats recs --model {FPN} --input-size 320 --suggest "
               "--anchors-out anchors.json && dataprep train --records recs --anchors anchors.json" for line in lines)
    assert not any("would cover it" in line for line in lines)


def test_every_named_option_lifts_the_worst_class_and_the_json_carries_them(cells_analysis):
    _, analysis = cells_analysis
    advice = analysis.advice
    goal = advice.current.worst_suggested + REMEDY_POINTS
    named = {(o.model, o.input_size) for o in advice.remedies}
    for opt in advice.options:
        if opt.suggested is None:  # pruned: no anchor setting could reach the goal on its grids
            assert opt.worst_bound < goal
        else:  # the bound bounds what the search found (the grid search is within 1 point of the exact bound)
            assert opt.worst_suggested <= opt.worst_bound + 0.01
        assert ((opt.model, opt.input_size) in named) == (opt.suggested is not None and opt.worst_suggested >= goal)
    data = json.loads(json.dumps(analysis.to_dict()))["advice"]
    assert data["worst_class"] == "platelets" and data["pick"]["model"] == FPN
    assert [(r["model"], tuple(r["input_size"])) for r in data["remedies"]] == \
        [(o.model, o.input_size) for o in advice.remedies]
    first = data["remedies"][0]
    assert first["worst_class_suggested"] == pytest.approx(advice.remedies[0].worst_suggested)
    assert first["lift"] >= REMEDY_POINTS and first["command"].startswith(f"dataprep stats SRC --model {FPN}")
    assert first["anchor_config"]["anchor_scale"] == data["pick"]["anchor_config"]["anchor_scale"] < 4.0


def test_options_are_those_at_the_same_or_lower_cost_or_one_step_up():
    settings = resolve_settings()
    here = model_cost(DEFAULT_MODEL, settings.input_size)
    options = candidate_options(settings)
    assert (DEFAULT_MODEL, settings.input_size) not in options
    for name, spec in MODELS.items():
        sizes = sorted(s for m, (s, _) in options if m == name)
        above = [s for s in sizes if model_cost(name, (s, s)) > here]
        assert len(above) <= 1  # one step up at most
        if above:  # and it is the first size above the budget
            ladder = sorted(set(INPUT_STEPS) | {spec.input_size})
            assert above[0] == min(s for s in ladder if model_cost(name, (s, s)) > here)
    # SSD MobileNet v2 has SSDLite's anchors: at a size where SSDLite is offered it would only repeat it
    ssd_sizes = {s for m, (s, _) in options if m == "ssd_mobilenet_v2"}
    lite_sizes = {s for m, (s, _) in options if m == DEFAULT_MODEL} | {settings.input_size[0]}
    assert ssd_sizes and not ssd_sizes & lite_sizes
    assert (FPN, (320, 320)) in options  # FPNLite's next step up


def test_no_remedy_when_the_current_model_covers_every_class():
    rng = np.random.default_rng(3)
    table = table_of({"big": square_boxes(rng, 200, (70, 110)), "mid": square_boxes(rng, 80, (40, 56))})
    analysis = analysed(table)
    assert analysis.advice.remedies == []
    assert analysis.advice.pick is analysis.advice.current
    assert not any("better model" in line for line in format_anchor_analysis(analysis))
    assert analysis.to_dict()["advice"]["pick"]["model"] == DEFAULT_MODEL


def test_pick_keeps_default_anchors_where_a_class_cannot_be_covered_and_nothing_lifts_it(cells_analysis):
    """Without a remedy, the pick is the analysed model and size: with its suggested
    anchors, or its default ones where a class cannot be covered at that size (the
    suggestion there trained worse, benchmarks/RESULTS.md "Small objects" arm d)."""
    from dataprep.stats.anchor_analysis import ClassLimit

    _, analysis = cells_analysis
    advice = analysis.advice
    assert advice.pick_anchors() == advice.remedies[0].suggestion.config
    alone = type(advice)(current=advice.current, options=advice.options, remedies=[],
                         worst_class=advice.worst_class, limits=[])
    assert alone.pick is alone.current and alone.pick_anchors() == analysis.suggestion.config
    assert "no other model or input size" in alone.reason()
    limit = ClassLimit(name="platelets", count=120, median_wh=(24.0, 24.0), reachable=0.5, finest_stride=16.0)
    capped = type(advice)(current=advice.current, options=advice.options, remedies=[],
                          worst_class=advice.worst_class, limits=[limit])
    assert capped.pick_anchors() == analysis.settings.config != analysis.suggestion.config
    assert "default anchors because a class cannot be covered at this size" in capped.reason()


# ------------------------------------------------------------- train --model auto
@pytest.fixture(scope="module")
def blood_records(tmp_path_factory) -> Path:
    """Records of 20 320x320 JPEGs holding :func:`blood_cells`' boxes (train split)."""
    from conftest import make_jpeg
    from helpers import build, run

    base = tmp_path_factory.mktemp("blood")
    root = base / "images"
    root.mkdir()
    images, objects = [], []
    for k in range(20):
        name = f"smear{k:02d}.jpg"
        (root / name).write_bytes(make_jpeg(320, 320, seed=k))
        images.append({"image_id": k + 1, "file": name, "split": "train", "width": 320, "height": 320,
                       "annotation": f"ann/{name}.xml"})
    i = 0
    for text, b in blood_cells().items():
        for y0, x0, y1, x1 in (b.astype(np.float64) * 320).tolist():
            objects.append({"image_id": i % 20 + 1, "index": i, "text": text, "xmin": x0, "ymin": y0,
                            "xmax": x1, "ymax": y1})
            i += 1
    run(build(base, images, objects), base / "rec")
    return base / "rec"


def test_model_auto_takes_what_stats_advises(blood_records, cells_analysis, tmp_path, capsys, monkeypatch):
    """One advice function, two callers: ``dataprep stats --anchors --suggest`` prints
    the advice and ``train --model auto`` resolves to its pick, on the same records."""
    import dataprep.stats
    import dataprep.stats.advice as advice_module
    from dataprep.cli.train import _auto_model

    calls = []
    real = advice_module.advise
    spy = lambda *a, **k: calls.append(a) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(advice_module, "advise", spy)  # train's caller
    monkeypatch.setattr(dataprep.stats, "advise", spy)  # stats' caller
    report = tmp_path / "stats.json"
    assert main(["stats", str(blood_records), "--split", "train", "--suggest", "--worst", "0", "--json", str(report),
                 "-q"]) == 0
    out = capsys.readouterr().out
    assert f"    would lift it: --model {FPN} --input-size 320: 100.0% with its suggested anchors" in out
    pick = json.loads(report.read_text())["anchors"]["advice"]["pick"]
    settings = _auto_model(blood_records, "train", None, None, None, None, None, quiet=True)
    assert len(calls) == 2 and calls[0][0].num_boxes == calls[1][0].num_boxes == 780  # stats, then train
    assert (settings.model, settings.input_size, settings.alpha) == (FPN, 320, 1.0)
    assert (pick["model"], pick["input_size"], pick["anchor_config"]) == (FPN, [320, 320], settings.anchor_config)
    assert settings.anchor_config["anchor_scale"] < default_anchor_config(FPN).anchor_scale
    # the same boxes in memory give the same pick (the records carry them as float32)
    assert settings.anchor_config == cells_analysis[1].advice.pick_anchors().to_dict()


def test_model_auto_refuses_options_it_would_override_and_empty_splits(blood_records):
    from dataprep.cli.train import _auto_model
    from dataprep.errors import UsageError

    with pytest.raises(UsageError, match="--model auto chooses the model, input size and anchors"):
        _auto_model(blood_records, "train", None, 480, None, None, None, quiet=True)
    with pytest.raises(UsageError, match="no split 'val'; splits: train"):
        advise_records(str(blood_records), "val")


@pytest.mark.slow
def test_train_model_auto_trains_the_advised_model(blood_records, tmp_path, capsys):
    """The real ``dataprep train --model auto`` (one step): it says why, and the run
    holds the advised model, input size and anchors."""
    from dataprep.train.config import TrainConfig

    run_dir = tmp_path / "run"
    assert main(["train", "--records", str(blood_records), "--out", str(run_dir), "--model", "auto",
                 "--alpha", "0.35", "--backbone-weights", "none", "--epochs", "1", "--steps-per-epoch", "1",
                 "--batch-size", "2", "--eval-split", "none", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"--model auto: {FPN} at 320 with suggested anchors: ssdlite_mobilenet_v2 at 320" in out
    saved = TrainConfig.load(run_dir)
    assert (saved.model, saved.input_size) == (FPN, 320)
    assert saved.anchor_config == advise_records(str(blood_records), "train").pick_anchors().to_dict()


def test_train_warns_of_a_class_its_anchors_cannot_cover(tmp_path):
    """``dataprep train``'s check before training (the aerial-cars case: tiny
    boxes no default anchor reaches): the poorly covered class is named with its
    coverage and what to run; a well covered one is not."""
    from conftest import make_jpeg
    from helpers import build, run
    from dataprep.stats.advice import coverage_warnings
    from dataprep.train.restore import model_settings

    root = tmp_path / "images"
    root.mkdir()
    images, objects = [], []
    for k in range(6):
        (root / f"{k}.jpg").write_bytes(make_jpeg(320, 320, seed=k))
        images.append({"image_id": k + 1, "file": f"{k}.jpg", "split": "train", "width": 320, "height": 320,
                       "annotation": f"{k}.xml"})
        objects.append({"image_id": k + 1, "index": 0, "text": "big", "xmin": 60, "ymin": 60, "xmax": 260,
                        "ymax": 260})
        # 12 px, centred on FPNLite's stride-8 grid: far below SSDLite's smallest (32 px) anchor
        objects.append({"image_id": k + 1, "index": 1, "text": "speck", "xmin": 30 + 16 * k, "ymin": 22,
                        "xmax": 42 + 16 * k, "ymax": 34})
    run(build(tmp_path, images, objects), tmp_path / "records")
    s = model_settings(DEFAULT_MODEL)
    lines = coverage_warnings(str(tmp_path / "records"), "train", s.model, s.input_size, s.anchor_config)
    assert len(lines) == 2 and "'speck': 0.0% of its 6 train boxes" in lines[0] and "'big'" not in "".join(lines)
    assert "--anchors --suggest" in lines[1] and "--model auto" in lines[1]
    # a model with a finer grid and anchors fitted to the specks has nothing to say
    specks = np.array([[22, 30 + 16 * k, 34, 42 + 16 * k] for k in range(3)], np.float32) / 320
    fitted = suggest_multiscale_anchors(specks, (320, 320), default_anchor_config(FPN))
    assert coverage_warnings(str(tmp_path / "records"), "train", FPN, 320,
                             fitted.config.to_dict(), max_examples=3) == []
