"""The one naming rule of record files: what looks like a TFRecord file, which
split a file's name says, and which shard of how many it is.

Every command that finds record files without a manifest (``inspect``,
``stats``, ``split``'s reader, ``convert tfrecord``, ``export-annotations``,
``load_dataset``) asks :func:`split_of` and nothing else, so they agree. A
dataprep output folder's ``manifest.json`` names its splits itself and wins.

The rule, applied to the file name (not its folder)::

    name  --strip .gz, the shard part -NNNNN-of-NNNNN, the record extension-->  stem
    1. name is dataprep's own  {split}-{i:05d}-of-{n:05d}.tfrecord[.gz]  -> that split, verbatim
       (what the manifest beside it says: a ``--split holdout=0.1`` output reads back as ``holdout``)
    2. else the first word of the stem (words: runs of letters) that names a split
       -> its canonical name (:data:`SPLIT_WORDS`: validation, valid, eval, dev -> val ...)
    3. else train (a file that names no split is training data)

=====================================  =========
file name                              split
=====================================  =========
``train-00000-of-00004.tfrecord``      train
``holdout-00000-of-00001.tfrecord``    holdout
``validation.tfrecord``                val
``val.record``                         val
``coco_val.record-00003-of-00010``     val
``pets_eval.record``                   val
``test.tfrecord-00001-of-00002``       test
``train.record.gz``                    train
``coco_train2017.tfrecord``            train
``mydata.tfrecord``                    train
=====================================  =========
"""

from __future__ import annotations

import re

#: dataprep's shard names (the writer's format and the pattern that reads it back).
SHARD_NAME = "{split}-{index:05d}-of-{count:05d}.tfrecord"
SHARD_RE = re.compile(r"^(?P<split>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$")
#: Names that look like TFRecord files: ``x.tfrecord(s)``, ``x.record(s)``, ``x.tfrec``, each optionally
#: ``.gz`` and/or followed by ``-00000-of-00010``; or any name with a ``-00000-of-00004`` shard part.
RECORD_NAME = re.compile(r"\.(tfrecords?|records?|tfrec)(\.gz)?(-\d+-of-\d+)?$|-\d+-of-\d+(\.\w+)*$", re.I)
#: The shard part of a name, wherever it stands: ``-00003-of-00010``.
_SHARD_PART = re.compile(r"-(?P<index>\d+)-of-(?P<count>\d+)", re.I)
_EXTENSIONS = re.compile(r"(\.(tfrecords?|records?|tfrec|gz))+$", re.I)
#: dataprep's own shard names, compressed or not: the split is the name's first part.
_OURS = re.compile(r"^(?P<split>[A-Za-z0-9]+)-\d{5}-of-\d{5}\.tfrecord(\.gz)?$")
#: Words that name a split, and the split they name.
SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "eval": "val", "dev": "val", "test": "test", "testing": "test", "trainval": "trainval"}
DEFAULT_SPLIT = "train"


def looks_like_records(name: str) -> bool:
    """Whether a file name looks like a TFRecord file (see :data:`RECORD_NAME`)."""
    return bool(RECORD_NAME.search(name))


def shard_of(name: str) -> tuple[int, int] | None:
    """``(index, count)`` of a sharded file name (``x.record-00003-of-00010`` -> (3, 10)), else None."""
    m = _SHARD_PART.search(name)
    return (int(m["index"]), int(m["count"])) if m else None


def stem_of(name: str) -> str:
    """The name without its shard part and record extensions: ``coco_val.record-00003-of-00010`` -> ``coco_val``."""
    return _EXTENSIONS.sub("", _SHARD_PART.sub("", name)) or name


def split_of(name: str) -> str:
    """The split a record file's name says (see the module docstring for the rule and its table)."""
    ours = _OURS.match(name)
    if ours:
        return ours["split"]
    for word in re.split(r"[^a-z]+", stem_of(name).lower()):
        if word in SPLIT_WORDS:
            return SPLIT_WORDS[word]
    return DEFAULT_SPLIT


def shard_name(split: str, index: int, count: int) -> str:
    """dataprep's name for shard ``index`` of ``count`` of ``split``."""
    return SHARD_NAME.format(split=split, index=index, count=count)
