"""Tests of the anchor coverage analysis and the anchor suggestion search."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataprep.anchors import (
    AnchorConfig,
    anchor_coverage,
    coco_size_buckets,
    iou_matrix,
    kmeans_iou,
    scan_boxes,
    suggest_anchors,
)

# One anchor, [0.25, 0.25, 0.75, 0.75]: a single 1x1 layer with scale 0.5, ratio 1.
ONE_ANCHOR = AnchorConfig(
    num_layers=1,
    scales=(0.5,),
    aspect_ratios=(1.0,),
    interpolated_scale_aspect_ratio=0.0,
    reduce_boxes_in_lowest_layer=False,
    feature_map_sizes=[(1, 1)],
)


def random_boxes(n: int, seed: int) -> np.ndarray:
    """Boxes with log-uniform size 0.01..1 and aspect 1/5..5, some clipped at the border."""
    rng = np.random.default_rng(seed)
    size = np.exp(rng.uniform(np.log(0.01), 0.0, n))
    ratio = np.exp(rng.uniform(np.log(0.2), np.log(5.0), n))
    h, w = size / np.sqrt(ratio), size * np.sqrt(ratio)
    cy, cx = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return np.clip(np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1), 0, 1).astype(np.float32)


# --------------------------------------------------------------- hand cases
def test_one_anchor_hand_computed_iou():
    assert ONE_ANCHOR.generate(300).tolist() == [[0.25, 0.25, 0.75, 0.75]]
    boxes = np.array(
        [
            [0.25, 0.25, 0.75, 0.75],  # the anchor itself: IoU 1
            [0.25, 0.25, 0.75, 0.5],  # left half: 0.125 / 0.25 = 0.5 -> matched (>=)
            [0.5, 0.5, 1.0, 1.0],  # overlap 0.25^2 = 0.0625; union 0.25 + 0.25 - 0.0625 = 0.4375
            [0.0, 0.0, 0.2, 0.2],  # disjoint: 0
        ],
        dtype=np.float32,
    )
    report = anchor_coverage(boxes, 300, ONE_ANCHOR)
    np.testing.assert_allclose(report.best_iou, [1.0, 0.5, 0.0625 / 0.4375, 0.0], rtol=1e-6)
    assert report.num_positives.tolist() == [1, 1, 0, 0]
    assert report.matched.tolist() == [True, True, False, False]
    assert report.force_matched.tolist() == [2, 3]
    assert report.matched_fraction == 0.5
    assert report.mean_best_iou == pytest.approx((1.0 + 0.5 + 1 / 7) / 4, rel=1e-6)
    assert report.worst(2).tolist() == [3, 2]


def test_iou_matrix_hand_case():
    # box 0.4 x 0.4 at the origin vs 0.2 x 0.4 shifted by 0.2 in x:
    # overlap 0.2 x 0.2 = 0.04; union 0.16 + 0.08 - 0.04 = 0.2 -> 0.2
    iou = iou_matrix([[0.0, 0.0, 0.4, 0.4]], [[0.0, 0.2, 0.2, 0.6], [0.0, 0.0, 0.4, 0.4]])
    np.testing.assert_allclose(iou, [[0.2, 1.0]], rtol=1e-6)
    assert iou.dtype == np.float32


def test_box_equal_to_an_anchor_has_best_iou_one():
    grid = AnchorConfig().grid(300)
    picks = np.array([0, 1, 2, 63, 500, 1083, 1088, 1700, 1900, 1916])
    report = anchor_coverage(grid.anchors[picks], 300, grid=grid)
    assert report.best_iou.tolist() == [1.0] * len(picks)
    assert (report.num_positives >= 1).all()
    # the best anchor is one with IoU 1 (the same one unless two anchors coincide)
    ious = iou_matrix(grid.anchors[picks], grid.anchors)
    assert (ious[np.arange(len(picks)), report.best_anchor] == 1.0).all()


# ----------------------------------------------------- exactness vs dense IoU
@pytest.mark.parametrize(
    "cfg, size",
    [
        (AnchorConfig(), 300),
        (AnchorConfig(), (320, 480)),
        (AnchorConfig(reduce_boxes_in_lowest_layer=False, scales=(0.05, 0.1, 0.2, 0.4, 0.6, 0.8)), 300),
        (
            AnchorConfig(
                anchor_strides=[(8, 8), (16, 16), (32, 32), (64, 64), (100, 100), (300, 300)],
                anchor_offsets=[(3, 5)] * 6,
            ),
            300,
        ),
    ],
)
def test_windowed_scan_equals_dense_iou(cfg, size):
    grid = cfg.grid(size)
    rng = np.random.default_rng(7)
    boxes = np.concatenate([random_boxes(3000, 3), grid.anchors[rng.choice(grid.num_anchors, 300)]])
    best, best_idx, positives = scan_boxes(boxes, grid, chunk_size=1000)
    dense = iou_matrix(boxes, grid.anchors)
    # positives are counted with the very same float32 IoU, so they agree exactly
    assert positives.tolist() == (dense >= 0.5).sum(axis=1).tolist()
    # the best anchor really has the best IoU (up to float32 rounding on IoU plateaus)
    np.testing.assert_allclose(best, dense.max(axis=1), rtol=0, atol=1e-6)
    assert (dense[np.arange(len(boxes)), best_idx] == best).all()
    assert positives.sum() > len(boxes) // 2  # the case is not trivial


@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_other_thresholds_equal_dense_iou(threshold):
    grid = AnchorConfig().grid(300)
    boxes = random_boxes(2000, 13)
    report = anchor_coverage(boxes, 300, grid=grid, iou_threshold=threshold)
    dense = iou_matrix(boxes, grid.anchors)
    assert report.num_positives.tolist() == (dense >= threshold).sum(axis=1).tolist()
    assert report.matched.tolist() == (dense.max(axis=1) >= threshold).tolist()


def test_chunk_size_does_not_change_results():
    boxes = random_boxes(700, 11)
    a = anchor_coverage(boxes, 320, chunk_size=7)
    b = anchor_coverage(boxes, 320)
    assert np.array_equal(a.best_iou, b.best_iou)
    assert np.array_equal(a.num_positives, b.num_positives)
    assert np.array_equal(a.best_anchor, b.best_anchor)


# ------------------------------------------------------------- breakdowns
def test_coco_size_buckets_in_input_pixels():
    s = 1 / 300
    boxes = np.array(
        [
            [0, 0, 20 * s, 20 * s],  # 400 px^2 -> small
            [0, 0, 32 * s, 32 * s],  # 1024 = 32^2 -> medium (small is < 32^2)
            [0, 0, 50 * s, 50 * s],  # 2500 -> medium
            [0, 0, 96 * s, 96 * s],  # 9216 = 96^2 -> large
            [0, 0, 10 * s, 200 * s],  # 2000 -> medium
        ]
    )
    assert coco_size_buckets(boxes, 300).tolist() == [0, 1, 1, 2, 1]
    # the same normalized box is 4x the area on a 600x600 input
    assert coco_size_buckets(boxes[:1], 600).tolist() == [1]


def test_breakdowns_add_up():
    boxes = random_boxes(5000, 5)
    labels = np.random.default_rng(5).integers(1, 4, len(boxes))
    report = anchor_coverage(boxes, 300, labels=labels)
    buckets = report.by_size_bucket()
    assert list(buckets) == ["small", "medium", "large"]
    assert sum(g.count for g in buckets.values()) == len(boxes)
    assert sum(g.matched for g in buckets.values()) == int(report.matched.sum())
    assert sum(g.force_matched for g in buckets.values()) == len(report.force_matched)
    classes = report.by_class()
    assert sorted(classes) == [1, 2, 3]
    assert sum(g.count for g in classes.values()) == len(boxes)
    for label, group in classes.items():
        mask = labels == label
        assert group.count == mask.sum()
        assert group.matched_fraction == pytest.approx(report.matched[mask].mean())
        assert group.mean_best_iou == pytest.approx(report.best_iou[mask].mean(), rel=1e-6)
        assert group.mean_positives == pytest.approx(report.num_positives[mask].mean())
    # small boxes are covered worse than large ones by the default SSD anchors
    assert buckets["small"].matched_fraction < buckets["large"].matched_fraction
    summary = report.summary(worst_k=5)
    json.dumps(summary)
    assert summary["num_boxes"] == 5000 and len(summary["worst"]) == 5
    assert summary["force_matched"] == len(report.force_matched)


def test_custom_bucket_labels_and_worst():
    boxes = random_boxes(500, 9)
    names = np.where(np.arange(500) % 2 == 0, "even", "odd")
    report = anchor_coverage(boxes, 300, size_buckets=names)
    assert {k: v.count for k, v in report.by_size_bucket().items()} == {"even": 250, "odd": 250}
    worst = report.worst(20)
    assert len(set(worst.tolist())) == 20
    assert np.all(np.diff(report.best_iou[worst]) >= 0)
    assert report.best_iou[worst].max() <= np.sort(report.best_iou)[19]
    assert report.worst(10_000).shape == (500,)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="ymax >= ymin"):
        anchor_coverage([[0.5, 0.0, 0.4, 0.1]], 300)
    with pytest.raises(ValueError, match="shape"):
        anchor_coverage(np.zeros((3, 5)), 300)
    with pytest.raises(ValueError, match="labels"):
        anchor_coverage(random_boxes(3, 0), 300, labels=[1, 2])
    with pytest.raises(ValueError, match="input size"):
        anchor_coverage(random_boxes(3, 0), 300, grid=AnchorConfig().grid(320))
    empty = anchor_coverage(np.zeros((0, 4)), 300)
    assert empty.num_boxes == 0 and empty.worst(3).size == 0


# --------------------------------------------------------------- suggestion
def test_kmeans_iou_finds_shape_clusters():
    rng = np.random.default_rng(0)
    wide = np.stack([rng.uniform(95, 105, 200), rng.uniform(24, 26, 200)], axis=1)
    square = np.stack([rng.uniform(29, 31, 200), rng.uniform(29, 31, 200)], axis=1)
    centroids = kmeans_iou(np.concatenate([wide, square]), 2, seed=3)
    np.testing.assert_allclose(centroids, [[30, 30], [100, 25]], atol=1.0)
    assert np.array_equal(centroids, kmeans_iou(np.concatenate([wide, square]), 2, seed=3))


def small_and_elongated(n: int, seed: int, size: int = 300) -> np.ndarray:
    """A third small squares, two thirds 1:4 boxes (both orientations); sqrt(area) 20-40 px."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)  # 0 square, 1 wide (4:1), 2 tall (1:4)
    side = rng.uniform(20, 40, n)
    h = np.select([kind == 0, kind == 1], [side, side / 2], 2 * side)
    w = np.select([kind == 0, kind == 1], [side, 2 * side], side / 2)
    cy, cx = rng.uniform(h / 2, size - h / 2), rng.uniform(w / 2, size - w / 2)
    return (np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1) / size).astype(np.float32)


def test_suggestion_improves_small_elongated_coverage_by_20_points():
    boxes = small_and_elongated(6000, seed=1)
    result = suggest_anchors(boxes, 300, sample_size=4000, seed=0)
    default = anchor_coverage(boxes, 300, AnchorConfig())
    assert result.before.matched_fraction == default.matched_fraction
    assert result.after.matched_fraction >= result.before.matched_fraction + 0.20
    assert result.config.num_anchors_per_location() == AnchorConfig().num_anchors_per_location()
    assert result.config.num_anchors(300) == 1917
    # elongated ratios were found (4:1 and 1:4 are far from the default 3 and 1/3 at small scale)
    assert max(result.config.aspect_ratios) > 3.0 and min(result.config.aspect_ratios) < 1 / 3
    # the suggested config is a plain AnchorConfig that generates and serializes
    assert AnchorConfig.from_json(result.config.to_json()) == result.config
    json.dumps(result.summary())


def test_suggestion_is_deterministic_and_keeps_counts():
    boxes = small_and_elongated(1500, seed=2)
    start = AnchorConfig(aspect_ratios=(1.0, 2.0, 0.5), interpolated_scale_aspect_ratio=0.0)
    a = suggest_anchors(boxes, 320, start, sample_size=1000, max_evaluations=60, seed=4)
    b = suggest_anchors(boxes, 320, start, sample_size=1000, max_evaluations=60, seed=4)
    assert a.config == b.config and a.evaluations == b.evaluations <= 60
    assert a.config.num_anchors_per_location() == [3, 3, 3, 3, 3, 3]
    assert a.config.interpolated_scale_aspect_ratio == 0.0
    assert a.objective_after >= a.objective_before
