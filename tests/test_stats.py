"""``dataprep stats``: tables from records and from sources, the statistics,
the terminal report, --json, --plots, errors and exit codes, no TensorFlow."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import make_jpeg
from dataprep.cli import main
from dataprep.convert import ConvertOptions, convert
from dataprep.errors import UsageError
from dataprep.formats.voc import read_voc
from dataprep.records.example import ExampleData, encode_example
from dataprep.records.framing import RecordError, ShardWriter, frame
from dataprep.stats import collect, collect_records, describe, detect_format, format_summary, summarise
from dataprep.synth import generate_shapes_voc


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic VOC set (train/val) and its records."""
    base = tmp_path_factory.mktemp("shapes")
    voc = generate_shapes_voc(base / "voc", 16, width=96, height=72, seed=3)
    out = base / "records"
    convert(read_voc(voc), ConvertOptions(out=out, workers=1, progress=False))
    return Path(voc), out


def voc_xml(name: str, width: int, height: int, objects: list[tuple]) -> str:
    objs = "".join(
        f"<object><name>{c}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
        f"<ymax>{y1}</ymax></bndbox></object>" for c, x0, y0, x1, y1 in objects)
    return (f"<annotation><filename>{name}</filename><size><width>{width}</width><height>{height}</height>"
            f"</size>{objs}</annotation>")


@pytest.fixture
def tiny_voc(tmp_path) -> Path:
    """Two images by hand. VOC corners are 1-based inclusive: (1, 1, 10, 10) is 10 x 10 px.

    a.jpg 100 x 50: dog 10 x 10 (small), dog 40 x 40 (medium, 1600 px^2)
    b.jpg 200 x 100: cat 100 x 100 (large, 10000 px^2)
    """
    root = tmp_path / "tiny"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "JPEGImages" / "a.jpg").write_bytes(make_jpeg(100, 50))
    (root / "JPEGImages" / "b.jpg").write_bytes(make_jpeg(200, 100))
    (root / "Annotations" / "a.xml").write_text(
        voc_xml("a.jpg", 100, 50, [("dog", 1, 1, 10, 10), ("dog", 11, 1, 50, 40)]), encoding="utf-8")
    (root / "Annotations" / "b.xml").write_text(
        voc_xml("b.jpg", 200, 100, [("cat", 1, 1, 100, 100)]), encoding="utf-8")
    return root


def box_frame(table) -> pd.DataFrame:
    """One row per box (file, class, pixel corners), sorted, for comparisons."""
    w_img = table.images["width"].to_numpy()[table.image]
    h_img = table.images["height"].to_numpy()[table.image]
    b = table.boxes.astype(np.float64)
    df = pd.DataFrame({
        "file": table.images["file"].to_numpy()[table.image],
        "split": table.images["split"].astype(str).to_numpy()[table.image],
        "class": np.asarray(table.class_names, dtype=object)[table.label],
        "x0": b[:, 1] * w_img, "y0": b[:, 0] * h_img, "x1": b[:, 3] * w_img, "y1": b[:, 2] * h_img,
    })
    return df.sort_values(["file", "x0", "y0", "x1", "y1"]).reset_index(drop=True)


# ------------------------------------------------------------ records == source
def test_records_and_source_give_the_same_statistics(shapes):
    voc, records = shapes
    from_src, from_rec = collect(voc), collect(records)
    assert from_rec.source["kind"] == "records" and from_src.source["kind"] == "voc"
    assert from_src.class_names == from_rec.class_names == ["circle", "square", "triangle"]
    assert from_src.split_names == from_rec.split_names == ["train", "val"]
    assert from_src.num_images == from_rec.num_images == 16
    assert from_src.num_boxes == from_rec.num_boxes > 16

    a, b = box_frame(from_src), box_frame(from_rec)
    assert a[["file", "split", "class"]].equals(b[["file", "split", "class"]])
    np.testing.assert_allclose(a[["x0", "y0", "x1", "y1"]], b[["x0", "y0", "x1", "y1"]], atol=1e-3)

    s_src, s_rec = summarise(from_src), summarise(from_rec)
    for split in ("train", "val"):
        for name in from_src.class_names:
            c_src = s_src["by_split"][split]["classes"].get(name, {})
            c_rec = s_rec["by_split"][split]["classes"].get(name, {})
            assert (c_src.get("images"), c_src.get("boxes")) == (c_rec.get("images"), c_rec.get("boxes"))
    for key in ("width_px", "height_px", "area_px", "aspect_ratio"):
        for p in ("p5", "p50", "p95"):
            assert s_src["overall"]["box"][key][p] == pytest.approx(s_rec["overall"]["box"][key][p], abs=1e-2)
    # the manifest's per-class counts agree too
    manifest = json.loads((records / "manifest.json").read_text(encoding="utf-8"))
    for split, info in manifest["splits"].items():
        for name, counts in info["classes"].items():
            got = s_rec["by_split"][split]["classes"].get(name, {"images": 0, "boxes": 0})
            assert (got["images"], got["boxes"]) == (counts["images"], counts["boxes"])


def test_records_folder_without_manifest_glob_and_gzip(shapes, tmp_path):
    _, records = shapes
    reference = summarise(collect(records))
    bare = tmp_path / "bare"
    bare.mkdir()
    for p in records.glob("*.tfrecord"):
        shutil.copy(p, bare / p.name)
    for src in (bare, str(bare / "*.tfrecord")):
        s = summarise(collect(src))
        assert s["splits"] == ["train", "val"]  # from the shard names
        assert s["by_split"]["val"]["boxes"] == reference["by_split"]["val"]["boxes"]
        assert s["boxes"] == reference["boxes"]
    one = collect(next(bare.glob("val-*.tfrecord")))
    assert one.split_names == ["val"] and one.num_images == reference["by_split"]["val"]["images"]


def test_gzip_records(shapes, tmp_path):
    voc, records = shapes
    out = tmp_path / "gz"
    convert(read_voc(voc), ConvertOptions(out=out, workers=1, progress=False, compression="gzip"))
    assert summarise(collect(out))["overall"]["classes"] == summarise(collect(records))["overall"]["classes"]


def test_split_option(shapes):
    voc, records = shapes
    for src in (voc, records):
        table = collect(src, split="val")
        assert table.split_names == ["val"]
        assert set(table.images["split"].astype(str)) == {"val"}
        assert table.num_boxes == int(table.images["num_boxes"].sum())
    with pytest.raises(UsageError, match="'nope'.*train, val"):
        collect(records, split="nope")
    with pytest.raises(UsageError, match="'nope'"):
        collect(voc, split="nope")
    full = collect(records)
    assert full.select_split("val").num_boxes == collect(records, split="val").num_boxes


def write_label_only_records(path: Path) -> None:
    """TF OD API-style records with class/label but no class/text, and no image/width."""
    png = Image.new("RGB", (40, 20))
    import io

    buf = io.BytesIO()
    png.save(buf, "PNG")
    w = ShardWriter(path)
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    ex = ExampleData(encoded=buf.getvalue(), format="png", height=0, width=0, filename="x.png", source_id=1,
                     boxes=boxes, texts=[], labels=[1, 2], difficult=[0, 0], truncated=[0, 0], is_crowd=[0, 0],
                     area=[0.0, 0.0], view=["", ""])
    w.write_framed(frame(encode_example(ex)))
    w.close()


def test_records_without_text_or_size(tmp_path):
    path = tmp_path / "train.record"
    write_label_only_records(path)
    table = collect_records(path)
    assert table.class_names == ["id 1", "id 2"]
    (tmp_path / "label_map.pbtxt").write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n",
                                              encoding="utf-8")
    assert collect_records(path).class_names == ["cat", "dog"]  # names from the label map beside the records
    assert table.split_names == ["train"]
    # the size comes from the PNG header: 40 x 20
    assert table.images[["width", "height"]].to_numpy().tolist() == [[40.0, 20.0]]
    w, h = table.pixel_size()
    assert w.tolist() == [20.0, 20.0] and h.tolist() == [10.0, 10.0]


def test_corrupt_records_are_an_error_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(frame(b"\xff\xff\xff not a protobuf"))
    with pytest.raises(RecordError, match="bad.tfrecord: record 0 is not a tf.train.Example"):
        collect(bad)
    truncated = tmp_path / "cut.tfrecord"
    truncated.write_bytes(frame(b"abc")[:-2])
    assert main(["stats", str(truncated), "-q"]) == 1
    assert "cut.tfrecord" in capsys.readouterr().err


@pytest.mark.parametrize("name, split", [
    ("train-00000-of-00008.tfrecord", "train"),
    ("val-00003-of-00004.tfrecord.gz", "val"),
    ("coco_val.record-00003-of-00010", "val"),
    ("pets_train.record", "train"),
    ("data.tfrec", "train"),
])
def test_stats_names_splits_by_the_one_rule(tmp_path, name, split):
    write_label_only_records(tmp_path / name)
    assert collect_records(tmp_path / name).split_names == [split]


# ------------------------------------------------------------- hand-checked
def test_hand_checked_values(tiny_voc):
    table = collect(tiny_voc)
    s = summarise(table)
    assert (s["images"], s["boxes"], s["classes"], s["splits"]) == (2, 3, ["cat", "dog"], ["train"])
    o = s["overall"]
    assert o["classes"]["dog"]["images"] == 1 and o["classes"]["dog"]["boxes"] == 2
    assert o["classes"]["cat"]["images"] == 1 and o["classes"]["cat"]["boxes"] == 1
    assert o["classes"]["dog"]["share"] == pytest.approx(2 / 3)
    box = o["box"]
    # widths 10, 40, 100 px; linear percentiles: p50 = 40, p5 = 10 + 0.1 * 30 = 13
    assert (box["width_px"]["min"], box["width_px"]["p50"], box["width_px"]["max"]) == pytest.approx((10, 40, 100))
    assert box["width_px"]["p5"] == pytest.approx(13.0)
    assert box["height_px"]["p50"] == pytest.approx(40.0)
    # relative: 10/100, 40/100, 100/200; heights 10/50, 40/50, 100/100
    assert box["width_rel"]["p50"] == pytest.approx(0.4)
    assert box["height_rel"]["max"] == pytest.approx(1.0)
    assert box["area_px"]["p50"] == pytest.approx(1600.0)
    assert (box["aspect_ratio"]["min"], box["aspect_ratio"]["max"]) == pytest.approx((1.0, 1.0))
    assert o["size_buckets"] == {"small": 1, "medium": 1, "large": 1}
    assert o["classes"]["dog"]["size_buckets"] == {"small": 1, "medium": 1, "large": 0}
    assert o["boxes_per_image"]["mean"] == 1.5 and o["boxes_per_image"]["max"] == 2
    assert o["image_sizes"] == [{"width": 100.0, "height": 50.0, "images": 1},
                                {"width": 200.0, "height": 100.0, "images": 1}]
    assert o["images_without_boxes"] == 0
    text = "\n".join(format_summary(s))
    assert "2 images (train 2), 3 boxes, 2 classes" in text
    assert "small 1 (33.3%), medium 1 (33.3%), large 1 (33.3%)" in text


def test_coco_bucket_edges_are_in_original_pixels(tmp_path):
    """32 x 32 = 1024 px^2 is medium, 31 x 32 small; 96 x 96 large, 95 x 96 medium."""
    images = tmp_path / "img"
    images.mkdir()
    (images / "a.jpg").write_bytes(make_jpeg(300, 200))
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 300, "height": 200}],
            "categories": [{"id": 1, "name": "x"}],
            "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [0.5, 1.5, w, h], "iscrowd": 0}
                            for i, (w, h) in enumerate([(32, 32), (31, 32), (96, 96), (95, 96)])]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    s = summarise(collect(path, images=images))
    assert s["source"]["kind"] == "coco"
    assert s["overall"]["size_buckets"] == {"small": 1, "medium": 2, "large": 1}


def test_csv_normalized_without_sizes_reads_image_headers(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    (images / "a.jpg").write_bytes(make_jpeg(80, 40))
    (images / "b.jpg").write_bytes(make_jpeg(10, 10))
    csv = tmp_path / "boxes.csv"
    csv.write_text(textwrap.dedent("""\
        filename,width,height,class,xmin,ymin,xmax,ymax
        a.jpg,,,cell,0.25,0.5,0.75,1.0
        a.jpg,,,cell,0.5,0.5,0.4,0.9
        missing.jpg,,,cell,0.1,0.1,0.2,0.2
        b.jpg,,,,,,,
        """), encoding="utf-8")
    table = collect(csv, images=images, csv_normalized=True)
    assert table.num_images == 2  # missing.jpg has no size anywhere: left out, counted
    assert table.skipped_images == 1
    assert table.invalid_boxes == 1  # xmax < xmin
    w, h = table.pixel_size()
    assert w.tolist() == pytest.approx([40.0]) and h.tolist() == pytest.approx([20.0])
    s = summarise(table)
    assert s["overall"]["images_without_boxes"] == 1
    text = "\n".join(format_summary(s))
    assert "1 unusable images left out" in text and "1 invalid boxes" in text


def test_describe_of_nothing():
    d = describe(np.array([np.nan]))
    assert d["count"] == 0 and d["p50"] is None


def test_empty_dataset(tmp_path):
    root = tmp_path / "empty"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "JPEGImages" / "a.jpg").write_bytes(make_jpeg(20, 20))
    (root / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", 20, 20, []), encoding="utf-8")
    s = summarise(collect(root))
    assert s["boxes"] == 0 and s["overall"]["images_without_boxes"] == 1
    assert s["overall"]["box"]["width_px"]["p50"] is None
    assert format_summary(s)


# ---------------------------------------------------------------- detection
def test_detect_format(tmp_path, shapes, tiny_voc):
    voc, records = shapes
    assert detect_format(str(records)) == "records"
    assert detect_format(str(records / "manifest.json")) == "records"
    assert detect_format(str(next(records.glob("*.tfrecord")))) == "records"
    assert detect_format(str(records / "*.tfrecord")) == "records"
    assert detect_format(str(voc)) == "voc"
    devkit = tmp_path / "VOCdevkit"
    devkit.mkdir()
    shutil.copytree(tiny_voc, devkit / "VOC2012")
    assert detect_format(str(devkit)) == "voc"
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    (tmp_path / "a.csv").write_text("", encoding="utf-8")
    assert detect_format(str(tmp_path / "a.json")) == "coco"
    assert detect_format(str(tmp_path / "a.csv")) == "csv"
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(UsageError, match="notes.txt: unknown kind of file"):
        detect_format(str(tmp_path / "notes.txt"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="plain: cannot tell what this folder holds"):
        detect_format(str(tmp_path / "plain"))
    with pytest.raises(UsageError, match="no such file or folder"):
        detect_format(str(tmp_path / "nowhere"))


# -------------------------------------------------------------------- the CLI
def test_cli_prints_the_report(shapes, capsys):
    _, records = shapes
    assert main(["stats", str(records), "-q"]) == 0
    out = capsys.readouterr().out
    assert "16 images (train" in out
    assert "(all classes)" in out and "circle" in out
    assert "box size (all)" in out and "aspect w/h" in out
    assert "COCO size buckets" in out
    assert "anchors:" not in out


def test_cli_json(tiny_voc, tmp_path, capsys):
    path = tmp_path / "stats.json"
    assert main(["stats", str(tiny_voc), "--json", str(path), "-q"]) == 0
    assert f"wrote {path}" in capsys.readouterr().out

    def no_nan(name):
        raise AssertionError(f"{name} in strict JSON")

    doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_nan)
    assert doc["images"] == 2 and doc["boxes"] == 3
    assert doc["source"]["kind"] == "voc"
    assert doc["by_split"]["train"]["classes"]["dog"]["boxes"] == 2
    assert doc["overall"]["box"]["width_px"]["p50"] == pytest.approx(40.0)
    assert doc["overall"]["size_buckets"] == {"small": 1, "medium": 1, "large": 1}
    assert "anchors" not in doc


def test_cli_plots_are_valid_pngs(shapes, tmp_path, capsys):
    _, records = shapes
    plots = tmp_path / "plots"
    assert main(["stats", str(records), "--plots", str(plots), "-q"]) == 0
    assert "plots to" in capsys.readouterr().out
    names = {p.name for p in plots.iterdir()}
    expected = {"boxes_per_image.png", "image_sizes.png", "box_size_px.png", "box_size_rel.png",
                "aspect_ratio.png", "class_counts.png", "size_buckets.png", "wh_scatter.png",
                "wh_scatter_circle.png", "wh_scatter_square.png", "wh_scatter_triangle.png"}
    assert expected <= names
    for p in plots.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(p) as im:
            im.verify()


def test_cli_sources_need_images(tmp_path, capsys):
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    assert main(["stats", str(tmp_path / "a.json")]) == 2
    assert "needs --images" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("", encoding="utf-8")
    assert main(["stats", str(tmp_path / "a.csv")]) == 2
    assert "needs --images" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere"], "nowhere: no such file or folder"),
    (["{tmp}/nothing*.tfrecord"], "the pattern matches no files"),
    (["{voc}", "--format", "xml"], "--format must be one of"),
    (["{voc}", "--split", "test"], "--split 'test'"),
])
def test_cli_usage_errors(tmp_path, tiny_voc, capsys, args, message):
    argv = ["stats", *(a.format(tmp=tmp_path, voc=tiny_voc) for a in args), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_forced_format(tiny_voc, capsys):
    assert main(["stats", str(tiny_voc), "--format", "voc", "-q"]) == 0
    assert main(["stats", str(tiny_voc), "--format", "records", "-q"]) == 2
    assert "no manifest.json and no TFRecord files" in capsys.readouterr().err


# ----------------------------------------------------------- no TensorFlow
def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_importing_stats_does_not_import_tensorflow(tmp_path):
    code = ("import sys\n"
            "import dataprep.stats, dataprep.stats.collect, dataprep.stats.summary, dataprep.stats.anchor_analysis\n"
            "import dataprep.stats.plots, dataprep.cli, dataprep.cli.stats\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
            "print('ok')\n")
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_stats_command_on_a_source_runs_without_tensorflow(tiny_voc, tmp_path):
    code = textwrap.dedent(f"""\
        import sys
        from dataprep.cli import main
        rc = main(["stats", {str(tiny_voc)!r}, "--anchors", "--worst", "2", "-q"])
        assert 'tensorflow' not in sys.modules, 'tensorflow imported'
        sys.exit(rc)
        """)
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 images (train 2), 3 boxes" in r.stdout
    assert "anchors: 2034 at 320x320" in r.stdout  # DEFAULT_MODEL at DEFAULT_INPUT_SIZE


def test_no_nan_in_summary_numbers(tiny_voc):
    s = summarise(collect(tiny_voc))

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            assert math.isfinite(v)

    walk(s)


def test_broken_manifest_and_missing_shard(shapes, tmp_path, capsys):
    _, records = shapes
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"splits": 3}', encoding="utf-8")
    assert main(["stats", str(broken), "-q"]) == 2
    assert "not a dataprep manifest" in capsys.readouterr().err
    partial = tmp_path / "partial"
    shutil.copytree(records, partial)
    victim = next(partial.glob("val-*.tfrecord"))
    victim.unlink()
    assert main(["stats", str(partial), "-q"]) == 2
    assert f"{victim}: record file listed in the manifest is missing" in capsys.readouterr().err


def test_select_split_names_the_known_splits(shapes):
    _, records = shapes
    with pytest.raises(UsageError, match="no such split; the data has train, val"):
        collect(records).select_split("test")
