"""COCO evaluation with pycocotools: ground truth used as predictions scores
mAP 1.0; misses and misplaced boxes score less; per-class AP by name."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pycocotools")

from dataprep.train.evaluate import ImageDetections, ImageGroundTruth, coco_evaluate  # noqa: E402

IDS, NAMES = [1, 5, 90], ["cat", "dog", "toothbrush"]


def ground_truth(n=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = int(rng.integers(1, 4))
        h, w = rng.uniform(0.1, 0.5, m), rng.uniform(0.1, 0.5, m)
        y, x = rng.uniform(0, 1 - h), rng.uniform(0, 1 - w)
        out.append(ImageGroundTruth(1000 + i, 480, 640, np.stack([y, x, y + h, x + w], 1),
                                    rng.choice(IDS, m), np.zeros(m, int)))
    return out


def as_detections(gts, shift=0.0, score=0.9):
    return [ImageDetections(g.image_id, np.clip(g.boxes + shift, 0, 1), np.full(len(g.boxes), score),
                            g.classes) for g in gts]


def test_ground_truth_as_predictions_scores_one():
    gts = ground_truth()
    result = coco_evaluate(gts, as_detections(gts), IDS, NAMES, split="val")
    assert result.mAP == pytest.approx(1.0) and result.mAP50 == pytest.approx(1.0)
    assert result.mAP75 == pytest.approx(1.0)
    present = {NAMES[IDS.index(c)] for g in gts for c in g.classes}
    assert all(result.per_class[n] == pytest.approx(1.0) for n in present)
    assert all(math.isnan(result.per_class[n]) for n in set(NAMES) - present)
    assert result.images == 6 and result.to_dict()["split"] == "val"
    assert "mAP 1.000" in result.summary_lines()[0]


def test_misplaced_wrong_class_and_missing_detections_score_less():
    gts = ground_truth()
    shifted = coco_evaluate(gts, as_detections(gts, shift=0.04), IDS, NAMES)
    assert shifted.mAP < 0.9 and shifted.mAP50 > shifted.mAP
    wrong = [ImageDetections(d.image_id, d.boxes, d.scores, np.where(d.classes == 1, 5, 1))
             for d in as_detections(gts)]
    assert coco_evaluate(gts, wrong, IDS, NAMES).mAP < 0.8
    half = as_detections(gts)[:3]
    assert coco_evaluate(gts, half, IDS, NAMES).mAP50 < 1.0
    nothing = coco_evaluate(gts, [], IDS, NAMES)
    assert nothing.mAP == 0.0 and nothing.detections == 0


def test_crowd_regions_do_not_count_as_misses():
    g = ImageGroundTruth(1, 100, 100, np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]]), np.array([1, 1]),
                         np.array([0, 1]))
    d = ImageDetections(1, np.array([[0.1, 0.1, 0.4, 0.4]]), np.array([0.9]), np.array([1]))
    assert coco_evaluate([g], [d], IDS, NAMES).mAP == pytest.approx(1.0)
