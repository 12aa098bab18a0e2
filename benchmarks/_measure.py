"""Run a command and measure its wall time, CPU time and peak memory over its
whole process tree (the command and every worker it forks, sampling /proc),
and the peak memory of the command's own process."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _mem_kb(pid: int) -> tuple[int, int]:
    """(rss, pss) in kB; PSS splits pages shared by forked workers fairly."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_measured(cmd: list[str], env: dict | None = None, interval: float = 0.02) -> dict:
    """Wall seconds, peak tree RSS and PSS (MB) and the return code of ``cmd``."""
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = {"rss": 0, "pss": 0, "root_rss": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss = pss = 0
            for p in _tree(proc.pid):
                r, s = _mem_kb(p)
                rss += r
                pss += s
            peak["root_rss"] = max(peak["root_rss"], _mem_kb(proc.pid)[0])
            peak["rss"] = max(peak["rss"], rss)
            peak["pss"] = max(peak["pss"], pss)
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    output = proc.communicate()[0].decode(errors="replace")
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"wall": wall, "rss_mb": peak["rss"] / 1024, "pss_mb": peak["pss"] / 1024,
            "root_rss_mb": peak["root_rss"] / 1024, "cpu_s": cpu, "rc": proc.returncode, "output": output}
