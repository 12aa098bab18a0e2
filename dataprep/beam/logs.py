"""Beam's log lines off the terminal unless ``dataprep --debug``.

Beam calls ``logging.basicConfig()`` whenever it builds its pipeline
options (which gives the root logger a handler on stderr) and its runners
log as they go ("Discarding unparseable args", worker-parallelism advice,
job states). For the length of a Beam call, :func:`beam_logging` gives the
root logger a do-nothing handler, so that ``basicConfig()`` leaves it alone,
and sends the ``apache_beam`` loggers nowhere (or, with ``show``, to stderr
at INFO, marked ``beam``); afterwards both loggers are as they were. Like
TensorFlow's start-up notices (``dataprep.cli.train.quiet_tensorflow``),
``--debug`` shows them.
"""

from __future__ import annotations

import contextlib
import logging
import sys


@contextlib.contextmanager
def beam_logging(show: bool = False):
    """See the module docstring."""
    root, beam = logging.getLogger(), logging.getLogger("apache_beam")
    saved_root = (list(root.handlers), root.level)
    saved_beam = (list(beam.handlers), beam.level, beam.propagate)
    root.addHandler(logging.NullHandler())  # basicConfig() does nothing to a root logger with a handler
    if show:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("beam %(levelname)s %(name)s: %(message)s"))
        beam.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    beam.handlers[:] = [handler]
    beam.propagate = False
    try:
        yield
    finally:
        root.handlers[:], beam.handlers[:] = saved_root[0], saved_beam[0]
        root.setLevel(saved_root[1])
        beam.setLevel(saved_beam[1])
        beam.propagate = saved_beam[2]


__all__ = ["beam_logging"]
