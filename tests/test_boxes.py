"""dataprep.boxes: one hub format (xyxy pixels) and one table of converters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.boxes import FORMATS, convert, iou_matrix

# One golden box, expressed in every format, for a 100 x 200 (W x H) image.
W, H = 100.0, 200.0
GOLDEN = {
    "xyxy": [10.0, 40.0, 30.0, 80.0],
    "xywh": [10.0, 40.0, 20.0, 40.0],
    "yxyx": [40.0, 10.0, 80.0, 30.0],
    "cxcywh": [20.0, 60.0, 20.0, 40.0],
    "rel_xyxy": [0.1, 0.2, 0.3, 0.4],
    "rel_xywh": [0.1, 0.2, 0.2, 0.2],
    "rel_yxyx": [0.2, 0.1, 0.4, 0.3],
}


def test_golden_table_covers_every_format():
    assert set(GOLDEN) == set(FORMATS)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FORMATS, FORMATS)))
def test_golden_box_converts_between_every_pair(source, target):
    got = convert([GOLDEN[source]], source, target, width=W, height=H)
    assert got.shape == (1, 4)
    np.testing.assert_allclose(got[0], GOLDEN[target], rtol=1e-12, atol=1e-12)


def test_docstring_examples():
    assert convert([[10, 20, 30, 40]], "xywh", "xyxy").tolist() == [[10.0, 20.0, 40.0, 60.0]]
    assert convert([[0, 0, 50, 25]], "xyxy", "rel_yxyx", width=100, height=50).tolist() == [[0.0, 0.0, 0.5, 0.5]]


_coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
_size = st.floats(min_value=1.0, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(st.tuples(_coord, _coord, _coord, _coord), min_size=1, max_size=5),
    fmt=st.sampled_from(FORMATS),
    width=_size,
    height=_size,
)
def test_every_format_round_trips_through_the_hub(boxes, fmt, width, height):
    hub = np.asarray(boxes, dtype=np.float64)
    there = convert(hub, "xyxy", fmt, width=width, height=height)
    back = convert(there, fmt, "xyxy", width=width, height=height)
    assert back.shape == hub.shape
    np.testing.assert_allclose(back, hub, rtol=1e-9, atol=1e-7)
    # And the other way: format -> hub -> format.
    again = convert(back, "xyxy", fmt, width=width, height=height)
    np.testing.assert_allclose(again, there, rtol=1e-9, atol=1e-7)


def test_per_box_sizes_for_relative_formats():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10]]
    got = convert(boxes, "xyxy", "rel_xyxy", width=np.array([10.0, 20.0]), height=np.array([10.0, 40.0]))
    np.testing.assert_allclose(got, [[0, 0, 1, 1], [0, 0, 0.5, 0.25]])


def test_same_format_returns_a_copy():
    src = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = convert(src, "xyxy", "xyxy")
    out[0, 0] = 99.0
    assert src[0, 0] == 1.0


def test_empty_input_keeps_shape():
    assert convert(np.zeros((0, 4)), "xywh", "xyxy").shape == (0, 4)


@pytest.mark.parametrize(("source", "target"), [("xyxy", "nope"), ("corners", "xyxy")])
def test_unknown_format_lists_the_known_ones(source, target):
    with pytest.raises(ValueError, match=r"Unknown box format") as exc:
        convert([[0, 0, 1, 1]], source, target)
    for name in FORMATS:
        assert name in str(exc.value)


@pytest.mark.parametrize(("source", "target"), [("rel_xyxy", "xyxy"), ("xyxy", "rel_yxyx"), ("rel_xywh", "xywh")])
@pytest.mark.parametrize(("width", "height"), [(None, None), (10, None), (None, 10)])
def test_relative_formats_need_width_and_height(source, target, width, height):
    with pytest.raises(ValueError, match="needs width and height"):
        convert([[0, 0, 1, 1]], source, target, width=width, height=height)


@pytest.mark.parametrize("bad", [[0, 0, 1], [[0, 0, 1]], [[[0, 0, 1, 1]]]])
def test_bad_shape_is_refused(bad):
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        convert(bad, "xyxy", "xywh")


def test_iou_matrix_hand_computed():
    a = [[0, 0, 2, 2], [0, 0, 1, 1]]
    b = [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]]
    got = iou_matrix(a, b)
    assert got.shape == (2, 4)
    expected = np.array([
        # overlap 1x1 = 1; union 4 + 4 - 1 = 7
        [1 / 7, 1.0, 0.0, 0.0],
        # box (0,0,1,1) vs (1,1,3,3) touches at a corner only: 0; inside (0,0,2,2): 1/4
        [0.0, 0.25, 0.0, 0.0],
    ])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_iou_matrix_is_symmetric_and_zero_area_pairs_are_zero():
    a = np.array([[0, 0, 4, 2], [1, 1, 3, 5], [2, 2, 2, 2]], dtype=float)
    m = iou_matrix(a, a)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m)[:2], 1.0)
    assert m[2, 2] == 0.0  # zero-area box against itself: union 0, defined as 0 (no NaN)
    assert np.isfinite(m).all()
