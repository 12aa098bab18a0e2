"""Records other tools wrote, made here the way those tools make them, read
back into the dataset model, repaired, reported, and rewritten to the contract."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import distinct_jpeg, make_png
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import LabelMapError, UsageError
from dataprep.formats import read_coco, read_voc
from dataprep.formats.writers import export_annotations
from dataprep.formats.tfrecord import read_tfrecord
from dataprep.records.naming import split_of
from dataprep.formats.write import write_coco
from dataprep.label_map import LabelMap
from dataprep.records.example import decode_example
from dataprep.protos import Example
from dataprep.records.framing import frame, read_records, scan_records
from dataprep.synth import generate_shapes_voc


def foreign_example(encoded: bytes, *, filename="a.jpg", fmt=b"jpeg", size=(96, 72), boxes=(), texts=(),
                    labels=(), source_id=None, sha256=False, extra=None) -> bytes:
    """A ``generate_tfrecord.py``-style example: its keys, none of ours it lacks
    (no sha256 unless asked, source_id = the file name)."""
    ex = Example()
    f = ex.features.feature
    f["image/encoded"].bytes_list.value.append(encoded)
    f["image/format"].bytes_list.value.append(fmt)
    f["image/filename"].bytes_list.value.append(filename.encode())
    f["image/source_id"].bytes_list.value.append((source_id or filename).encode())
    f["image/width"].int64_list.value.append(size[0])
    f["image/height"].int64_list.value.append(size[1])
    if sha256:
        f["image/key/sha256"].bytes_list.value.append(hashlib.sha256(encoded).hexdigest().encode())
    for k, key in enumerate(("xmin", "ymin", "xmax", "ymax")):
        f[f"image/object/bbox/{key}"].float_list.value.extend([b[k] for b in boxes])
    f["image/object/class/text"].bytes_list.value.extend(t.encode() for t in texts)
    f["image/object/class/label"].int64_list.value.extend(labels)
    for key, values in (extra or {}).items():
        getattr(f[key], "int64_list" if isinstance(values[0], int) else "bytes_list").value.extend(values)
    return ex.SerializeToString()


def write_shard(path, examples, *, gzipped=False) -> bytes:
    data = b"".join(frame(e) for e in examples)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return data


BOX = [(0.1, 0.2, 0.5, 0.6)]  # xmin, ymin, xmax, ymax


def codes(findings):
    return sorted(f.code for f in findings)


@pytest.fixture
def foreign(tmp_path):
    """Every problem of the field in a few shards (see the module docstring)."""
    d = tmp_path / "rec"
    d.mkdir()
    ok = [foreign_example(distinct_jpeg(k), filename=f"img{k}.jpg", boxes=BOX, texts=["cat"], labels=[0])
          for k in range(4)]
    write_shard(d / "train.record-00000-of-00002", ok[:2])  # ids from 0, no sha256, source_id a name
    png = foreign_example(make_png(96, 72, seed=5), filename="shot.jpg", fmt=b"jpeg", boxes=BOX, texts=["dog"],
                          labels=[1])
    write_shard(d / "train.record-00001-of-00002", [png, ok[2]], gzipped=True)
    flipped = bytearray(write_shard(d / "val.record-00000-of-00001", [ok[3], foreign_example(
        distinct_jpeg(9), filename="img9.jpg", boxes=BOX, texts=["dog"], labels=[1])]))
    flipped[len(frame(ok[3])) + 40] ^= 0xFF  # a byte inside the second record's data
    (d / "val.record-00000-of-00001").write_bytes(bytes(flipped))
    last = write_shard(d / "test.record", [foreign_example(distinct_jpeg(11), filename="img11.jpg", boxes=BOX,
                                                           texts=["cat"], labels=[0]),
                                           foreign_example(distinct_jpeg(12), filename="img12.jpg")])
    (d / "test.record").write_bytes(last[:-30])  # the last record cut short
    return d


def test_foreign_records_convert_with_every_problem_reported(foreign, tmp_path):
    ds = read_tfrecord(str(foreign / "*.record*"))
    assert codes(ds.findings).count("record.corrupt") == 2
    assert codes(ds.findings).count("record.sha256_missing") == 6
    assert {"label.zero_id", "record.format_mismatch", "record.source_id_replaced"} <= set(codes(ds.findings))
    assert [(i.id, i.name) for i in ds.label_map] == [(1, "cat"), (2, "dog")]  # 0, 1 moved up
    assert dict(zip(ds.images["file"], ds.images["split"]))["img3.jpg"] == "val"

    result = convert(ds, ConvertOptions(out=tmp_path / "out", workers=1, progress=False))
    c = result.report.counts
    c.check()  # images read = written + skipped
    assert (c.images_read, c.images_written, c.images_skipped) == (8, 6, 2)
    assert (c.boxes_read, c.boxes_written) == (6, 6)
    written = {}
    for shard in sorted((tmp_path / "out").glob("*.tfrecord")):
        for data in read_records(shard):
            ex = decode_example(data)
            written[ex["filename"]] = ex
    assert sorted(written) == ["img0.jpg", "img1.jpg", "img11.jpg", "img2.jpg", "img3.jpg", "shot.jpg"]
    assert written["shot.jpg"]["format"] == "png"
    assert all(ex["sha256"] == hashlib.sha256(ex["encoded"]).hexdigest() for ex in written.values())
    assert written["img0.jpg"]["labels"] == [1] and written["shot.jpg"]["labels"] == [2]
    np.testing.assert_allclose(written["img0.jpg"]["boxes"], [[0.2, 0.1, 0.6, 0.5]], atol=1e-7)
    assert all(ex["source_id"].isdigit() for ex in written.values())
    assert written["img0.jpg"]["encoded"] == distinct_jpeg(0)  # bytes as they were


def test_a_flipped_byte_skips_one_record_and_the_rest_is_read(tmp_path):
    recs = [foreign_example(distinct_jpeg(k), filename=f"{k}.jpg") for k in range(3)]
    data = bytearray(b"".join(frame(r) for r in recs))
    data[3] ^= 0x01  # inside the first record's length: the scan must find the next header
    (tmp_path / "a.tfrecord").write_bytes(bytes(data))
    scanned = list(scan_records(tmp_path / "a.tfrecord"))
    assert [r.data is None for r in scanned] == [True, False, False]
    assert "length CRC mismatch at byte 0; skipped to the next valid record at byte" in scanned[0].problem
    assert [decode_example(r.data)["filename"] for r in scanned[1:]] == ["1.jpg", "2.jpg"]


def test_a_cut_gzip_stream_and_a_huge_length_are_findings(tmp_path):
    good = frame(foreign_example(distinct_jpeg(0)))
    (tmp_path / "cut.tfrecord.gz").write_bytes(gzip.compress(good * 2)[:-40])
    cut = list(scan_records(tmp_path / "cut.tfrecord.gz"))
    assert cut[-1].fatal and "GZIP" in cut[-1].problem
    # A valid-CRC length far beyond the file: refused, never allocated.
    huge = bytearray(frame(b"x"))
    huge[:8] = (1 << 40).to_bytes(8, "little")
    from dataprep.records.framing import masked_crc

    huge[8:12] = masked_crc(bytes(huge[:8])).to_bytes(4, "little")
    (tmp_path / "huge.tfrecord").write_bytes(good + bytes(huge))
    scanned = list(scan_records(tmp_path / "huge.tfrecord"))
    assert scanned[0].data is not None and "runs past the end of the file" in scanned[1].problem


def test_an_unparseable_example_is_corrupt(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [b"\xff\xff\xff garbage", foreign_example(distinct_jpeg(1))])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    bad = [f for f in ds.findings if f.code == "record.corrupt"]
    assert len(bad) == 1 and "not a tf.train.Example" in bad[0].detail and bad[0].item == "a.tfrecord record 0"
    assert (ds.images["error"] != "").sum() == 1


def test_text_and_label_that_disagree_are_refused_without_a_label_map(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [
        foreign_example(distinct_jpeg(0), filename="a.jpg", boxes=BOX, texts=["cat"], labels=[1]),
        foreign_example(distinct_jpeg(1), filename="b.jpg", boxes=BOX, texts=["cat"], labels=[2]),
    ])
    with pytest.raises(LabelMapError, match=r"text 'cat' has several labels .*a.tfrecord record 0: 'cat' = 1"):
        read_tfrecord(tmp_path / "a.tfrecord")
    lm = tmp_path / "lm.pbtxt"
    lm.write_text("item { id: 3 name: 'cat' }\nitem { id: 4 name: 'n02' display_name: 'dog' }\n")
    ds = read_tfrecord(tmp_path / "a.tfrecord", label_map=lm)
    assert codes(ds.findings).count("record.label_mismatch") == 2
    assert ds.objects["text"].tolist() == ["cat", "cat"]


def test_a_label_map_maps_display_names_and_label_only_records(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [
        foreign_example(distinct_jpeg(0), filename="a.jpg", boxes=BOX * 2, texts=["dog", "bird"], labels=[4, 9]),
        foreign_example(distinct_jpeg(1), filename="b.jpg", boxes=BOX * 2, labels=[3, 7]),
    ])
    lm = LabelMap.from_pbtxt_string("item { id: 3 name: 'cat' }\nitem { id: 4 name: 'n02' display_name: 'dog' }\n")
    ds = read_tfrecord(tmp_path / "a.tfrecord", label_map=lm)
    assert ds.objects["text"].tolist() == ["n02", "bird", "cat", ""]
    assert codes(ds.findings) == ["record.label_unknown", "record.sha256_missing", "record.sha256_missing",
                                  "record.source_id_replaced"]
    result = convert(ds, ConvertOptions(out=tmp_path / "out", label_map=None, workers=1, progress=False))
    result.report.counts.check()
    assert result.report.counts.boxes_written == 2  # bird (not in the map) and id 7 are dropped with findings


def test_labels_only_without_a_label_map_are_named(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [foreign_example(distinct_jpeg(0), boxes=BOX * 2, labels=[2, 5])])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    assert [(i.id, i.name) for i in ds.label_map] == [(2, "class_2"), (5, "class_5")]
    assert "record.text_missing" in codes(ds.findings)


def test_size_filename_and_ragged_lists_are_repaired(tmp_path):
    jpeg = distinct_jpeg(0)  # 96 x 72
    write_shard(tmp_path / "a.tfrecord", [
        foreign_example(jpeg, filename="../escape.jpg", size=(640, 480), boxes=BOX, texts=["cat"], labels=[1]),
        foreign_example(distinct_jpeg(1), filename="same.jpg", boxes=BOX * 2, texts=["cat"], labels=[1],
                        sha256=True),
        foreign_example(distinct_jpeg(2), filename="same.jpg", source_id="5",
                        extra={"image/key/sha256": [b"0" * 64]}),
        foreign_example(distinct_jpeg(3), filename=""),
    ])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    assert codes(ds.findings) == ["record.filename_replaced"] * 3 + ["record.ragged", "record.sha256_mismatch"] \
        + ["record.sha256_missing"] * 2 + ["record.size_mismatch", "record.source_id_replaced"]
    assert sorted(ds.images["file"]) == ["escape-000001.jpg", "image-000004.jpg", "same-000003.jpg", "same.jpg"]
    assert ds.images.set_index("file").loc["escape-000001.jpg", ["width", "height"]].tolist() == [96, 72]
    assert ds.dropped_boxes == 1


def test_source_ids_are_kept_when_they_are_distinct_integers(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [foreign_example(distinct_jpeg(k), filename=f"{k}.jpg", source_id=str(100 + k),
                                                          boxes=BOX * k, texts=["cat"] * k, labels=[1] * k)
                                          for k in range(2)])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    assert ds.images["image_id"].tolist() == [100, 101]
    assert ds.objects["image_id"].tolist() == [101]  # the box follows its image


def test_splits_come_from_the_shard_names():
    assert [split_of(n) for n in ("train-00000-of-00004.tfrecord", "coco_val.record-00001-of-00010",
                                  "pets_eval.record", "x.tfrecord", "TEST.tfrecord")] == \
        ["train", "val", "val", "train", "test"]


def test_no_files_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no TFRecord files match"):
        read_tfrecord(str(tmp_path / "*.tfrecord"))


def test_images_are_read_from_the_records_and_a_gzip_spool_goes_with_the_dataset(tmp_path):
    """No image is copied out of an uncompressed file: the store reads each
    one's bytes at its place in the record file. A GZIP file's images go to one
    spool file in a temporary folder that is removed with the dataset."""
    images = [distinct_jpeg(k) for k in range(3)]
    write_shard(tmp_path / "a.tfrecord", [foreign_example(images[0], filename="a.jpg"),
                                          foreign_example(images[1], filename="sub/b.jpg")])
    write_shard(tmp_path / "c.tfrecord.gz", [foreign_example(images[2], filename="c.jpg")], gzipped=True)
    ds = read_tfrecord(tmp_path)
    stage = ds.images_root
    store = ds.image_store
    assert [store.read_name(n) for n in ("a.jpg", "sub/b.jpg", "c.jpg")] == images
    assert store.files[:1] == [str(tmp_path / "a.tfrecord")]  # read in place
    assert store.sizes(stage, ["a.jpg", "c.jpg", "nope.jpg"]) == [len(images[0]), len(images[2]), 0]
    assert store.read(f"{stage}/sub/b.jpg") == images[1]  # the Job.store protocol: root/name
    with pytest.raises(FileNotFoundError):
        store.read_name("nope.jpg")
    assert sorted(p.name for p in stage.iterdir()) == [".gzip-images.spool"]  # no file per image
    import pickle

    assert pickle.loads(pickle.dumps(store)).read_name("c.jpg") == images[2]  # Beam and spawned workers
    del ds, store
    import gc

    gc.collect()
    assert not stage.exists()


def test_images_staged_in_a_folder_when_asked(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [foreign_example(distinct_jpeg(0))])
    ds = read_tfrecord(tmp_path / "a.tfrecord", images_dir=tmp_path / "stage")
    assert ds.image_store is None and (tmp_path / "stage" / "a.jpg").read_bytes() == distinct_jpeg(0)


# -- round trips: source -> records -> source ------------------------------------------

@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    generate_shapes_voc(root, 10, width=120, height=90, seed=7, splits={"train": 0.7, "val": 0.3}, negatives=0.2)
    return root


def _records(ds, out):
    convert(ds, ConvertOptions(out=out, workers=1, progress=False)).report.counts.check()
    return read_tfrecord(out)


def _boxes(ds):
    sizes = ds.images.set_index("image_id")[["width", "height"]]
    t = ds.objects.merge(ds.images[["image_id", "file"]])
    b = t[["xmin", "ymin", "xmax", "ymax"]].to_numpy(np.float64)
    if ds.box_units == "pixel":  # compare in normalized units
        s = sizes.reindex(t["image_id"]).to_numpy(np.float64)
        b = b / np.concatenate([s, s], axis=1)
    t[["xmin", "ymin", "xmax", "ymax"]] = b
    t["name"] = t["file"].str.rsplit("/", n=1).str[-1]
    return t.sort_values(["name", "text", "xmin", "ymin"]).reset_index(drop=True)


def _same(a, b):
    assert a[["name", "text"]].values.tolist() == b[["name", "text"]].values.tolist()
    cols = ["xmin", "ymin", "xmax", "ymax"]
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), atol=1e-6, rtol=0)


def test_round_trip_voc_records_voc(shapes, tmp_path):
    src = read_voc(shapes)
    export_annotations(_records(src, tmp_path / "rec"), tmp_path / "voc", "voc")
    again = read_voc(tmp_path / "voc")
    _same(_boxes(src), _boxes(again))
    assert dict(zip(src.images["file"], src.images["split"])) == dict(zip(again.images["file"], again.images["split"]))
    xml = next((tmp_path / "voc" / "Annotations").glob("*.xml")).read_text()
    assert "<xmin>" in xml and "." not in xml.split("<xmin>")[1].split("<")[0]  # integers stay integers


def test_round_trip_coco_records_coco(shapes, tmp_path):
    coco = write_coco(read_voc(shapes), tmp_path / "instances.json")
    src = read_coco(coco, images=shapes / "JPEGImages")
    export_annotations(_records(src, tmp_path / "rec"), tmp_path / "coco", "coco")
    parts = [read_coco(p, images=tmp_path / "coco" / "images")
             for p in sorted((tmp_path / "coco" / "annotations").glob("instances_*.json"))]
    assert len(parts) == 1  # the COCO source had one split
    _same(_boxes(src), _boxes(parts[0]))
    assert sorted(parts[0].images["image_id"]) == sorted(src.images["image_id"])  # COCO ids survive


def test_exported_images_are_the_recorded_bytes(shapes, tmp_path):
    rec = _records(read_voc(shapes), tmp_path / "rec")
    export_annotations(rec, tmp_path / "yolo", "yolo")
    for shard in (tmp_path / "rec").glob("*.tfrecord"):
        for data in read_records(shard):
            ex = decode_example(data)
            split = shard.name.split("-")[0]
            assert (tmp_path / "yolo" / "images" / split / ex["filename"]).read_bytes() == ex["encoded"]
    with Image.open(io.BytesIO(ex["encoded"])) as im:
        assert im.size == (120, 90)


ODAPI = Path("/work/odapi-venv/bin/python")


@pytest.mark.skipif(not ODAPI.exists(), reason="the genuine TF OD API venv is not on this machine")
def test_decoder_view_matches_the_genuine_tf_od_api_decoder(tmp_path):
    """inspect's decoder view is what object_detection's TfExampleDecoder yields."""
    import json
    import os
    import subprocess

    from dataprep.records.inspect import decoder_classes

    lm_text = "item { id: 1 name: 'cat' }\nitem { id: 2 name: 'n02' display_name: 'dog' }\n"
    (tmp_path / "lm.pbtxt").write_text(lm_text)
    examples = [
        foreign_example(distinct_jpeg(0), boxes=BOX * 3, texts=["cat", "bird", "dog"], labels=[1, 7, 2]),
        foreign_example(distinct_jpeg(1), boxes=BOX * 2, labels=[2, 9]),  # no text: the labels
    ]
    for k, e in enumerate(examples):
        (tmp_path / f"{k}.bin").write_bytes(e)
    script = (
        # The decoder's own handlers, asked for the classes only. tf_slim calls
        # control_flow_ops.cond/case, which this TensorFlow moved to tf.cond/case.
        "import json, sys, tensorflow as tf\n"
        "from tensorflow.python.ops import control_flow_ops\n"
        "control_flow_ops.cond, control_flow_ops.case = tf.cond, tf.case\n"
        "from object_detection.data_decoders.tf_example_decoder import TfExampleDecoder, slim_example_decoder\n"
        "from object_detection.core.standard_fields import InputDataFields as F\n"
        "out = {}\n"
        "for lm in (sys.argv[1], None):\n"
        "    dec = TfExampleDecoder(label_map_proto_file=lm)\n"
        "    slim = slim_example_decoder.TFExampleDecoder(dec.keys_to_features, dec.items_to_handlers)\n"
        "    out[str(lm)] = [slim.decode(tf.constant(open(p, 'rb').read()), items=[F.groundtruth_classes])[0]\n"
        "                    .numpy().tolist() for p in sys.argv[2:]]\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(ODAPI), "-c", script, str(tmp_path / "lm.pbtxt"),
                           *(str(tmp_path / f"{k}.bin") for k in range(len(examples)))],
                          capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        pytest.skip(f"the TF OD API did not run here: {done.stderr[-300:]}")
    genuine = json.loads(done.stdout.strip().splitlines()[-1])
    lm = LabelMap.from_pbtxt_string(lm_text)
    ours = [decoder_classes(decode_example(e), lm) for e in examples]
    assert ours == [[1, -1, 2], [2, 9]]
    assert genuine[str(tmp_path / "lm.pbtxt")] == ours
    assert genuine["None"] == [decoder_classes(decode_example(e), None) for e in examples]


def test_a_rebalanced_output_exports_each_image_once(tmp_path):
    from conftest import build_dataset

    ds = build_dataset(tmp_path, [["cat"]] * 8 + [["dog"]])
    out = tmp_path / "out"
    result = convert(ds, ConvertOptions(out=out, workers=1, progress=False, rebalance="images",
                                        repeat_threshold=0.5))
    assert result.manifest["splits"]["train"]["examples"] > 9  # the dog image is repeated
    back = read_tfrecord(out)
    repeats = [f for f in back.findings if f.code == "record.repeat"]
    assert len(repeats) == result.manifest["splits"]["train"]["examples"] - 9
    assert (back.images["error"] == "").sum() == 9
    export_annotations(back, tmp_path / "yolo", "yolo")
    assert len(list((tmp_path / "yolo" / "images" / "train").iterdir())) == 9


def test_dataprep_shard_names_give_their_split():
    assert split_of("holdout-00000-of-00001.tfrecord") == "holdout"
    assert split_of("pets_eval-00000-of-00010.tfrecord") == "val"


def test_a_feature_of_the_wrong_type_makes_the_record_corrupt(tmp_path):
    bad = Example.FromString(foreign_example(distinct_jpeg(0), boxes=BOX, texts=["cat"], labels=[1]))
    del bad.features.feature["image/object/class/label"]
    bad.features.feature["image/object/class/label"].bytes_list.value.append(b"cat")
    write_shard(tmp_path / "a.tfrecord", [bad.SerializeToString(), foreign_example(distinct_jpeg(1), filename="b.jpg")])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    (f,) = [f for f in ds.findings if f.code == "record.corrupt"]
    assert "image/object/class/label is bytes_list, expected int64_list" in f.detail
    assert ds.images.loc[ds.images["error"] == "", "file"].tolist() == ["b.jpg"]


_THREE = b"".join(frame(foreign_example(distinct_jpeg(k), filename=f"{k}.jpg", boxes=BOX, texts=["cat"], labels=[1]))
                  for k in range(3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, len(_THREE) - 1), st.integers(1, 255)), max_size=4),
       cut=st.integers(0, len(_THREE)), gzipped=st.booleans())
def test_damaged_files_never_raise_and_every_record_is_accounted_for(tmp_path, flips, cut, gzipped):
    data = bytearray(_THREE)
    for pos, mask in flips:
        data[pos] ^= mask
    data = bytes(data[:cut])
    path = tmp_path / "damaged.tfrecord"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    scanned = list(scan_records(path))
    intact = [r for r in scanned if r.data is not None]
    assert len(intact) <= 3 and all(r.data in _THREE for r in intact)
    if not flips and cut == len(_THREE):
        assert len(intact) == 3 and len(scanned) == 3
    ds = read_tfrecord(path)
    assert len(ds.images) == len(scanned)
    assert (ds.images["error"] == "").sum() <= len(intact)


def test_exif_rotated_image_with_the_upright_size_is_rotated_not_a_size_mismatch(tmp_path):
    """The record states the upright size of a JPEG stored sideways (EXIF 6): the
    image check bakes the rotation in, as for any source."""
    im = Image.open(io.BytesIO(distinct_jpeg(0)))  # stored 96 x 72
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    write_shard(tmp_path / "a.tfrecord", [foreign_example(buf.getvalue(), size=(72, 96), boxes=BOX, texts=["cat"],
                                                          labels=[1])])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    assert "record.size_mismatch" not in codes(ds.findings)
    result = convert(ds, ConvertOptions(out=tmp_path / "out", workers=1, progress=False))
    assert "image.exif_rotated" in [f.code for f in result.report.findings]
    (shard,) = (tmp_path / "out").glob("*.tfrecord")
    ex = decode_example(next(iter(read_records(shard))))
    assert (ex["width"], ex["height"]) == (72, 96)


def test_text_only_records_get_ids_from_1_in_name_order(tmp_path):
    write_shard(tmp_path / "a.tfrecord", [foreign_example(distinct_jpeg(0), boxes=BOX * 2, texts=["zebra", "ant"])])
    ds = read_tfrecord(tmp_path / "a.tfrecord")
    assert [(i.id, i.name) for i in ds.label_map] == [(1, "ant"), (2, "zebra")]
