"""Rebalancing the training split: LVIS repeat factors, the instance-aware variant, caps, negatives."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from dataprep.balance import (
    DROP_MAX_PER_CLASS,
    DROP_NEGATIVE_RATIO,
    expand_repeats,
    instance_ratio,
    repeat_factors,
    stratified_split,
)
from dataprep.errors import UsageError


def table(rows: dict[int, list[str]]):
    """``{image_id: [class of each box]}`` -> (image_ids, object_image_ids, object_classes)."""
    ids = np.array(sorted(rows), dtype=np.int64)
    obj_ids = np.array([i for i in ids for _ in rows[i]], dtype=np.int64)
    classes = np.array([c for i in ids for c in rows[i]], dtype=object)
    return ids, obj_ids, classes


def blood_cells(seed: int = 0, n_images: int = 2000):
    """Blood-smear-like images: white cells ('A') in 98% of images, ~1 per image; red cells ('B')
    ~11 per image with the wide spread of real smears (negative binomial, some fields almost empty)."""
    rng = np.random.default_rng(seed)
    a = np.where(rng.random(n_images) < 0.98, 1 + rng.poisson(0.15, n_images), 0)
    b = rng.negative_binomial(1, 1 / 12, n_images)
    ids = np.arange(1, n_images + 1, dtype=np.int64)
    obj_ids = np.concatenate([np.repeat(ids, a), np.repeat(ids, b)])
    classes = np.array(["A"] * int(a.sum()) + ["B"] * int(b.sum()), dtype=object)
    return ids, obj_ids, classes


def zipf_dataset(seed: int = 0, n_images: int = 2000, n_classes: int = 8):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_classes + 1) ** 1.3
    p /= p.sum()
    boxes = rng.integers(1, 7, n_images)
    boxes[rng.random(n_images) < 0.1] = 0
    ids = np.arange(1, n_images + 1, dtype=np.int64)
    obj_ids = np.repeat(ids, boxes)
    classes = np.array([f"class{c}" for c in range(n_classes)], dtype=object)[rng.choice(n_classes, boxes.sum(), p=p)]
    return ids, obj_ids, classes


# ------------------------------------------------------------- LVIS formula
HAND = {
    1: ["a", "b", "c"],
    2: ["a", "b", "b"],
    **{i: ["a"] for i in range(3, 11)},
    11: [],
    12: [],
}  # 10 images with objects: f(a) = 1.0, f(b) = 0.2, f(c) = 0.1; two negatives.


def test_lvis_repeat_factors_on_a_hand_example():
    ids, obj_ids, classes = table(HAND)
    result = repeat_factors(ids, obj_ids, classes, threshold=0.4, seed=0)
    pc = result.per_class
    np.testing.assert_allclose(pc["frequency"], [1.0, 0.2, 0.1])
    # r(c) = max(1, sqrt(t / f(c))): a -> 1, b -> sqrt(2), c -> 2.
    np.testing.assert_allclose(pc["factor"], [1.0, math.sqrt(2.0), 2.0])
    # r(I) = max over the image's classes; 1 for images without objects.
    np.testing.assert_allclose(result.factors, [2.0, math.sqrt(2.0)] + [1.0] * 10)
    assert result.repeats[0] == 2 and result.repeats[1] in (1, 2) and (result.repeats[2:] == 1).all()
    assert result.threshold == 0.4 and result.threshold_source == "given" and result.exponent == 0.5
    assert pc.loc["b", "instances_before"] == 3 and pc.loc["b", "images_before"] == 2
    assert pc.loc["c", "images_after"] == 2 and pc.loc["c", "instances_after"] == 2


def test_auto_threshold_is_the_median_image_frequency():
    ids, obj_ids, classes = table(HAND)
    result = repeat_factors(ids, obj_ids, classes, seed=0)
    assert result.threshold == pytest.approx(0.2) and result.threshold_source.startswith("auto")
    np.testing.assert_allclose(result.per_class["factor"], [1.0, 1.0, math.sqrt(2.0)])
    assert repeat_factors(ids, obj_ids, classes, threshold=None).threshold == pytest.approx(0.2)
    inst = repeat_factors(ids, obj_ids, classes, method="instances")
    assert inst.threshold == pytest.approx(1 / 3) and "1/L" in inst.threshold_source


def test_image_factor_is_the_max_over_its_classes():
    ids, obj_ids, classes = zipf_dataset(seed=1)
    result = repeat_factors(ids, obj_ids, classes, threshold=0.5, seed=0)
    factor_of = result.per_class["factor"]
    expected = pd.Series(factor_of.loc[classes].to_numpy()).groupby(obj_ids).max()
    got = pd.Series(result.factors, index=ids)
    np.testing.assert_allclose(got.loc[expected.index], expected.to_numpy())
    assert (got.drop(expected.index) == 1.0).all()  # negatives
    assert (result.factors > 1).sum() > 100


def test_instance_aware_formula_on_a_hand_example():
    # f(A) = 2/9, f(B) = 7/9, t = 0.5, p = 1: r(A) = 0.5 / (2/9) = 2.25, r(B) = 1.
    ids, obj_ids, classes = table({1: ["A"], 2: ["A", "B", "B", "B"], 3: ["B", "B", "B", "B"]})
    result = repeat_factors(ids, obj_ids, classes, method="instances", threshold=0.5)
    np.testing.assert_allclose(result.per_class["frequency"], [2 / 9, 7 / 9])
    np.testing.assert_allclose(result.per_class["factor"], [2.25, 1.0])
    # e(I, A) = clip((s - f) / (1 - f), 0, 1): image 1 is all A (e = 1, r = r(A));
    # image 2 is 1/4 A, barely richer than the dataset's 2/9; image 3 holds no A.
    e2 = (0.25 - 2 / 9) / (1 - 2 / 9)
    np.testing.assert_allclose(result.factors, [2.25, 1 + 1.25 * e2, 1.0])
    assert result.exponent == 1.0


# ------------------------------------------------------- stochastic rounding
def test_stochastic_rounding_expectation_and_determinism():
    # 4000 images of a rare class 'r' among 16000 of 'a': f(r) = 0.2, t = 1.058 -> r(r) = 2.3.
    ids, obj_ids, classes = table({i: (["r"] if i < 4000 else ["a"]) for i in range(20000)})
    result = repeat_factors(ids, obj_ids, classes, threshold=0.2 * 2.3**2, seed=5)
    rare = result.repeats[:4000]
    np.testing.assert_allclose(result.factors[:4000], 2.3)
    assert set(np.unique(rare).tolist()) == {2, 3}
    assert abs(rare.mean() - 2.3) < 0.05
    # 'a': f = 0.8, r = sqrt(1.058 / 0.8) = 1.15: floor 1, and 2 copies for about 15% of them.
    assert abs(result.repeats[4000:].mean() - math.sqrt(0.2 * 2.3**2 / 0.8)) < 0.02
    again = repeat_factors(ids, obj_ids, classes, threshold=0.2 * 2.3**2, seed=5)
    other = repeat_factors(ids, obj_ids, classes, threshold=0.2 * 2.3**2, seed=6)
    np.testing.assert_array_equal(result.repeats, again.repeats)
    assert result.log == again.log and result.per_class.equals(again.per_class)
    assert not np.array_equal(result.repeats, other.repeats)
    assert abs(other.repeats[:4000].mean() - 2.3) < 0.05


# ------------------------------------------------- the instance-aware variant
def test_instance_aware_halves_the_instance_ratio_where_lvis_cannot():
    ids, obj_ids, classes = blood_cells(seed=0)
    holds_a = np.isin(ids, obj_ids[classes == "A"]).mean()
    per_image = pd.Series(classes).value_counts() / len(ids)
    assert 0.97 < holds_a < 0.99 and 0.9 < per_image["A"] < 1.3 and 10 < per_image["B"] < 12
    inst = pd.Series(classes).value_counts()
    before = instance_ratio(inst.to_numpy())
    assert 9 < before < 12  # B: 11x as many instances as A
    # Plain image-level LVIS: every image holds A (and most hold B), so whatever t, the ratio stays.
    for t in (0.001, 0.01, 0.1, 0.5, 0.95, 1.0, "auto"):
        lvis = repeat_factors(ids, obj_ids, classes, method="images", threshold=t, seed=0)
        assert instance_ratio(lvis.per_class["instances_after"].to_numpy()) > 0.9 * before, t
    # Instance-aware, t = the largest class share (every class up to the largest).
    t = float(inst.max() / inst.sum())
    result = repeat_factors(ids, obj_ids, classes, method="instances", threshold=t, seed=0)
    after = instance_ratio(result.per_class["instances_after"].to_numpy())
    assert after <= before / 2, (before, after)
    # The auto threshold (1/L) goes part of the way.
    auto = repeat_factors(ids, obj_ids, classes, method="instances", seed=0)
    assert instance_ratio(auto.per_class["instances_after"].to_numpy()) < 0.75 * before
    assert result.log[-1].endswith(f"{before:.2f} -> {after:.2f}")


def test_split_then_rebalance_train_only_halves_the_ratio():
    ids, obj_ids, classes = zipf_dataset(seed=2)
    split = stratified_split(ids, obj_ids, classes, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)
    train = ids[split.assignment == "train"]
    in_train = np.isin(obj_ids, train)
    counts = pd.Series(classes[in_train]).value_counts()
    before = instance_ratio(counts.to_numpy())
    assert before > 10
    t = float(counts.max() / counts.sum())
    result = repeat_factors(train, obj_ids[in_train], classes[in_train], method="instances", threshold=t, seed=0)
    assert instance_ratio(result.per_class["instances_after"].to_numpy()) <= before / 2
    # Val and test are not an input of rebalancing: their examples are their images.
    examples = {s: int((split.assignment == s).sum()) for s in ("val", "test")}
    examples["train"] = result.num_examples
    assert examples["val"] == split.splits.at["val", "images"] and examples["train"] > len(train)


# ------------------------------------------------------------- negatives
def test_negative_ratio_drops_negatives_at_random_and_reports_them():
    rows = {i: (["a"] if i < 100 else []) for i in range(180)}  # 100 positives, 80 negatives
    ids, obj_ids, classes = table(rows)
    result = repeat_factors(ids, obj_ids, classes, negative_ratio=0.25, seed=3)
    kept_neg = (result.repeats[100:] > 0).sum()
    assert kept_neg == 25 and (result.repeats[:100] == 1).all()
    assert (result.repeats[100:] <= 1).all()
    assert len(result.dropped) == 55 and set(result.dropped["reason"]) == {DROP_NEGATIVE_RATIO}
    assert set(result.dropped["image_id"]) == set(ids[100:][result.repeats[100:] == 0])
    assert result.as_dict()["dropped"] == {DROP_NEGATIVE_RATIO: 55}
    same = repeat_factors(ids, obj_ids, classes, negative_ratio=0.25, seed=3)
    other = repeat_factors(ids, obj_ids, classes, negative_ratio=0.25, seed=4)
    np.testing.assert_array_equal(result.repeats, same.repeats)
    assert not np.array_equal(result.repeats, other.repeats)
    # Images dropped are not random when the decision is not: 0 drops all, a large ratio none.
    assert (repeat_factors(ids, obj_ids, classes, negative_ratio=0)).repeats[100:].sum() == 0
    assert len(repeat_factors(ids, obj_ids, classes, negative_ratio=5).dropped) == 0
    assert len(repeat_factors(ids, obj_ids, classes).dropped) == 0
    assert any(line.startswith("negatives: kept 25 of 80") for line in result.log)


# ------------------------------------------------------------- max_per_class
def test_max_per_class_removes_extra_copies_first():
    ids, obj_ids, classes = zipf_dataset(seed=3, n_images=1000)
    free = repeat_factors(ids, obj_ids, classes, threshold=1.0, seed=0)
    after = free.per_class["instances_after"]
    before = free.per_class["instances_before"]
    cap = int(before.max()) + 50  # above every class before, below the most repeated after
    assert after.max() > cap
    capped = repeat_factors(ids, obj_ids, classes, threshold=1.0, max_per_class=cap, seed=0)
    assert (capped.per_class["instances_after"] <= cap).all()
    assert len(capped.dropped) == 0 and (capped.repeats[np.isin(ids, obj_ids)] >= 1).all()
    assert (capped.repeats <= free.repeats).all()
    assert capped.per_class["capped"].any()
    name = capped.per_class.index[capped.per_class["capped"]][0]
    assert any(line.startswith(f"class {name!r}") and f"capped at {cap}" in line for line in capped.log)


def test_max_per_class_drops_images_with_least_collateral_loss():
    # 'a' alone in 10 images, 'a' with 'b' in 10 more: capping 'a' at 12 drops 8 of the a-only images.
    rows = {i: ["a"] for i in range(10)} | {i: ["a", "b"] for i in range(10, 20)}
    ids, obj_ids, classes = table(rows)
    result = repeat_factors(ids, obj_ids, classes, max_per_class=12, seed=0)
    assert result.per_class.loc["a", "instances_after"] == 12
    assert result.per_class.loc["b", "instances_after"] == 10
    assert (result.repeats[10:] == 1).all() and (result.repeats[:10] == 0).sum() == 8
    assert set(result.dropped["reason"]) == {DROP_MAX_PER_CLASS}
    assert sorted(result.dropped["image_id"]) == sorted(ids[:10][result.repeats[:10] == 0])
    # A dominant class on a generated dataset: every class within the cap afterwards.
    ids, obj_ids, classes = zipf_dataset(seed=4, n_images=1000)
    cap = 400
    result = repeat_factors(ids, obj_ids, classes, method="instances", max_per_class=cap, seed=0)
    assert (result.per_class["instances_after"] <= cap).all()
    assert (result.dropped["reason"] == DROP_MAX_PER_CLASS).sum() > 0
    assert (result.repeats[np.isin(ids, result.dropped["image_id"])] == 0).all()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"method": "boxes"}, "method must be one of images, instances; got 'boxes'"),
        ({"threshold": 0}, "threshold must be a number > 0, got 0"),
        ({"threshold": -0.1}, "got -0.1"),
        ({"threshold": float("nan")}, "got nan"),
        ({"threshold": "often"}, "got 'often'"),
        ({"exponent": 0}, "exponent must be a number > 0"),
        ({"max_per_class": 0}, "--max-per-class must be an integer >= 1, got 0"),
        ({"max_per_class": 2.5}, "got 2.5"),
        ({"max_per_class": True}, "got True"),
        ({"negative_ratio": -1}, "negatives ratio must be a number >= 0, got -1"),
        ({"negative_ratio": float("inf")}, "got inf"),
    ],
)
def test_option_errors_name_the_value(options, message):
    ids, obj_ids, classes = table(HAND)
    with pytest.raises(UsageError, match=message):
        repeat_factors(ids, obj_ids, classes, **options)


def test_input_errors_and_degenerate_inputs():
    ids, obj_ids, classes = table(HAND)
    with pytest.raises(ValueError, match="image ids not in image_ids"):
        repeat_factors(ids[:5], obj_ids, classes)
    empty = repeat_factors(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object))
    assert empty.num_examples == 0 and empty.per_class.empty
    negatives_only = repeat_factors(np.arange(4), np.zeros(0, np.int64), np.zeros(0, object), negative_ratio=1.0)
    assert negatives_only.num_examples == 0 and len(negatives_only.dropped) == 4
    single = repeat_factors(np.arange(3), np.array([0, 1, 1]), np.array(["x", "x", "x"]), method="instances")
    assert (single.repeats == [1, 1, 1]).all()


# ------------------------------------------------------- manifest, layout
def test_result_for_the_manifest():
    ids, obj_ids, classes = blood_cells(seed=1, n_images=300)
    result = repeat_factors(ids, obj_ids, classes, method="instances", max_per_class=5000, negative_ratio=0.5, seed=9)
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["method"] == "repeat-factor-instances" and summary["seed"] == 9
    assert summary["max_per_class"] == 5000 and summary["negative_ratio"] == 0.5
    assert summary["threshold"] == pytest.approx(0.5) and summary["examples"] == result.num_examples
    for c in ("A", "B"):
        assert summary["per_class"][c]["instances_before"] == int((classes == c).sum())
        assert summary["per_class"][c]["instances_after"] >= summary["per_class"][c]["instances_before"]
    assert sum(line.startswith("class ") for line in result.log) == 2


def test_expand_repeats_spreads_copies_deterministically():
    repeats = np.array([1, 0, 3, 2, 1])
    order = expand_repeats(repeats, seed=1)
    assert np.bincount(order, minlength=5).tolist() == repeats.tolist()
    np.testing.assert_array_equal(order, expand_repeats(repeats, seed=1))
    many = np.full(200, 2)
    assert not np.array_equal(expand_repeats(many, seed=1), expand_repeats(many, seed=2))
    # Copies of an image do not sit next to each other as a rule.
    layout = expand_repeats(many, seed=1)
    assert (layout[1:] == layout[:-1]).sum() < 5
    with pytest.raises(ValueError, match=">= 0"):
        expand_repeats(np.array([1, -1]))
