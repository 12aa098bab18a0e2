"""Synthetic datasets for samples, tests, demos and benchmarks.

:func:`generate_shapes_voc` writes a Pascal VOC folder of coloured shapes on
photo-like backgrounds; see :mod:`dataprep.synth.shapes`.
:func:`generate_cells_voc` writes a microscopy-like scene of small rare, medium
abundant and large rare round objects; see :mod:`dataprep.synth.cells`.
Command line (also
prints the generation speed)::

    python -m dataprep.synth.shapes OUT_DIR NUM_IMAGES [--workers K] [--seed S]
"""

from __future__ import annotations

__all__ = [
    "CELL_CLASSES",
    "SHAPE_KINDS",
    "generate_cells_voc",
    "generate_shapes_voc",
    "render_shapes_image",
    "shape_for_class",
    "render_cells_image",
    "stem_for_index",
]

_CELLS = ("CELL_CLASSES", "generate_cells_voc", "render_cells_image")


def __getattr__(name: str):
    # Imported lazily so that ``python -m dataprep.synth.shapes`` does not find the
    # module already imported (runpy warns about that) and ``import dataprep.synth``
    # stays cheap.
    if name in _CELLS:
        from . import cells

        return getattr(cells, name)
    if name in __all__:
        from . import shapes

        return getattr(shapes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
