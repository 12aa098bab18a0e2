"""``dataprep stats --anchors``: anchor coverage of a dataset's boxes as the
model sees them, and suggested settings.

The anchor math (generators, coverage scan, suggestion search) lives in
:mod:`dataprep.anchors`; this module resolves the settings (``--model``, flags,
a TF OD API ``pipeline.config`` or dataprep's anchors JSON), maps the boxes
into the model input frame, and names the results (classes, files) for the
report. The anchors are those of one model of
:data:`dataprep.models.registry.MODELS` (SSD grid or FPN multiscale), by default
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
    render_anchor_generator,
    suggest_anchors,
    suggest_multiscale_anchors,
)
from dataprep.anchors.generator import Size
from dataprep.anchors.reach import reachable_iou, scaled_size, ssd_grid_centres, stride_grid_centres
from dataprep.errors import UsageError
from dataprep.models import DEFAULT_INPUT_SIZE as DEFAULT_MODEL_INPUT
from dataprep.models import DEFAULT_MODEL, default_anchor_config, model_spec, read_pipeline_config
from dataprep.models.resolve import resolve_model
from dataprep.stats.collect import BoxTable
from dataprep.stats.summary import fmt_num, table_lines

FIXED = "fixed_shape_resizer"
KEEP = "keep_aspect_ratio_resizer"
RESIZERS = {"fixed": FIXED, "keep-aspect": KEEP, FIXED: FIXED, KEEP: KEEP}
#: The input ``stats --anchors`` assumes without a config: that of ``dataprep train``'s default model.
DEFAULT_INPUT_SIZE: Size = (DEFAULT_MODEL_INPUT, DEFAULT_MODEL_INPUT)
#: A class is reported as not coverable at an input size when fewer than this
#: share of its boxes can reach the IoU threshold with any anchor on the grids.
COVERABLE_FRACTION = 0.8
#: Input sizes tried, as multiples of the analysed one, for a class that cannot be covered.
LARGER_INPUTS = (1.5, 2.0, 3.0)
MAX_SUGGESTED_INPUT = 1280
#: The model with a stride-8 level, offered for classes too small for stride 16.
STRIDE8_MODEL = "ssd_mobilenet_v2_fpnlite"


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
    init_from: Path | None = None,
) -> AnchorSettings:
    """The model, anchors and input size of :func:`dataprep.models.resolve.resolve_model`
    (what ``dataprep train`` builds from the same arguments; default
    :data:`DEFAULT_MODEL` at :data:`DEFAULT_INPUT_SIZE`), the resizer of a
    pipeline.config, then any ``--min-scale`` ... flag overriding."""
    if anchor_config is not None and anchors_json is not None:
        raise UsageError("give --anchor-config or --anchors-json, not both")
    p = read_pipeline_config(anchor_config) if anchor_config is not None else None
    if p is not None:
        if p.resizer not in (FIXED, KEEP, None):
            raise UsageError(f"{anchor_config}: image_resizer {p.resizer} is not supported; "
                             "expected fixed_shape_resizer or keep_aspect_ratio_resizer")
        if p.input_size is None and input_size is None:
            raise UsageError(f"{anchor_config}: the model input size varies per image (keep_aspect_ratio_resizer "
                             "without pad_to_max_dimension, or no image_resizer); give --input-size")
    resolved = resolve_model(model, input_size=None if input_size is None else parse_input_size(input_size),
                             anchors=anchors_json, anchor_config=anchor_config, init_from=init_from,
                             need_model=False)
    config, origin = _flag_overrides(resolved.anchors, resolved.origin, resolved.model, min_scale=min_scale,
                                     max_scale=max_scale, aspect_ratios=aspect_ratios, num_layers=num_layers)
    kind, lo, hi = (p.resizer, p.min_dimension, p.max_dimension) if p is not None else (None, None, None)
    if input_size is not None and kind == KEEP:
        lo = hi = None  # the flag's input is what the image is fitted into
    if resizer is not None:
        if resizer not in RESIZERS:
            raise UsageError(f"--resizer must be fixed or keep-aspect, got {resizer!r}")
        if RESIZERS[resizer] != kind:
            lo = hi = None
        kind = RESIZERS[resizer]
    return AnchorSettings(config=config, input_size=resolved.input_size, resizer=kind or FIXED,
                          min_dimension=lo, max_dimension=hi, num_classes=p.num_classes if p is not None else None,
                          origin=origin, model=resolved.model)


def _flag_overrides(config: AnyAnchorConfig, origin: str, model: str | None, *, min_scale: float | None,
                    max_scale: float | None, aspect_ratios: str | None,
                    num_layers: int | None) -> tuple[AnyAnchorConfig, str]:
    """``--min-scale``, ``--max-scale``, ``--aspect-ratios``, ``--num-layers`` applied to SSD-grid settings."""
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
    if not changes:
        return config, origin
    if not isinstance(config, AnchorConfig):
        raise UsageError(f"--min-scale, --max-scale, --aspect-ratios and --num-layers set ssd_anchor_generator "
                         f"values; {model or 'these settings'} use {config.kind} anchors")
    config = config.replace(**changes)  # AnchorConfigError (exit 1) names a bad value
    return config, (f"{origin} with flag overrides" if not origin.startswith("defaults of") else "flags")


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
    #: Classes no anchor setting can cover at this input, with what would.
    limits: list["ClassLimit"] = field(default_factory=list)
    #: Other models and input sizes, and those that cover the worst class much
    #: better (:class:`dataprep.stats.advice.ModelAdvice`, set by its
    #: ``advise``, which builds on this module).
    advice: Any = None

    def coverage_dict(self, report: CoverageReport) -> dict[str, Any]:
        s = report.summary(worst_k=0)
        s.pop("worst")
        s["by_class"] = {self.class_names[int(k)]: v for k, v in s["by_class"].items()}
        return s

    def to_dict(self) -> dict[str, Any]:
        out = {"settings": self.settings.to_dict(), "coverage": self.coverage_dict(self.report),
               "worst": self.worst, "notes": self.notes, "uncoverable_classes": [c.to_dict() for c in self.limits]}
        if self.suggestion is not None:
            sug = self.suggestion
            out["suggestion"] = {
                **sug.summary(),
                "before": self.coverage_dict(sug.before),
                "after": self.coverage_dict(sug.after),
                sug.config.kind + "_anchor_generator": render_anchor_generator(sug.config, wrap=False),
            }
        if self.advice is not None:
            out["advice"] = self.advice.to_dict()
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
        if table.num_boxes == 0:
            raise UsageError("--suggest needs boxes; the data has none")
        if isinstance(settings.config, AnchorConfig):
            suggestion = suggest_anchors(boxes, settings.input_size, settings.config, labels=table.label,
                                         iou_threshold=iou_threshold, seed=seed)
        else:  # an FPN model's multiscale anchors: their anchor_scale
            suggestion = suggest_multiscale_anchors(boxes, settings.input_size, settings.config, labels=table.label,
                                                    iou_threshold=iou_threshold)
    limits = class_limits(table, settings, iou_threshold=iou_threshold, seed=seed)
    return AnchorAnalysis(settings=settings, anchors=grid.anchors, boxes=boxes, report=report,
                          class_names=list(table.class_names), worst=worst_boxes(table, boxes, report, worst_k),
                          suggestion=suggestion, notes=notes, limits=limits)


# ------------------------------------------------- what the strides allow
@dataclass
class ClassLimit:
    """A class that no anchor setting can cover at the analysed input size."""

    name: str
    count: int
    median_wh: tuple[float, float]  # (w, h) pixels at the model input
    #: Share of its boxes that any anchor on the model's grids can match.
    reachable: float
    finest_stride: float
    #: What would cover it: ``{"change", "reachable", "suggested", "default", "note"}``.
    remedies: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, median_wh=list(self.median_wh))


def _fraction_by_class(values: np.ndarray, label: np.ndarray, num: int) -> np.ndarray:
    count = np.maximum(np.bincount(label, minlength=num), 1)
    return np.bincount(label, weights=values.astype(np.float64), minlength=num) / count


def class_limits(table: BoxTable, settings: AnchorSettings, *, iou_threshold: float = 0.5, seed: int = 0,
                 sample_size: int = 20000) -> list[ClassLimit]:
    """Classes of which fewer than :data:`COVERABLE_FRACTION` of the boxes can
    reach ``iou_threshold`` with any anchor on the grids of ``settings`` (see
    :mod:`dataprep.anchors.reach`), each with the larger ``--input-size`` and
    the stride-8 model that would reach them, and the coverage they would give."""
    if table.num_boxes == 0:
        return []
    label = np.asarray(table.label, dtype=np.intp)
    pick = np.arange(table.num_boxes)
    if pick.size > sample_size:
        pick = np.sort(np.random.default_rng(seed).choice(pick.size, sample_size, replace=False))
    num = len(table.class_names)
    boxes = model_input_boxes(table, settings)[pick]
    lab = label[pick]
    size = settings.input_size
    reach = _fraction_by_class(reachable_iou(boxes, size, ssd_grid_centres(settings.config, size)) >= iou_threshold,
                               lab, num)
    present = np.bincount(lab, minlength=num) > 0
    bad = [c for c in range(num) if present[c] and reach[c] < COVERABLE_FRACTION]
    if not bad:
        return []
    strides = [round(float(layer.stride[1]) * size[1], 3) for layer in settings.config.grid(size).layers]
    limits = []
    for c in bad:
        sel = boxes[lab == c].astype(np.float64)
        wh = (float(np.median((sel[:, 3] - sel[:, 1]) * size[1])), float(np.median((sel[:, 2] - sel[:, 0]) * size[0])))
        limits.append(ClassLimit(name=table.class_names[c], count=int((label == c).sum()), median_wh=wh,
                                 reachable=float(reach[c]), finest_stride=min(strides)))
    # Larger inputs: boxes grow in pixels, the strides do not. Try them in
    # turn until every class here is reachable; report the coverage the
    # suggested (and the default) anchors give there.
    for factor in LARGER_INPUTS:
        bigger = scaled_size(size, factor)
        if max(bigger) > MAX_SUGGESTED_INPUT:
            break
        big = AnchorSettings(config=settings.config, input_size=bigger, resizer=settings.resizer,
                             min_dimension=None, max_dimension=None, model=settings.model, origin=settings.origin)
        b_all = model_input_boxes(table, big)[pick]
        r = _fraction_by_class(reachable_iou(b_all, bigger, ssd_grid_centres(settings.config, bigger))
                               >= iou_threshold, lab, num)
        default = anchor_coverage(b_all, bigger, settings.config, labels=lab, iou_threshold=iou_threshold).by_class()
        sug = None  # the search tunes ssd_anchor_generator settings; multiscale ones have only their own
        if isinstance(settings.config, AnchorConfig):
            sug = suggest_anchors(b_all, bigger, settings.config, labels=lab, iou_threshold=iou_threshold,
                                  seed=seed, max_evaluations=120).after.by_class()
        for lim, c in zip(limits, bad):
            lim.remedies.append({"change": f"--input-size {bigger[0] if bigger[0] == bigger[1] else '%dx%d' % bigger}",
                                 "input_size": list(bigger), "reachable": float(r[c]),
                                 "suggested": None if sug is None else sug[c].matched_fraction,
                                 "default": default[c].matched_fraction})
        if all(r[c] >= COVERABLE_FRACTION for c in bad):
            break
    # A model with a stride-8 level, at its own input size (fixed resizer).
    spec = model_spec(STRIDE8_MODEL)
    if min(spec.feature_strides) < min(strides):
        fpn_size = (spec.input_size, spec.input_size)
        fpn = AnchorSettings(config=settings.config, input_size=fpn_size, model=spec.name)
        b_fpn = model_input_boxes(table, fpn)[pick]
        r = _fraction_by_class(reachable_iou(b_fpn, fpn_size, stride_grid_centres(spec.feature_strides, fpn_size))
                               >= iou_threshold, lab, num)
        default = _default_coverage(spec.name, b_fpn, fpn_size, lab, num, iou_threshold)
        sug = suggest_multiscale_anchors(b_fpn, fpn_size, default_anchor_config(spec.name), labels=lab,
                                         iou_threshold=iou_threshold).after.by_class()
        for lim, c in zip(limits, bad):
            lim.remedies.append({
                "change": f"--model {spec.name}", "input_size": list(fpn_size), "reachable": float(r[c]),
                "suggested": sug[c].matched_fraction, "default": float(default[c]),
                "note": f"it has a stride-{min(spec.feature_strides)} level"})
    return limits


def _default_coverage(model: str, boxes: np.ndarray, size: Size, lab: np.ndarray, num: int,
                      iou_threshold: float) -> np.ndarray:
    """Per-class coverage by ``model``'s own default anchors (multiscale for
    FPNLite: :func:`dataprep.models.registry.default_anchor_config`) at ``size``."""
    from dataprep.anchors.coverage import scan_boxes

    best, _, _ = scan_boxes(boxes, default_anchor_config(model).grid(size), iou_threshold=iou_threshold,
                            count_positives=False)
    return _fraction_by_class(best >= iou_threshold, lab, num)


def dump_anchors(path: str | os.PathLike, anchors: np.ndarray) -> None:
    """Save anchors as a float32 ``(N, 4)`` ``.npy`` (ymin, xmin, ymax, xmax, unclipped)."""
    np.save(path, np.asarray(anchors, dtype=np.float32), allow_pickle=False)


# ------------------------------------------------------------------ terminal
def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}%"


def _coverage_rows(groups: dict[str, Any]) -> list[list[Any]]:
    return [[name, g["count"], _pct(g["matched_fraction"]), f"{g['mean_best_iou']:.3f}",
             f"{g['mean_positives']:.2f}", g["force_matched"]] for name, g in groups.items()]


def format_anchor_analysis(analysis: AnchorAnalysis, src: str = "SRC") -> list[str]:
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
    lines += format_limits(analysis.limits, s, cov["iou_threshold"])
    sug = analysis.suggestion
    if sug is not None:
        before, after = analysis.coverage_dict(sug.before), analysis.coverage_dict(sug.after)
        lines.append("")
        goal = "mean coverage over classes" if sug.objective == "classes" else "coverage of all boxes"
        lines.append(f"suggested anchors ({goal}; {sug.evaluations} settings scored on {sug.sample_size} boxes; "
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
        rows = []
        for name in after["by_class"]:
            b, a = before["by_class"].get(name), after["by_class"][name]
            rows.append([name, a["count"], _pct(b["matched_fraction"]) if b else "-", _pct(a["matched_fraction"]),
                         f"{b['mean_best_iou']:.3f}" if b else "-", f"{a['mean_best_iou']:.3f}"])
        if rows:
            lines += table_lines(["class", "boxes", "matched before", "after", "IoU before", "after"], rows)
        if sug.kept_initial:
            lines.append("  (no setting found that keeps the worst class's coverage: the analysed settings are kept)")
        lines += _suggestion_caveats(analysis.limits, after["by_class"], s)
        lines.append("  paste into pipeline.config, model.ssd.anchor_generator:")
        lines += ["    " + line for line in render_anchor_generator(sug.config, wrap=False).splitlines()]
        if analysis.advice is not None:
            lines += analysis.advice.lines(src)
    return lines


def _suggestion_caveats(limits: list[ClassLimit], after: dict[str, Any], settings: AnchorSettings) -> list[str]:
    """For each class that cannot be covered at the analysed size: the suggestion
    reaches part of it only with anchors finer than the grid, which measured worse.

    On the cells benchmark (``benchmarks/RESULTS.md``, "Small objects", arm d)
    the suggestion at 320 raised the small class's coverage from 0% to 20% and
    lowered its AP@0.5 from 0.659 to 0.475 at the same training budget; the
    same search on FPNLite's stride-8 grid (arm c) raised it to 0.705.
    """
    h, w = settings.input_size
    lines = []
    for lim in limits:
        got = after.get(lim.name, {}).get("matched_fraction")
        changes = [r["change"] for r in lim.remedies]
        better = " or ".join(dict.fromkeys(changes[-1:] + changes[:1])) or "a larger input"  # stride-8 model first
        lines.append(f"  caution: class {lim.name!r} cannot be covered at {h}x{w}; these anchors reach "
                     f"{_pct(got)} of it only with anchors near or below the {lim.finest_stride:g} px grid stride, "
                     "which trained worse than the default anchors in dataprep's small-objects benchmark; "
                     f"keep the default anchors at this size, or take {better} "
                     "(the 'would cover it' lines above).")
    return lines


def format_limits(limits: list[ClassLimit], settings: AnchorSettings, iou_threshold: float) -> list[str]:
    """The plain "cannot be covered at this input size" lines, with what would."""
    h, w = settings.input_size
    lines = []
    for lim in limits:
        lines.append(f"  class {lim.name!r} cannot be covered at {h}x{w}: its boxes (median "
                     f"{lim.median_wh[0]:.0f}x{lim.median_wh[1]:.0f} px at the input) are too small for the finest "
                     f"anchor grid (stride {lim.finest_stride:g} px); at most {_pct(lim.reachable)} of them can reach "
                     f"IoU >= {iou_threshold:g} with any anchor setting.")
        for r in lim.remedies:
            got = [f"at most {_pct(r['reachable'])}"]
            if r.get("suggested") is not None:
                got.append(f"suggested anchors there {_pct(r['suggested'])}")
            if r.get("default") is not None:
                got.append(f"default anchors {_pct(r['default'])}")
            if r.get("note"):
                got.append(r["note"])
            ih, iw = r["input_size"]
            lines.append(f"    would cover it: {r['change']} ({ih}x{iw}: {'; '.join(got)})")
    return lines
