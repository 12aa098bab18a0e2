"""``export --tflite``: one subgraph with TFLite_Detection_PostProcess, the
standard output order and metadata, so MediaPipe Tasks' ObjectDetector loads
the file as it is and finds what our SavedModel finds; int8 calibrated on the
records; LiteRT runs the same file for ``evaluate``.

The model is the small TF OD API zoo fixture (tests/data/zoo/ssd_mobilenet_v2:
input 128, depth multiplier 0.25, random weights whose scores are spread, not
tied as those of a freshly initialised dataprep model); the image is its
fixed one, given at the model's input size, so no runtime resizes it and the
detections must match closely.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
mp = pytest.importorskip("mediapipe", reason="pip install 'dataprep[edge]'")


ZOO = Path(__file__).parent / "data" / "zoo"
SIZE = 128  # the zoo fixtures' input size


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc

    # shapes named and numbered as three of the zoo model's classes: evaluate compares label-map ids
    root = tmp_path_factory.mktemp("shapes")
    generate_shapes_voc(root / "voc", 12, width=SIZE, height=SIZE, seed=3, size_range=(0.3, 0.6),
                        splits={"train": 0.5, "val": 0.5}, classes=("person", "bicycle", "car"))
    convert(read_voc(root / "voc"), ConvertOptions(out=root / "records", workers=1, progress=False,
                                                   label_map=ZOO / "ssd_mobilenet_v2" / "label_map.pbtxt"))
    return root / "records"


@pytest.fixture(scope="module")
def exports(records, tmp_path_factory):
    """float32 and int8 exports of the zoo fixture (int8 calibrated on the shapes records)."""
    from dataprep.train.export import TFLiteOptions, export_init_from

    root = tmp_path_factory.mktemp("exports")
    # export_tflite_graph_tf2 writes the zoo's score threshold 1e-8 with "%f": 0.000000
    float_export = export_init_from(ZOO / "ssd_mobilenet_v2", root / "float", tflite=True,
                                    tflite_options=TFLiteOptions(score_threshold=0.0))
    int8 = export_init_from(ZOO / "ssd_mobilenet_v2", root / "int8", tflite=True, tflite_options=TFLiteOptions(
        quantize="int8", records=records, calibration_images=6, evaluate_split=None, score_threshold=0.0))
    return float_export, int8


def _image():
    return np.load(ZOO / "ssd_mobilenet_v2" / "outputs.npz")["image"][0]


def _mediapipe(path, image, max_results=5):
    """MediaPipe's detections (tests/mediapipe_oracle.py) as (name, score, [ymin, xmin, ymax, xmax] pixels)."""
    from mediapipe_oracle import mediapipe_detect

    return [(d.name, d.score, d.box[[1, 0, 3, 2]]) for d in mediapipe_detect(path, [image], max_results)[0]]


def _reference(export_dir, image, k):
    from dataprep.train.predict import SavedModelDetector

    detector = SavedModelDetector(export_dir)
    ref = detector.detect(image)
    names = dict(zip(detector.class_ids, detector.class_names))
    k = min(k, int(ref["num_detections"]))
    return [(names[int(c)], float(s), b * SIZE) for b, s, c in
            zip(ref["detection_boxes"][:k], ref["detection_scores"][:k], ref["detection_classes"][:k])]


def test_the_file_has_the_layout_runtimes_expect(exports):
    from dataprep.train.tflite_metadata import read_model

    m = read_model(exports[0].tflite.read_bytes())
    assert len(m.subgraphs) == 1
    codes = {(c.customCode or b"").decode() for c in m.operatorCodes}
    assert "TFLite_Detection_PostProcess" in codes
    graph = m.subgraphs[0]
    op = next(o for o in graph.operators if m.operatorCodes[o.opcodeIndex].customCode)
    assert list(graph.outputs) == list(op.outputs)  # boxes, classes, scores, count
    assert [e.name for e in m.metadata].count(b"TFLITE_METADATA") == 1


def _matches(detection, candidates, score_tol=1e-3, box_tol=0.01 * SIZE + 1):
    """``detection`` (name, score, box in pixels) is one of ``candidates``: same class, score, box
    within 1% of the image (+1 pixel: MediaPipe rounds boxes to pixels)."""
    name, score, box = detection
    return any(n == name and abs(s - score) <= score_tol and np.abs(b - box).max() <= box_tol
               for n, s, b in candidates)


def test_mediapipe_float_matches_the_saved_model(exports):
    # The file's default NMS is the op's fast one (top class per anchor, class-agnostic), the
    # SavedModel's per-class: the top detection is the same, and every other one is among its top ten.
    image = _image()
    got = _mediapipe(exports[0].tflite, image)
    want = _reference(exports[0].out, image, 10)
    assert len(got) >= 3
    assert _matches(got[0], want[:1]), (got[0], want[0])
    # Boxes touching the image border are left out: MediaPipe moves those (the next test)
    inside = [d for d in got[1:] if d[2].min() > 0 and d[2].max() < SIZE]
    for detection in inside:
        assert _matches(detection, want), (detection, want)


def _mediapipe_pixels(box, size):
    """MediaPipe's pixel box (x0, y0, x1, y1) of the op's normalised row (ymin, xmin, ymax, xmax):
    DetectionTransformationCalculator cuts the corner and the size separately, each
    ``clamp(int(v * size), 0, size)``, so a row over the left or top edge keeps its full size."""
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    x0, y0 = (min(max(int(v * size), 0), size) for v in (xmin, ymin))
    w, h = (min(max(int(v * size), 0), size) for v in (xmax - xmin, ymax - ymin))
    return np.array([x0, y0, x0 + w, y0 + h], float)


def test_mediapipe_moves_boxes_over_the_left_or_top_edge(exports):
    """Why a box touching the image border came back from MediaPipe 5 px off the SavedModel's: the
    op does not clip its rows (LiteRT's raw outputs), and MediaPipe turns corner and size into pixels
    separately. Every MediaPipe box is the op's row converted that way (1 px: float rounding at
    whole pixels), and the rows over the left or top edge come back moved against the clipped box."""
    from dataprep.train.litert import TFLiteDetector
    from mediapipe_oracle import mediapipe_detect

    image = _image()
    boxes, _, scores, count = TFLiteDetector(exports[0].tflite)._run(image.astype(np.float32))
    got = mediapipe_detect(exports[0].tflite, [image], 10)[0]
    assert len(got) == int(count) == 10
    moved = 0
    for d in got:
        k = int(np.argmin(np.abs(scores - d.score)))
        assert abs(scores[k] - d.score) < 1e-5
        np.testing.assert_allclose(d.box, _mediapipe_pixels(boxes[k], SIZE), atol=1)
        clipped = np.clip(boxes[k][[1, 0, 3, 2]], 0, 1) * SIZE
        if min(boxes[k][0], boxes[k][1]) * SIZE < -2:
            moved += 1
            assert np.abs(d.box - clipped).max() > 2  # more than the rounding: the part over the edge
    assert moved >= 1  # the fixture's image has such a box


def test_int8_is_full_integer_with_pixel_input_and_mediapipe_reads_it(exports):
    from dataprep.train.litert import TFLiteDetector
    from dataprep.train.tflite_metadata import read_model

    path = exports[1].tflite
    m = read_model(path.read_bytes())
    graph = m.subgraphs[0]
    tensor = graph.tensors[graph.inputs[0]]
    assert tensor.type == 3 and list(tensor.quantization.scale) == [1.0]  # UINT8, raw pixels
    assert list(tensor.quantization.zeroPoint) == [0]
    conv_inputs = {graph.tensors[o.inputs[0]].type for o in graph.operators
                   if m.operatorCodes[o.opcodeIndex].builtinCode == 3}  # CONV_2D
    assert conv_inputs == {9}  # INT8 activations
    assert path.stat().st_size < 0.4 * exports[0].tflite.stat().st_size
    image = _image()
    got = _mediapipe(path, image)
    ours = TFLiteDetector(path).detect(image)
    assert len(got) >= 1
    name, score, box = got[0]
    assert score == pytest.approx(float(ours["detection_scores"][0]), abs=1e-3)
    np.testing.assert_allclose(box, ours["detection_boxes"][0] * SIZE, atol=1.5)


def test_litert_runs_the_float_file_like_the_saved_model(exports):
    from dataprep.train.litert import TFLiteDetector

    image = _image()
    detector = TFLiteDetector(exports[0].tflite)
    ours = detector.detect(image)
    n = int(ours["num_detections"])
    names = dict(zip(detector.class_ids, detector.class_names))
    got = [(names[int(c)], float(s), b * SIZE) for b, s, c in
           zip(ours["detection_boxes"][:n], ours["detection_scores"][:n], ours["detection_classes"][:n])]
    want = _reference(exports[0].out, image, 10)
    assert n >= 3 and _matches(got[0], want[:1], box_tol=0.01)
    assert all(_matches(d, want, box_tol=0.01) for d in got)


@pytest.mark.parametrize("model", ["ssd_mobilenet_v2",
                                   # the larger network: in the slow run (the default run's time budget)
                                   pytest.param("ssd_mobilenet_v2_fpnlite", marks=pytest.mark.slow)])
def test_zoo_export_equals_the_tf_od_api_tflite(model, request, tmp_path):
    """``export --init-from ZOO --tflite`` against the TF OD API's own TFLite path
    (export_tflite_graph_tf2 + TFLiteConverter, run by tools/make_tflite_zoo_fixtures.py)
    on the fixture's image: the same boxes, classes, scores and count."""
    from dataprep.train.export import TFLiteOptions, export_init_from
    from dataprep.train.litert import TFLiteDetector

    want = np.load(ZOO / model / "tflite_outputs.npz")
    image = np.load(ZOO / model / "outputs.npz")["image"][0]
    if model == "ssd_mobilenet_v2":
        path = request.getfixturevalue("exports")[0].tflite  # the same export, converted once
    else:
        path = export_init_from(ZOO / model, tmp_path / "export", tflite=True,
                                tflite_options=TFLiteOptions(score_threshold=0.0)).tflite
    boxes, classes, scores, count = TFLiteDetector(path)._run(image.astype(np.float32))
    assert int(count) == int(want["count"][0]) == 10
    np.testing.assert_allclose(scores, want["scores"][0], atol=1e-3)
    np.testing.assert_allclose(boxes, want["boxes"][0], atol=1e-3)
    assert classes.tolist() == want["classes"][0].tolist()


def test_export_usage_errors(tmp_path, capsys):
    from dataprep.cli import main

    zoo = str(ZOO / "ssd_mobilenet_v2")
    assert main(["export", "--init-from", zoo, "--out", str(tmp_path / "a"), "--tflite", "--quantize", "int4"]) == 2
    assert "--quantize must be one of none, float16, dynamic, int8, got 'int4'" in capsys.readouterr().err
    assert main(["export", "--init-from", zoo, "--out", str(tmp_path / "a"), "--quantize", "int8"]) == 2
    assert "add --tflite" in capsys.readouterr().err
    assert main(["export", "--init-from", zoo, "--out", str(tmp_path / "a"), "--tflite", "--quantize", "int8"]) == 2
    assert "give --records" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def _write_voc(root: Path, images: dict, objects: dict) -> Path:
    """A VOC folder of PNG images (lossless: every decoder reads the same pixels) whose
    objects are given as (name, [x0, y0, x1, y1] continuous pixels): written 1-based inclusive."""
    from PIL import Image

    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for stem, image in images.items():
        Image.fromarray(image).save(root / "JPEGImages" / f"{stem}.png")
        h, w = image.shape[:2]
        xml = [f"<annotation><filename>{stem}.png</filename><size><width>{w}</width><height>{h}</height>"
               "<depth>3</depth></size>"]
        for name, (x0, y0, x1, y1) in objects[stem]:
            xml.append(f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0 + 1:.2f}</xmin>"
                       f"<ymin>{y0 + 1:.2f}</ymin><xmax>{x1:.2f}</xmax><ymax>{y1:.2f}</ymax></bndbox></object>")
        (root / "Annotations" / f"{stem}.xml").write_text("".join(xml) + "</annotation>")
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(images) + "\n")
    return root


def _ground_truth_from(detections, names: dict, size, rng):
    """Objects for one image made from the file's own detections (clipped corners, normalised),
    so that AP@0.5 lies well inside (0, 1) and is decided by clear cases: every third detection
    is a true object moved by up to 1 pixel (IoU far above 0.5), the next one has another class
    (a false positive and a missed object), the next none (a false positive); an object nobody
    found is added. Boxes touching the image border are left out (MediaPipe moves those, see
    tests/mediapipe_oracle.py), as are boxes under 12 pixels (a 1-pixel rounding matters there)."""
    objects = []
    boxes = detections["detection_boxes"][: int(detections["num_detections"])] * size
    classes = detections["detection_classes"][: int(detections["num_detections"])]
    for k, ((y0, x0, y1, x1), c) in enumerate(zip(boxes, classes)):
        if min(y0, x0) < 1 or max(y1, x1) > size - 1 or min(y1 - y0, x1 - x0) < 12:
            continue
        box = np.array([x0, y0, x1, y1]) + rng.uniform(-1, 1, 4)
        if k % 3 == 0:
            objects.append((names[int(c)], box.tolist()))
        elif k % 3 == 1:
            other = [n for i, n in names.items() if i != int(c)]
            objects.append((other[k % len(other)], box.tolist()))
    objects.append((next(iter(names.values())), [2.0, 2.0, 20.0, 30.0]))
    return objects


def test_evaluate_agrees_with_mediapipe_scored_by_pycocotools(exports, tmp_path):
    """``dataprep evaluate model.tflite`` (records, LiteRT, our COCO evaluation) against the same file
    through MediaPipe's ObjectDetector on the image files scored by pycocotools directly
    (tests/mediapipe_oracle.py): AP@0.5 within 0.005 for the float and the int8 file.

    MediaPipe returns what ``evaluate`` scores: every row of the op's count (max_results = the op's
    maximum of 10 detections; score_threshold 0, below any score, so nothing is dropped). The images
    are at the model's input size, so neither path resizes."""
    import json

    from dataprep.cli import main
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc
    from dataprep.train.litert import TFLiteDetector
    from dataprep.train.tflite import DEFAULT_MAX_DETECTIONS
    from mediapipe_oracle import load_rgb, mediapipe_map50

    shapes = generate_shapes_voc(tmp_path / "shapes", 5, width=SIZE, height=SIZE, seed=11, splits=None)
    float_file = TFLiteDetector(exports[0].tflite)
    names = dict(zip(float_file.class_ids, float_file.class_names))  # label-map id -> name
    rng = np.random.default_rng(0)
    images = {p.stem: load_rgb(p) for p in sorted((shapes / "JPEGImages").glob("*.jpg"))}
    voc = _write_voc(tmp_path / "voc", images, {stem: _ground_truth_from(float_file.detect(image), names, SIZE, rng)
                                                for stem, image in images.items()})
    # the model's own label map: evaluate compares label-map ids
    convert(read_voc(voc), ConvertOptions(out=tmp_path / "records", label_map=exports[0].out / "label_map.pbtxt",
                                          workers=1, progress=False))
    for export in exports:
        out = tmp_path / f"{export.quantize}.json"
        assert main(["evaluate", str(export.tflite), "--records", str(tmp_path / "records"), "--split", "val",
                     "--json", str(out)]) == 0
        ours = json.loads(out.read_text())["mAP50"]
        theirs = mediapipe_map50(export.tflite, voc, "val", DEFAULT_MAX_DETECTIONS, list(names.values()))
        assert 0.1 < theirs < 0.9, theirs  # neither all right nor all wrong: the comparison can fail
        assert ours == pytest.approx(theirs, abs=0.005), (export.quantize, ours, theirs)


def test_evaluate_an_exported_tflite_and_compare_with_the_saved_model(exports, records, tmp_path, capsys):
    import json

    from dataprep.cli import main

    tflite, saved = exports[0].tflite, exports[0].out
    assert main(["evaluate", str(tflite), "--records", str(records), "--split", "val", "--threads", "1",
                 "--compare", str(saved), "--json", str(tmp_path / "ev.json")]) == 0
    out = capsys.readouterr().out
    assert "mAP@0.5" in out and "latency per image median" in out and "Compared with" in out
    figures = json.loads((tmp_path / "ev.json").read_text())
    assert figures["images"] == figures["compare"]["images"] == 6
    assert figures["model"]["file_bytes"] == tflite.stat().st_size and figures["model"]["threads"] == 1
    assert figures["model"]["latency_median_ms"] > 0
    assert main(["evaluate", str(saved), "--records", str(records), "--precise-bn-images", "8"]) == 2


def test_evaluate_refuses_records_whose_label_map_numbers_other_classes(exports, tmp_path, capsys):
    """A zoo export (person = 1, bicycle = 2, ...) on records converted with their own label map
    (bicycle = 1, ...): the ids mean other classes, so the mAP would be meaningless."""
    from dataprep.cli import main
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc
    from dataprep.synth import generate_shapes_voc

    voc = generate_shapes_voc(tmp_path / "voc", 2, width=SIZE, height=SIZE, seed=1, splits={"val": 1.0},
                              classes=("bicycle", "person"))
    convert(read_voc(voc), ConvertOptions(out=tmp_path / "records", workers=1, progress=False))
    assert main(["evaluate", str(exports[0].tflite), "--records", str(tmp_path / "records"), "--split", "val"]) == 2
    err = capsys.readouterr().err
    assert "1='bicycle' (model: 'person')" in err and "--label-map" in err and "Traceback" not in err


def test_mediapipe_on_a_non_square_image(exports):
    """MediaPipe stretches a non-square image to the model input (no letterbox) and gives boxes in the
    image's own pixels, as the SavedModel does: the same top detection, scores within 0.005 (the two
    resamplers differ: OpenCV at pixel corners, tf.image.resize at pixel centres), boxes off the
    left/top edge within 1% of the image size (+1 px of MediaPipe's whole pixels)."""
    from PIL import Image

    from dataprep.train.predict import SavedModelDetector
    from mediapipe_oracle import mediapipe_detect

    for width, height in ((192, 128), (128, 200)):
        image = np.asarray(Image.fromarray(_image().astype(np.uint8)).resize((width, height), Image.BILINEAR))
        got = mediapipe_detect(exports[0].tflite, [image], 10)[0]
        # the file's fast NMS against the SavedModel's per-class one: the others are among all of its detections
        want = _saved_model_xyxy(SavedModelDetector(exports[0].out), image, 100)
        assert len(got) >= 3
        _assert_among(got[:1], want[:1], width, height, score_tol=0.005)
        _assert_among(got[1:], want, width, height, score_tol=0.005)


def _saved_model_xyxy(detector, image, k):
    """The SavedModel's top ``k`` detections as (name, score, [x0, y0, x1, y1] pixels)."""
    out = detector.detect(image)
    names = dict(zip(detector.class_ids, detector.class_names))
    height, width = image.shape[:2]
    n = min(k, int(out["num_detections"]))
    return [(names[int(c)], float(s), b[[1, 0, 3, 2]] * [width, height, width, height]) for b, s, c in
            zip(out["detection_boxes"][:n], out["detection_scores"][:n], out["detection_classes"][:n])]


def _assert_among(got, want, width, height, score_tol):
    """Each MediaPipe detection whose box does not start at the left or top edge (MediaPipe moves those:
    test_mediapipe_moves_boxes_over_the_left_or_top_edge) is one of ``want``: same class, score within
    ``score_tol``, every side within 1% of the image size + 1 px."""
    tol = 0.01 * max(width, height) + 1
    for d in got:
        if d.box[0] <= 0 or d.box[1] <= 0:
            continue
        assert any(n == d.name and abs(s - d.score) <= score_tol and np.abs(np.minimum(d.box, [width, height] * 2)
                                                                            - b).max() <= tol
                   for n, s, b in want), (d, want)


@pytest.fixture(scope="module")
def wide_records(tmp_path_factory):
    """Shapes records of 160 x 120 images (not square) for the tiny trained runs."""
    from helpers import shapes_records

    root = tmp_path_factory.mktemp("wide")
    shapes_records(root, 12, 160, 120, 3, {"train": 0.5, "val": 0.5}, size_range=(0.3, 0.6))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("model", ["ssdlite_mobilenet_v2", "ssd_mobilenet_v2", "ssd_mobilenet_v2_fpnlite"])
def test_mediapipe_loads_a_trained_run_of_each_model(model, wide_records, tmp_path):
    """A run of each model ``export --tflite`` supports, trained for 3 steps (input 128, alpha 0.35:
    its scores differ per anchor, unlike a fresh model's), exported float and int8: MediaPipe loads
    both files as they are. The float file gives the SavedModel's top detections (scores within
    1e-3, boxes within 1% + 1 px), the int8 file LiteRT's for the same file.

    The image is a val image at the model's input size, so that MediaPipe, the SavedModel and LiteRT
    see the same pixels: a model this briefly trained is chaotic, and the half-pixel difference of
    the resamplers on a non-square image changes its top detection (measured: 0.0226 'circle' with
    tf.image.resize, 0.0257 'square' with MediaPipe's). Non-square images are tested on the zoo
    fixture's smooth weights (test_mediapipe_on_a_non_square_image)."""
    from PIL import Image

    from dataprep.cli import main
    from dataprep.train.export import TFLiteOptions, export_saved_model
    from dataprep.train.litert import TFLiteDetector
    from dataprep.train.predict import SavedModelDetector
    from mediapipe_oracle import load_rgb, mediapipe_detect, read_voc_split

    records, run = wide_records / "records", tmp_path / "run"
    assert main(["train", "--records", str(records), "--out", str(run), "--model", model, "--input-size", str(SIZE),
                 "--alpha", "0.35", "--backbone-weights", "none", "--batch-size", "4", "--epochs", "1",
                 "--steps-per-epoch", "3", "--optimizer", "adam", "--quiet"]) == 0
    float_export = export_saved_model(run, tmp_path / "float", tflite=True)
    int8 = export_saved_model(run, tmp_path / "int8", tflite=True, tflite_options=TFLiteOptions(
        quantize="int8", records=records, calibration_images=6, evaluate_split=None))
    image = load_rgb(read_voc_split(wide_records / "voc", "val")[0].path)
    image = np.asarray(Image.fromarray(image).resize((SIZE, SIZE), Image.BILINEAR))

    got = mediapipe_detect(float_export.tflite, [image], 10)[0]
    want = _saved_model_xyxy(SavedModelDetector(float_export.out), image, 100)
    assert len(got) >= 3 and len({round(d.score, 6) for d in got}) > 1  # trained: the scores are not tied
    assert got[0].name == want[0][0] and got[0].score == pytest.approx(want[0][1], abs=1e-3)
    _assert_among(got[:3], want, SIZE, SIZE, score_tol=1e-3)

    got = mediapipe_detect(int8.tflite, [image], 10)[0]
    want = _saved_model_xyxy(TFLiteDetector(int8.tflite), image, 10)
    assert len(got) >= 3
    assert got[0].name == want[0][0] and got[0].score == pytest.approx(want[0][1], abs=1e-3)
    _assert_among(got[:3], want, SIZE, SIZE, score_tol=1e-3)


def test_a_failed_export_leaves_no_folder_and_keeps_the_old_one(tmp_path, monkeypatch):
    """Every file goes to a hidden staging folder renamed to --out last: a failure after the
    SavedModel was written leaves neither --out nor the staging folder, and with --overwrite the
    previous export stays as it was until a new one is complete. (The SavedModel writer is replaced
    by one that writes a stand-in file: the real one takes half a minute here.)"""
    import dataprep.train.export as export

    def fake_saved_model(detector, path, input_shape=None):
        Path(path, "saved_model.pb").write_bytes(b"stand-in")

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(export, "write_saved_model", fake_saved_model)
    monkeypatch.setattr(export, "export_tflite", fail)  # runs after the SavedModel is on disk
    zoo = ZOO / "ssd_mobilenet_v2"
    with pytest.raises(OSError, match="No space left"):
        export.export_init_from(zoo, tmp_path / "new", tflite=True)
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old"
    old.mkdir()
    (old / "previous.txt").write_text("the last good export")
    with pytest.raises(OSError, match="No space left"):
        export.export_init_from(zoo, old, tflite=True, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["old"] and [p.name for p in old.iterdir()] == ["previous.txt"]

    result = export.export_init_from(zoo, old, overwrite=True)  # no TFLite: succeeds and replaces it
    assert result.out == old and sorted(p.name for p in old.iterdir()) == [
        "dataprep_export.json", "label_map.pbtxt", "saved_model.pb"]
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
