"""Worker process pools.

Forking is the cheap way to start workers (they share the parent's tables
without copying), but forking a process that runs other threads (TensorFlow
starts many, and Python 3.12+ warns about it) can deadlock the child. So:
fork when this process has a single OS thread, spawn otherwise; the state a
worker needs always travels through the pool's initializer, which works with
both.
"""

from __future__ import annotations

import multiprocessing
import os


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: ask Python, which only knows its own threads
        import threading

        return threading.active_count()


def start_method() -> str:
    if "fork" in multiprocessing.get_all_start_methods() and _os_threads() == 1:
        return "fork"
    return "spawn"


def process_pool(workers: int, initializer=None, initargs: tuple = ()):
    """A ``multiprocessing.Pool`` of ``workers`` processes (see the module docstring)."""
    return multiprocessing.get_context(start_method()).Pool(workers, initializer, initargs)
