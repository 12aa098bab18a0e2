"""--split and --rebalance wired into convert: leakage groups, stratification,
train-only rebalancing, duplicate findings, determinism."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import build_dataset, distinct_jpeg
import helpers
from dataprep.balance import instance_ratio
from dataprep.convert import ConvertOptions
from dataprep.errors import UsageError
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records


def build(tmp_path, per_image_classes, *, files=None, data=None, splits=None, size=(96, 72)):
    return build_dataset(tmp_path, per_image_classes, files=files, data=data, splits=splits, size=size)


def run(ds, out, **kw):
    return helpers.run(ds, out, overwrite=True, **kw)


def split_of_files(out):
    manifest = json.loads((out / "manifest.json").read_text())
    where = {}
    for split, info in manifest["splits"].items():
        for shard in info["shards"]:
            for data in read_records(out / shard["file"]):
                where.setdefault(decode_example(data)["filename"], set()).add(split)
    return where


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    """240 images, 5 classes (Zipf), 40 videos of 3 frames, byte-identical and
    near-duplicate copies."""
    tmp_path = tmp_path_factory.mktemp("leaky")
    rng = np.random.default_rng(3)
    p = 1 / np.arange(1, 6) ** 1.2
    p /= p.sum()
    names = np.array(["ant", "bee", "cat", "dog", "eel"])
    per_image = [list(names[rng.choice(5, rng.integers(1, 5), p=p)]) for _ in range(240)]
    files = [f"vid{k // 3:03d}_f{k % 3}.jpg" if k < 120 else f"photo{k:04d}.jpg" for k in range(240)]
    data = [None] * 240
    # 200..209 are byte-identical copies of 150..159 (same annotations)
    for k in range(200, 210):
        data[k] = distinct_jpeg(k - 50)
        per_image[k] = list(per_image[k - 50])
    # 210..214 are resized, re-compressed copies of 160..164 (near-duplicates)
    for k in range(210, 215):
        im = Image.open(io.BytesIO(distinct_jpeg(k - 50))).resize((80, 60))
        buf = io.BytesIO()
        im.resize((96, 72)).save(buf, "JPEG", quality=60)
        data[k] = buf.getvalue()
    ds = build(tmp_path, per_image, files=files, data=data)
    out = tmp_path / "out"
    result = run(ds, out, split="train=0.7,val=0.15,test=0.15", group_by=r"^(vid\d+)_", seed=1)
    return ds, out, result, files


def test_split_keeps_leakage_groups_together(leaky):
    ds, out, result, files = leaky
    where = split_of_files(out)
    assert len(where) == 240 and all(len(s) == 1 for s in where.values())
    split = {f: next(iter(s)) for f, s in where.items()}
    for v in range(40):  # frames of one video
        assert len({split[f"vid{v:03d}_f{i}.jpg"] for i in range(3)}) == 1
    for k in range(200, 215):  # identical and near-identical copies
        assert split[files[k]] == split[files[k - 50]], files[k]
    codes = result.report.by_code()
    assert codes.get("image.byte_identical") == 10
    assert codes.get("image.near_duplicate", 0) >= 5
    assert "leakage" not in " ".join(f.detail for f in result.report.findings)


def test_split_is_stratified_per_class(leaky):
    _, out, result, _ = leaky
    m = result.manifest
    assert list(m["splits"]) == ["train", "val", "test"]
    total = {c: sum(m["splits"][s]["classes"][c]["boxes"] for s in m["splits"]) for c in m["splits"]["train"]["classes"]}
    n = sum(total.values())
    for split, info in m["splits"].items():
        boxes = info["boxes"]
        for c, v in info["classes"].items():
            if total[c] >= 50:
                assert abs(v["boxes"] / boxes - total[c] / n) <= 0.02 + 1e-9, (split, c)
    sizes = {s: m["splits"][s]["examples"] for s in m["splits"]}
    assert abs(sizes["train"] / 240 - 0.7) < 0.05
    assert m["split"]["fractions"] == {"train": 0.7, "val": 0.15, "test": 0.15} and m["split"]["seed"] == 1


def test_split_and_shards_are_deterministic(leaky, tmp_path):
    ds, out, result, _ = leaky
    again = run(ds, tmp_path / "again", split="train=0.7,val=0.15,test=0.15", group_by=r"^(vid\d+)_", seed=1)
    digests = [[s["sha256"] for s in i["shards"]] for i in result.manifest["splits"].values()]
    assert digests == [[s["sha256"] for s in i["shards"]] for i in again.manifest["splits"].values()]
    run(ds, tmp_path / "other", split="train=0.7,val=0.15,test=0.15", group_by=r"^(vid\d+)_", seed=2)
    assert split_of_files(tmp_path / "other") != split_of_files(out)


def test_rebalance_instances_halves_the_train_ratio(tmp_path):
    """Blood-smear-like data: 'A' in 98% of images ~1 each, 'B' ~11 per image."""
    rng = np.random.default_rng(0)
    n = 300
    a = np.where(rng.random(n) < 0.98, 1 + rng.poisson(0.15, n), 0)
    b = np.minimum(rng.negative_binomial(1, 1 / 12, n), 40)
    per_image = [["A"] * int(a[k]) + ["B"] * int(b[k]) for k in range(n)]
    splits = ["train"] * 240 + ["val"] * 60
    ds = build(tmp_path, per_image, splits=splits, size=(96, 72))
    plain = run(ds, tmp_path / "plain")
    t = max(plain.manifest["splits"]["train"]["classes"][c]["boxes"] for c in "AB") / \
        plain.manifest["splits"]["train"]["boxes"]
    result = run(ds, tmp_path / "bal", rebalance="instances", repeat_threshold=t, seed=4)
    before = [plain.manifest["splits"]["train"]["classes"][c]["boxes"] for c in "AB"]
    after = [result.manifest["splits"]["train"]["classes"][c]["boxes"] for c in "AB"]
    assert instance_ratio(np.array(after)) <= instance_ratio(np.array(before)) / 2
    # val untouched, repeats written as extra examples, accounting still per image
    assert result.manifest["splits"]["val"] == {**plain.manifest["splits"]["val"],
                                                "shards": result.manifest["splits"]["val"]["shards"]}
    assert result.manifest["splits"]["train"]["examples"] > plain.manifest["splits"]["train"]["examples"]
    assert result.report.counts.images_written == plain.report.counts.images_written
    assert result.manifest["rebalance"]["method"] == "repeat-factor-instances"
    table = "\n".join(result.summary_lines())
    a_before = result.manifest["rebalance"]["per_class"]
    assert "train before" in table
    row = next(line for line in result.summary_lines() if line.strip().startswith("A "))
    assert row.split()[1] == str(before[0]) and row.split()[3] == str(after[0]), (row, a_before)
    copies = {}
    for shard in result.manifest["splits"]["train"]["shards"]:
        for data in read_records(tmp_path / "bal" / shard["file"]):
            f = decode_example(data)["filename"]
            copies[f] = copies.get(f, 0) + 1
    assert max(copies.values()) > 1


def test_negative_ratio_drops_are_counted(tmp_path):
    per_image = [["cat"]] * 20 + [[]] * 20
    ds = build(tmp_path, per_image)
    result = run(ds, tmp_path / "out", rebalance="images", negative_ratio=0.5, seed=0)
    c = result.report.counts
    assert c.images_read == 40 and c.images_skipped == 10 and c.images_written == 30
    assert result.report.by_code()["balance.dropped"] == 10


def test_byte_identical_across_source_splits_is_leakage(tmp_path):
    data = [distinct_jpeg(1), distinct_jpeg(1), distinct_jpeg(2)]
    ds = build(tmp_path, [["cat"], ["dog"], ["cat"]], data=data, splits=["train", "val", "train"])
    result = run(ds, tmp_path / "out")
    (f,) = [f for f in result.report.findings if f.code == "image.byte_identical"]
    assert "differ" in f.detail and "leakage" in f.detail and f.severity == "warning"


def test_split_options_are_checked():
    with pytest.raises(UsageError, match="sum to 1"):
        ConvertOptions(out="x", split="train=0.8,val=0.3")
    with pytest.raises(UsageError, match="--group-by only applies with --split"):
        ConvertOptions(out="x", group_by="(x)")
    with pytest.raises(UsageError, match="--rebalance"):
        ConvertOptions(out="x", rebalance="classes")
