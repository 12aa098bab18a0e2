"""Worker pools fork only when that is safe, and progress bars start no thread."""

from __future__ import annotations

import subprocess
import sys


def test_progress_bar_starts_no_thread_and_pools_still_fork():
    code = (
        "import sys, threading\n"
        "import numpy, pandas\n"
        "from dataprep.progress import progress_bar\n"
        "from dataprep import parallel\n"
        "b = progress_bar(10, 'x', 'it', True); b.update(3); b.close()\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert parallel.start_method() == 'fork'\n"
        "t = threading.Thread(target=lambda: __import__('time').sleep(1)); t.start()\n"
        "assert parallel.start_method() == 'spawn'\n"
        "t.join()\n"
        "sys.modules['tensorflow'] = object()\n"
        "assert parallel.start_method() == 'spawn'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_convert_with_spawned_workers_matches_forked(tmp_path, monkeypatch):
    from conftest import build_dataset
    from dataprep import parallel
    from dataprep.convert import ConvertOptions, convert

    ds = build_dataset(tmp_path, [["cat"], ["dog", "cat"], []] * 4)
    a = convert(ds, ConvertOptions(out=tmp_path / "a", workers=2, progress=False))
    monkeypatch.setattr(parallel, "start_method", lambda: "spawn")
    b = convert(ds, ConvertOptions(out=tmp_path / "b", workers=2, progress=False))
    digests = [[s["sha256"] for s in i["shards"]] for i in a.manifest["splits"].values()]
    assert digests == [[s["sha256"] for s in i["shards"]] for i in b.manifest["splits"].values()]
    assert a.report.by_code() == b.report.by_code()
