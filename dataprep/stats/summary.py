"""Dataset statistics over a :class:`~dataprep.stats.collect.BoxTable`.

Everything is a column operation (``bincount``, ``percentile`` over sorted
groups); nothing loops over boxes. :func:`summarise` returns one JSON-able
dict; :func:`format_summary` renders it as compact terminal tables.

Sizes are in pixels of the image as stored (records: ``image/width``,
``image/height``; sources: the annotated size) and relative to it; aspect
ratio is width / height in pixels, the anchors' convention. COCO size buckets
here use the original pixel area; the anchor analysis buckets boxes by their
area at the model input instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dataprep.anchors import SIZE_BUCKETS
from dataprep.anchors.coverage import COCO_MEDIUM_AREA, COCO_SMALL_AREA
from dataprep.stats.collect import BoxTable

PERCENTILES = (5, 25, 50, 75, 95)
#: Box measures described per section and class: name -> what the terminal calls it.
MEASURES = {
    "width_px": "width px",
    "height_px": "height px",
    "width_rel": "width rel",
    "height_rel": "height rel",
    "area_px": "area px",
    "sqrt_area_rel": "sqrt(area) rel",
    "aspect_ratio": "aspect w/h",
}
_CLASS_MEASURES = ("width_px", "height_px", "aspect_ratio")


def describe(values: np.ndarray) -> dict[str, Any]:
    """count, mean, min, p5 ... p95, max of the finite values (None when empty)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out: dict[str, Any] = {"count": int(v.size)}
    if v.size == 0:
        out.update({"mean": None, "min": None, **{f"p{p}": None for p in PERCENTILES}, "max": None})
        return out
    q = np.percentile(v, PERCENTILES)
    out.update({"mean": float(v.mean()), "min": float(v.min()),
                **{f"p{p}": float(x) for p, x in zip(PERCENTILES, q)}, "max": float(v.max())})
    return out


def coco_buckets_px(area_px: np.ndarray) -> np.ndarray:
    """0 small, 1 medium, 2 large by pixel area (rounded to 0.01 px^2 as
    :func:`dataprep.anchors.coco_size_buckets` does)."""
    # COCO: small area < 32^2 <= medium < 96^2 <= large (cocoeval areaRng).
    area = np.round(area_px, 2)
    return (area >= COCO_SMALL_AREA).astype(np.int8) + (area >= COCO_MEDIUM_AREA).astype(np.int8)


def box_measures(table: BoxTable) -> dict[str, np.ndarray]:
    """Per-box columns: the :data:`MEASURES` plus ``bucket`` (COCO, original px)."""
    w_px, h_px = table.pixel_size()
    w_rel = table.boxes[:, 3].astype(np.float64) - table.boxes[:, 1]
    h_rel = table.boxes[:, 2].astype(np.float64) - table.boxes[:, 0]
    area = w_px * h_px
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(h_px > 0, w_px / h_px, np.nan)
    return {"width_px": w_px, "height_px": h_px, "width_rel": w_rel, "height_rel": h_rel, "area_px": area,
            "sqrt_area_rel": np.sqrt(w_rel * h_rel), "aspect_ratio": aspect, "bucket": coco_buckets_px(area)}


def _buckets(codes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes.astype(np.int64), minlength=len(SIZE_BUCKETS))
    return {name: int(c) for name, c in zip(SIZE_BUCKETS, counts)}


def _section(table: BoxTable, m: dict[str, np.ndarray], rows: np.ndarray | None, image_mask: np.ndarray) -> dict:
    """Statistics of the boxes ``rows`` (None: all) and the images of ``image_mask``."""
    n_cls = len(table.class_names)
    label = table.label if rows is None else table.label[rows]
    image = table.image if rows is None else table.image[rows]
    boxes = int(label.size)
    per_image = table.images["num_boxes"].to_numpy()[image_mask]
    widths = table.images["width"].to_numpy()[image_mask]
    heights = table.images["height"].to_numpy()[image_mask]
    # Images containing a class: distinct (image, class) pairs.
    pairs = np.unique(image * max(n_cls, 1) + label)
    class_images = np.bincount(pairs % max(n_cls, 1), minlength=n_cls) if n_cls else np.zeros(0, np.int64)
    class_boxes = np.bincount(label, minlength=n_cls)
    sizes, size_counts = (np.unique(np.stack([widths, heights], axis=1), axis=0, return_counts=True)
                          if widths.size else (np.zeros((0, 2)), np.zeros(0, np.int64)))
    common = np.argsort(-size_counts, kind="stable")[:5]

    # Per class: sort the section's boxes by class once, then describe slices.
    order = np.argsort(label, kind="stable")
    by_class = order if rows is None else rows[order]
    bounds = np.searchsorted(label[order], np.arange(n_cls + 1))
    classes = {}
    for c, name in enumerate(table.class_names):
        idx = by_class[bounds[c]:bounds[c + 1]]
        if idx.size == 0:
            continue
        classes[name] = {
            "images": int(class_images[c]),
            "boxes": int(class_boxes[c]),
            "share": float(class_boxes[c] / boxes),
            **{k: describe(m[k][idx]) for k in _CLASS_MEASURES},
            "size_buckets": _buckets(m["bucket"][idx]),
        }
    return {
        "images": int(image_mask.sum()),
        "boxes": boxes,
        "images_without_boxes": int((per_image == 0).sum()),
        "boxes_per_image": describe(per_image),
        "image_width": describe(widths),
        "image_height": describe(heights),
        "image_sizes": [{"width": float(sizes[i, 0]), "height": float(sizes[i, 1]), "images": int(size_counts[i])}
                        for i in common],
        "distinct_image_sizes": int(size_counts.size),
        "box": {k: describe(m[k] if rows is None else m[k][rows]) for k in MEASURES},
        "size_buckets": _buckets(m["bucket"] if rows is None else m["bucket"][rows]),
        "classes": classes,
    }


def summarise(table: BoxTable) -> dict[str, Any]:
    """All statistics of ``table``, overall and per split, as one JSON-able dict."""
    m = box_measures(table)
    image_split = table.image_split()
    box_split = image_split[table.image]
    return {
        "source": dict(table.source),
        "images": table.num_images,
        "boxes": table.num_boxes,
        "classes": list(table.class_names),
        "splits": list(table.split_names),
        "skipped_images": table.skipped_images,
        "invalid_boxes": table.invalid_boxes,
        "overall": _section(table, m, None, np.ones(table.num_images, bool)),
        "by_split": {name: _section(table, m, np.flatnonzero(box_split == s), image_split == s)
                     for s, name in enumerate(table.split_names)},
    }


# ------------------------------------------------------------------ terminal
def fmt_num(value: Any, digits: int = 3) -> str:
    """A compact number: integers as such, others with ``digits`` significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, (int, np.integer)) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value)}"
    v = float(value)
    if abs(v) >= 10 ** digits:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def table_lines(headers: list[str], rows: list[list[Any]], indent: int = 2, left: int = 1) -> list[str]:
    """Aligned columns: the first ``left`` left-aligned (names), the others right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    pad = " " * indent
    out = []
    for r in cells:
        parts = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append((pad + "  ".join(parts)).rstrip())
    return out


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else "-"


def format_summary(summary: dict[str, Any]) -> list[str]:
    """The terminal report of :func:`summarise`: one screen for a small dataset."""
    src = summary["source"]
    o = summary["overall"]
    lines = [f"{src.get('path', '')} ({src.get('kind', '?')}"
             + (f", {src['files']} file(s)" if "files" in src else "") + ")"]
    split_part = ", ".join(f"{s} {summary['by_split'][s]['images']}" for s in summary["splits"])
    lines.append(f"  {summary['images']} images ({split_part}), {summary['boxes']} boxes, "
                 f"{len(summary['classes'])} classes, {o['images_without_boxes']} images without boxes")
    notes = []
    if summary["skipped_images"]:
        notes.append(f"{summary['skipped_images']} unusable images left out")
    if summary["invalid_boxes"]:
        notes.append(f"{summary['invalid_boxes']} invalid boxes (NaN or max <= min) left out")
    if notes:
        lines.append("  " + "; ".join(notes))

    lines.append("")
    rows = []
    sections = [(s, summary["by_split"][s]) for s in summary["splits"]]
    if len(sections) > 1:
        sections.append(("all", o))
    for split, sec in sections:
        for name, c in sec["classes"].items():
            b = c["size_buckets"]
            rows.append([split, name, c["images"], c["boxes"], f"{100 * c['share']:.1f}%",
                         fmt_num(c["width_px"]["p50"]), fmt_num(c["height_px"]["p50"]),
                         fmt_num(c["aspect_ratio"]["p50"]), b["small"], b["medium"], b["large"]])
        b = sec["size_buckets"]
        rows.append([split, "(all classes)", sec["images"], sec["boxes"], "100.0%" if sec["boxes"] else "-",
                     fmt_num(sec["box"]["width_px"]["p50"]), fmt_num(sec["box"]["height_px"]["p50"]),
                     fmt_num(sec["box"]["aspect_ratio"]["p50"]), b["small"], b["medium"], b["large"]])
    lines += table_lines(["split", "class", "images", "boxes", "share", "w p50", "h p50", "w/h p50",
                          "small", "medium", "large"], rows, left=2)

    lines.append("")
    bpi = o["boxes_per_image"]
    lines.append(f"  boxes per image: mean {fmt_num(bpi['mean'])}, p5 {fmt_num(bpi['p5'])}, "
                 f"p50 {fmt_num(bpi['p50'])}, p95 {fmt_num(bpi['p95'])}, max {fmt_num(bpi['max'])}")
    sizes = ", ".join(f"{fmt_num(s['width'])}x{fmt_num(s['height'])} ({s['images']})" for s in o["image_sizes"])
    more = o["distinct_image_sizes"] - len(o["image_sizes"])
    lines.append(f"  image sizes (w x h px): {sizes or '-'}" + (f", {more} more sizes" if more > 0 else ""))
    if o["distinct_image_sizes"] > 1:
        iw, ih = o["image_width"], o["image_height"]
        lines.append(f"    width p5/p50/p95 {fmt_num(iw['p5'])}/{fmt_num(iw['p50'])}/{fmt_num(iw['p95'])}, "
                     f"height {fmt_num(ih['p5'])}/{fmt_num(ih['p50'])}/{fmt_num(ih['p95'])}")
    lines.append("")
    rows = [[label, *(fmt_num(o["box"][k][p]) for p in ("min", "p5", "p50", "p95", "max", "mean"))]
            for k, label in MEASURES.items()]
    lines += table_lines(["box size (all)", "min", "p5", "p50", "p95", "max", "mean"], rows)
    b = o["size_buckets"]
    total = o["boxes"]
    lines.append(f"  COCO size buckets (original px area): small {b['small']} ({_pct(b['small'], total)}), "
                 f"medium {b['medium']} ({_pct(b['medium'], total)}), large {b['large']} ({_pct(b['large'], total)})")
    return lines


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_json(path, document: dict[str, Any]) -> None:
    """Write ``document`` as strict JSON (no NaN), UTF-8, indented."""
    import json
    from pathlib import Path

    Path(path).write_text(json.dumps(jsonable(document), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                          encoding="utf-8")
