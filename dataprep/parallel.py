"""Worker process pools.

Forking is the cheap way to start workers (they share the parent's tables
without copying), but forking a process whose other threads hold locks can
deadlock the child. TensorFlow (and torch, JAX) run such thread pools, as do
Python threads; numpy's OpenBLAS threads are fork-safe (OpenBLAS re-creates
its pool in the child with pthread_atfork). So: fork unless one of those
runtimes is loaded or another Python thread runs, spawn otherwise. The state
a worker needs always travels through the pool's initializer, which works
with both.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading

#: Runtimes whose thread pools make fork unsafe once imported.
THREADED_RUNTIMES = ("tensorflow", "torch", "jax")


def start_method() -> str:
    if ("fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
            and not any(name in sys.modules for name in THREADED_RUNTIMES)):
        return "fork"
    return "spawn"


def process_pool(workers: int, initializer=None, initargs: tuple = ()):
    """A ``multiprocessing.Pool`` of ``workers`` processes (see the module docstring)."""
    return multiprocessing.get_context(start_method()).Pool(workers, initializer, initargs)


def default_workers() -> int:
    """Worker processes when the user gives none: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
