"""PNG plots of ``dataprep stats --plots DIR`` (matplotlib, Agg backend).

Histograms of the image and box measures, bars of the class counts and size
buckets, a box width-height scatter overall and per class; with the anchor
analysis, coverage per size bucket and the best-IoU histogram (before and
after a suggestion). Scatter plots draw a seeded subsample, so a million
boxes cost no more than a few tens of thousands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.anchors import SIZE_BUCKETS
from dataprep.stats.collect import BoxTable
from dataprep.stats.summary import box_measures

#: Most points drawn per scatter plot.
SCATTER_POINTS = 20000


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def safe_name(name: str) -> str:
    """A file-name-safe version of a class name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "class"


def _bins(values: np.ndarray, log: bool = False, n: int = 50) -> np.ndarray:
    v = values[np.isfinite(values)]
    if log:
        v = v[v > 0]
    if v.size == 0:
        return np.linspace(0, 1, n + 1)
    lo, hi = float(v.min()), float(v.max())
    if log:
        if hi <= lo:
            lo, hi = lo / 1.5, hi * 1.5
        return np.geomspace(lo, hi, n + 1)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n + 1)


def _log_axes(ax, x: bool = True, y: bool = False) -> None:
    """Log scale with plain numbers (20, 50, 100) rather than 2x10^1 on the ticks."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    for on, axis, set_scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if not on:
            continue
        set_scale("log")
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())


def _hist(ax, values: np.ndarray, title: str, xlabel: str, log: bool = False, bins=None) -> None:
    v = values[np.isfinite(values)]
    if log:
        v = v[v > 0]
    ax.hist(v, bins=_bins(v, log) if bins is None else bins, color="#4363d8", edgecolor="white", linewidth=0.3)
    if log:
        _log_axes(ax)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def _sample(n: int, k: int, seed: int = 0) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def _save(fig, path: Path, written: list[Path]) -> None:
    fig.savefig(path, dpi=100)
    written.append(path)


def write_plots(table: BoxTable, summary: dict[str, Any], out_dir: str | Path, analysis=None) -> list[Path]:
    """Write the PNGs into ``out_dir`` (created); returns their paths."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = box_measures(table)
    written: list[Path] = []
    try:
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        per_image = table.images["num_boxes"].to_numpy().astype(np.float64)
        top = int(per_image.max()) if per_image.size else 0
        _hist(ax, per_image, "Boxes per image", "boxes", bins=np.arange(min(top, 200) + 2) - 0.5)
        _save(fig, out / "boxes_per_image.png", written)
        plt.close(fig)

        fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        _hist(axes[0], table.images["width"].to_numpy(), "Image width", "px")
        _hist(axes[1], table.images["height"].to_numpy(), "Image height", "px")
        _save(fig, out / "image_sizes.png", written)
        plt.close(fig)

        fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
        _hist(axes[0], m["width_px"], "Box width", "px", log=True)
        _hist(axes[1], m["height_px"], "Box height", "px", log=True)
        _hist(axes[2], np.sqrt(m["area_px"]), "Box sqrt(area)", "px", log=True)
        for edge in (32, 96):  # COCO bucket edges
            axes[2].axvline(edge, color="#e6194b", linestyle="--", linewidth=1)
        _save(fig, out / "box_size_px.png", written)
        plt.close(fig)

        fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
        _hist(axes[0], m["width_rel"], "Box width / image width", "fraction", bins=np.linspace(0, 1, 51))
        _hist(axes[1], m["height_rel"], "Box height / image height", "fraction", bins=np.linspace(0, 1, 51))
        _hist(axes[2], m["sqrt_area_rel"], "sqrt(box area / image area)", "fraction", bins=np.linspace(0, 1, 51))
        _save(fig, out / "box_size_rel.png", written)
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        _hist(ax, m["aspect_ratio"], "Box aspect ratio", "width / height (px)", log=True)
        _save(fig, out / "aspect_ratio.png", written)
        plt.close(fig)

        _class_bars(plt, summary, out, written)
        _bucket_bars(plt, summary, out, written)
        _scatters(plt, table, m, out, written)
        if analysis is not None:
            _anchor_plots(plt, analysis, out, written)
    finally:
        plt.close("all")
    return written


def _class_bars(plt, summary: dict, out: Path, written: list[Path]) -> None:
    names = summary["classes"]
    splits = summary["splits"]
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.3 * len(names) + 1.5)), layout="constrained")
    y = np.arange(len(names))
    left = np.zeros(len(names))
    for split in splits:
        classes = summary["by_split"][split]["classes"]
        counts = np.array([classes.get(n, {}).get("boxes", 0) for n in names], dtype=np.float64)
        ax.barh(y, counts, left=left, label=split)
        left += counts
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("boxes")
    ax.set_title("Boxes per class")
    if splits and names:
        ax.legend()
    _save(fig, out / "class_counts.png", written)
    plt.close(fig)


def _bucket_bars(plt, summary: dict, out: Path, written: list[Path]) -> None:
    splits = summary["splits"]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    x = np.arange(len(SIZE_BUCKETS))
    width = 0.8 / max(len(splits), 1)
    for i, split in enumerate(splits):
        b = summary["by_split"][split]["size_buckets"]
        ax.bar(x + i * width - 0.4 + width / 2, [b[k] for k in SIZE_BUCKETS], width, label=split)
    ax.set_xticks(x, SIZE_BUCKETS)
    ax.set_ylabel("boxes")
    ax.set_title("COCO size buckets (original pixel area)")
    if splits:
        ax.legend()
    _save(fig, out / "size_buckets.png", written)
    plt.close(fig)


def _scatter(ax, w: np.ndarray, h: np.ndarray, **kw) -> None:
    ok = np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0)
    ax.scatter(w[ok], h[ok], s=12 if w.size < 2000 else 3, alpha=0.6 if w.size < 2000 else 0.3, linewidths=0, **kw)


def _scatters(plt, table: BoxTable, m: dict, out: Path, written: list[Path]) -> None:
    w, h = m["width_px"], m["height_px"]
    fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    pick = _sample(w.size, SCATTER_POINTS)
    for c, name in enumerate(table.class_names):
        sel = pick[table.label[pick] == c]
        _scatter(ax, w[sel], h[sel], label=name)
    _log_axes(ax, x=True, y=True)
    ax.set_xlabel("box width (px)")
    ax.set_ylabel("box height (px)")
    ax.set_title(f"Box width x height ({pick.size} of {w.size} boxes)")
    if table.class_names and w.size:
        ax.legend(markerscale=3, fontsize="small")
    _save(fig, out / "wh_scatter.png", written)
    plt.close(fig)

    used: set[str] = set()
    order = np.argsort(table.label, kind="stable")
    bounds = np.searchsorted(table.label[order], np.arange(len(table.class_names) + 1))
    for c, name in enumerate(table.class_names):
        stem = safe_name(name)
        while stem in used:
            stem += "_"
        used.add(stem)
        idx = order[bounds[c]:bounds[c + 1]]
        idx = idx[_sample(idx.size, SCATTER_POINTS, seed=c)]
        fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
        _scatter(ax, w[idx], h[idx], color="#4363d8")
        _log_axes(ax, x=True, y=True)
        ax.set_xlabel("box width (px)")
        ax.set_ylabel("box height (px)")
        ax.set_title(f"{name}: width x height ({idx.size} boxes)")
        _save(fig, out / f"wh_scatter_{stem}.png", written)
        plt.close(fig)


def _anchor_plots(plt, analysis, out: Path, written: list[Path]) -> None:
    reports = [("analysed", analysis.report)]
    if analysis.suggestion is not None:
        reports = [("before", analysis.suggestion.before), ("after", analysis.suggestion.after)]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    x = np.arange(len(SIZE_BUCKETS))
    width = 0.8 / len(reports)
    for i, (label, report) in enumerate(reports):
        groups = report.by_size_bucket()
        values = [groups[b].matched_fraction if b in groups else 0.0 for b in SIZE_BUCKETS]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=label)
    ax.set_xticks(x, SIZE_BUCKETS)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"fraction with best IoU >= {analysis.report.iou_threshold:g}")
    ax.set_title("Anchor coverage per size bucket (at the model input)")
    ax.legend()
    _save(fig, out / "anchor_coverage_by_size.png", written)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    bins = np.linspace(0, 1, 51)
    for label, report in reports:
        ax.hist(report.best_iou, bins=bins, alpha=0.6, label=label)
    ax.axvline(analysis.report.iou_threshold, color="#e6194b", linestyle="--", linewidth=1)
    ax.set_xlabel("best IoU with any anchor")
    ax.set_ylabel("boxes")
    ax.set_title("Best anchor IoU per box")
    ax.legend()
    _save(fig, out / "anchor_best_iou.png", written)
    plt.close(fig)
