"""Synthetic datasets for samples, tests, demos and benchmarks.

:func:`generate_shapes_voc` writes a Pascal VOC folder of coloured shapes on
photo-like backgrounds; see :mod:`dataprep.synth.shapes`. Command line (also
prints the generation speed)::

    python -m dataprep.synth.shapes OUT_DIR NUM_IMAGES [--workers K] [--seed S]
"""

from __future__ import annotations

__all__ = [
    "SHAPE_KINDS",
    "generate_shapes_voc",
    "render_shapes_image",
    "shape_for_class",
    "stem_for_index",
]


def __getattr__(name: str):
    # Imported lazily so that ``python -m dataprep.synth.shapes`` does not find the
    # module already imported (runpy warns about that) and ``import dataprep.synth``
    # stays cheap.
    if name in __all__:
        from . import shapes

        return getattr(shapes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
