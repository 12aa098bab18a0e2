"""Issue 23's trainer parts that need no training: --time-budget parsing and
planning (a fake clock), the schedule whose length changes, the recipe, the
run folder's lifecycle, vertical flips and quarter turns."""

from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from dataprep.errors import UsageError  # noqa: E402
from dataprep.train import budget as budget_module  # noqa: E402
from dataprep.train.budget import TimeBudget, parse_duration  # noqa: E402
from dataprep.train.optim import WarmupCosine  # noqa: E402
from dataprep.train.recipe import choose_recipe, start_of  # noqa: E402
from dataprep.train.run_folder import RunFolder  # noqa: E402


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("90s", 90), ("1.5h", 5400), ("1h30m", 5400),
                                           ("45", 2700), (" 2 H ", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "30x", "0m", "-5m", "30m foo"])
def test_bad_durations_name_the_value(text):
    with pytest.raises(UsageError, match="--time-budget"):
        parse_duration(text)


def test_schedule_length_changes_after_tracing():
    schedule = WarmupCosine(1.0, warmup_steps=10, total_steps=110)
    fn = tf.function(lambda step: schedule(step))
    assert float(fn(5)) == pytest.approx(0.5)
    assert float(fn(60)) == pytest.approx(0.5, abs=1e-6)  # half way down the cosine
    schedule.set_total_steps(210)
    assert float(fn(110)) == pytest.approx(0.5, abs=1e-6)  # the traced function sees the new length
    assert float(fn(210)) == pytest.approx(0.0, abs=1e-6) and float(fn(500)) == pytest.approx(0.0, abs=1e-6)


class _Report:
    def __init__(self):
        self.epochs, self.eval_every, self.last_evaluation_epoch = 20, 0, 0


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _run(planner, clock, steps, step_seconds, epochs_max=1000, eval_seconds=0.0):
    """Drive ``planner`` like fit would, each step costing ``step_seconds`` of the fake clock."""
    model = type("M", (), {"stop_training": False})()
    planner.set_model(model)
    done = 0
    for epoch in range(epochs_max):
        planner.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.now += step_seconds * (5 if (epoch, batch) == (0, 0) else 1)  # the first step traces
            planner.on_train_batch_end(batch)
        done += 1
        if planner.report.eval_every and (epoch + 1) % planner.report.eval_every == 0:
            clock.now += eval_seconds
            planner.report.last_evaluation_epoch = epoch + 1
        planner.on_epoch_end(epoch)
        if model.stop_training:
            break
    return done


def test_budget_plans_epochs_from_the_measured_speed_and_holds_the_budget(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(budget_module.time, "perf_counter", clock)
    report, schedule = _Report(), WarmupCosine(1e-3, 10, 200)
    planner = TimeBudget(600.0, "wall", steps=10, batch_size=16, schedule=schedule, report=report,
                         eval_images=64, auto_eval=True, evals_per_run=4, start=0.0, log=lambda line: None)
    done = _run(planner, clock, steps=10, step_seconds=1.0, eval_seconds=8.0)
    # 10 s per epoch, an evaluation (8 s) every few epochs and one kept in reserve: about 50 epochs
    assert 40 <= planner.planned_epochs <= 58
    assert done == planner.planned_epochs and clock.now <= 600.0
    assert int(keras.ops.convert_to_numpy(schedule.total_steps)) == 10 * planner.planned_epochs
    assert report.epochs == planner.planned_epochs and report.eval_every == -(-planner.planned_epochs // 4)


def test_cpu_steps_clock_leaves_the_evaluations_out(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(budget_module.time, "process_time", clock)
    planner = TimeBudget(100.0, "cpu-steps", steps=5, batch_size=8, schedule=WarmupCosine(1e-3, 5, 50),
                         report=_Report(), eval_images=1000, auto_eval=True, start=0.0, log=lambda line: None)
    done = _run(planner, clock, steps=5, step_seconds=1.0, eval_seconds=30.0)
    assert done == planner.planned_epochs == 19  # (100 - 4 s of tracing) / 5 s per epoch; evaluations free
    assert planner.used() <= 100.0


def test_recipe_by_start_and_given_settings():
    assert start_of("none", None) == "random" and start_of("imagenet", None) == "imagenet"
    assert start_of("none", "zoo/") == "checkpoint"
    random = choose_recipe("random", 200)
    assert random.settings["optimizer"] == "adam" and random.settings["learning_rate"] == 1e-3
    assert random.settings["alpha"] == 0.35  # the width the real-set benchmark chose from random weights
    checkpoint = choose_recipe("checkpoint", 200)
    assert checkpoint.settings["optimizer"] == "sgd" and "alpha" not in checkpoint.settings  # --init-from's width
    assert "alpha" not in choose_recipe("imagenet", 200).settings
    sgd = choose_recipe("random", 200, {"optimizer": "sgd", "learning_rate": None})
    assert sgd.settings["learning_rate"] == 0.02 and sgd.reasons["learning_rate"] == "the usual rate of sgd"
    assert choose_recipe("random", 200, {"alpha": 1.0}).settings["alpha"] == 1.0
    given = choose_recipe("random", 200, {"optimizer": "sgd", "learning_rate": None, "batch_size": 8})
    assert given.settings["learning_rate"] == 0.02 and given.settings["batch_size"] == 8
    assert given.reasons["batch_size"] == "given"
    assert any("batch_size" in line and "8" in line for line in given.lines())
    # the CLI passes every option, unset ones as None: the recipe's own optimizer keeps its own rate
    unset = choose_recipe("random", 200, {"optimizer": None, "learning_rate": None, "batch_size": None,
                                          "alpha": None})
    assert unset.settings["optimizer"] == "adam" and unset.settings["learning_rate"] == 1e-3
    assert unset.settings["alpha"] == 0.35


def test_run_folder_removes_what_a_killed_run_left_and_gives_back_best(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / ".summary.json.123-deadbeef.partial", run / ".model.123-deadbeef.partial.weights.h5",
             run / "checkpoints" / ".epoch-004.123-deadbeef.partial.weights.h5"]
    for p in stale:
        p.write_text("half")
    (run / ".best.123-deadbeef.partial").mkdir()
    old_best = run / ".best.123-deadbeef.old"  # killed between moving best/ aside and renaming the new one
    old_best.mkdir()
    (old_best / "evaluation.json").write_text("{}")
    keep = run / "history.csv"
    keep.write_text("epoch\n")
    with RunFolder(run) as folder:
        assert not any(p.exists() for p in stale) and keep.exists()
        assert (run / "best" / "evaluation.json").is_file() and not old_best.exists()
        assert not (run / ".best.123-deadbeef.partial").exists()
        folder.write_text("summary.json", json.dumps({"done": True}))
        assert json.loads((run / "summary.json").read_text()) == {"done": True}
        assert sorted(p.name for p in run.iterdir() if "partial" in p.name) == []


def test_a_second_run_cannot_hold_the_same_folder(tmp_path):
    from dataprep.records.output import OutputError

    with RunFolder(tmp_path / "run"):
        with pytest.raises(OutputError, match="another dataprep run"):
            RunFolder(tmp_path / "run").open()


def test_publish_best_replaces_the_previous_best(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with RunFolder(tmp_path / "run") as folder:
        model.layers[0].kernel.assign(np.ones((2, 1), "float32"))
        folder.publish_best(model, '{"epoch": 1}')
        model.layers[0].kernel.assign(np.full((2, 1), 2.0, "float32"))
        folder.publish_best(model, '{"epoch": 2}')
    best = tmp_path / "run" / "best"
    assert json.loads((best / "evaluation.json").read_text()) == {"epoch": 2}
    model.layers[0].kernel.assign(np.zeros((2, 1), "float32"))
    model.load_weights(best / "model.weights.h5")
    assert np.all(keras.ops.convert_to_numpy(model.layers[0].kernel) == 2.0)
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".best")] == []


def test_vertical_flips_and_quarter_turns_move_boxes_with_the_pixels():
    from dataprep.train.input_pipeline import random_rotate

    image = np.zeros((40, 60, 3), np.uint8)
    image[5:15, 10:30] = 255  # a box at y 5..15, x 10..30
    boxes = tf.constant([[5 / 40, 10 / 60, 15 / 40, 30 / 60]], tf.float32)
    seen = set()
    for s in range(12):
        out, moved = random_rotate(tf.constant(image), boxes, tf.constant([s, 7]))
        mask = out.numpy()[..., 0]
        ys, xs = np.nonzero(mask)
        h, w = mask.shape
        pixels = [ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w]
        np.testing.assert_allclose(moved.numpy()[0], pixels, atol=1e-6)
        seen.add((mask.shape, tuple(np.round(pixels, 3))))
    assert len(seen) == 4  # identity, vertical flip, quarter turn, both


def test_best_keeper_keeps_the_best_stops_after_patience_and_draws_the_curves(tmp_path):
    from dataprep.train.evaluate import EvalResult
    from dataprep.train.trainer import BestKeeper

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    lines = []
    rows = []
    with RunFolder(tmp_path / "run") as folder:
        keeper = BestKeeper(folder, patience=2, log=lines.append, title="test")
        stops = []
        for epoch, score in enumerate([0.1, 0.3, 0.2, 0.3, 0.25], start=1):
            rows.append({"epoch": epoch, "loss": 1.0 / epoch, "box_loss": 0.5 / epoch, "class_loss": 0.5 / epoch})
            model.layers[0].bias.assign(np.full((1,), float(epoch), "float32"))
            result = EvalResult(score / 2, score, 0.0, 0.0, 0.0, 0.0, {"a": score / 2}, {"a": score})
            stops.append(keeper.update(model, epoch, result))
            keeper.draw(rows)
    assert stops == [False, False, False, True, True]  # 0.3 again is no gain: the first of equals stays
    assert keeper.to_dict()["epoch"] == 2 and keeper.to_dict()["mAP50"] == 0.3
    assert "Early stop: 2 evaluations without a better val mAP@0.5 than 0.300 (epoch 2)" in lines[0]
    model.load_weights(tmp_path / "run" / "best" / "model.weights.h5")
    assert float(keras.ops.convert_to_numpy(model.layers[0].bias)[0]) == 2.0
    png = (tmp_path / "run" / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "run"):
            raise RuntimeError("the model could not be built")
    assert not (tmp_path / "run").exists()
    (tmp_path / "kept").mkdir()
    with RunFolder(tmp_path / "kept"):
        pass
    assert (tmp_path / "kept").is_dir()  # not ours to remove
