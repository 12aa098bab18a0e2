"""The tf.data input pipeline: augmentation keeps boxes on their pixels, and
batches have the shapes the model and losses expect."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from dataprep.anchors import AnchorConfig  # noqa: E402
from dataprep.convert import ConvertOptions, convert  # noqa: E402
from dataprep.formats.voc import read_voc  # noqa: E402
from dataprep.synth import generate_shapes_voc  # noqa: E402
from dataprep.train.encoder import LabelEncoder  # noqa: E402
from dataprep.train.input_pipeline import augment, crop_boxes, eval_dataset, train_dataset  # noqa: E402

COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)


def painted_image():
    """A black 120x160 image with three solid rectangles; boxes are their exact extents."""
    image = np.zeros((120, 160, 3), np.uint8)
    pixels = [(10, 20, 50, 70), (60, 90, 110, 150), (20, 100, 45, 130)]  # y0, x0, y1, x1 (exclusive)
    for (y0, x0, y1, x1), color in zip(pixels, COLORS):
        image[y0:y1, x0:x1] = color
    boxes = np.array([[y0 / 120, x0 / 160, y1 / 120, x1 / 160] for y0, x0, y1, x1 in pixels], np.float32)
    return image, boxes, np.array([1, 2, 3], np.int32)


@pytest.mark.parametrize("seed", range(6))
def test_crop_and_flip_keep_boxes_on_their_pixels(seed):
    image, boxes, classes = painted_image()
    out, out_boxes, out_classes = augment(tf.constant(image), tf.constant(boxes), tf.constant(classes),
                                          tf.constant([seed, 7], tf.int64), 64, crop=True, flip=True, jitter=False)
    out, out_boxes, out_classes = out.numpy(), out_boxes.numpy(), out_classes.numpy()
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    assert ((out_boxes >= 0) & (out_boxes <= 1)).all() and (out_boxes[:, 2:] >= out_boxes[:, :2]).all()
    for box, cls in zip(out_boxes, out_classes):
        y0, x0, y1, x1 = box * 64
        # The inside of each box (away from the resampled edges) has the box's colour...
        inner = out[int(np.ceil(y0)) + 1:int(y1) - 1, int(np.ceil(x0)) + 1:int(x1) - 1]
        if inner.size:
            np.testing.assert_allclose(inner.reshape(-1, 3).mean(0), COLORS[cls - 1], atol=2)
        # ...and just outside there is none of it.
        ring = np.concatenate([out[max(int(y0) - 2, 0):max(int(y0) - 1, 0), int(x0):int(x1)].reshape(-1, 3),
                               out[int(np.ceil(y1)) + 1:int(np.ceil(y1)) + 2, int(x0):int(x1)].reshape(-1, 3)])
        if ring.size:
            assert np.abs(ring - COLORS[cls - 1]).sum(1).min() > 100


def test_crop_keeps_boxes_whose_centre_is_inside():
    boxes = tf.constant([[0.0, 0.0, 0.2, 0.2], [0.4, 0.4, 0.9, 0.9]], tf.float32)
    out, classes = crop_boxes(boxes, tf.constant([1, 2]), tf.constant([0.3, 0.3, 0.8, 0.8]))
    assert classes.numpy().tolist() == [2]
    np.testing.assert_allclose(out.numpy(), [[0.2, 0.2, 1.0, 1.0]], atol=1e-6)


def test_photometric_jitter_changes_colours_not_geometry():
    image, boxes, classes = painted_image()
    out, out_boxes, _ = augment(tf.constant(image), tf.constant(boxes), tf.constant(classes),
                                tf.constant([1, 2], tf.int64), 64, crop=False, flip=False, jitter=True)
    np.testing.assert_array_equal(out_boxes.numpy(), boxes)
    assert 0.0 <= out.numpy().min() and out.numpy().max() <= 255.0


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate_shapes_voc(root / "voc", 12, width=80, height=64, seed=3, negatives=0.2)
    convert(read_voc(root / "voc"), ConvertOptions(out=root / "records", workers=1, progress=False))
    return root / "records"


def test_train_batches(records):
    anchors = AnchorConfig().generate(96)
    encoder = LabelEncoder(anchors, [1, 2, 3])
    ds = train_dataset(records, "train", encoder, 96, 4, seed=1)
    images, targets = next(iter(ds))
    assert images.shape == (4, 96, 96, 3) and images.dtype == tf.float32
    assert targets["boxes"].shape == (4, len(anchors), 5) and targets["classes"].shape == (4, len(anchors))
    assert np.isfinite(targets["boxes"].numpy()).all()
    # Same seed, same batches (stateless augmentation).
    again, _ = next(iter(train_dataset(records, "train", encoder, 96, 4, seed=1)))
    np.testing.assert_array_equal(images.numpy(), again.numpy())


def test_eval_batches_keep_ground_truth_and_sizes(records):
    batch = next(iter(eval_dataset(records, "val", 96, batch_size=8)))
    assert batch["image"].shape[1:] == (96, 96, 3)
    assert (batch["height"].numpy() == 64).all() and (batch["width"].numpy() == 80).all()
    assert batch["boxes"].shape[-1] == 4 and batch["classes"].shape == batch["is_crowd"].shape
