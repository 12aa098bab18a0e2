"""TFRecord reader: records written by any tool (TF OD API keys) back into the
dataset model, so they get every check ``convert`` runs and are rewritten to
the record contract.

::

    'shards*.tfrecord' --RecordSet.scan (framing, CRC, GZIP per file; tolerant)--> serialized examples
        --parse_features--> where the image bytes lie (RecordImageStore) + one row per image and per box
        --resolve_labels (--label-map, or class/text + class/label)--> Dataset

What other tools get wrong is repaired and reported, never silently: a record
with a bad CRC or an unparseable example is skipped (``record.corrupt``) and
the rest of the file is still read (after a damaged length the scan finds the
next valid record); label ids from 0 are moved up (``label.zero_id``); a
missing or wrong ``image/key/sha256``, an ``image/format`` that is not the
bytes' format, an ``image/height/width`` that is not the image's size, a
missing or unsafe file name are each a finding and fixed in the output.

Pixel convention. Record boxes are ``ymin, xmin, ymax, xmax`` fractions of
the image size; they enter the hub as normalized ``xyxy``
(``box_units = "normalized"``), scaled by the real size when written.

The image bytes are never held for the whole dataset, nor copied out: the
dataset's ``image_store`` (:mod:`dataprep.records.image_store`) notes where
each image lies in its record file, and the conversion's decode check reads
it from there. A GZIP file has no random access: its images are appended to
one spool file in a temporary folder removed with the dataset. With
``images_dir`` (``export-annotations``) they are staged there as files
instead. No TensorFlow.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import re
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.errors import LabelMapError, UsageError
from dataprep.formats.registry import Argument, SourceFormat
from dataprep.label_map import LabelMap, LabelMapItem
from dataprep.records.example import parse_features
from dataprep.records.naming import looks_like_records
from dataprep.records.image_store import RecordImageStore
from dataprep.records.recordset import RecordFile, RecordSet
from dataprep.records.framing import HEADER_BYTES, is_gzip
from dataprep.findings import DROPPED_BOX, ERROR, FIXED, INFO, RENAMED, SKIPPED_IMAGE, WARNING, Finding
from dataprep.validate.images import safe_join, sniff_format

_EXT = {"jpeg": ".jpg", "png": ".png"}
#: The spool file of the images of GZIP record files, in the temporary images root.
SPOOL_NAME = ".gzip-images.spool"
#: The list kind each TF OD API key must have; another kind makes the record unreadable.
_KINDS = {
    **{f"image/{k}": "bytes_list" for k in ("encoded", "format", "filename", "source_id", "key/sha256")},
    **{f"image/{k}": "int64_list" for k in ("height", "width")},
    **{f"image/object/bbox/{k}": "float_list" for k in ("xmin", "ymin", "xmax", "ymax")},
    **{f"image/object/{k}": "int64_list" for k in ("class/label", "difficult", "truncated", "is_crowd")},
    **{f"image/object/{k}": "bytes_list" for k in ("class/text", "view")},
    "image/object/area": "float_list",
}


# -- one example -------------------------------------------------------------------

def _first(features: dict, key: str, default=None):
    values = features.get(key) or []
    return values[0] if values else default


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else ""


@dataclass
class _Reader:
    """State while reading the files of one source."""

    stage: Path
    #: Where the images' bytes are read from; None: staged as files in ``stage``.
    store: RecordImageStore | None = None
    findings: list[Finding] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    objects: dict = field(default_factory=lambda: {k: [] for k in (
        "image_id", "index", "raw_text", "raw_label", "xmin", "ymin", "xmax", "ymax", "difficult", "truncated",
        "is_crowd", "view", "where")})
    names: dict = field(default_factory=dict)  # file name -> sha256 of its bytes
    dropped_boxes: int = 0
    compressed: dict = field(default_factory=dict)  # record file -> whether it is GZIP
    spool: object = None  # the GZIP files' images, appended as read

    def skip(self, file: RecordFile, offset: int, k: int, detail: str, code: str = "record.corrupt",
             severity: str = ERROR) -> None:
        """A record that is not used: counted as an image read and skipped."""
        shard = file.name
        item = f"{shard} record {k}"
        self.findings.append(Finding(severity, code, item, shard, detail, SKIPPED_IMAGE, annotation=item))
        self.images.append({"image_id": len(self.images) + 1, "file": f"{shard}@{offset}", "split": file.split,
                            "annotation": item, "error": f"{code}: {detail}", "source_id": ""})

    def staged_name(self, wanted: str, fmt: str, item: str, shard: str) -> str:
        """The file name the image keeps, unless it is empty, escapes the
        folder or repeats one already used (then renamed, with a finding)."""
        name = wanted.replace("\\", "/").strip()
        # Staged names must stay inside the staging folder, links included; with a store
        # the folder is a fresh temporary one (no links in it): the lexical check suffices.
        inside = safe_join(self.stage, name, follow_symlinks=self.store is not None) is not None
        ok = bool(name) and inside and not name.endswith("/")
        if ok and name not in self.names:
            return name
        stem, ext = os.path.splitext(os.path.basename(name))
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")
        ext = ext if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", ext) else _EXT.get(fmt, ".img")
        new = f"{stem or 'image'}-{len(self.images) + 1:06d}{ext}"
        why = ("is used by an earlier record" if ok else "is empty" if not name
               else "is not a relative path inside the dataset")
        self.findings.append(Finding(WARNING, "record.filename_replaced", item, shard,
                                     f"image/filename {wanted!r} {why}; written as {new!r}", RENAMED,
                                     annotation=item, value=wanted))
        return new

    def keep(self, file: RecordFile, offset: int, data: bytes, encoded: bytes, name: str) -> None:
        """Where image ``name``'s bytes will be read from: their place in an
        uncompressed record file, else a spool file (GZIP), or a file of
        their own when staging (``images_dir``)."""
        if self.store is None:
            path = self.stage / name
            if "/" in name:
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoded)
            return
        compressed = self.compressed.get(file.path)
        if compressed is None:
            compressed = self.compressed[file.path] = is_gzip(file.path)
        if compressed:
            if self.spool is None:
                self.spool = open(self.stage / SPOOL_NAME, "wb")
            self.store.add(name, self.spool.name, self.spool.tell(), len(encoded))
            self.spool.write(encoded)
        else:  # the bytes of a bytes_list value lie contiguous in the serialized example
            self.store.add(name, file.path, offset + HEADER_BYTES + data.find(encoded), len(encoded))

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    def add(self, file: RecordFile, offset: int, k: int, data: bytes) -> None:
        shard = file.name
        item = f"{shard} record {k}"
        try:
            f, kinds = parse_features(data)
        except Exception as exc:  # protobuf raises DecodeError and others for garbage
            self.skip(file, offset, k, f"not a tf.train.Example ({type(exc).__name__}: {exc})")
            return
        wrong = sorted(key for key, kind in kinds.items() if kind and _KINDS.get(key, kind) != kind)
        if wrong:
            self.skip(file, offset, k, "features of the wrong type: " + ", ".join(
                f"{key} is {kinds[key]}, expected {_KINDS[key]}" for key in wrong[:3]))
            return
        encoded = _first(f, "image/encoded", b"")
        if not isinstance(encoded, bytes) or not encoded:
            self.skip(file, offset, k, "no image/encoded bytes")
            return
        real = sniff_format(encoded)
        said = _text(_first(f, "image/format", b"")).lower().strip()
        filename = _text(_first(f, "image/filename", b""))
        digest = hashlib.sha256(encoded).hexdigest()
        if self.names.get(filename) == digest:  # a rebalanced output's extra copy of an image
            self.skip(file, offset, k, f"a repeat of {filename!r} (same name and bytes, as --rebalance writes); "
                                        "read once", "record.repeat", INFO)
            return
        name = self.staged_name(filename, real or said, item, shard)
        if real and said != real and not (said in ("jpg",) and real == "jpeg"):
            self.findings.append(Finding(WARNING, "record.format_mismatch", item, shard,
                                         f"image/format says {said!r} but the bytes are {real}; written as {real!r}",
                                         FIXED, image=name, annotation=item))
        stated = _text(_first(f, "image/key/sha256", b""))
        if not stated:
            self.findings.append(Finding(INFO, "record.sha256_missing", item, shard,
                                         "no image/key/sha256 (TF OD API training needs it); added", FIXED,
                                         image=name, annotation=item))
        elif stated.lower() != digest:
            self.findings.append(Finding(WARNING, "record.sha256_mismatch", item, shard,
                                         f"image/key/sha256 {stated[:12]}... is not the sha256 of image/encoded "
                                         f"({digest[:12]}...); replaced", FIXED, image=name, annotation=item))
        width, height = self._size(f, encoded, item, shard, name)
        self.keep(file, offset, data, encoded, name)
        self.names[name] = digest
        image_id = len(self.images) + 1
        self.images.append({"image_id": image_id, "file": name, "split": file.split, "annotation": item,
                            "error": "", "width": width, "height": height,
                            "source_id": _text(_first(f, "image/source_id", b"")).strip()})
        self._objects(f, image_id, item, shard, name)

    def _size(self, f: dict, encoded: bytes, item: str, shard: str, name: str) -> tuple[float, float]:
        """``image/width, height`` as stated, unless the image header says
        otherwise (the EXIF-rotated size is left to the image check)."""
        w, h = _first(f, "image/width", 0), _first(f, "image/height", 0)
        w = float(w) if isinstance(w, int) and w > 0 else float("nan")
        h = float(h) if isinstance(h, int) and h > 0 else float("nan")
        real = header_size(encoded)
        if real is None:
            return w, h  # the image check reports it
        if w != w or h != h:
            return float(real[0]), float(real[1])
        if (int(w), int(h)) not in (real, real[::-1]):
            self.findings.append(Finding(WARNING, "record.size_mismatch", item, shard,
                                         f"image/width x height say {int(w)}x{int(h)} but the image is "
                                         f"{real[0]}x{real[1]}; the real size is written (boxes are fractions)",
                                         FIXED, image=name, annotation=item, value=[w, h]))
            return float(real[0]), float(real[1])
        return w, h

    def _objects(self, f: dict, image_id: int, item: str, shard: str, name: str) -> None:
        coords = [f.get(f"image/object/bbox/{c}", []) for c in ("xmin", "ymin", "xmax", "ymax")]
        texts = f.get("image/object/class/text", [])
        labels = f.get("image/object/class/label", [])
        n = min(len(c) for c in coords)
        read = max(max(len(c) for c in coords), len(texts), len(labels))
        keep = [k for k in range(n) if k < len(texts) or k < len(labels)]
        if read > len(keep):
            self.findings.append(Finding(ERROR, "record.ragged", item, shard,
                                         f"per-object lists of unequal length (xmin..ymax {[len(c) for c in coords]}, "
                                         f"class/text {len(texts)}, class/label {len(labels)}); "
                                         f"{read - len(keep)} object(s) without a box or a class dropped", DROPPED_BOX,
                                         image=name, annotation=item))
            self.dropped_boxes += read - len(keep)
            self.images[-1]["reader_dropped"] = read - len(keep)  # --on-error skip skips such images

        def per_object(key, k, default):
            values = f.get(key, [])
            return values[k] if k < len(values) else default

        o = self.objects
        for k in keep:
            o["image_id"].append(image_id)
            o["index"].append(k)
            o["raw_text"].append(_text(texts[k]) if k < len(texts) else None)
            o["raw_label"].append(int(labels[k]) if k < len(labels) else None)
            for c, values in zip(("xmin", "ymin", "xmax", "ymax"), coords):
                o[c].append(float(values[k]))
            for c in ("difficult", "truncated", "is_crowd"):
                o[c].append(int(per_object(f"image/object/{c}", k, 0)))
            o["view"].append(_text(per_object("image/object/view", k, b"")))
            o["where"].append(item)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first SOF segment (ITU T.81 B.2.2: after
    the segment length, P (1 byte), Y = lines (2), X = samples per line (2)),
    walking the marker segments as Pillow's JpegImagePlugin does; None when
    the walk fails."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOF0..SOF15
            if i + 9 > n:
                return None
            height, width = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def header_size(encoded: bytes) -> tuple[int, int] | None:
    """(width, height) from the image header, no pixel decoded: JPEG and PNG
    (IHDR) parsed here (Pillow's ``open`` cost more than the rest of reading a
    record), anything else by Pillow; None when it does not open."""
    if encoded.startswith(b"\xff\xd8"):
        size = _jpeg_size(encoded)
        if size is not None:
            return size
    elif encoded.startswith(b"\x89PNG\r\n\x1a\n") and encoded[12:16] == b"IHDR" and len(encoded) >= 24:
        return int.from_bytes(encoded[16:20], "big"), int.from_bytes(encoded[20:24], "big")
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression bomb is refused by the image check
            return Image.open(io.BytesIO(encoded)).size  # the header only: no decode here
    except Exception:
        return None


# -- labels ------------------------------------------------------------------------

def resolve_labels(objects: pd.DataFrame, label_map: LabelMap | None, findings: list[Finding],
                   source: str) -> tuple[pd.Series, LabelMap]:
    """The class name of every object and the label map.

    With ``label_map``: like the TF OD API decoder, ``class/text`` is mapped
    through it (name or display_name) and ``class/label`` is used only where
    there is no text; a label that disagrees with its text is a finding.
    Without: the map is derived from the (text, label) pairs, refused when
    one text has two ids or one id two texts; ids below 1 are moved up so the
    smallest is 1 (``label.zero_id``).
    """
    text = objects["raw_text"]
    label = objects["raw_label"]
    has_text = text.notna() & (text.astype(str) != "")
    has_label = label.notna()
    if label_map is not None:
        ids = pd.Series(label_map.ids_for(text.where(has_text, "").astype(str).tolist()), index=objects.index)
        named = has_text & (ids > 0)
        names = text.where(has_text, "").astype(str)
        names[named] = [label_map.name_of(i) for i in ids[named]]
        bad = named & has_label & (label.fillna(-1).astype(np.int64) != ids)
        for where, t, lb, i in zip(objects["where"][bad], text[bad], label[bad], ids[bad]):
            findings.append(Finding(WARNING, "record.label_mismatch", where, source,
                                    f"class/text {t!r} is id {i} in the label map but class/label is {int(lb)}; "
                                    "the text decides (as the TF OD API decoder does)", FIXED,
                                    annotation=where, value=[t, int(lb)]))
        by_label = ~has_text & has_label
        known = {i.id: i.name for i in label_map}
        names[by_label] = [known.get(int(v), "") for v in label[by_label]]
        for where, v in zip(objects["where"][by_label], label[by_label]):
            if int(v) not in known:
                findings.append(Finding(ERROR, "record.label_unknown", where, source,
                                        f"no class/text and class/label {int(v)} is not in the label map "
                                        f"(ids: {sorted(known)})", DROPPED_BOX, annotation=where,
                                        value=int(v)))
        return names, label_map

    both = has_text & has_label
    pairs = pd.DataFrame({"text": text[both].astype(str), "label": label[both].astype(np.int64),
                          "where": objects["where"][both]})
    conflicts = []
    for key, other in (("text", "label"), ("label", "text")):
        counts = pairs.groupby(key)[other].nunique()
        for value in counts[counts > 1].index[:3]:
            rows = pairs[pairs[key] == value].drop_duplicates(other).head(2)
            seen = "; ".join(f"{r.where}: {r.text!r} = {r.label}" for r in rows.itertuples())
            conflicts.append(f"{key} {value!r} has several {other}s ({seen})")
    if conflicts:
        raise LabelMapError(f"{source}: class/text and class/label disagree: {'; '.join(conflicts)}. "
                            "Pass --label-map FILE: the text is then mapped through it, as the TF OD API decoder does")
    name_of = dict(zip(pairs["label"], pairs["text"]))
    id_of = {t: i for i, t in name_of.items()}
    next_id = max(name_of, default=0) + 1
    for t in sorted(set(text[has_text & ~has_label].astype(str)) - set(id_of)):
        id_of[t], name_of[next_id] = next_id, t
        next_id += 1
    orphan = sorted(set(label[~has_text & has_label].astype(np.int64)) - set(name_of))
    for i in orphan:
        name_of[int(i)] = f"class_{int(i)}"
    if orphan:
        findings.append(Finding(WARNING, "record.text_missing", "class/text", source,
                                f"ids {orphan} have no class/text anywhere; named "
                                f"{', '.join(name_of[int(i)] for i in orphan[:5])}{' ...' if len(orphan) > 5 else ''}",
                                RENAMED, annotation=source, value=[int(i) for i in orphan]))
    shift = 1 - min(name_of) if name_of and min(name_of) < 1 else 0
    if shift:
        moved = ", ".join(f"{name_of[i]!r} {i}->{i + shift}" for i in sorted(name_of)[:6])
        findings.append(Finding(WARNING, "label.zero_id", "class/label", source,
                                f"label ids start at {min(name_of)} but 0 is the background in TF detection; every id "
                                f"moved up by {shift}: {moved}{' ...' if len(name_of) > 6 else ''}", FIXED,
                                annotation=source))
    lm = LabelMap((LabelMapItem(i + shift, t) for i, t in name_of.items()), source=f"{source} (class/text + label)")
    names = text.where(has_text, "").astype(str)
    names[~has_text & has_label] = [name_of[int(v)] for v in label[~has_text & has_label]]
    return names, lm


# -- the reader --------------------------------------------------------------------

def read_tfrecord(pattern: str | Path, *, label_map: str | Path | LabelMap | None = None,
                  images_dir: str | Path | None = None) -> Dataset:
    """Read TFRecords written by any tool into a :class:`Dataset`.

    ``pattern`` is a file, a folder or a glob. ``label_map`` (a .pbtxt or a
    :class:`LabelMap`) names the classes; without it they come from the
    records' ``class/text`` and ``class/label``. The images stay in the
    record files (the dataset's ``image_store``; a GZIP file's images are
    spooled to one file in a temporary folder removed with the dataset), or
    are staged as files in ``images_dir`` when it is given.
    """
    records = RecordSet.find(pattern)
    files = [f.path for f in records.files]
    if isinstance(label_map, (str, Path)):
        label_map = LabelMap.read(label_map)
    temporary = images_dir is None
    stage = Path(tempfile.mkdtemp(prefix="dataprep-tfrecord-") if temporary else images_dir)
    stage.mkdir(parents=True, exist_ok=True)
    try:
        reader = _Reader(stage, RecordImageStore(stage) if temporary else None)
        try:
            for file, k, rec in records.scan(strict=False):
                if rec.data is None:
                    reader.skip(file, rec.offset, k, rec.problem)
                else:
                    reader.add(file, rec.offset, k, rec.data)
        finally:
            reader.close()
        source = str(pattern)
        images = pd.DataFrame(reader.images, columns=["image_id", "file", "split", "annotation", "error", "width",
                                                      "height", "source_id", "reader_dropped"])
        objects = pd.DataFrame(reader.objects)
        names, lm = resolve_labels(objects, label_map, reader.findings, source)
        objects["text"] = names
        images, assign = _image_ids(images, reader.findings, source)
        if not assign:  # objects follow their image to its source_id
            objects["image_id"] = images["image_id"].to_numpy()[objects["image_id"].to_numpy(np.int64) - 1]
        ds = Dataset.build(
            images.drop(columns="source_id"), objects.drop(columns=["raw_text", "raw_label", "where"]), stage,
            box_units="normalized", label_map=lm, findings=reader.findings,
            dropped_boxes=reader.dropped_boxes, assign_ids=assign, image_store=reader.store,
            source={"format": "tfrecord", "pattern": source, "files": [str(p) for p in files]},
        )
    except BaseException:
        if temporary:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    if temporary:
        weakref.finalize(ds, shutil.rmtree, str(stage), True)
    return ds


def _image_ids(images: pd.DataFrame, findings: list[Finding], source: str) -> tuple[pd.DataFrame, bool]:
    """Keep the records' ``image/source_id`` as image ids when every readable
    record has a distinct positive integer one; else number them 1..N by file."""
    good = images["error"] == ""
    sid = images.loc[good, "source_id"].astype(str)
    usable = len(sid) > 0 and sid.str.fullmatch(r"\d{1,18}").all()
    if usable:
        values = sid.astype(np.int64)
        usable = bool((values > 0).all()) and not values.duplicated().any()
    if not usable:
        if good.any():
            findings.append(Finding(INFO, "record.source_id_replaced", "image/source_id", source,
                                    "image/source_id is not a distinct positive integer in every record "
                                    f"(e.g. {sid.iloc[0]!r}); numbered 1..N by file name instead", FIXED,
                                    annotation=source))
        return images, True
    images = images.copy()
    images.loc[good, "image_id"] = values.to_numpy()
    top = int(values.max())
    images.loc[~good, "image_id"] = np.arange(top + 1, top + 1 + int((~good).sum()))
    return images, False


# -- the source registry -------------------------------------------------------------


def detect(path: Path) -> bool:
    """A TFRecord-named file (``.tfrecord``, ``.record-00000-of-00010`` ...), a
    folder of them, or a glob that matches files."""
    text = os.fspath(path)
    if glob.has_magic(text):
        return any(os.path.isfile(p) for p in glob.iglob(text))
    if path.is_dir():
        return any(p.is_file() and looks_like_records(p.name) for p in path.iterdir())
    return path.is_file() and looks_like_records(path.name)


def open_source(spec) -> Dataset:
    if spec.path is None:
        raise UsageError("give the TFRecord files: a file, a folder or a quoted glob")
    return read_tfrecord(os.fspath(spec.path), label_map=spec.label_map)


SOURCE = SourceFormat(
    "tfrecord", detect, open_source, "TFRecords (*.tfrecord, *.record-*, a quoted glob)",
    argument=Argument("pattern", "TFRecords written by any tool: a file, a folder or a quoted glob "
                                 "('in/train-*.tfrecord'); GZIP detected per file (local disk only)."),
    summary="TFRecords of any tool (TF OD API keys): repaired, checked like any source and rewritten to the "
            "contract.\nClasses come from --label-map, or from the records' class/text + class/label.")
