"""``dataprep stats --anchors``: anchor coverage of a dataset's boxes as the
model sees them, and suggested settings.

The anchor math (generators, coverage scan, suggestion search) lives in
:mod:`dataprep.anchors`; this module resolves the settings (``--model``, flags,
a TF OD API ``pipeline.config`` or dataprep's anchors JSON), maps the boxes
into the model input frame, and names the results (classes, files) for the
report. The anchors are those of one model of
:data:`dataprep.anchors.models.MODELS` (SSD grid or FPN multiscale), by default
``DEFAULT_MODEL`` at ``DEFAULT_INPUT_SIZE``, the trainer's default.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.anchors import (
    AnchorConfig,
    AnyAnchorConfig,
    CoverageReport,
    SuggestionResult,
    anchor_coverage,
    read_anchors_json,
    read_pipeline_config,
    render_ssd_anchor_generator,
    suggest_anchors,
)
from dataprep.anchors.generator import Size
from dataprep.anchors.models import DEFAULT_INPUT_SIZE as DEFAULT_MODEL_INPUT
from dataprep.anchors.models import DEFAULT_MODEL, MODELS, default_anchor_config, model_spec
from dataprep.errors import UsageError
from dataprep.stats.collect import BoxTable
from dataprep.stats.summary import fmt_num, table_lines

FIXED = "fixed_shape_resizer"
KEEP = "keep_aspect_ratio_resizer"
RESIZERS = {"fixed": FIXED, "keep-aspect": KEEP, FIXED: FIXED, KEEP: KEEP}
DEFAULT_INPUT_SIZE = (DEFAULT_MODEL_INPUT, DEFAULT_MODEL_INPUT)


@dataclass(frozen=True)
class AnchorSettings:
    """What the analysis needs: anchor settings, model input and resize."""

    config: AnyAnchorConfig
    input_size: Size
    resizer: str = FIXED
    #: keep_aspect_ratio_resizer's range (TF OD API resize_to_range); None: fit
    #: the image into the input.
    min_dimension: int | None = None
    max_dimension: int | None = None
    #: num_classes of the pipeline.config, when read from one.
    num_classes: int | None = None
    #: Where the settings came from, for the report.
    origin: str = "defaults"
    #: The model whose anchors these are (None: a pipeline.config of another network).
    model: str | None = DEFAULT_MODEL

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "anchor_kind": self.config.kind,
            "origin": self.origin,
            "input_size": list(self.input_size),
            "resizer": self.resizer,
            "min_dimension": self.min_dimension,
            "max_dimension": self.max_dimension,
            "num_classes": self.num_classes,
            "num_anchors": self.config.num_anchors(self.input_size),
            "anchor_config": self.config.to_dict(),
        }


def parse_input_size(text: str) -> Size:
    """``300`` -> (300, 300); ``320x640`` (height x width) -> (320, 640)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        raise UsageError(f"--input-size: expected a positive size like 300 or HxW like 320x640, got {text!r}")
    return (values[0], values[-1])


def parse_floats(text: str, option: str) -> tuple[float, ...]:
    """``"1,2,0.5"`` -> (1.0, 2.0, 0.5)."""
    try:
        values = tuple(float(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError:
        raise UsageError(f"{option}: expected comma-separated numbers like 1,2,0.5, got {text!r}") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise UsageError(f"{option}: expected positive numbers, got {text!r}")
    return values


def resolve_settings(
    *,
    input_size: str | None = None,
    resizer: str | None = None,
    min_scale: float | None = None,
    max_scale: float | None = None,
    aspect_ratios: str | None = None,
    num_layers: int | None = None,
    anchor_config: Path | None = None,
    anchors_json: Path | None = None,
    model: str | None = None,
) -> AnchorSettings:
    """Settings from a pipeline.config or an anchors JSON, else the defaults of
    ``model`` (default ``DEFAULT_MODEL``), with any flag given overriding."""
    if anchor_config is not None and anchors_json is not None:
        raise UsageError("give --anchor-config or --anchors-json, not both")
    if model is not None:
        model_spec(model)  # UsageError listing the known models
    name = model or DEFAULT_MODEL
    config: AnyAnchorConfig = default_anchor_config(name)
    size: Size | None = None
    kind: str | None = None
    lo = hi = num_classes = None
    origin = f"defaults of {name}"
    if anchor_config is not None:
        p = read_pipeline_config(anchor_config)
        config, size, kind, num_classes = p.anchor_config, p.input_size, p.resizer, p.num_classes
        lo, hi = p.min_dimension, p.max_dimension
        origin = f"pipeline.config {anchor_config}"
        if model is not None and p.model is not None and p.model != model:
            raise UsageError(f"--model {model}, but {anchor_config} describes {p.model}; give one of them")
        name = model or p.model
        if kind not in (FIXED, KEEP, None):
            raise UsageError(f"{anchor_config}: image_resizer {kind} is not supported; "
                             "expected fixed_shape_resizer or keep_aspect_ratio_resizer")
        if size is None and input_size is None:
            raise UsageError(f"{anchor_config}: the model input size varies per image (keep_aspect_ratio_resizer "
                             "without pad_to_max_dimension, or no image_resizer); give --input-size")
    elif anchors_json is not None:
        config, size = read_anchors_json(anchors_json)
        origin = f"anchors JSON {anchors_json}"
        if model is None and config.kind != MODELS[name].anchor_kind:
            name = next(m for m in MODELS.values() if m.anchor_kind == config.kind).name
    else:
        size = (MODELS[name].input_size,) * 2  # type: ignore[assignment]
    if name is not None and config.kind != MODELS[name].anchor_kind:
        raise UsageError(f"--model {name} uses {MODELS[name].anchor_kind} anchors, but "
                         f"{anchor_config or anchors_json} holds {config.kind} anchors")
    changes: dict[str, Any] = {}
    if min_scale is not None:
        changes.update(min_scale=float(min_scale), scales=None)
    if max_scale is not None:
        changes.update(max_scale=float(max_scale), scales=None)
    if aspect_ratios is not None:
        changes["aspect_ratios"] = parse_floats(aspect_ratios, "--aspect-ratios")
    if num_layers is not None:
        changes.update(num_layers=int(num_layers), scales=None, anchor_strides=None, anchor_offsets=None,
                       feature_map_sizes=None)
    if changes and not isinstance(config, AnchorConfig):
        raise UsageError(f"--min-scale, --max-scale, --aspect-ratios and --num-layers set ssd_anchor_generator "
                         f"values; {name or 'these settings'} use {config.kind} anchors")
    if changes:
        config = config.replace(**changes)  # AnchorConfigError (exit 1) names a bad value
        origin = f"{origin} with flag overrides" if anchor_config or anchors_json else "flags"
    if input_size is not None:
        size = parse_input_size(input_size)
        if kind == KEEP:
            lo = hi = None  # the flag's input is what the image is fitted into
    if resizer is not None:
        if resizer not in RESIZERS:
            raise UsageError(f"--resizer must be fixed or keep-aspect, got {resizer!r}")
        if RESIZERS[resizer] != kind:
            lo = hi = None
        kind = RESIZERS[resizer]
    return AnchorSettings(config=config, input_size=size or DEFAULT_INPUT_SIZE, resizer=kind or FIXED,
                          min_dimension=lo, max_dimension=hi, num_classes=num_classes, origin=origin,
                          model=name)


def resized_size(width: np.ndarray, height: np.ndarray, settings: AnchorSettings) -> tuple[np.ndarray, np.ndarray]:
    """Size of each image after the resizer, before padding to the input size."""
    in_h, in_w = settings.input_size
    w = np.asarray(width, np.float64)
    h = np.asarray(height, np.float64)
    if settings.resizer == FIXED:
        return np.full_like(w, in_w), np.full_like(h, in_h)
    if settings.min_dimension is not None and settings.max_dimension is not None:
        # [1] TF OD API resize_to_range: scale the short side to min_dimension;
        #     if the long side then exceeds max_dimension, scale the long side
        #     to max_dimension instead. Sizes are rounded to whole pixels.
        #     Ref: object_detection/core/preprocessor.py _compute_new_static_size.
        scale = settings.min_dimension / np.minimum(w, h)
        too_big = np.round(np.maximum(w, h) * scale) > settings.max_dimension
        scale = np.where(too_big, settings.max_dimension / np.maximum(w, h), scale)
    else:
        # [2] Fit the image into the input, keeping its aspect ratio.
        scale = np.minimum(in_w / w, in_h / h)
    return np.minimum(np.round(w * scale), in_w), np.minimum(np.round(h * scale), in_h)


def model_input_boxes(table: BoxTable, settings: AnchorSettings) -> np.ndarray:
    """``(M, 4)`` float32 boxes normalized to the model input, clipped to [0, 1].

    fixed_shape_resizer stretches the image onto the input, so normalized
    coordinates are unchanged. keep_aspect_ratio_resizer scales the image and
    pads it at the bottom and right (TF OD API ``pad_to_max_dimension``), so a
    box shrinks towards the top-left corner by resized / input size per axis.
    """
    boxes = np.clip(table.boxes, 0.0, 1.0)
    if settings.resizer == KEEP:
        new_w, new_h = resized_size(table.images["width"].to_numpy(), table.images["height"].to_numpy(), settings)
        in_h, in_w = settings.input_size
        fy = (new_h / in_h)[table.image]
        fx = (new_w / in_w)[table.image]
        boxes = boxes * np.stack([fy, fx, fy, fx], axis=1)
    return boxes.astype(np.float32)


@dataclass
class AnchorAnalysis:
    """Coverage (and optionally a suggestion) for one table and one setting."""

    settings: AnchorSettings
    anchors: np.ndarray  # (N, 4) float32, TF OD API order, unclipped
    boxes: np.ndarray  # (M, 4) float32 boxes at the model input
    report: CoverageReport
    class_names: list[str]
    worst: list[dict] = field(default_factory=list)
    suggestion: SuggestionResult | None = None
    notes: list[str] = field(default_factory=list)

    def coverage_dict(self, report: CoverageReport) -> dict[str, Any]:
        s = report.summary(worst_k=0)
        s.pop("worst")
        s["by_class"] = {self.class_names[int(k)]: v for k, v in s["by_class"].items()}
        return s

    def to_dict(self) -> dict[str, Any]:
        out = {"settings": self.settings.to_dict(), "coverage": self.coverage_dict(self.report),
               "worst": self.worst, "notes": self.notes}
        if self.suggestion is not None:
            sug = self.suggestion
            out["suggestion"] = {
                **sug.summary(),
                "before": self.coverage_dict(sug.before),
                "after": self.coverage_dict(sug.after),
                "ssd_anchor_generator": render_ssd_anchor_generator(sug.config),
            }
        return out


def worst_boxes(table: BoxTable, boxes: np.ndarray, report: CoverageReport, k: int) -> list[dict]:
    """The ``k`` boxes with the lowest best IoU, with their files (a loop over ``k`` only)."""
    in_h, in_w = report.input_size
    w_img = table.images["width"].to_numpy()
    h_img = table.images["height"].to_numpy()
    split = table.images["split"].astype(str).to_numpy()
    out = []
    for i in report.worst(k).tolist():
        row = int(table.image[i])
        y0, x0, y1, x1 = table.boxes[i]
        my0, mx0, my1, mx1 = boxes[i].astype(np.float64)
        out.append({
            "file": str(table.images["file"].iat[row]),
            "split": str(split[row]),
            "class": table.class_names[int(table.label[i])],
            "box_px": [round(float(v), 2) for v in (x0 * w_img[row], y0 * h_img[row], x1 * w_img[row],
                                                     y1 * h_img[row])],
            "input_wh_px": [round((mx1 - mx0) * in_w, 2), round((my1 - my0) * in_h, 2)],
            "best_iou": float(report.best_iou[i]),
            "positives": int(report.num_positives[i]),
        })
    return out


def analyse_anchors(
    table: BoxTable,
    settings: AnchorSettings,
    *,
    worst_k: int = 10,
    suggest: bool = False,
    iou_threshold: float = 0.5,
    seed: int = 0,
) -> AnchorAnalysis:
    """Coverage of ``table``'s boxes by the anchors of ``settings``; with
    ``suggest``, a search for better scales and aspect ratios."""
    if not 0.0 < iou_threshold <= 1.0:
        raise UsageError(f"--iou-threshold must be in (0, 1], got {iou_threshold}")
    if worst_k < 0:
        raise UsageError(f"--worst must be >= 0, got {worst_k}")
    grid = settings.config.grid(settings.input_size)
    boxes = model_input_boxes(table, settings)
    report = anchor_coverage(boxes, settings.input_size, grid=grid, labels=table.label, iou_threshold=iou_threshold)
    notes = []
    n_cls = len(table.class_names)
    if settings.num_classes is not None and settings.num_classes != n_cls:
        notes.append(f"the pipeline.config has num_classes: {settings.num_classes} but the data has {n_cls} classes")
    suggestion = None
    if suggest:
        if not isinstance(settings.config, AnchorConfig):
            raise UsageError(f"--suggest searches ssd_anchor_generator settings; {settings.model or 'this model'} "
                             f"uses {settings.config.kind} anchors")
        if table.num_boxes == 0:
            raise UsageError("--suggest needs boxes; the data has none")
        suggestion = suggest_anchors(boxes, settings.input_size, settings.config, labels=table.label,
                                     iou_threshold=iou_threshold, seed=seed)
    return AnchorAnalysis(settings=settings, anchors=grid.anchors, boxes=boxes, report=report,
                          class_names=list(table.class_names), worst=worst_boxes(table, boxes, report, worst_k),
                          suggestion=suggestion, notes=notes)


def dump_anchors(path: str | os.PathLike, anchors: np.ndarray) -> None:
    """Save anchors as a float32 ``(N, 4)`` ``.npy`` (ymin, xmin, ymax, xmax, unclipped)."""
    np.save(path, np.asarray(anchors, dtype=np.float32), allow_pickle=False)


# ------------------------------------------------------------------ terminal
def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}%"


def _coverage_rows(groups: dict[str, Any]) -> list[list[Any]]:
    return [[name, g["count"], _pct(g["matched_fraction"]), f"{g['mean_best_iou']:.3f}",
             f"{g['mean_positives']:.2f}", g["force_matched"]] for name, g in groups.items()]


def format_anchor_analysis(analysis: AnchorAnalysis) -> list[str]:
    s = analysis.settings
    cov = analysis.coverage_dict(analysis.report)
    h, w = s.input_size
    resize = s.resizer + (f" {s.min_dimension}..{s.max_dimension}" if s.min_dimension else "")
    model = s.model or "a model dataprep does not build"
    lines = [f"anchors: {cov['num_anchors']} at {h}x{w} input ({resize}), {s.config.kind} anchors of {model}; "
             f"settings from {s.origin}"]
    lines += [f"  note: {n}" for n in analysis.notes]
    t = cov["iou_threshold"]
    lines.append(f"  coverage: {_pct(cov['matched_fraction'])} of {cov['num_boxes']} boxes have an anchor with "
                 f"IoU >= {t:g}; mean best IoU {fmt_num(cov['mean_best_iou'])}; "
                 f"{fmt_num(cov['mean_positives'])} positives per box; {cov['force_matched']} force-matched only")
    head = ["", "boxes", "matched", "mean IoU", "pos/box", "forced"]
    if cov["by_size_bucket"]:
        lines += table_lines(["size (at input)"] + head[1:], _coverage_rows(cov["by_size_bucket"]))
    if cov["by_class"]:
        lines += table_lines(["class"] + head[1:], _coverage_rows(cov["by_class"]))
    if analysis.worst:
        lines.append(f"  worst {len(analysis.worst)} boxes:")
        rows = [[b["file"], b["class"], " ".join(fmt_num(v, 4) for v in b["box_px"]),
                 f"{b['input_wh_px'][0]:g}x{b['input_wh_px'][1]:g}", f"{b['best_iou']:.3f}"]
                for b in analysis.worst]
        lines += table_lines(["file", "class", "box x0 y0 x1 y1 px", "w x h at input", "best IoU"], rows, indent=4,
                             left=2)
    sug = analysis.suggestion
    if sug is not None:
        before, after = analysis.coverage_dict(sug.before), analysis.coverage_dict(sug.after)
        lines.append("")
        lines.append(f"suggested anchors ({sug.evaluations} settings scored on {sug.sample_size} boxes; "
                     "same number of anchors per location):")
        lines.append(f"  matched {_pct(before['matched_fraction'])} -> {_pct(after['matched_fraction'])}, "
                     f"mean best IoU {before['mean_best_iou']:.3f} -> {after['mean_best_iou']:.3f}, "
                     f"force-matched {before['force_matched']} -> {after['force_matched']}")
        rows = []
        for name in after["by_size_bucket"]:
            b, a = before["by_size_bucket"].get(name), after["by_size_bucket"][name]
            rows.append([name, a["count"], _pct(b["matched_fraction"]) if b else "-", _pct(a["matched_fraction"]),
                         f"{b['mean_best_iou']:.3f}" if b else "-", f"{a['mean_best_iou']:.3f}"])
        if rows:
            lines += table_lines(["size (at input)", "boxes", "matched before", "after", "IoU before", "after"],
                                 rows)
        lines.append("  paste into pipeline.config, model.ssd.anchor_generator:")
        lines += ["    " + line for line in render_ssd_anchor_generator(sug.config).splitlines()]
    return lines
