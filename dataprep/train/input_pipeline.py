"""The ``tf.data`` input pipeline of the trainer, over :func:`dataprep.load_dataset`.

Training: shuffle the encoded examples, then in one parallel map decode,
SSD random crop, random horizontal flip, resize to the model input,
photometric jitter and anchor-target encoding; batch (fixed shapes, for XLA
and ``tf.distribute``), prefetch. Evaluation: decode, resize, keep the ground
truth and the image size for COCO evaluation.

Randomness is stateless: each example gets its own seed pair from
``tf.data.Dataset.random(seed)``, so a run is reproducible for a given seed
whatever the number of parallel calls.
"""

from __future__ import annotations

import os

import tensorflow as tf

from dataprep.records.tfdata import load_dataset
from dataprep.train.encoder import LabelEncoder

AUTOTUNE = tf.data.AUTOTUNE
#: SSD random crop: the crop must cover at least this fraction of some box, one
#: value drawn per image (TF OD API ssd_random_crop; Liu et al., "SSD", Sec. 2.2
#: "Data augmentation").
MIN_OBJECT_COVERED = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
CROP_ASPECT_RATIO = (0.5, 2.0)
CROP_AREA = (0.1, 1.0)
#: Probability of keeping the whole image instead of cropping (TF OD API random_coef).
KEEP_WHOLE_IMAGE = 0.15


def decode(encoded) -> tf.Tensor:
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def resize(image, input_size: int) -> tf.Tensor:
    """Stretch to ``input_size`` x ``input_size`` (bilinear), float32 0..255.

    Boxes are normalized, so they are unchanged by the stretch. The same
    function serves training, evaluation, prediction and the exported model.
    """
    return tf.image.resize(tf.cast(image, tf.float32), [input_size, input_size], method="bilinear")


def random_crop(image, boxes, classes, seed):
    """SSD random crop keeping boxes consistent: ``(image, boxes, classes)``.

    [1] Draw a crop with aspect ratio in [0.5, 2] and area in [0.1, 1] of the
        image that covers at least a fraction m of some box, m drawn from
        {0, 0.1, 0.3, 0.5, 0.7, 0.9, 1} (the whole image is kept with
        probability 0.15). Boxes whose centre falls inside the crop are kept,
        clipped to it and re-normalized; the others are dropped.
        Ref: Liu et al., "SSD", ECCV 2016, Sec. 2.2; TF OD API ssd_random_crop.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    choice = tf.random.stateless_uniform([], seeds[0], 0, len(MIN_OBJECT_COVERED), dtype=tf.int32)
    min_covered = tf.gather(tf.constant(MIN_OBJECT_COVERED, tf.float32), choice)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.reshape(boxes, [1, -1, 4]), seed=seeds[1],
        min_object_covered=min_covered, aspect_ratio_range=CROP_ASPECT_RATIO, area_range=CROP_AREA,
        max_attempts=50, use_image_if_no_bounding_boxes=True,
    )
    keep_whole = tf.random.stateless_uniform([], seeds[2]) < KEEP_WHOLE_IMAGE
    shape = tf.shape(image)
    begin = tf.where(keep_whole, tf.zeros([3], tf.int32), begin)
    size = tf.where(keep_whole, shape, size)
    cropped = tf.slice(image, begin, size)
    # The window in normalized coordinates from the pixel crop, so that boxes and pixels agree exactly.
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    y0, x0 = tf.cast(begin[0], tf.float32), tf.cast(begin[1], tf.float32)
    win = tf.stack([y0 / height, x0 / width, (y0 + tf.cast(size[0], tf.float32)) / height,
                    (x0 + tf.cast(size[1], tf.float32)) / width])
    return (cropped,) + crop_boxes(boxes, classes, win)


def crop_boxes(boxes, classes, window):
    """Boxes in the coordinates of ``window`` (normalized ymin, xmin, ymax, xmax):
    keep those whose centre is inside, clip, re-normalize."""
    cy = (boxes[:, 0] + boxes[:, 2]) / 2.0
    cx = (boxes[:, 1] + boxes[:, 3]) / 2.0
    inside = (cy > window[0]) & (cy < window[2]) & (cx > window[1]) & (cx < window[3])
    boxes, classes = tf.boolean_mask(boxes, inside), tf.boolean_mask(classes, inside)
    size = tf.stack([window[2] - window[0], window[3] - window[1]] * 2)
    origin = tf.stack([window[0], window[1]] * 2)
    boxes = tf.clip_by_value((boxes - origin) / size, 0.0, 1.0)
    return tf.reshape(boxes, [-1, 4]), classes


def random_flip(image, boxes, seed):
    """Mirror left-right with probability 0.5; x -> 1 - x for the boxes."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    flipped_boxes = tf.stack([boxes[:, 0], 1.0 - boxes[:, 3], boxes[:, 2], 1.0 - boxes[:, 1]], axis=1)
    return tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image), tf.where(flip, flipped_boxes, boxes)


def random_rotate(image, boxes, seed):
    """Vertical flip, then a quarter turn, each with probability 0.5: with
    :func:`random_flip` every one of the 8 symmetries of the square, for data
    with no canonical "up" (microscopy, aerial).

    [1] vertical flip: y -> 1 - y; quarter turn counter-clockwise
        (``tf.image.rot90``): pixel (r, c) of an H x W image goes to
        (W - 1 - c, r), so in normalized coordinates (y, x) -> (1 - x, y) and a
        box (ymin, xmin, ymax, xmax) -> (1 - xmax, ymin, 1 - xmin, ymax).
    """
    seeds = tf.random.experimental.stateless_split(seed, 2)
    flip = tf.random.stateless_uniform([], seeds[0]) < 0.5
    flipped_boxes = tf.stack([1.0 - boxes[:, 2], boxes[:, 1], 1.0 - boxes[:, 0], boxes[:, 3]], axis=1)
    image = tf.cond(flip, lambda: tf.reverse(image, [0]), lambda: image)
    boxes = tf.where(flip, flipped_boxes, boxes)
    turn = tf.random.stateless_uniform([], seeds[1]) < 0.5
    turned_boxes = tf.stack([1.0 - boxes[:, 3], boxes[:, 0], 1.0 - boxes[:, 1], boxes[:, 2]], axis=1)
    image = tf.cond(turn, lambda: tf.image.rot90(image), lambda: image)
    image.set_shape([None, None, 3])
    return image, tf.where(turn, turned_boxes, boxes)


def photometric(image, seed):
    """Brightness, contrast, saturation and hue jitter on a float 0..255 image."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    x = image / 255.0
    x = tf.image.stateless_random_brightness(x, 0.125, seeds[0])
    x = tf.image.stateless_random_contrast(x, 0.7, 1.3, seeds[1])
    x = tf.image.stateless_random_saturation(tf.clip_by_value(x, 0.0, 1.0), 0.7, 1.3, seeds[2])
    x = tf.image.stateless_random_hue(x, 0.03, seeds[3])
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def augment(image, boxes, classes, seed, input_size: int, crop: bool = True, flip: bool = True,
            jitter: bool = True, rotate: bool = False):
    """Crop (uint8, full size), flip, rotate, resize, jitter: ``(float image, boxes, classes)``."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    if crop:
        image, boxes, classes = random_crop(image, boxes, classes, seeds[0])
    if flip:
        image, boxes = random_flip(image, boxes, seeds[1])
    if rotate:
        image, boxes = random_rotate(image, boxes, tf.random.experimental.stateless_fold_in(seed, 3))
    image = resize(image, input_size)
    if jitter:
        image = photometric(image, seeds[2])
    return image, boxes, classes


def train_dataset(records: str | os.PathLike, split: str, encoder: LabelEncoder, input_size: int,
                  batch_size: int, *, augment_images: bool = True, crop: bool = True, flip: bool = True,
                  jitter: bool = True, rotate: bool = False, shuffle_buffer: int = 1024, seed: int = 0,
                  repeat: bool = True) -> tf.data.Dataset:
    """``(images [B, S, S, 3] float32 0..255, {"boxes": [B, N, 5], "classes": [B, N]})`` batches."""
    ds = load_dataset(records, split, decode_image=False)
    ds = ds.map(lambda ex: {"image": ex["image"], "boxes": ex["boxes"], "classes": ex["classes"]})
    if shuffle_buffer > 1:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed).batch(2)))

    def prepare(ex, seed_pair):
        image, boxes, classes = decode(ex["image"]), ex["boxes"], ex["classes"]
        if augment_images:
            image, boxes, classes = augment(image, boxes, classes, seed_pair, input_size, crop, flip, jitter,
                                            rotate)
        else:
            image = resize(image, input_size)
        image.set_shape([input_size, input_size, 3])
        return image, encoder(boxes, classes)

    ds = ds.map(prepare, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def eval_dataset(records: str | os.PathLike, split: str, input_size: int, batch_size: int = 8) -> tf.data.Dataset:
    """Batches of ``image`` (resized), ``image_id``, ``height``, ``width`` and the
    ground truth ``boxes``, ``classes``, ``is_crowd`` (padded with class 0)."""
    ds = load_dataset(records, split, decode_image=False)

    def prepare(ex):
        image = decode(ex["image"])
        shape = tf.shape(image)
        resized = resize(image, input_size)
        resized.set_shape([input_size, input_size, 3])
        return {"image": resized, "source_id": ex["source_id"], "height": shape[0], "width": shape[1],
                "boxes": ex["boxes"], "classes": ex["classes"], "is_crowd": ex["is_crowd"]}

    ds = ds.map(prepare, num_parallel_calls=AUTOTUNE)
    return ds.padded_batch(batch_size).prefetch(AUTOTUNE)
