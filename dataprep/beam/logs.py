"""Beam's log lines off the terminal unless ``dataprep --debug``.

Beam calls ``logging.basicConfig()`` whenever it builds its pipeline
options (which gives the root logger a handler on stderr) and its runners
log as they go ("Discarding unparseable args", worker-parallelism advice,
job states). For the length of a Beam call, :func:`beam_logging` gives the
root logger a do-nothing handler, so that ``basicConfig()`` leaves it alone,
and sends the ``apache_beam`` loggers (and ``distributed``'s, the Dask
cluster's scheduler and nannies in this process) nowhere (or, with ``show``,
to stderr at INFO, marked ``beam``); afterwards the loggers are as they were. Like
TensorFlow's start-up notices (``dataprep.cli.train.quiet_tensorflow``),
``--debug`` shows them.
"""

from __future__ import annotations

import contextlib
import logging
import sys

#: The loggers a Beam call keeps off the terminal.
QUIET = ("apache_beam", "distributed")


@contextlib.contextmanager
def beam_logging(show: bool = False):
    """See the module docstring."""
    root, quiet = logging.getLogger(), [logging.getLogger(name) for name in QUIET]
    saved_root = (list(root.handlers), root.level)
    saved = [(list(lg.handlers), lg.level, lg.propagate) for lg in quiet]
    root.addHandler(logging.NullHandler())  # basicConfig() does nothing to a root logger with a handler
    if show:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("beam %(levelname)s %(name)s: %(message)s"))
    else:
        handler = logging.NullHandler()
    for lg in quiet:
        if show:
            lg.setLevel(logging.INFO)
        lg.handlers[:] = [handler]
        lg.propagate = False
    try:
        yield
    finally:
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
        for lg, (handlers, level, propagate) in zip(quiet, saved):
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate


__all__ = ["beam_logging"]
