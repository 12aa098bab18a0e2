"""Stratified splitting without leakage: --split parsing, iterative stratification, leakage groups."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.balance import groups_from_regex, merge_groups, parse_split_spec, stratified_split
from dataprep.errors import UsageError

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


def zipf_dataset(seed: int = 0, n_images: int = 2000, n_classes: int = 8, negatives: float = 0.1):
    """Imbalanced multi-label images: 1-6 boxes each, classes with Zipf-like frequencies, some negatives."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_classes + 1) ** 1.3
    p /= p.sum()
    boxes = rng.integers(1, 7, n_images)
    boxes[rng.random(n_images) < negatives] = 0
    image_ids = np.arange(1, n_images + 1, dtype=np.int64)
    object_image_ids = np.repeat(image_ids, boxes)
    classes = np.array([f"class{c}" for c in range(n_classes)], dtype=object)[rng.choice(n_classes, boxes.sum(), p=p)]
    return image_ids, object_image_ids, classes


def video_dataset(seed: int = 0, n_videos: int = 400, frames: int = 5, n_classes: int = 8):
    """Frames of videos (file names vidNNNN_frameMM.jpg); the frames of a video share 1-3 classes."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_classes + 1) ** 1.3
    p /= p.sum()
    files, obj_img, obj_cls = [], [], []
    image_id = 0
    for v in range(n_videos):
        present = rng.choice(n_classes, size=rng.integers(1, 4), p=p, replace=False)
        for f in range(frames):
            image_id += 1
            files.append(f"videos/vid{v:04d}_frame{f:02d}.jpg")
            if rng.random() < 0.1:
                continue
            nb = int(rng.integers(1, 7))
            obj_img += [image_id] * nb
            obj_cls += [f"class{c}" for c in rng.choice(present, size=nb)]
    return np.arange(1, image_id + 1), files, np.array(obj_img), np.array(obj_cls, dtype=object)


def share_deviation_pp(result, min_boxes: int = 50) -> float:
    """Largest |share of class c in split s - share of c overall|, in percentage points."""
    table = result.per_class[result.per_class["boxes"] >= min_boxes]
    return max((table[f"share_{s}"] - table["share"]).abs().max() for s in result.fractions) * 100


# ------------------------------------------------------------------ --split
def test_parse_split_spec_keeps_order_and_values():
    assert parse_split_spec("train=0.8,val=0.1,test=0.1") == {"train": 0.8, "val": 0.1, "test": 0.1}
    assert list(parse_split_spec(" test = 0.2 , train=0.8 ")) == ["test", "train"]
    assert parse_split_spec("train=0.7,val=0.2,test=0.1") == {"train": 0.7, "val": 0.2, "test": 0.1}
    assert parse_split_spec("all=1") == {"all": 1.0}
    assert parse_split_spec("train=0.3333333,val=0.3333333,test=0.3333334")["test"] == pytest.approx(0.3333334)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "expected NAME=FRACTION"),
        ("train", "expected NAME=FRACTION, got 'train'"),
        ("train=0.8,val", "got 'val'"),
        ("train=abc,val=0.2", "fraction 'abc' of split 'train' is not a number"),
        ("train=0.8,val=0.3", "must sum to 1, got 1.1"),
        ("train=0.5,val=0.4", "must sum to 1, got 0.9"),
        ("train=0,val=1", "fraction of split 'train' must be a number > 0, got 0.0"),
        ("train=-0.2,val=1.2", "got -0.2"),
        ("train=nan,val=1", "got nan"),
        ("train=inf,val=1", "got inf"),
        ("train=0.5,train=0.5", "split 'train' is given twice"),
        ("=1", "split name ''"),
        ("my split=0.5,val=0.5", "split name 'my split'"),
        ("train/x=1", "split name 'train/x'"),
        ("train=80,val=20", "must sum to 1, got 100"),
    ],
)
def test_parse_split_spec_errors_name_the_value(spec, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_split_spec(spec)
    assert err.value.exit_code == 2


def test_stratified_split_checks_its_options():
    ids, obj_ids, classes = zipf_dataset(n_images=50)
    with pytest.raises(UsageError, match="must sum to 1"):
        stratified_split(ids, obj_ids, classes, {"train": 0.5, "val": 0.4})
    with pytest.raises(UsageError, match="fraction of split 'val' must be a number > 0"):
        stratified_split(ids, obj_ids, classes, {"train": 1.0, "val": 0.0})
    with pytest.raises(UsageError, match="no splits"):
        stratified_split(ids, obj_ids, classes, {})
    with pytest.raises(UsageError, match="weight must be one of boxes, images; got 'pixels'"):
        stratified_split(ids, obj_ids, classes, FRACTIONS, weight="pixels")
    with pytest.raises(ValueError, match="image ids not in image_ids"):
        stratified_split(ids[:-5], obj_ids, classes, FRACTIONS)
    with pytest.raises(ValueError, match="image ids must be unique"):
        stratified_split(np.concatenate([ids, ids[:1]]), obj_ids, classes, FRACTIONS)
    with pytest.raises(ValueError, match="groups must have one entry per image"):
        stratified_split(ids, obj_ids, classes, FRACTIONS, groups=np.zeros(3))
    with pytest.raises(ValueError, match="one entry per object"):
        stratified_split(ids, obj_ids, classes[:-1], FRACTIONS)


# ------------------------------------------------- iterative stratification
def test_each_class_share_per_split_within_2pp_of_overall():
    ids, obj_ids, classes = zipf_dataset(seed=1)
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=7)
    table = result.per_class
    assert table["boxes"].sum() == len(obj_ids)
    assert (table["boxes"] >= 50).all()  # the data leaves no class out of the criterion
    assert table["share"].max() / table["share"].min() > 10  # and it is imbalanced
    assert share_deviation_pp(result) <= 2.0
    # Each class's boxes are divided close to the fractions, too.
    for s, fraction in FRACTIONS.items():
        assert np.allclose(table[f"part_{s}"], fraction, atol=0.03), s
    # Split sizes near the fractions.
    assert set(result.assignment) == set(FRACTIONS)
    sizes = {s: int((result.assignment == s).sum()) for s in FRACTIONS}
    for s, fraction in FRACTIONS.items():
        assert abs(sizes[s] / len(ids) - fraction) <= 0.01, sizes
    assert result.splits["images"].to_dict() == sizes


def test_negatives_are_spread_by_the_fractions():
    ids, obj_ids, classes = zipf_dataset(seed=2, negatives=0.25)
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=0)
    negative = ~np.isin(ids, obj_ids)
    total = int(negative.sum())
    assert total > 400
    for s, fraction in FRACTIONS.items():
        got = int((negative & (result.assignment == s)).sum())
        assert abs(got - fraction * total) <= 2, (s, got)
        assert result.splits.at[s, "negatives"] == got


def test_weight_images_stratifies_images_per_class():
    ids, obj_ids, classes = zipf_dataset(seed=3)
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=0, weight="images")
    split_of = dict(zip(ids.tolist(), result.assignment.tolist()))
    pairs = {(i, c) for i, c in zip(obj_ids.tolist(), classes.tolist())}
    for c in sorted(set(classes.tolist())):
        holders = [split_of[i] for i, cc in pairs if cc == c]
        for s, fraction in FRACTIONS.items():
            assert abs(holders.count(s) / len(holders) - fraction) <= 0.03, (c, s)
    assert result.weight == "images"


def test_split_is_deterministic_for_a_seed():
    ids, obj_ids, classes = zipf_dataset(seed=4)
    first = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=11)
    again = stratified_split(ids.copy(), obj_ids.copy(), classes.copy(), dict(FRACTIONS), seed=11)
    other = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=12)
    np.testing.assert_array_equal(first.assignment, again.assignment)
    assert first.per_class.equals(again.per_class)
    assert first.log == again.log
    assert json.dumps(first.as_dict()) == json.dumps(again.as_dict())
    assert not np.array_equal(first.assignment, other.assignment)
    assert share_deviation_pp(other) <= 2.0


def test_result_for_the_manifest_and_log():
    ids, obj_ids, classes = zipf_dataset(seed=5, n_images=300)
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=3)
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["seed"] == 3 and summary["fractions"] == FRACTIONS and summary["weight"] == "boxes"
    assert sum(summary["splits"][s]["images"] for s in FRACTIONS) == len(ids)
    for c, counts in summary["per_class"].items():
        assert counts["boxes"] == sum(counts[s] for s in FRACTIONS) == int((classes == c).sum())
    assert result.assignment.dtype == object and len(result.assignment) == len(ids)
    for c in result.per_class.index:
        assert sum(line.startswith(f"class {c!r}:") for line in result.log) == 1
    assert "Sechidis" in result.log[0] and "seed 3" in result.log[0]


def test_small_and_degenerate_inputs():
    empty = stratified_split(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object), FRACTIONS)
    assert len(empty.assignment) == 0 and empty.splits["images"].sum() == 0
    one = stratified_split(np.array([1, 2, 3]), np.array([1, 1, 3]), np.array(["a", "b", "a"]), {"all": 1.0})
    assert one.assignment.tolist() == ["all", "all", "all"]
    # A class with a single box cannot be in every split: it says so.
    ids, obj_ids, classes = zipf_dataset(seed=6, n_images=200)
    obj_ids = np.append(obj_ids, ids[0])
    classes = np.append(classes, "unicorn")
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, seed=0)
    assert result.per_class.loc["unicorn", ["boxes_train", "boxes_val", "boxes_test"]].sum() == 1
    assert any(line.startswith("class 'unicorn'") and "absent from" in line for line in result.log)
    # Integer labels work as classes too.
    labels = stratified_split(ids, obj_ids, np.unique(classes, return_inverse=True)[1] + 1, FRACTIONS, seed=0)
    assert list(labels.per_class.index) == [str(i) for i in range(1, 10)]


# ------------------------------------------------------------------ groups
def test_groups_from_regex():
    files = ["cam1/vid01_f001.jpg", "cam1/vid02_f001.jpg", "cam2/vid01_f002.jpg", "loose.png", "other.jpg"]
    assert groups_from_regex(files, r"(vid\d+)_").tolist() == [0, 1, 0, 2, 3]
    # Without a capture group the whole match is the key; folders can be keys.
    assert groups_from_regex(files, r"^[^/]+/").tolist() == [0, 0, 1, 2, 3]
    # An optional first group that did not take part: the whole match.
    assert groups_from_regex(["a_1", "b_1", "a_2"], r"(x)?[ab]").tolist() == [0, 1, 0]
    assert groups_from_regex([], r"x").tolist() == []
    with pytest.raises(UsageError, match=r"--group-by: '\(unclosed' is not a valid regular expression"):
        groups_from_regex(files, "(unclosed")


def test_merge_groups_is_transitive_union_of_keys():
    # Images 0..7. sha256: 0 = 1 (byte-identical). Near-duplicate cluster: 1 ~ 2,
    # and 6 ~ 7; -1 = no cluster. Regex key: 2 ~ 3 (same video); 4 and 5 alone.
    sha = np.array(["h0", "h0", "h2", "h3", "h4", "h5", "h6", "h7"])
    phash = np.array([-1, 5, 5, -1, -1, -1, 9, 9])
    video = np.array(["v1", None, "v2", "v2", "", None, np.nan, "v9"], dtype=object)
    assert merge_groups(sha, phash, video).tolist() == [0, 0, 0, 0, 1, 2, 3, 3]
    # Each relation alone.
    assert merge_groups(sha).tolist() == [0, 0, 1, 2, 3, 4, 5, 6]
    assert merge_groups(phash).tolist() == [0, 1, 1, 2, 3, 4, 5, 5]
    assert merge_groups(video).tolist() == [0, 1, 2, 2, 3, 4, 5, 6]  # None, "" and NaN link nothing
    # Order of the keys does not matter; ids follow the first image of each group.
    assert merge_groups(video, phash, sha).tolist() == [0, 0, 0, 0, 1, 2, 3, 3]


def test_merge_groups_long_chain_and_errors():
    n = 5000
    a = np.arange(n) // 2  # joins 2k and 2k+1
    b = (np.arange(n) + 1) // 2  # joins 2k-1 and 2k
    assert merge_groups(a, b).tolist() == [0] * n
    reversed_chain = merge_groups(a[::-1].copy(), b[::-1].copy())
    assert set(reversed_chain.tolist()) == {0}
    with pytest.raises(ValueError, match="at least one key"):
        merge_groups()
    with pytest.raises(ValueError, match="key 1 has shape"):
        merge_groups(np.arange(3), np.arange(4))
    with pytest.raises(ValueError, match="boolean"):
        merge_groups(np.array([True, False]))


def _naive_components(keys: list[list[int]], n: int) -> list[int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for key in keys:
        first: dict[int, int] = {}
        for i, k in enumerate(key):
            if k < 0:
                continue
            if k in first:
                ra, rb = find(first[k]), find(i)
                parent[max(ra, rb)] = min(ra, rb)
            else:
                first[k] = i
    roots = [find(i) for i in range(n)]
    ids: dict[int, int] = {}
    return [ids.setdefault(r, len(ids)) for r in roots]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40).flatmap(
    lambda n: st.lists(st.lists(st.integers(-1, 12), min_size=n, max_size=n), min_size=1, max_size=3)))
def test_merge_groups_matches_a_plain_union_find(keys):
    n = len(keys[0])
    got = merge_groups(*[np.array(k) for k in keys]).tolist()
    assert got == _naive_components(keys, n)


def test_no_group_straddles_splits_and_shares_hold():
    ids, files, obj_ids, classes = video_dataset(seed=0)
    groups = groups_from_regex(files, r"(vid\d+)_frame")
    assert groups.max() + 1 == 400
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, groups=groups, seed=0)
    splits_per_group = [set(result.assignment[groups == g]) for g in range(400)]
    assert all(len(s) == 1 for s in splits_per_group)
    assert share_deviation_pp(result) <= 2.0
    for s, fraction in FRACTIONS.items():
        assert abs((result.assignment == s).mean() - fraction) <= 0.02
    assert result.num_groups == 400 and result.splits["groups"].sum() == 400
    assert any("kept whole" in line for line in result.log)


def test_merged_groups_keep_duplicates_together():
    """A byte-identical copy links two videos; a near-duplicate links a third: all stay in one split."""
    ids, files, obj_ids, classes = video_dataset(seed=1, n_videos=120)
    sha = np.array([f"sha{i}" for i in range(len(ids))], dtype=object)
    sha[7] = sha[12]  # vid0001 frame 2 == vid0002 frame 2
    cluster = np.full(len(ids), -1)
    cluster[[13, 500]] = 4  # vid0002 frame 3 ~ vid0100 frame 0
    groups = merge_groups(sha, cluster, groups_from_regex(files, r"(vid\d+)_"))
    assert groups.max() + 1 == 118
    linked = np.isin(np.arange(len(ids)) // 5, [1, 2, 100])
    assert len(set(groups[linked].tolist())) == 1
    for seed in range(3):
        result = stratified_split(ids, obj_ids, classes, FRACTIONS, groups=groups, seed=seed)
        assert len(set(result.assignment[linked].tolist())) == 1
        for g in range(118):
            assert len(set(result.assignment[groups == g].tolist())) == 1


def test_missing_group_keys_are_groups_of_their_own():
    ids, obj_ids, classes = zipf_dataset(seed=8, n_images=100)
    groups = np.array([None] * 50 + ["scene"] * 50, dtype=object)
    result = stratified_split(ids, obj_ids, classes, FRACTIONS, groups=groups, seed=0)
    assert result.num_groups == 51
    assert len(set(result.assignment[50:].tolist())) == 1
