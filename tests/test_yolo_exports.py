"""YOLO datasets as Roboflow, Ultralytics (CLI and HUB), CVAT (YOLO 1.1 and
Ultralytics), Label Studio, LabelImg and plain trees write them
(``tests/yolo_exports.py`` says where each layout rule comes from): each is
detected, converted, and every box lands within 1 px of its COCO twin's."""

from __future__ import annotations

import numpy as np
import pytest

from dataprep.formats import read_coco
from dataprep.formats.source import detect_format, read_source
from helpers import examples, run
from yolo_exports import EXPORTERS, GOLDEN, coco_twin, roboflow, source_folder

#: The findings each layout must give (what was decided about it), beside yolo.no_label_file for negatives.
EXPECTED = {
    "roboflow": {"yolo.split_resolved"},  # '../train/images' read as Ultralytics does
    "ultralytics_cli": {"yolo.path_ignored"},  # path: ../datasets/pets is the author's machine
    "ultralytics_hub": set(),
    "cvat_ultralytics": set(),
    "cvat_yolo11": {"yolo.list_paths_resolved"},  # data/obj_train_data/...: darknet's data/ prefix
    "label_studio": set(),
    "labelimg": set(),
    "plain_tree": {"yolo.names_missing"},
}


def _by_file(out) -> dict:
    """filename -> (split-free) texts and pixel boxes (xmin, ymin, xmax, ymax)."""
    table = {}
    for ex in examples(out):
        ymin, xmin, ymax, xmax = (ex["boxes"].reshape(-1, 4).T if len(ex["boxes"]) else np.zeros((4, 0)))
        px = np.stack([xmin * ex["width"], ymin * ex["height"], xmax * ex["width"], ymax * ex["height"]], axis=1)
        order = np.lexsort((px[:, 1], px[:, 0])) if len(px) else []
        table[ex["filename"]] = ([ex["texts"][i] for i in order], px[order] if len(px) else px)
    return table


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_export_converts_like_its_coco_twin(tmp_path, name):
    writer, names = EXPORTERS[name]
    root = source_folder(tmp_path, name)
    written = writer(root)
    twin = coco_twin(tmp_path / "twin.json", written, names)
    assert detect_format(root) == "yolo"
    ds = read_source(root)
    codes = {f.code for f in ds.findings} - {"yolo.no_label_file"}
    assert codes == EXPECTED[name], [f.message() for f in ds.findings]
    assert dict(zip(ds.images["file"], ds.images["split"])) == {f: s for f, s, _, _ in written}
    a = run(ds, tmp_path / "yolo_out")
    b = run(read_coco(twin, images=root), tmp_path / "coco_out")
    assert a.report.counts.boxes_written == b.report.counts.boxes_written == sum(len(g[3]) for g in GOLDEN)
    yolo, coco = _by_file(tmp_path / "yolo_out"), _by_file(tmp_path / "coco_out")
    assert sorted(yolo) == sorted(coco) == sorted(f for f, _, _, _ in written)
    for file in coco:
        assert yolo[file][0] == coco[file][0], file
        np.testing.assert_allclose(yolo[file][1], coco[file][1], atol=1.0, rtol=0, err_msg=file)
    assert sorted(a.manifest["splits"]) == sorted({s for _, s, _, _ in written})


def test_roboflow_export_without_a_test_split(tmp_path):
    """Roboflow writes 'test: ../test/images' even when the export has no test
    split: a finding, and train and val are converted."""
    written = roboflow(tmp_path, with_test=False)
    ds = read_source(tmp_path)
    (missing,) = [f for f in ds.findings if f.code == "yolo.split_missing"]
    assert missing.item == "test" and "'../test/images' is not there" in missing.detail
    assert missing.severity == "warning" and missing.action == "ignored"
    assert sorted(ds.images["split"].unique()) == ["train", "val"]
    result = run(ds, tmp_path / "out")
    assert result.report.counts.images_written == len(written)
    assert "yolo.split_missing" in result.report.by_code()
