"""Issue 14 items that need TensorFlow: gzip detected per file by
load_dataset, corrupt records named by file, a train split without boxes
refused, the TensorFlow start-up noise kept quiet."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from test_reliability import make_records  # noqa: E402

from dataprep.errors import UsageError  # noqa: E402
from dataprep.records.tfdata import load_dataset, named_record_errors  # noqa: E402
from dataprep.records.framing import RecordError  # noqa: E402


def shards(out: Path) -> list[Path]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [out / s["file"] for info in manifest["splits"].values() for s in info["shards"]]


def test_load_dataset_detects_gzip_per_file(tmp_path):
    """(issue 14 item 8) gzip shards under a manifest that says
    compression: null are read, and so is a folder mixing both."""
    out = make_records(tmp_path, n=4, num_shards=2)
    files = shards(out)
    assert len(files) == 2
    files[0].write_bytes(gzip.compress(files[0].read_bytes()))  # one gzip, one plain; manifest says null
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["compression"] is None
    got = sorted(ex["filename"].numpy().decode() for ex in load_dataset(out, decode_image=False))
    assert got == [f"im{k}.jpg" for k in range(4)]
    files[1].write_bytes(gzip.compress(files[1].read_bytes()))  # both gzip
    assert len(list(load_dataset(out, decode_image=False))) == 4


def test_corrupt_record_is_named_by_file(tmp_path):
    """(issue 14 item 17) A flipped byte makes TensorFlow raise a DataLossError
    that names no file; the error we raise names the file and the offset."""
    out = make_records(tmp_path)
    (shard,) = shards(out)
    data = bytearray(shard.read_bytes())
    data[40] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(RecordError, match=f"{shard}: data CRC mismatch in the record at byte 0"):
        with named_record_errors(out, "train"):
            list(load_dataset(out, "train", decode_image=False))


def test_train_refuses_a_split_without_boxes(tmp_path):
    """(issue 14 item 6) Records whose train split has zero boxes (every box
    dropped) are refused before training, naming the split and the count."""
    from dataprep.train.config import TrainConfig
    from dataprep.train.trainer import train

    out = make_records(tmp_path)

    def no_boxes(m):
        for c in m["splits"]["train"]["classes"].values():
            c["boxes"] = 0

    path = out / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    no_boxes(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(UsageError, match="the 'train' split has 3 images but 0 boxes"):
        train(TrainConfig(backbone_weights="none", input_size=96), out, tmp_path / "run", log=lambda line: None)
    assert not (tmp_path / "run").exists()


def test_train_refuses_normalized_boxes_converted_as_pixels(tmp_path, capsys):
    """(issue 14 item 6) The case users meet: normalized CSV coordinates
    converted without --normalized drop every box; train then says so."""
    from conftest import make_jpeg

    from dataprep.cli import main

    (tmp_path / "images").mkdir()
    rows = []
    for k in range(3):
        (tmp_path / "images" / f"{k}.jpg").write_bytes(make_jpeg(64, 48, seed=k))
        rows.append(f"{k}.jpg,64,48,cat,0.1,0.1,0.5,0.5\n")
    csv = tmp_path / "a.csv"
    csv.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + "".join(rows), encoding="utf-8")
    assert main(["convert", "csv", str(csv), "--images", str(tmp_path / "images"), "--out", str(tmp_path / "rec"),
                 "-q", "-j", "1"]) == 0
    capsys.readouterr()
    code = main(["train", "--records", str(tmp_path / "rec"), "--out", str(tmp_path / "run"), "--backbone-weights",
                 "none", "--epochs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "'train' split has 3 images but 0 boxes" in err and "--normalized" in err


def test_tensorflow_start_up_noise_is_quiet_unless_debug(tmp_path):
    """("Also") The C++ start-up notices TensorFlow prints on import (cuda
    driver, cuInit, absl) are not shown by train/evaluate/export/predict."""
    code = ("import sys; from dataprep.cli import main; "
            f"sys.exit(main(['evaluate', {str(tmp_path / 'run')!r}, '--records', {str(tmp_path / 'none')!r}]))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no manifest.json" in lines[0], res.stderr


def test_predict_output_names_never_collide():
    """(issue 14 item 18) predict d1/x.jpg d2/x.jpg no longer writes both to x.png."""
    from dataprep.train.predict import output_names

    assert output_names([Path("d1/x.jpg"), Path("d2/x.jpg"), Path("y.jpg")]) == ["d1_x.png", "d2_x.png", "y.png"]
    assert output_names([Path("a/x.jpg"), Path("a/x.png"), Path("a/x.jpg")]) == ["x.png", "x-2.png", "x-3.png"]
    names = output_names([Path("p/q/x.jpg"), Path("p/r/x.jpg"), Path("x.jpg")])
    assert len(set(names)) == 3


def test_cmyk_jpeg_original_bytes_decode_to_rgb_in_tensorflow(tmp_path):
    """("Also": CMYK) A CMYK JPEG keeps its original bytes, and the record
    decodes to RGB in TensorFlow (as load_dataset and the TF OD API / Model
    Garden decoders do it) within a few levels of Pillow's conversion."""
    import io

    import numpy as np
    from PIL import Image

    from conftest import distinct_jpeg
    from test_reliability import examples, run, write_voc

    from dataprep.formats import read_voc

    root = write_voc(tmp_path / "voc", n=1)
    buf = io.BytesIO()
    Image.open(io.BytesIO(distinct_jpeg(3, (64, 48)))).convert("CMYK").save(buf, "JPEG", quality=95)
    (root / "JPEGImages" / "im0.jpg").write_bytes(buf.getvalue())
    result = run(read_voc(root), tmp_path / "out")
    (finding,) = [f for f in result.report.findings if f.code == "image.cmyk"]
    assert finding.action == "kept"
    (ex,) = examples(tmp_path / "out")
    assert ex["encoded"] == buf.getvalue()
    (parsed,) = list(load_dataset(tmp_path / "out"))
    pillow = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=float)
    assert np.abs(parsed["image"].numpy().astype(float) - pillow).mean() < 3
