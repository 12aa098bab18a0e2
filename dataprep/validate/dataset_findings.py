"""Dataset-level findings over the boxes that will be written: class
imbalance, and box size / aspect outliers per class.

1. Imbalance: boxes and images per class; the ratio max/min over the classes
   that have any. A warning when the box ratio is at least ``IMBALANCE_RATIO``
   (rebalancing with ``--rebalance`` may help).
2. Outliers, per class with at least ``MIN_BOXES_FOR_OUTLIERS`` boxes: on
   log(sqrt(area)) and log(width / height), a robust z-score
   z = (x - median) / (1.4826 * MAD) (Rousseeuw & Croux 1993; the mean absolute
   deviation when MAD is 0); |z| > 4 is an
   outlier (a 5 px box in a class of 200 px boxes, a 1:20 sliver). Kept, but
   worth a look: such boxes are often annotation slips.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dataprep.findings import INFO, KEPT, WARNING, Finding

IMBALANCE_RATIO = 10.0
MIN_BOXES_FOR_OUTLIERS = 20
OUTLIER_Z = 4.0
_MAX_OUTLIERS_PER_CLASS = 50


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    scale = 1.4826 * np.median(np.abs(x - med))
    if scale <= 1e-12:  # over half the values equal: the mean absolute deviation (Iglewicz & Hoaglin 1993)
        scale = 1.253314 * np.mean(np.abs(x - med))
    if scale <= 1e-12:
        return np.zeros_like(x)
    return (x - med) / scale


def dataset_findings(objs: pd.DataFrame, files: pd.Series, annotations: pd.Series | None = None) -> list[Finding]:
    """``objs``: kept boxes with image_id, index, text, xmin..ymax (pixel or
    normalized, the same units for all); ``files``: image_id -> file;
    ``annotations``: image_id -> annotation file."""
    out: list[Finding] = []
    if objs.empty:
        return out
    boxes = objs.groupby("text").size()
    images = objs.groupby("text")["image_id"].nunique()
    ratio = boxes.max() / boxes.min() if len(boxes) >= 2 else 1.0
    if ratio >= IMBALANCE_RATIO:
        table = ", ".join(f"{c}: {boxes[c]} boxes in {images[c]} images" for c in boxes.sort_values().index[:12])
        out.append(Finding(WARNING, "dataset.class_imbalance", "dataset", "",
                           f"boxes per class range {boxes.min()}..{boxes.max()} (max/min {ratio:.1f}; images "
                           f"max/min {images.max() / images.min():.1f}); {table}; consider --rebalance", KEPT,
                           value={str(c): int(n) for c, n in boxes.items()}))
    w = (objs["xmax"] - objs["xmin"]).to_numpy(dtype=float)
    h = (objs["ymax"] - objs["ymin"]).to_numpy(dtype=float)
    valid = (w > 0) & (h > 0)
    size = np.log(np.sqrt(np.where(valid, w * h, 1.0)))
    aspect = np.log(np.where(valid, w / np.where(h > 0, h, 1.0), 1.0))
    texts = objs["text"].to_numpy()
    for cls, idx in pd.Series(np.arange(len(objs))).groupby(texts):
        idx = idx.to_numpy()
        idx = idx[valid[idx]]
        if len(idx) < MIN_BOXES_FOR_OUTLIERS:
            continue
        for code, values, what in (("box.size_outlier", size, "size"), ("box.aspect_outlier", aspect, "aspect ratio")):
            z = _robust_z(values[idx])
            hits = idx[np.abs(z) > OUTLIER_Z][:_MAX_OUTLIERS_PER_CLASS]
            for k, zz in zip(hits, z[np.abs(z) > OUTLIER_Z][:_MAX_OUTLIERS_PER_CLASS]):
                r = objs.iloc[k]
                file = files.get(r["image_id"], str(r["image_id"]))
                ann = annotations.get(r["image_id"], "") if annotations is not None else ""
                shown = f"{w[k]:.4g}x{h[k]:.4g}" if what == "size" else \
                    f"w/h {w[k] / h[k]:.3g} (box {w[k]:.4g}x{h[k]:.4g})"
                out.append(Finding(INFO, code, f"{file} object {r['index']} {cls!r}", ann,
                                   f"{what} {shown} is far from the other {cls!r} boxes "
                                   f"(robust z = {zz:+.1f}); kept, worth a look", KEPT, image=file, annotation=ann,
                                   object_index=int(r["index"]), value=[w[k], h[k]]))
    return out
