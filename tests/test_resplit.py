"""``dataprep split``: re-splitting an existing output by copying its records
(no image re-read), and splitting a source like ``convert --split``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import build_dataset, distinct_jpeg, near_copy
from dataprep.convert.resplit import resplit
from dataprep.cli import main
from dataprep.convert import ConvertOptions, convert
from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.records.example import decode_example
from dataprep.records.framing import read_records

GROUP_BY = r"^(vid\d+)_"


def build(tmp_path, per_image_classes, *, files, data, splits, size=(96, 72)) -> Dataset:
    return build_dataset(tmp_path, per_image_classes, files=files, data=data, splits=splits, size=size)


def records_of(out: Path) -> dict[str, list[bytes]]:
    """Serialized records per split, in shard order."""
    manifest = json.loads((out / "manifest.json").read_text())
    return {split: [data for shard in info["shards"] for data in read_records(out / shard["file"])]
            for split, info in manifest["splits"].items()}


def key(data: bytes) -> tuple[str, str]:
    ex = decode_example(data)
    return ex["sha256"], ex["filename"]


def split_of_files(out: Path) -> dict[str, str]:
    where: dict[str, set] = {}
    for split, records in records_of(out).items():
        for data in records:
            where.setdefault(key(data)[1], set()).add(split)
    assert all(len(s) == 1 for s in where.values()), "an image in two splits"
    return {f: next(iter(s)) for f, s in where.items()}


def digests(manifest: dict) -> list[list[str]]:
    return [[s["sha256"] for s in info["shards"]] for info in manifest["splits"].values()]


def opts(out, **kw) -> ConvertOptions:
    kw.setdefault("workers", 1)
    kw.setdefault("split", "train=0.7,val=0.3")
    kw.setdefault("group_by", GROUP_BY)
    return ConvertOptions(out=out, progress=False, overwrite=True, **kw)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """240 images, 5 classes (Zipf), 40 videos of 3 frames, byte-identical and
    near-duplicate copies, converted with its own splits (a 50/50 mix, nothing
    like the re-split) into 2 shards per split."""
    tmp_path = tmp_path_factory.mktemp("resplit")
    rng = np.random.default_rng(3)
    p = 1 / np.arange(1, 6) ** 1.2
    p /= p.sum()
    names = np.array(["ant", "bee", "cat", "dog", "eel"])
    per_image = [list(names[rng.choice(5, rng.integers(1, 5), p=p)]) for _ in range(240)]
    per_image[7] = []  # a negative example
    files = [f"vid{k // 3:03d}_f{k % 3}.jpg" if k < 120 else f"photo{k:04d}.jpg" for k in range(240)]
    data = [None] * 240
    for k in range(200, 210):  # byte-identical copies of 150..159
        data[k] = distinct_jpeg(k - 50)
        per_image[k] = list(per_image[k - 50])
    for k in range(210, 215):  # near-duplicates of 160..164
        data[k] = near_copy(k - 50)
    splits = ["train" if k % 2 else "val" for k in range(240)]
    ds = build(tmp_path, per_image, files=files, data=data, splits=splits)
    out = tmp_path / "out"
    convert(ds, ConvertOptions(out=out, workers=1, progress=False, num_shards=2))
    return ds, out, files, tmp_path


@pytest.fixture(scope="module")
def resplit_out(source):
    _, out, _, tmp_path = source
    new = tmp_path / "new"
    return new, resplit(out, opts(new, seed=5))


def test_every_record_is_copied_once_unchanged(source, resplit_out):
    _, out, _, _ = source
    new, result = resplit_out
    before = {key(d): d for records in records_of(out).values() for d in records}
    after = [d for records in records_of(new).values() for d in records]
    assert len(before) == 240
    counts = Counter(key(d) for d in after)
    assert counts == Counter(list(before)), "every example of OUT exactly once in NEW"
    assert all(before[key(d)] == d for d in after), "serialized bytes unchanged"
    m = result.manifest
    assert list(m["splits"]) == ["train", "val"]
    assert m["source"]["format"] == "records" and m["source"]["path"] == str(out)
    assert m["source"]["records"] == 240 and m["source"]["collapsed_copies"] == 0
    assert m["split"]["fractions"] == {"train": 0.7, "val": 0.3} and m["split"]["group_by"] == GROUP_BY
    assert m["counts"]["images_read"] == m["counts"]["images_written"] == 240
    assert (new / "label_map.pbtxt").read_bytes() == (out / "label_map.pbtxt").read_bytes()
    report = json.loads((new / "report.json").read_text())
    assert report["by_code"].get("image.byte_identical") == 10
    assert report["by_code"].get("image.near_duplicate", 0) >= 5
    assert not any(name.endswith(".partial") or name.startswith(".resplit") for name in
                   (p.name for p in new.iterdir()))


def test_manifest_matches_the_shards(resplit_out):
    new, result = resplit_out
    m = result.manifest
    assert m == json.loads((new / "manifest.json").read_text())
    for split, info in m["splits"].items():
        assert sum(s["examples"] for s in info["shards"]) == info["examples"]
        labels = [label for shard in info["shards"] for d in read_records(new / shard["file"])
                  for label in decode_example(d)["labels"]]
        assert info["boxes"] == len(labels)
        by_id = Counter(labels)
        assert {c: v["boxes"] for c, v in info["classes"].items()} == \
            {c: by_id.get(v["id"], 0) for c, v in info["classes"].items()}
        for shard in info["shards"]:
            assert (new / shard["file"]).stat().st_size == shard["bytes"]


def test_groups_never_straddle_splits(source, resplit_out):
    _, _, files, _ = source
    new, _ = resplit_out
    split = split_of_files(new)
    for v in range(40):  # frames of one video
        assert len({split[f"vid{v:03d}_f{i}.jpg"] for i in range(3)}) == 1
    for k in range(200, 215):  # identical and near-identical copies
        assert split[files[k]] == split[files[k - 50]], files[k]


def test_per_class_shares_are_stratified(resplit_out):
    _, result = resplit_out
    m = result.manifest
    classes = m["splits"]["train"]["classes"]
    total = {c: sum(m["splits"][s]["classes"][c]["boxes"] for s in m["splits"]) for c in classes}
    n = sum(total.values())
    for split, info in m["splits"].items():
        for c, v in info["classes"].items():
            if total[c] >= 50:
                assert abs(v["boxes"] / info["boxes"] - total[c] / n) <= 0.02 + 1e-9, (split, c)
    assert abs(m["splits"]["train"]["examples"] / 240 - 0.7) < 0.05


def test_resplit_is_deterministic(source, resplit_out, tmp_path):
    _, out, _, _ = source
    new, result = resplit_out
    again = resplit(out, opts(tmp_path / "again", seed=5))
    assert digests(again.manifest) == digests(result.manifest)
    assert [p.read_bytes() for p in again.shards] == [p.read_bytes() for p in result.shards]
    other = resplit(out, opts(tmp_path / "other", seed=6))
    assert digests(other.manifest) != digests(result.manifest)
    assert split_of_files(tmp_path / "other") != split_of_files(new)


def test_rebalance_adds_train_copies_only(source, resplit_out, tmp_path):
    _, out, _, _ = source
    _, plain = resplit_out
    bal = resplit(out, opts(tmp_path / "bal", seed=5, rebalance="images"))
    assert bal.manifest["splits"]["train"]["examples"] > plain.manifest["splits"]["train"]["examples"]
    assert bal.manifest["splits"]["val"]["examples"] == plain.manifest["splits"]["val"]["examples"]
    assert split_of_files(tmp_path / "bal") == split_of_files(plain.out)
    assert bal.manifest["rebalance"]["method"] == "repeat-factor-images"
    assert bal.report.counts.images_written == 240


def test_gzip_source_and_output(source, resplit_out, tmp_path):
    ds, _, _, _ = source
    gz = tmp_path / "gz"
    convert(ds, ConvertOptions(out=gz, workers=1, progress=False, num_shards=2, compression="gzip"))
    result = resplit(gz, opts(tmp_path / "new", seed=5))
    new, plain = resplit_out
    assert digests(result.manifest) == digests(plain.manifest)  # same split and order, uncompressed
    zipped = resplit(gz, opts(tmp_path / "new_gz", seed=5, compression="gzip", workers=2))
    assert zipped.manifest["compression"] == "GZIP"
    assert records_of(tmp_path / "new_gz") == records_of(new)
    assert not any(p.name.startswith(".") for p in (tmp_path / "new_gz").iterdir())


def test_rebalanced_source_is_deduplicated(source, tmp_path):
    ds, _, _, _ = source
    reb = tmp_path / "rebalanced"
    convert(ds, ConvertOptions(out=reb, workers=1, progress=False, rebalance="images", seed=2))
    before = records_of(reb)
    assert len(before["train"]) > len(set(map(key, before["train"])))  # the source holds copies
    result = resplit(reb, opts(tmp_path / "new", seed=5))
    after = [key(d) for records in records_of(tmp_path / "new").values() for d in records]
    assert len(after) == len(set(after)) == 240
    src = result.manifest["source"]
    assert src["records"] == len(before["train"]) + len(before["val"])
    assert src["collapsed_copies"] == src["records"] - 240 and src["rebalanced"] is True
    (line,) = [x for x in result.log if x.startswith("dedupe:")]
    assert "'train'" in line and f"{src['collapsed_copies']} of them repeated copies" in line
    assert result.report.by_code()["records.repeated_copies"] == 1


def test_options_are_checked(source, tmp_path):
    _, out, _, _ = source
    with pytest.raises(UsageError, match="needs --split"):
        resplit(out, ConvertOptions(out=tmp_path / "x", workers=1, progress=False))
    with pytest.raises(UsageError, match="source folder"):
        resplit(out, opts(out))
    with pytest.raises(UsageError, match="no manifest.json"):
        resplit(tmp_path, opts(tmp_path / "y"))
    with pytest.raises(UsageError, match="--label-map"):
        resplit(out, opts(tmp_path / "z", label_map=out / "label_map.pbtxt"))


# -- the command line ---------------------------------------------------------------

def split_cli(src: Path, new: Path, *extra: str) -> int:
    return main(["split", str(src), "--out", str(new), "--workers", "1", "--quiet", *extra])


def test_cli_exit_codes(source, tmp_path, capsys):
    _, out, _, _ = source
    new = tmp_path / "new"
    assert split_cli(out, new, "--split", "train=0.8,val=0.2", "--group-by", GROUP_BY, "--seed", "3") == 0
    stdout = capsys.readouterr().out
    assert f"Wrote {new} (re-split of {out}" in stdout and "240 distinct examples" in stdout
    manifest = json.loads((new / "manifest.json").read_text())
    assert manifest["split"]["seed"] == 3 and list(manifest["splits"]) == ["train", "val"]
    assert split_cli(out, tmp_path / "other") == 2  # no --split
    assert "needs --split" in capsys.readouterr().err
    assert split_cli(out, new, "--split", "train=0.8,val=0.2") == 2  # NEW exists
    assert "--overwrite" in capsys.readouterr().err
    assert split_cli(out, new, "--split", "train=0.8,val=0.2", "--overwrite", "--num-shards", "3") == 0
    manifest = json.loads((new / "manifest.json").read_text())
    assert [len(i["shards"]) for i in manifest["splits"].values()] == [3, 3]
    assert sorted(p.name for p in new.glob("*.tfrecord")) == sorted(
        s["file"] for i in manifest["splits"].values() for s in i["shards"])  # the old shards are gone
    assert split_cli(out, tmp_path / "bad", "--split", "train=0.8,val=0.3") == 2
    assert split_cli(out, tmp_path / "bad", "--split", "train=1", "--images", str(tmp_path)) == 2


def voc_source(root: Path, n: int = 40) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    rng = np.random.default_rng(1)
    for k in range(n):
        (root / "JPEGImages" / f"{k:03d}.jpg").write_bytes(distinct_jpeg(1000 + k))
        objects = "".join(
            f"<object><name>{['cat', 'dog', 'owl'][int(c)]}</name><bndbox><xmin>5</xmin><ymin>5</ymin>"
            f"<xmax>40</xmax><ymax>30</ymax></bndbox></object>" for c in rng.integers(0, 3, rng.integers(1, 4)))
        (root / "Annotations" / f"{k:03d}.xml").write_text(
            f"<annotation><filename>{k:03d}.jpg</filename><size><width>96</width><height>72</height></size>"
            f"{objects}</annotation>", encoding="utf-8")
    return root


def test_split_of_a_voc_source_equals_convert_with_split(tmp_path):
    root = voc_source(tmp_path / "voc")
    common = ["--split", "train=0.75,val=0.25", "--seed", "7", "--workers", "1", "--quiet"]
    assert main(["convert", "voc", str(root), "--out", str(tmp_path / "converted"), *common]) == 0
    assert main(["split", str(root), "--out", str(tmp_path / "split"), *common]) == 0
    converted = json.loads((tmp_path / "converted" / "manifest.json").read_text())
    split = json.loads((tmp_path / "split" / "manifest.json").read_text())
    assert digests(split) == digests(converted) and list(split["splits"]) == ["train", "val"]
    assert split["source"]["format"] == "voc"


def test_rebalance_drops_are_counted(source, resplit_out, tmp_path):
    _, out, _, _ = source
    _, plain = resplit_out
    negative_in_train = split_of_files(plain.out)["vid002_f1.jpg"] == "train"  # the one image without objects
    result = resplit(out, opts(tmp_path / "neg", seed=5, rebalance="images", negative_ratio=0))
    c = result.report.counts
    assert c.images_read == 240 and c.images_skipped == int(negative_in_train) == c.images_read - c.images_written
    assert result.report.by_code().get("balance.dropped", 0) == int(negative_in_train)
    assert ("vid002_f1.jpg" in split_of_files(tmp_path / "neg")) is not negative_in_train


# -- damaged or odd sources -----------------------------------------------------------

def handmade_output(out: Path, records: list[bytes], label_map: str) -> Path:
    """A dataprep output folder written by hand: one train shard holding ``records``."""
    from dataprep.records.framing import ShardWriter, frame

    out.mkdir()
    writer = ShardWriter(out / "train-00000-of-00001.tfrecord")
    for data in records:
        writer.write_framed(frame(data))
    info = writer.close()
    (out / "label_map.pbtxt").write_text(label_map, encoding="utf-8")
    manifest = {"label_map": "label_map.pbtxt", "splits": {"train": {
        "examples": len(records), "shards": [{"file": "train-00000-of-00001.tfrecord", **info}]}}}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def example(source_id: int, encoded: bytes, labels: list[int], name: str = "") -> bytes:
    from dataprep.records.example import ExampleData, encode_example

    n = len(labels)
    boxes = np.tile([0.1, 0.1, 0.5, 0.5], (n, 1))
    return encode_example(ExampleData(
        encoded=encoded, format="jpeg", height=72, width=96, filename=name or f"{source_id}.jpg",
        source_id=source_id, boxes=boxes, texts=["cat"] * n, labels=labels, difficult=[0] * n, truncated=[0] * n,
        is_crowd=[0] * n, area=[1.0] * n, view=[""] * n))


CAT_MAP = "item {\n  id: 1\n  name: 'cat'\n}\n"


def test_odd_records_are_findings(tmp_path):
    records = [example(k, distinct_jpeg(k), [1]) for k in range(1, 9)]
    records.append(example(1, distinct_jpeg(1), [1, 1]))  # same source_id and sha256, other boxes
    records.append(example(9, b"\xff\xd8\xff not a jpeg", [1]))
    src = handmade_output(tmp_path / "src", records, CAT_MAP)
    result = resplit(src, opts(tmp_path / "new", split="train=0.5,val=0.5", group_by=None))
    codes = result.report.by_code()
    assert codes["records.conflicting_copies"] == 1 and codes["records.repeated_copies"] == 1
    assert codes["image.undecodable"] == 1
    (bad,) = [f for f in result.report.findings if f.code == "image.undecodable"]
    assert bad.item == "9.jpg" and "record 9" in bad.detail
    copied = [d for records_ in records_of(tmp_path / "new").values() for d in records_]
    assert sorted(copied) == sorted(records[:8] + records[9:])  # the first of the two copies is kept

    manifest = json.loads((src / "manifest.json").read_text())
    manifest["splits"]["train"]["shards"][0]["examples"] = 11
    (src / "manifest.json").write_text(json.dumps(manifest))
    result = resplit(src, opts(tmp_path / "new", split="train=0.5,val=0.5", group_by=None))
    assert result.report.by_code()["records.count_mismatch"] == 1


def test_broken_sources_are_errors(tmp_path):
    from dataprep.errors import DataprepError

    src = handmade_output(tmp_path / "src", [example(1, distinct_jpeg(1), [1, 2])], CAT_MAP)
    with pytest.raises(DataprepError, match="class label 2 is not in the source's label map"):
        resplit(src, opts(tmp_path / "a", group_by=None))
    (src / "train-00000-of-00001.tfrecord").unlink()
    with pytest.raises(DataprepError, match="listed in .* but missing"):
        resplit(src, opts(tmp_path / "b", group_by=None))
    (src / "label_map.pbtxt").unlink()
    with pytest.raises(DataprepError, match="label_map.pbtxt: missing"):
        resplit(src, opts(tmp_path / "c", group_by=None))
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())  # nothing left behind
