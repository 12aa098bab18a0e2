"""The one naming rule of record files and the RecordSet every command reads
records through: the table of names, and every command agreeing on it."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import distinct_jpeg
from dataprep.convert.resplit import resplit
from dataprep.convert import ConvertOptions, SplitOptions, convert
from dataprep.errors import UsageError
from dataprep.formats.tfrecord import read_tfrecord
from dataprep.records.example import ExampleData, encode_example, parse_features
from dataprep.records.inspect import inspect_output
from dataprep.records.naming import looks_like_records, shard_name, shard_of, split_of
from dataprep.records.recordset import RecordSet
from dataprep.records.framing import RecordError, frame, read_records, scan_records
from dataprep.stats import collect_records

#: file name -> split: the table of the README ("Which split a record file holds").
SPLITS = {
    "train-00000-of-00004.tfrecord": "train",
    "validation.tfrecord": "val",
    "val.record": "val",
    "coco_val.record-00003-of-00010": "val",
    "test.tfrecord-00001-of-00002": "test",
    "train.record.gz": "train",
    "holdout-00000-of-00001.tfrecord": "holdout",
    "validation-00000-of-00001.tfrecord.gz": "validation",
    "pets_eval.record": "val",
    "coco_train2017.tfrecord": "train",
    "TEST.tfrecord": "test",
    "dev.tfrec": "val",
    "trainval.record": "trainval",
    "mydata.tfrecord": "train",
    "data-00000-of-00002": "train",
}


@pytest.mark.parametrize("name, split", SPLITS.items())
def test_the_naming_rule(name, split):
    assert looks_like_records(name)
    assert split_of(name) == split


def test_shards_and_what_is_not_a_record_file():
    assert shard_of("coco_val.record-00003-of-00010") == (3, 10)
    assert shard_of("train-00000-of-00004.tfrecord") == (0, 4)
    assert shard_of("val.record") is None
    assert shard_name("val", 3, 10) == "val-00003-of-00010.tfrecord"
    assert split_of(shard_name("holdout", 0, 1)) == "holdout"  # our writer's names read back as written
    assert not any(looks_like_records(n) for n in ("label_map.pbtxt", "manifest.json", "a.jpg", "report.json"))


def _example(k: int) -> bytes:
    return encode_example(ExampleData(
        encoded=distinct_jpeg(k), format="jpeg", height=72, width=96, filename=f"img{k:03d}.jpg", source_id=k + 1,
        boxes=np.array([[0.1, 0.2, 0.5, 0.6]]), texts=["cat"], labels=[1], difficult=[0], truncated=[0],
        is_crowd=[0], area=[100.0], view=[""]))


@pytest.fixture(scope="module")
def named(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One folder with a file of each name of the table (one example each,
    GZIP where the name says so); returns it and image file name -> split."""
    folder = tmp_path_factory.mktemp("named")
    truth = {}
    for k, (name, split) in enumerate(SPLITS.items()):
        data = frame(_example(k))
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        truth[f"img{k:03d}.jpg"] = split
    return folder, truth


def test_every_command_reads_the_same_splits(named, tmp_path):
    """inspect, stats, convert tfrecord (and its output, re-split), export's
    reader and load_dataset: one split per file, the rule's."""
    folder, truth = named
    per_split = dict(Counter(truth.values()))
    files = RecordSet.find(folder).files
    assert {f.path.name: f.split for f in files} == SPLITS
    assert inspect_output(folder, previews=0, progress=False).per_split == per_split
    table = collect_records(folder)
    assert dict(zip(table.images["file"], table.images["split"].astype(str))) == truth
    ds = read_tfrecord(folder)
    assert dict(zip(ds.images["file"], ds.images["split"])) == truth
    out = tmp_path / "out"
    result = convert(ds, ConvertOptions(out=out, workers=1, progress=False))
    assert {s: info["examples"] for s, info in result.manifest["splits"].items()} == per_split
    # The output read back by its manifest and by a glob of its shards: the same splits.
    by_manifest = collect_records(out)
    by_glob = collect_records(str(out / "*.tfrecord"))
    assert dict(zip(by_manifest.images["file"], by_manifest.images["split"].astype(str))) == truth
    assert dict(zip(by_glob.images["file"], by_glob.images["split"].astype(str))) == truth
    re = resplit(out, SplitOptions(out=tmp_path / "re", split={"train": 0.5, "val": 0.5}, workers=1,
                                   progress=False))
    assert re.manifest["source"]["splits"] == per_split


def test_load_dataset_selects_the_same_files(named):
    pytest.importorskip("tensorflow")
    from dataprep.records.tfdata import load_dataset, record_files

    folder, truth = named
    for split in Counter(truth.values()):
        files, _ = record_files(folder, split)
        assert sorted(Path(f).name for f in files) == sorted(k for k, v in SPLITS.items() if v == split)
    # train mixes GZIP and plain files (TensorFlow reads each with its own compression)
    names = [ex["filename"].numpy().decode() for ex in load_dataset(folder, "train", decode_image=False)]
    assert sorted(names) == sorted(f for f, s in truth.items() if s == "train")


def test_a_manifest_names_the_splits_and_the_files(tmp_path, named):
    folder, truth = named
    ds = read_tfrecord(folder)
    out = tmp_path / "out"
    convert(ds, ConvertOptions(out=out, workers=1, progress=False))
    (out / "stray.tfrecord").write_bytes(frame(_example(99)))  # not in the manifest: not read
    records = RecordSet.find(out)
    assert records.manifest is not None and "stray.tfrecord" not in [f.name for f in records.files]
    assert RecordSet.find(out / "manifest.json").files == records.files
    assert records.select("val").splits == records.splits  # the manifest's splits, whatever is selected
    assert {f.split for f in records.select("val").files} == {"val"}
    assert records.label_map_path() == out / "label_map.pbtxt"
    with pytest.raises(UsageError, match=r"no split 'nope'; splits: "):
        records.select("nope")


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nowhere", "no such file or folder"),
    (lambda d: str(d / "none-*.tfrecord"), "no TFRecord files match .*: the pattern matches no files"),
    (lambda d: d, "no manifest.json and no TFRecord files"),
    (lambda d: [], "no TFRecord files match"),
])
def test_finding_nothing_is_a_usage_error_naming_what_was_given(tmp_path, make, message):
    with pytest.raises(UsageError, match=message):
        RecordSet.find(make(tmp_path))


def test_one_framing_reader_strict_or_tolerant(tmp_path):
    good = [frame(_example(k)) for k in range(3)]
    data = bytearray(b"".join(good))
    data[len(good[0]) + 20] ^= 0xFF  # inside the second record's data
    path = tmp_path / "a.tfrecord"
    path.write_bytes(bytes(data))
    tolerant = list(scan_records(path))
    assert [r.data is None for r in tolerant] == [False, True, False]
    assert tolerant[1].problem == f"data CRC mismatch in the record at byte {len(good[0])}"
    assert [r.offset for r in tolerant] == [0, len(good[0]), len(good[0]) + len(good[1])]
    with pytest.raises(RecordError, match=f"{path}: data CRC mismatch in the record at byte {len(good[0])}"):
        list(read_records(path))
    with pytest.raises(RecordError, match="data CRC mismatch"):
        list(scan_records(path, strict=True))


def test_the_parser_decodes_only_the_keys_asked_for():
    values, kinds = parse_features(_example(0), ("image/filename", "image/object/class/label", "absent"))
    assert values == {"image/filename": [b"img000.jpg"], "image/object/class/label": [1]}
    assert kinds == {"image/filename": "bytes_list", "image/object/class/label": "int64_list"}
