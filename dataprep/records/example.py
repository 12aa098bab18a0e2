"""The one ``tf.train.Example`` encoder (and its TensorFlow-free decoder).

Every reader's output goes through :func:`encode_example`; the keys and types
are the record contract of DESIGN.md, compatible with the TF Object Detection
API's and the Model Garden's ``TfExampleDecoder``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dataprep.protos import Example

#: Feature keys of the record contract.
KEYS = (
    "image/encoded",
    "image/format",
    "image/height",
    "image/width",
    "image/filename",
    "image/source_id",
    "image/key/sha256",
    "image/object/bbox/xmin",
    "image/object/bbox/xmax",
    "image/object/bbox/ymin",
    "image/object/bbox/ymax",
    "image/object/class/text",
    "image/object/class/label",
    "image/object/difficult",
    "image/object/truncated",
    "image/object/is_crowd",
    "image/object/area",
    "image/object/view",
)


@dataclass
class ExampleData:
    """One image and its objects, ready to encode. Boxes are normalized
    ``ymin, xmin, ymax, xmax`` in ``[0, 1]``."""

    encoded: bytes
    format: str
    height: int
    width: int
    filename: str
    source_id: int
    boxes: np.ndarray  # (N, 4) ymin, xmin, ymax, xmax, normalized
    texts: Sequence[str]
    labels: Sequence[int]
    difficult: Sequence[int]
    truncated: Sequence[int]
    is_crowd: Sequence[int]
    area: Sequence[float]
    view: Sequence[str]
    #: hex sha256 of ``encoded`` when the caller already has it
    sha256: str = ""


def encode_example(d: ExampleData) -> bytes:
    """Serialize one example (deterministic: map keys sorted)."""
    ex = Example()
    f = ex.features.feature

    def b(key, values):
        f[key].bytes_list.value.extend(values)

    def i(key, values):
        f[key].int64_list.value.extend(values)

    def fl(key, values):
        f[key].float_list.value.extend(values)

    b("image/encoded", [d.encoded])
    b("image/format", [d.format.encode()])
    i("image/height", [int(d.height)])
    i("image/width", [int(d.width)])
    b("image/filename", [d.filename.encode("utf-8")])
    b("image/source_id", [str(int(d.source_id)).encode()])
    b("image/key/sha256", [(d.sha256 or hashlib.sha256(d.encoded).hexdigest()).encode()])
    boxes = np.asarray(d.boxes, dtype=np.float32).reshape(-1, 4)
    fl("image/object/bbox/ymin", boxes[:, 0].tolist())
    fl("image/object/bbox/xmin", boxes[:, 1].tolist())
    fl("image/object/bbox/ymax", boxes[:, 2].tolist())
    fl("image/object/bbox/xmax", boxes[:, 3].tolist())
    b("image/object/class/text", [t.encode("utf-8") for t in d.texts])
    i("image/object/class/label", [int(x) for x in d.labels])
    i("image/object/difficult", [int(x) for x in d.difficult])
    i("image/object/truncated", [int(x) for x in d.truncated])
    i("image/object/is_crowd", [int(x) for x in d.is_crowd])
    fl("image/object/area", [float(x) for x in d.area])
    b("image/object/view", [v.encode("utf-8") for v in d.view])
    return ex.SerializeToString(deterministic=True)


#: The keys :func:`decode_example` needs for everything but the image bytes.
NO_IMAGE_KEYS = tuple(k for k in KEYS if k != "image/encoded")


def parse_features(data: bytes, keys: Sequence[str] | None = None) -> tuple[dict, dict]:
    """The one parser of a serialized ``tf.train.Example`` (no TensorFlow):
    ``(values, kinds)``, each feature's list of values and its list kind
    (``bytes_list``, ``float_list``, ``int64_list``, or None when unset).
    ``keys`` limits the work to those features; the others are absent.
    Raises what protobuf raises for bytes that are not an Example."""
    fmap = Example.FromString(data).features.feature
    items = fmap.items() if keys is None else ((k, fmap[k]) for k in keys if k in fmap)
    values, kinds = {}, {}
    for key, feat in items:
        kind = kinds[key] = feat.WhichOneof("kind")
        values[key] = list(getattr(feat, kind).value) if kind else []
    return values, kinds


def decode_example(data: bytes, keys: Sequence[str] | None = None) -> dict:
    """Parse a serialized example into plain Python values (no TensorFlow).

    Lists stay lists; ``boxes`` is an (N, 4) float32 array of ymin, xmin,
    ymax, xmax. Unknown keys are kept under their key with their list value.
    ``keys`` limits the work to those features (e.g. :data:`NO_IMAGE_KEYS`
    for statistics): the others read as missing.
    """
    out, _ = parse_features(data, keys)

    def one(key, default=None):
        v = out.get(key) or [default]
        return v[0]

    n = len(out.get("image/object/bbox/ymin", []))
    boxes = np.stack(
        [np.asarray(out.get(f"image/object/bbox/{k}", []), dtype=np.float32) for k in ("ymin", "xmin", "ymax", "xmax")],
        axis=1,
    ) if n else np.zeros((0, 4), np.float32)
    return {
        "encoded": one("image/encoded", b""),
        "format": one("image/format", b"").decode(),
        "height": int(one("image/height", 0)),
        "width": int(one("image/width", 0)),
        "filename": one("image/filename", b"").decode("utf-8"),
        "source_id": one("image/source_id", b"").decode(),
        "sha256": one("image/key/sha256", b"").decode(),
        "boxes": boxes,
        "texts": [t.decode("utf-8") for t in out.get("image/object/class/text", [])],
        "labels": [int(x) for x in out.get("image/object/class/label", [])],
        "difficult": list(out.get("image/object/difficult", [])),
        "truncated": list(out.get("image/object/truncated", [])),
        "is_crowd": list(out.get("image/object/is_crowd", [])),
        "area": list(out.get("image/object/area", [])),
        "view": [v.decode("utf-8") for v in out.get("image/object/view", [])],
        "features": out,
    }
