"""Which model and input size to train: the advice behind ``stats --anchors
--suggest`` and ``dataprep train --model auto`` (one function, two callers).

The anchor suggestion tunes the anchors of the analysed model at the analysed
input size. Often another registered model or input size covers the worst
class far better (a stride-8 FPN level for small objects, a larger input).
:func:`advise` scores the alternatives a user could afford and names those
that lift the worst-covered class by at least :data:`REMEDY_POINTS`::

    table, settings --> current suggestion (worst class w0)
       |
       +-> options: every model of MODELS at the sizes of INPUT_STEPS whose
       |   cost <= the current cost, plus each model's next size up
       +-> bound: share of each class any anchor on the option's grids can reach
       |   (anchors/reach.py); skip the option when min over classes < w0 + 15 pts
       +-> score: default and suggested anchors of the option (anchors/suggest.py)
       +-> remedies: options whose suggested anchors cover the worst class
           >= w0 + REMEDY_POINTS, best first; the pick for ``train --model auto``

Callers: ``dataprep stats --suggest`` runs :func:`advise` on the analysis of
:func:`dataprep.stats.anchor_analysis.analyse_anchors` (its suggestion and class
limits) and prints :meth:`ModelAdvice.lines`; ``dataprep train --model auto``
runs it through :func:`advise_records` on the train split and takes
:attr:`ModelAdvice.pick` with :meth:`ModelAdvice.pick_anchors`.

Cost is multiply-adds, :data:`MODEL_COST` at the model's own input size,
scaled by the input area (``cost(m, s) = MAdds(m) * s_h s_w / s_m^2``: every
layer of these fully convolutional networks does work per output pixel; the
profiler's 0.706 G for ssd_mobilenet_v2 at 320 against 0.746 G so scaled shows
the error of rounding feature maps). Training time grows faster than
multiply-adds for FPNLite (1.7x SSDLite's per image measured in
benchmarks/RESULTS.md "Small objects", 1.26x the multiply-adds).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataprep.anchors import AnchorConfig, anchor_coverage, suggest_anchors, suggest_multiscale_anchors
from dataprep.anchors.generator import Size
from dataprep.models.registry import MODELS, default_anchor_config
from dataprep.anchors.reach import reachable_iou, ssd_grid_centres
from dataprep.anchors.suggest import SuggestionResult
from dataprep.stats.anchor_analysis import AnchorSettings, ClassLimit, class_limits, model_input_boxes
from dataprep.stats.collect import BoxTable

#: Multiply-adds (G) of each model at its own input size, 3 classes, measured by
#: ``benchmarks/model_cost.py`` (TensorFlow's graph profiler on the Keras model).
MODEL_COST: dict[str, tuple[int, float]] = {
    "ssdlite_mobilenet_v2": (320, 0.682),
    "ssd_mobilenet_v2": (300, 0.656),
    "ssd_mobilenet_v2_fpnlite": (320, 0.858),
}
#: Square input sizes tried for every model (besides its own and the analysed one).
INPUT_STEPS = (192, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280)
#: An option is named when its suggested anchors cover the worst class by at
#: least this much more than the suggestion for the analysed model (15 points).
REMEDY_POINTS = 0.15
#: Climbs of the SSD suggestion search per option (the analysed model gets the full search),
#: on at most OPTION_SEARCH_SAMPLE boxes; its figures are measured on up to SAMPLE_SIZE boxes.
OPTION_EVALUATIONS = 120
OPTION_SEARCH_SAMPLE = 5000
SAMPLE_SIZE = 20000


def model_cost(model: str, input_size: Size) -> float:
    """G multiply-adds of ``model`` at ``input_size`` (scaled by area from :data:`MODEL_COST`)."""
    ref, madds = MODEL_COST[model]
    return madds * input_size[0] * input_size[1] / (ref * ref)


@dataclass
class ModelOption:
    """One model at one input size, and how its anchors cover the classes."""

    model: str
    input_size: Size
    cost: float
    #: Per class: share any anchor setting on the grids can reach (an upper bound).
    reachable: dict[str, float]
    #: Per class coverage by the model's default anchors and by its suggested ones (None: not scored).
    default: dict[str, float] | None = None
    suggested: dict[str, float] | None = None
    suggestion: SuggestionResult | None = None
    #: True when another model or size; False for the analysed one.
    alternative: bool = True

    @property
    def worst_bound(self) -> float:
        return min(self.reachable.values(), default=0.0)

    @property
    def worst_suggested(self) -> float:
        return min(self.suggested.values(), default=0.0) if self.suggested else float("nan")

    @property
    def worst_default(self) -> float:
        return min(self.default.values(), default=0.0) if self.default else float("nan")

    def size_text(self) -> str:
        h, w = self.input_size
        return str(h) if h == w else f"{h}x{w}"

    def command(self, src: str = "SRC") -> str:
        """The commands that train this option with its suggested anchors."""
        src = shlex.quote(src)
        return (f"dataprep stats {src} --model {self.model} --input-size {self.size_text()} --suggest "
                f"--anchors-out anchors.json && dataprep train --records {src} --anchors anchors.json")

    def to_dict(self) -> dict[str, Any]:
        out = {"model": self.model, "input_size": list(self.input_size), "cost_gmadds": round(self.cost, 4),
               "reachable_by_class": self.reachable, "default_by_class": self.default,
               "suggested_by_class": self.suggested}
        if self.suggestion is not None:
            out["worst_class_suggested"] = self.worst_suggested
            out["anchor_config"] = self.suggestion.config.to_dict()
        return out


@dataclass
class ModelAdvice:
    """The analysed option, the alternatives scored, and what ``train --model auto`` takes."""

    current: ModelOption
    options: list[ModelOption]
    remedies: list[ModelOption]
    worst_class: str
    #: Classes no anchor setting covers at the analysed size (``stats`` caution).
    limits: list[ClassLimit] = field(default_factory=list)

    @property
    def pick(self) -> ModelOption:
        return self.remedies[0] if self.remedies else self.current

    def pick_anchors(self):
        """Anchors of the pick: its suggestion, except for the analysed model when a
        class cannot be covered at its size or the search kept the defaults (the
        suggestion there trained worse, benchmarks/RESULTS.md "Small objects" arm d)."""
        opt = self.pick
        if opt.alternative or not (self.limits or opt.suggestion.kept_initial):
            return opt.suggestion.config
        return opt.suggestion.initial_config

    def reason(self) -> str:
        """Why the pick, in one sentence."""
        cur, opt = self.current, self.pick
        base = (f"{cur.model} at {cur.size_text()} with suggested anchors covers the worst class "
                f"{self.worst_class!r} {_pct(cur.worst_suggested)}")
        if opt is cur:
            anchors = "suggested" if self.pick_anchors() == cur.suggestion.config else "default"
            why = ("; no other model or input size at the same cost or one step up covers it "
                   f"{100 * REMEDY_POINTS:.0f} points better")
            if self.limits:
                why += f"; {anchors} anchors because a class cannot be covered at this size"
            return f"{base}{why}"
        return (f"{base}; {opt.model} at {opt.size_text()} with its suggested anchors covers it "
                f"{_pct(opt.worst_suggested)} (default anchors {_pct(opt.worst_default)}), "
                f"at {opt.cost / cur.cost:.2f}x the multiply-adds")

    def lines(self, src: str = "SRC") -> list[str]:
        """The remedy lines of ``stats --anchors --suggest``: one per option that lifts
        the worst class by :data:`REMEDY_POINTS` or more, best first, and the commands."""
        if not self.remedies:
            return []
        cur = self.current
        lines = [f"  better model or input size: the suggestion for {cur.model} at {cur.size_text()} "
                 f"({cur.cost:.2f} G multiply-adds) covers the worst class {self.worst_class!r} "
                 f"{_pct(cur.worst_suggested)}; these lift it by {100 * REMEDY_POINTS:.0f} points or more:"]
        for o in self.remedies:
            worst = min(o.suggested, key=o.suggested.get)
            other = "" if worst == self.worst_class else f", worst class there {worst!r}"
            lines.append(f"    would lift it: --model {o.model} --input-size {o.size_text()}: "
                         f"{_pct(o.worst_suggested)} with its suggested anchors "
                         f"(+{100 * (o.worst_suggested - cur.worst_suggested):.1f} points; default anchors "
                         f"{_pct(o.worst_default)}{other}); {o.cost:.2f} G multiply-adds ({o.cost / cur.cost:.2f}x)")
        lines.append(f"    use the first: {self.remedies[0].command(src)}")
        lines.append(f"    or: dataprep train --records {shlex.quote(src)} --model auto (takes the first, with its "
                     "suggested anchors)")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"worst_class": self.worst_class, "remedy_points": REMEDY_POINTS,
                "current": self.current.to_dict(), "options": [o.to_dict() for o in self.options],
                "remedies": [dict(o.to_dict(), command=o.command(),
                                  lift=o.worst_suggested - self.current.worst_suggested) for o in self.remedies],
                "pick": {"model": self.pick.model, "input_size": list(self.pick.input_size),
                         "anchor_config": self.pick_anchors().to_dict(), "reason": self.reason()}}


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}%"


def candidate_options(settings: AnchorSettings) -> list[tuple[str, Size]]:
    """Every model of MODELS with a measured cost (:data:`MODEL_COST`; not the TF1
    models, which start only from a TF1 checkpoint) at every size of INPUT_STEPS
    (and its own) whose cost is at most that of ``settings``, plus each model's
    next size up; the analysed model and size excluded. Models with the same default anchors
    (``ssd_mobilenet_v2`` and ``ssdlite_mobilenet_v2``) cover boxes alike at one
    size: only the cheaper is kept there."""
    budget = model_cost(settings.model, settings.input_size) * (1 + 1e-9)
    found: dict[tuple, tuple[float, str, Size]] = {}
    for name, spec in MODELS.items():
        if name not in MODEL_COST:
            continue
        sizes = sorted(set(INPUT_STEPS) | {spec.input_size})
        costs = [model_cost(name, (s, s)) for s in sizes]
        within = [(s, c) for s, c in zip(sizes, costs) if c <= budget]
        above = [(s, c) for s, c in zip(sizes, costs) if c > budget][:1]
        for s, c in within + above:
            key = (default_anchor_config(name), (s, s))
            if key not in found or c < found[key][0]:
                found[key] = (c, name, (s, s))
    here = (default_anchor_config(settings.model), tuple(settings.input_size))
    return [(name, size) for key, (_, name, size) in found.items() if key != here]


def _by_class(values: np.ndarray, label: np.ndarray, names: list[str], present: np.ndarray) -> dict[str, float]:
    count = np.maximum(np.bincount(label, minlength=len(names)), 1)
    frac = np.bincount(label, weights=values.astype(np.float64), minlength=len(names)) / count
    return {names[c]: float(frac[c]) for c in range(len(names)) if present[c]}


def _score(opt: ModelOption, boxes: np.ndarray, lab: np.ndarray, names: list[str], present: np.ndarray,
           iou_threshold: float, seed: int) -> None:
    """Fill ``opt``'s default and suggested coverage per class."""
    config = default_anchor_config(opt.model)
    if isinstance(config, AnchorConfig):
        sug = suggest_anchors(boxes, opt.input_size, config, labels=lab, iou_threshold=iou_threshold, seed=seed,
                              max_evaluations=OPTION_EVALUATIONS, sample_size=OPTION_SEARCH_SAMPLE)
    else:
        sug = suggest_multiscale_anchors(boxes, opt.input_size, config, labels=lab, iou_threshold=iou_threshold)
    opt.suggestion = sug
    opt.default = _by_class(sug.before.matched, lab, names, present)
    opt.suggested = _by_class(sug.after.matched, lab, names, present)


def advise(table: BoxTable, settings: AnchorSettings, *, iou_threshold: float = 0.5, seed: int = 0,
           suggestion: SuggestionResult | None = None, limits: list[ClassLimit] | None = None) -> ModelAdvice | None:
    """The advice for ``table``'s boxes analysed with ``settings`` (see the module
    docstring). ``suggestion`` and ``limits``: those of the analysed settings when
    already computed (``stats``); computed here otherwise (``train --model auto``).
    None when the settings are not those of a registered model or there are no boxes."""
    if settings.model not in MODEL_COST or table.num_boxes == 0:
        return None
    names = list(table.class_names)
    label = np.asarray(table.label, dtype=np.intp)
    present = np.bincount(label, minlength=len(names)) > 0
    if suggestion is None:
        boxes = model_input_boxes(table, settings)
        config = settings.config
        suggestion = (suggest_anchors(boxes, settings.input_size, config, labels=label, iou_threshold=iou_threshold,
                                      seed=seed) if isinstance(config, AnchorConfig)
                      else suggest_multiscale_anchors(boxes, settings.input_size, config, labels=label,
                                                      iou_threshold=iou_threshold))
    if limits is None:
        limits = class_limits(table, settings, iou_threshold=iou_threshold, seed=seed)
    pick = np.arange(table.num_boxes)
    if pick.size > SAMPLE_SIZE:
        pick = np.sort(np.random.default_rng(seed).choice(pick.size, SAMPLE_SIZE, replace=False))
    lab = label[pick]
    current = ModelOption(settings.model, tuple(settings.input_size), model_cost(settings.model, settings.input_size),
                          reachable={}, suggestion=suggestion, alternative=False,
                          default=_by_class(suggestion.before.matched, label, names, present),
                          suggested=_by_class(suggestion.after.matched, label, names, present))
    worst_class = min(current.suggested, key=current.suggested.get)
    goal = current.worst_suggested + REMEDY_POINTS
    options = []
    for model, size in candidate_options(settings):
        opt_settings = AnchorSettings(config=default_anchor_config(model), input_size=size, resizer=settings.resizer,
                                      model=model, origin="advice")
        boxes = model_input_boxes(table, opt_settings)[pick]
        reach = reachable_iou(boxes, size, ssd_grid_centres(opt_settings.config, size)) >= iou_threshold
        opt = ModelOption(model, size, model_cost(model, size), reachable=_by_class(reach, lab, names, present))
        # [1] No anchor setting covers a class beyond its reachable share, so an
        #     option whose bound is below the goal cannot be a remedy: skip its search.
        if opt.worst_bound >= goal - 1e-9:
            _score(opt, boxes, lab, names, present, iou_threshold, seed)
        options.append(opt)
    remedies = [o for o in options if o.suggested is not None and o.worst_suggested >= goal - 1e-9]
    remedies.sort(key=lambda o: (-round(o.worst_suggested, 6), o.cost))
    return ModelAdvice(current=current, options=options, remedies=remedies, worst_class=worst_class,
                       limits=list(limits))


def advise_records(records: str, split: str, *, iou_threshold: float = 0.5, seed: int = 0,
                   progress: bool = False) -> ModelAdvice:
    """The advice of ``stats RECORDS --split SPLIT --anchors --suggest`` (default model
    and input size analysed), for ``dataprep train --model auto``."""
    from dataprep.errors import UsageError
    from dataprep.stats.anchor_analysis import resolve_settings
    from dataprep.stats.collect import collect

    try:
        table = collect(records, fmt="records", split=split, progress=progress)
    except UsageError as err:
        raise UsageError(f"--model auto: {err}") from None
    advice = advise(table, resolve_settings(), iou_threshold=iou_threshold, seed=seed)
    if advice is None:
        raise UsageError(f"--model auto: the {split!r} split of {records} has no boxes to choose a model by")
    return advice


# ------------------------------------------------------- dataprep train's check
#: ``dataprep train`` warns when its anchors reach IoU 0.5 for fewer than this share of a class's train boxes.
POOR_COVERAGE = 0.5
#: Train examples the check reads (the first ones; dataprep's shards are written shuffled).
CHECK_EXAMPLES = 2000


def coverage_warnings(records: str, split: str, model: str, input_size: int, anchor_config: dict, *,
                      iou_threshold: float = 0.5, max_examples: int = CHECK_EXAMPLES) -> list[str]:
    """What ``dataprep train`` prints before training when a class is poorly
    covered: the share of each such class's train boxes (of the first
    ``max_examples`` examples) with an anchor at IoU >= ``iou_threshold`` for
    the model, input size and anchors it is about to train (the trainer
    stretches images onto the input, so the records' normalized boxes are the
    input's), and what to run instead. A box without a matching anchor is
    learnt only through its one force-matched anchor, if at all: on the public
    aerial-cars set the default anchors reach 0% of the cars at any size, and a
    run scores nothing without saying why."""
    from dataprep.anchors.kinds import anchor_config_from_dict
    from dataprep.stats.collect import collect_records

    table = collect_records(records, split=split, max_examples=max_examples)
    if table.num_boxes == 0:
        return []
    label = np.asarray(table.label, dtype=np.intp)
    names = list(table.class_names)
    report = anchor_coverage(np.clip(table.boxes, 0.0, 1.0), (input_size, input_size),
                             anchor_config_from_dict(anchor_config), iou_threshold=iou_threshold)
    present = np.bincount(label, minlength=len(names)) > 0
    counts = np.bincount(label, minlength=len(names))
    covered = _by_class(report.matched, label, names, present)
    poor = sorted((share, name) for name, share in covered.items() if share < POOR_COVERAGE)
    if not poor:
        return []
    sample = f" (first {max_examples} examples)" if table.num_images >= max_examples else ""
    lines = [f"warning: class {name!r}: {_pct(share)} of its {int(counts[names.index(name)])} {split} boxes{sample} "
             f"have an anchor at IoU >= {iou_threshold:g} with {model} at {input_size}x{input_size}; the model "
             "can hardly learn the rest" for share, name in poor]
    lines.append(f"  what covers them: dataprep stats {shlex.quote(str(records))} --split {split} --anchors --suggest; "
                 "or train with --model auto (the model, input size and anchors it advises)")
    return lines
