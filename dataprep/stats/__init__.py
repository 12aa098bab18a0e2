"""``dataprep stats``: what is in a dataset, and how SSD anchors cover it.

Works on records (streamed, TensorFlow-free) and on source annotation sets::

    table = collect("out/")                  # or collect("voc/"), collect("a.json", images=...)
    summary = summarise(table)               # one JSON-able dict, overall and per split
    print("\\n".join(format_summary(summary)))
    analysis = analyse_anchors(table, resolve_settings(input_size="320"), suggest=True)
    analysis.advice = advise(table, analysis.settings, suggestion=analysis.suggestion, limits=analysis.limits)

Importing this package never imports TensorFlow; matplotlib is imported only
by :func:`write_plots`.
"""

from dataprep.stats.anchor_analysis import (
    AnchorAnalysis,
    AnchorSettings,
    analyse_anchors,
    dump_anchors,
    format_anchor_analysis,
    model_input_boxes,
    resolve_settings,
)
from dataprep.stats.advice import ModelAdvice, advise
from dataprep.stats.collect import BoxTable, collect, collect_dataset, collect_records, detect_format
from dataprep.stats.summary import describe, format_summary, summarise, write_json


def write_plots(*args, **kwargs):
    """See :func:`dataprep.stats.plots.write_plots` (imports matplotlib)."""
    from dataprep.stats.plots import write_plots as _write_plots

    return _write_plots(*args, **kwargs)


__all__ = [
    "AnchorAnalysis",
    "AnchorSettings",
    "BoxTable",
    "ModelAdvice",
    "advise",
    "analyse_anchors",
    "collect",
    "collect_dataset",
    "collect_records",
    "describe",
    "detect_format",
    "dump_anchors",
    "format_anchor_analysis",
    "format_summary",
    "model_input_boxes",
    "resolve_settings",
    "summarise",
    "write_json",
    "write_plots",
]
