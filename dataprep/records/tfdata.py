"""Read dataprep records (or any TF Object Detection API-style records) with
``tf.data``. This is the one module of the record stage that imports
TensorFlow, and only when it is used.

Example::

    import dataprep
    ds = dataprep.load_dataset("out/", split="train")
    for ex in ds.take(1):
        ex["image"]    # uint8 [H, W, 3]
        ex["boxes"]    # float32 [N, 4]: ymin, xmin, ymax, xmax in [0, 1]
        ex["classes"]  # int32 [N]: label-map ids (>= 1)

For a pipeline of your own, map :func:`parse_example` over a
``tf.data.TFRecordDataset``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Sequence

import tensorflow as tf

from dataprep.errors import DataprepError, UsageError
from dataprep.records.recordset import RecordSet
from dataprep.records.framing import read_records

_VARLEN = {
    "image/object/bbox/ymin": tf.float32,
    "image/object/bbox/xmin": tf.float32,
    "image/object/bbox/ymax": tf.float32,
    "image/object/bbox/xmax": tf.float32,
    "image/object/class/text": tf.string,
    "image/object/class/label": tf.int64,
    "image/object/difficult": tf.int64,
    "image/object/truncated": tf.int64,
    "image/object/is_crowd": tf.int64,
    "image/object/area": tf.float32,
}
FEATURES = {
    "image/encoded": tf.io.FixedLenFeature((), tf.string),
    "image/format": tf.io.FixedLenFeature((), tf.string, default_value="jpeg"),
    "image/height": tf.io.FixedLenFeature((), tf.int64, default_value=0),
    "image/width": tf.io.FixedLenFeature((), tf.int64, default_value=0),
    "image/filename": tf.io.FixedLenFeature((), tf.string, default_value=""),
    "image/source_id": tf.io.FixedLenFeature((), tf.string, default_value=""),
    "image/key/sha256": tf.io.FixedLenFeature((), tf.string, default_value=""),
    **{k: tf.io.VarLenFeature(v) for k, v in _VARLEN.items()},
}


def parse_example(serialized: tf.Tensor, decode_image: bool = True) -> dict[str, tf.Tensor]:
    """Parse one serialized ``tf.train.Example`` of the record contract.

    Returns a dict with ``image`` (uint8 ``[H, W, 3]``, or the encoded bytes
    when ``decode_image`` is False), ``boxes`` (float32 ``[N, 4]`` ymin, xmin,
    ymax, xmax, normalized), ``classes`` (int32 ``[N]``), ``texts`` (string
    ``[N]``), ``difficult``, ``truncated``, ``is_crowd`` (int32 ``[N]``),
    ``area`` (float32 ``[N]``), ``source_id``, ``filename``, ``height``,
    ``width`` and ``sha256``.
    """
    p = tf.io.parse_single_example(serialized, FEATURES)

    def dense(key):
        return tf.sparse.to_dense(p[key])

    boxes = tf.stack([dense(f"image/object/bbox/{k}") for k in ("ymin", "xmin", "ymax", "xmax")], axis=-1)
    boxes = tf.reshape(boxes, [-1, 4])
    if decode_image:
        image = tf.io.decode_image(p["image/encoded"], channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
    else:
        image = p["image/encoded"]
    return {
        "image": image,
        "boxes": boxes,
        "classes": tf.cast(dense("image/object/class/label"), tf.int32),
        "texts": dense("image/object/class/text"),
        "difficult": tf.cast(dense("image/object/difficult"), tf.int32),
        "truncated": tf.cast(dense("image/object/truncated"), tf.int32),
        "is_crowd": tf.cast(dense("image/object/is_crowd"), tf.int32),
        "area": dense("image/object/area"),
        "source_id": p["image/source_id"],
        "filename": p["image/filename"],
        "format": p["image/format"],
        "height": tf.cast(p["image/height"], tf.int32),
        "width": tf.cast(p["image/width"], tf.int32),
        "sha256": p["image/key/sha256"],
    }


def record_files(path_or_pattern: str | os.PathLike | Sequence[str], split: str | None = None) -> tuple[list[str], str]:
    """The TFRecord files and their compression (``""`` or ``"GZIP"``, or
    ``"mixed"`` when they differ: see :func:`file_compressions`) of a
    :class:`~dataprep.records.recordset.RecordSet`: a dataprep output folder
    (its manifest), a folder, a glob pattern, a file or a list; only
    ``split``'s files when given (the manifest's split, else the file name's)."""
    records = RecordSet.find(path_or_pattern, split)
    if not records.files:
        raise UsageError(f"{path_or_pattern}: {'split ' + repr(split) if split else 'the output'} has no shards "
                         "(every image was skipped: see report.json)")
    kinds = set(records.compressions())
    return [str(f.path) for f in records.files], kinds.pop() if len(kinds) == 1 else "mixed"


def file_compressions(files: Sequence[str]) -> list[str]:
    """``"GZIP"`` or ``""`` for each file, from its first bytes (see :meth:`RecordSet.compressions`)."""
    return RecordSet.find(list(files)).compressions()


def load_dataset(
    path_or_pattern: str | os.PathLike | Sequence[str],
    split: str | None = None,
    *,
    decode_image: bool = True,
    num_parallel_calls: int = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of parsed examples (see :func:`parse_example`).

    ``path_or_pattern`` is a dataprep output folder (its manifest names the
    shards of ``split``; all splits when ``split`` is None), a glob such as
    ``"out/train-*.tfrecord"``, one file, or a list of files. GZIP-compressed
    records are detected per file.
    """
    files, compression = record_files(path_or_pattern, split)
    readers = min(len(files), 8) if len(files) > 1 else None
    if compression != "mixed":
        ds = tf.data.TFRecordDataset(files, compression_type=compression, num_parallel_reads=readers)
    else:  # the same interleave TFRecordDataset does, with each file's own compression
        ds = tf.data.Dataset.from_tensor_slices((files, file_compressions(files))).interleave(
            lambda f, c: tf.data.TFRecordDataset(f, compression_type=c), cycle_length=readers, block_length=1,
            num_parallel_calls=readers, deterministic=True)
    return ds.map(lambda s: parse_example(s, decode_image), num_parallel_calls=num_parallel_calls)


@contextlib.contextmanager
def named_record_errors(path_or_pattern, split: str | None = None):
    """Turn TensorFlow's ``DataLossError`` ("corrupted record at 1234", no file
    named) into a :class:`~dataprep.records.framing.RecordError` naming the
    file and offset, found by re-reading the records without TensorFlow."""
    try:
        yield
    except tf.errors.DataLossError as exc:
        files, _ = record_files(path_or_pattern, split)
        for f in files:
            for _ in read_records(f):  # raises RecordError at the first bad record
                pass
        first = (exc.message or str(exc)).strip().splitlines()[0]
        raise DataprepError(f"{path_or_pattern}: TensorFlow cannot read the records ({first})") from None
