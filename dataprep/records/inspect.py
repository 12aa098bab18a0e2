"""``dataprep inspect``: read every record back and check it against the
contract and the manifest, without TensorFlow; draw a few previews.

Records with no manifest (another tool's) get the same checks per record, and
the classes the TF OD API's ``TfExampleDecoder`` would hand to training:
``class/text`` mapped through the label map (by name or display_name; unknown
text becomes -1), ``class/label`` only where there is no text or no label map.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from dataprep.progress import progress_bar

from dataprep.errors import UsageError
from dataprep.label_map import LabelMap
from dataprep.records.example import decode_example
from dataprep.records.manifest import inside
from dataprep.records.recordset import RecordSet
from dataprep.records.framing import RecordError, read_records

_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
           "#008080"]


@dataclass
class InspectResult:
    examples: int = 0
    boxes: int = 0
    problems: list[str] = field(default_factory=list)
    previews: list[Path] = field(default_factory=list)
    per_split: dict = field(default_factory=dict)
    #: Boxes per class id as the TF OD API decoder would read them (records without a manifest).
    decoder_classes: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_example(ex: dict, where: str, label_map: LabelMap | None) -> list[str]:
    """The contract checks on one decoded example; returns problems."""
    p = []
    if ex["format"] not in ("jpeg", "png"):
        p.append(f"{where}: image/format {ex['format']!r} is not jpeg or png")
    if hashlib.sha256(ex["encoded"]).hexdigest() != ex["sha256"]:
        p.append(f"{where}: image/key/sha256 does not match image/encoded")
    if not ex["source_id"].isdigit():
        p.append(f"{where}: image/source_id {ex['source_id']!r} is not a decimal integer")
    try:
        im = Image.open(io.BytesIO(ex["encoded"]))
        im.load()
        real_fmt = {"JPEG": "jpeg", "PNG": "png", "MPO": "jpeg"}.get(im.format, im.format)
        if real_fmt != ex["format"]:
            p.append(f"{where}: image/format says {ex['format']!r} but the bytes are {real_fmt}")
        if im.size != (ex["width"], ex["height"]):
            p.append(f"{where}: image is {im.size[0]}x{im.size[1]} but the record says {ex['width']}x{ex['height']}")
    except Exception as exc:
        p.append(f"{where}: image does not decode ({type(exc).__name__}: {exc})")
    b = ex["boxes"]
    n = len(b)
    lengths = {k: len(ex[k]) for k in ("texts", "labels", "difficult", "truncated", "is_crowd", "area", "view")}
    if any(v != n for v in lengths.values()):
        p.append(f"{where}: {n} boxes but per-object list lengths {lengths}")
    if n:
        if not np.isfinite(b).all() or (b < 0).any() or (b > 1).any():
            p.append(f"{where}: boxes outside [0, 1]: {b[~((b >= 0) & (b <= 1)).all(axis=1)][:3].tolist()}")
        if (b[:, 0] >= b[:, 2]).any() or (b[:, 1] >= b[:, 3]).any():
            p.append(f"{where}: a box has min >= max")
    if any(lbl < 1 for lbl in ex["labels"]):
        p.append(f"{where}: class/label < 1 (0 is the background): {ex['labels']}")
    if label_map is not None and lengths["texts"] == lengths["labels"]:
        for t, lbl in zip(ex["texts"], ex["labels"]):
            try:
                if label_map.id_of(t) != lbl:
                    p.append(f"{where}: class/text {t!r} is id {label_map.id_of(t)} in the label map, "
                             f"but class/label is {lbl}")
                    break
            except Exception:
                p.append(f"{where}: class/text {t!r} is not in the label map")
                break
    return p


def draw_preview(ex: dict, path: Path, label_map: LabelMap | None = None) -> bool:
    """Draw ``ex``'s boxes on its image into ``path``; False (nothing written)
    when the example cannot be drawn: its image does not decode or a box is not
    finite (the problems themselves are reported by :func:`check_example`)."""
    boxes = np.asarray(ex["boxes"], dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(ex["encoded"])).convert("RGB")
    except Exception:  # Pillow raises many types for non-images
        return False
    draw = ImageDraw.Draw(im)
    W, H = im.size
    for (y0, x0, y1, x1), text, label in zip(np.clip(boxes, -1.0, 2.0), ex["texts"], ex["labels"]):
        color = _COLORS[int(label) % len(_COLORS)]
        draw.rectangle([x0 * W, y0 * H, max(x1 * W - 1, x0 * W), max(y1 * H - 1, y0 * H)], outline=color, width=2)
        draw.text((x0 * W + 3, y0 * H + 2), f"{text} ({label})", fill=color)
    im.save(path)
    return True


def inspect_output(out: str | Path, *, previews: int = 4, preview_dir: Path | None = None,
                   progress: bool = True, label_map_path: str | Path | None = None) -> InspectResult:
    """Check a dataprep output folder against its manifest, or any records
    (a folder without manifest.json, a file or a glob) on their own."""
    records = RecordSet.find(out)
    if records.manifest is None:
        return inspect_records(records, label_map=label_map_path, previews=previews, preview_dir=preview_dir,
                               progress=progress)
    out = records.folder
    manifest = records.manifest  # untrusted: names are plain, counts are counts
    label_map = LabelMap.read(out / manifest.get("label_map", "label_map.pbtxt"))
    result = InspectResult()
    preview_dir = Path(preview_dir) if preview_dir else out / "previews"
    total = sum(s["examples"] for s in manifest["splits"].values())
    bar = progress_bar(total, "inspect", "ex", progress)
    for split, info in manifest["splits"].items():
        n_split = 0
        for shard in info["shards"]:
            path = out / shard["file"]
            if not path.is_file():
                result.problems.append(f"{path}: listed in the manifest but missing")
                continue
            digest = _file_sha256(path)
            if digest != shard["sha256"]:
                result.problems.append(f"{path}: sha256 {digest[:12]}... differs from the manifest's")
            n = 0
            try:
                for k, data in enumerate(read_records(path)):
                    where = f"{shard['file']} record {k}"
                    try:
                        ex = decode_example(data)
                    except Exception as exc:
                        result.problems.append(f"{where}: not a tf.train.Example ({exc})")
                        continue
                    result.problems.extend(check_example(ex, where, label_map))
                    result.boxes += len(ex["boxes"])
                    if len(result.previews) < previews and len(ex["boxes"]):
                        preview_dir.mkdir(parents=True, exist_ok=True)
                        dest = preview_dir / f"{split}-{len(result.previews):02d}.png"
                        if not inside(preview_dir, dest):  # the split name comes from the manifest
                            raise UsageError(f"{dest}: a preview would be written outside {preview_dir}")
                        if draw_preview(ex, dest, label_map):
                            result.previews.append(dest)
                    n += 1
                    bar.update(1)
            except RecordError as exc:
                result.problems.append(str(exc))
            if n != shard["examples"]:
                result.problems.append(f"{path}: {n} records but the manifest says {shard['examples']}")
            n_split += n
        result.per_split[split] = n_split
        result.examples += n_split
        if n_split != info["examples"]:
            result.problems.append(f"split {split}: {n_split} examples but the manifest says {info['examples']}")
    bar.close()
    return result


def decoder_classes(ex: dict, label_map: LabelMap | None) -> list[int]:
    """The class ids the TF OD API ``TfExampleDecoder`` yields for one example
    (see the module docstring)."""
    if label_map is not None and ex["texts"]:
        return label_map.ids_for(ex["texts"]).tolist()
    return list(ex["labels"])


def inspect_records(records: RecordSet | str | Path, *, label_map: str | Path | LabelMap | None = None, previews: int = 4,
                    preview_dir: Path | None = None, progress: bool = True) -> InspectResult:
    """Records without a manifest: every record's framing and contract, and
    what the TF OD API decoder would read as classes."""
    from collections import Counter

    if not isinstance(records, RecordSet):
        records = RecordSet.find(records)
    folder = records.folder
    if label_map is None:
        label_map = records.label_map_path()
    if isinstance(label_map, (str, Path)):
        label_map = LabelMap.read(label_map)
    result = InspectResult()
    preview_dir = Path(preview_dir) if preview_dir else folder / "previews"
    classes: Counter = Counter()
    unknown: Counter = Counter()
    with progress_bar(None, "inspect", "ex", progress) as bar:
        for file, k, rec in records.scan(strict=False):
            split = file.split
            where = f"{file.path.name} record {k}"
            if rec.data is None:
                result.problems.append(f"{where}: {rec.problem}")
                continue
            try:
                ex = decode_example(rec.data)
            except Exception as exc:
                result.problems.append(f"{where}: not a tf.train.Example ({type(exc).__name__}: {exc})")
                continue
            if not ex["sha256"]:
                result.problems.append(f"{where}: no image/key/sha256 (TF OD API training needs it)")
                ex["sha256"] = hashlib.sha256(ex["encoded"]).hexdigest()  # reported once, not twice
            n = len(ex["boxes"])
            for key in ("difficult", "truncated", "is_crowd", "area", "view"):
                if n and not ex[key]:  # optional for the decoders (they default them): not a problem here
                    ex[key] = [0] * n
            result.problems.extend(check_example(ex, where, label_map))
            ids = decoder_classes(ex, label_map)
            classes.update(ids)
            for text, i in zip(ex["texts"], ids):
                if i == -1:
                    unknown[text] += 1
            if label_map is not None and ex["texts"] and len(ex["labels"]) == len(ids) and ids != ex["labels"]:
                result.problems.append(f"{where}: the TF OD API decoder reads classes {ids} from class/text "
                                       f"but class/label is {ex['labels']} (the Model Garden decoder reads the "
                                       "labels)")
            result.boxes += len(ex["boxes"])
            if len(result.previews) < previews and len(ex["boxes"]):
                preview_dir.mkdir(parents=True, exist_ok=True)
                dest = preview_dir / f"{split}-{len(result.previews):02d}.png"
                if draw_preview(ex, dest, label_map):
                    result.previews.append(dest)
            result.per_split[split] = result.per_split.get(split, 0) + 1
            result.examples += 1
            bar.update(1)
    if unknown:
        result.problems.append("the TF OD API decoder reads -1 for class/text not in the label map: "
                               + ", ".join(f"{t!r} ({n} boxes)" for t, n in unknown.most_common(10)))
    result.decoder_classes = dict(sorted(classes.items()))
    return result
