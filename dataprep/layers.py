"""The package layers, bottom up: a package imports only packages of its own layer or below.

One table, checked by ``tests/test_layers.py`` (no upward import, no
package-level import cycle, every package declared here) and shown in the
README's "Architecture" part. A "package" is a top-level module or package of
``dataprep`` (``dataprep.locations``, ``dataprep.convert``); imports inside
functions count too.

Moving a package, or adding one, is a change to this table with a reason.
"""

from __future__ import annotations

#: (layer, packages, what the layer is for), bottom up.
LAYERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("base", ("errors", "progress", "parallel", "textio", "boxes", "filesystems", "locations", "protos", "layers",
              "options"),
     "errors, progress bars, process pools, text files, box maths, the file-system seam, paths and URLs, "
     "option declarations"),
    ("model", ("label_map", "findings", "dataset"),
     "the data every layer passes: label maps, findings, the dataset tables"),
    ("records", ("records",), "record files: naming, framing, the example codec, the output writer"),
    ("checks", ("validate",), "checks of images, annotations and whole datasets; the findings catalogue"),
    ("formats", ("formats",), "one reader/writer per source format, and their registry"),
    ("anchors", ("anchors",), "anchor generators, kinds, coverage and suggestions (numpy)"),
    ("models", ("models",), "the model registry, pipeline.config and anchors files, the one model resolver"),
    ("balance", ("balance",), "splitting without leakage, groups, repeat factors (pure functions)"),
    ("convert", ("convert",), "the conversion pipeline, layout planner, re-split, the local executor"),
    ("beam", ("beam",), "the Apache Beam executor; registers its file system in filesystems"),
    ("commands", ("stats", "train", "synth"), "statistics and anchor analysis, the trainer, synthetic data"),
    ("cli", ("cli",), "the command line: thin commands over the layers below"),
    ("api", ("dataprep",), "the root package: lazy public attributes (load_dataset, read_voc ...)"),
)

#: package -> rank (0 = bottom).
RANK: dict[str, int] = {package: rank for rank, (_, packages, _) in enumerate(LAYERS) for package in packages}


def package_of(module: str) -> str:
    """``dataprep.convert.work`` -> ``convert``; ``dataprep.locations`` -> ``locations``; ``dataprep`` -> ``dataprep``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(package: str) -> str:
    """The name of ``package``'s layer (``KeyError`` when it is not declared)."""
    return LAYERS[RANK[package]][0]
