"""Progress bars: tqdm, without its monitor thread.

tqdm starts a background thread to watch for stalled bars; a process with an
extra thread must not fork worker processes (see :mod:`dataprep.parallel`),
so dataprep's bars never start it.
"""

from __future__ import annotations

from tqdm import tqdm


class _Bar(tqdm):
    monitor_interval = 0  # no TMonitor thread


def progress_bar(total: int | None, desc: str, unit: str, enabled: bool = True) -> tqdm:
    """A tqdm bar on stderr (disabled when ``enabled`` is False)."""
    return _Bar(total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True)
