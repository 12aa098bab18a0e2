"""Records read back with TensorFlow: dataprep.load_dataset, tf.data's own
CRC-checked reader (plain and GZIP), and the Model Garden / TF OD API decoders
when those packages are installed."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import dataprep  # noqa: E402
from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.formats import read_voc  # noqa: E402
from dataprep.records.example import decode_example  # noqa: E402
from dataprep.records.framing import read_records  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    generate_shapes_voc(root, 10, width=80, height=60, seed=5, negatives=0.2)
    ds = read_voc(root)
    plain = tmp_path_factory.mktemp("plain")
    gz = tmp_path_factory.mktemp("gz")
    convert(ds, ConvertOptions(out=plain, workers=1, progress=False, overwrite=True))
    convert(ds, ConvertOptions(out=gz, workers=1, progress=False, overwrite=True, compression="gzip", num_shards=2))
    return plain, gz


def _reference(out):
    return {ex["filename"]: ex for shard in sorted(out.glob("*.tfrecord")) for ex in map(decode_example, read_records(shard))}


@pytest.mark.parametrize("which", [0, 1])
def test_load_dataset_matches_the_records(outputs, which):
    out = outputs[which]
    ref = _reference(out)
    seen = 0
    for ex in dataprep.load_dataset(out):
        name = ex["filename"].numpy().decode()
        r = ref[name]
        assert ex["image"].dtype == tf.uint8
        assert tuple(ex["image"].shape) == (r["height"], r["width"], 3)
        np.testing.assert_array_equal(ex["boxes"].numpy(), r["boxes"])
        assert ex["boxes"].shape[-1] == 4
        assert ex["classes"].numpy().tolist() == r["labels"]
        assert [t.decode() for t in ex["texts"].numpy()] == r["texts"]
        assert ex["source_id"].numpy().decode() == r["source_id"]
        seen += 1
    assert seen == len(ref) == 10


def test_load_dataset_split_and_pattern(outputs):
    plain, _ = outputs
    n_train = sum(1 for _ in dataprep.load_dataset(plain, split="train"))
    n_val = sum(1 for _ in dataprep.load_dataset(plain, split="val"))
    assert n_train + n_val == 10 and n_val > 0
    assert sum(1 for _ in dataprep.load_dataset(str(plain / "val-*.tfrecord"))) == n_val
    with pytest.raises(dataprep.errors.UsageError, match="no split 'test'"):
        dataprep.load_dataset(plain, split="test")


def test_tensorflow_reads_and_crc_checks_the_files(outputs):
    plain, gz = outputs
    for out, compression in ((plain, ""), (gz, "GZIP")):
        files = sorted(str(p) for p in out.glob("*.tfrecord"))
        n = 0
        for serialized in tf.data.TFRecordDataset(files, compression_type=compression):
            ex = tf.train.Example.FromString(serialized.numpy())
            feats = ex.features.feature
            img = tf.io.decode_image(feats["image/encoded"].bytes_list.value[0], channels=3)
            assert img.shape[0] == feats["image/height"].int64_list.value[0]
            assert img.shape[1] == feats["image/width"].int64_list.value[0]
            labels = list(feats["image/object/class/label"].int64_list.value)
            assert all(v >= 1 for v in labels)
            n += 1
        assert n == 10


def test_parse_example_in_a_custom_pipeline(outputs):
    plain, _ = outputs
    files = sorted(str(p) for p in plain.glob("train-*.tfrecord"))
    ds = tf.data.TFRecordDataset(files).map(lambda s: dataprep.parse_example(s, decode_image=False))
    ex = next(iter(ds))
    assert ex["image"].dtype == tf.string and ex["boxes"].shape[1] == 4


def _load_model_garden_decoder(monkeypatch):
    """The Model Garden's TfExampleDecoder, loaded from its file: importing
    ``official.vision`` normally pulls in tensorflow_datasets and much more
    that the decoder does not use. Skips when tf-models-official is absent."""
    spec = importlib.util.find_spec("official")
    if spec is None or importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf-models-official (and tf_keras) not installed")
    base = Path(list(spec.submodule_search_locations)[0]) / "vision" / "dataloaders"
    for name in ("official", "official.vision", "official.vision.dataloaders"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    modules = {}
    for name in ("decoder", "tf_example_decoder"):
        full = f"official.vision.dataloaders.{name}"
        mspec = importlib.util.spec_from_file_location(full, base / f"{name}.py")
        mod = importlib.util.module_from_spec(mspec)
        monkeypatch.setitem(sys.modules, full, mod)
        setattr(sys.modules["official.vision.dataloaders"], name, mod)
        mspec.loader.exec_module(mod)
        modules[name] = mod
    return modules["tf_example_decoder"]


def test_model_garden_decoder(outputs, monkeypatch):
    decoder_mod = _load_model_garden_decoder(monkeypatch)
    plain, _ = outputs
    ref = _reference(plain)
    decoder = decoder_mod.TfExampleDecoder()
    for serialized in tf.data.TFRecordDataset(sorted(str(p) for p in plain.glob("*.tfrecord"))):
        d = decoder.decode(serialized)
        r = next(v for v in ref.values() if v["source_id"] == d["source_id"].numpy().decode())
        np.testing.assert_allclose(d["groundtruth_boxes"].numpy(), r["boxes"], atol=1e-7)
        assert d["groundtruth_classes"].numpy().tolist() == r["labels"]
        assert tuple(d["image"].shape[:2]) == (r["height"], r["width"])


def test_tf_od_api_decoder(outputs):
    decoder_mod = pytest.importorskip("object_detection.data_decoders.tf_example_decoder")
    plain, _ = outputs
    decoder = decoder_mod.TfExampleDecoder(label_map_proto_file=str(plain / "label_map.pbtxt"))
    ref = _reference(plain)
    for serialized in tf.data.TFRecordDataset(sorted(str(p) for p in plain.glob("*.tfrecord"))):
        d = decoder.decode(serialized)
        r = ref[d["filename"].numpy().decode()]
        assert d["groundtruth_classes"].numpy().tolist() == r["labels"]


def test_a_split_without_shards_is_a_clear_error(tmp_path):
    import json

    (tmp_path / "manifest.json").write_text(json.dumps({"splits": {"val": {"examples": 0, "shards": []}}}))
    with pytest.raises(dataprep.errors.UsageError, match="split 'val' has no shards"):
        dataprep.load_dataset(tmp_path, split="val")
