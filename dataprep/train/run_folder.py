"""A training run folder's lifecycle, the output writer's (``records/output.py``)
carried to ``dataprep train``: one run at a time holds the folder, every file
that says "done" is written under a partial name and renamed when complete,
and ``summary.json`` comes last, so a killed run never leaves a weights file
or a summary that looks complete.

::

    RunFolder(RUN).open()         hold RUN's lock (OutputLock: flock, freed by the kernel if we die);
                                  remove partial files and folders of a run that died
      write_text(name, text)      .{name}.{run}.partial -> name
      save_weights(model, name)   .{stem}.{run}.partial.weights.h5 -> name (Keras wants the suffix)
      publish_best(model, doc)    .best.{run}.partial/ (model.weights.h5, evaluation.json) -> best/
                                  (the previous best/ is moved aside first and removed last;
                                  a run killed between the two renames gets it back on the next open)
      close()                     drop the lock

    RUN/config.json, recipe.json, label_map.pbtxt     at the start
    RUN/checkpoints/epoch-NNN.weights.h5              after every epoch
    RUN/best/model.weights.h5, best/evaluation.json   after every evaluation better than the best so far
    RUN/history.csv, curves.png                       as the run goes
    RUN/model.weights.h5                              the final weights
    RUN/summary.json                                  last: the run finished
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from dataprep.records.output import OutputLock

BEST_DIR = "best"
#: Partial files and folders of any run (``.{name}.{run}.partial[.weights.h5]``, ``.best.{run}.partial``,
#: ``.best.{run}.old``).
PARTIAL_RE = re.compile(r"^\..+\.\d+-[0-9a-f]{8}\.(?:partial(?:\.weights\.h5|\.png)?|old)$")


class RunFolder:
    """Atomic writes into a run folder held by one run (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.run = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock: OutputLock | None = None
        self._created = False

    def open(self) -> "RunFolder":
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = OutputLock(self.path).acquire()
        self._recover()
        return self

    def close(self) -> None:
        """Drop the lock; a folder this run created and left empty (it failed before writing) goes too."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()

    def __enter__(self) -> "RunFolder":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _recover(self) -> None:
        """Remove what a killed run left half-written; give back a best/ it had moved aside."""
        for folder in (self.path, self.path / "checkpoints"):
            for p in sorted(folder.iterdir()) if folder.is_dir() else ():
                if not PARTIAL_RE.match(p.name):
                    continue
                if p.name.startswith(f".{BEST_DIR}.") and p.name.endswith(".old") and \
                        not (self.path / BEST_DIR).exists():
                    os.replace(p, self.path / BEST_DIR)
                elif p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    def _partial(self, name: str, suffix: str = ".partial") -> Path:
        target = self.path / name
        return target.parent / f".{target.name}.{self.run}{suffix}"

    def write_text(self, name: str, text: str) -> Path:
        tmp = self._partial(name)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path / name)
        return self.path / name

    def save_weights(self, model, name: str) -> Path:
        stem = Path(name).name.removesuffix(".weights.h5")
        (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        tmp = (self.path / name).parent / f".{stem}.{self.run}.partial.weights.h5"
        model.save_weights(os.fspath(tmp))
        os.replace(tmp, self.path / name)
        return self.path / name

    def write_png(self, name: str, write) -> Path:
        """``write(path)`` draws a PNG to a partial name, then it replaces ``name``."""
        tmp = self._partial(name, ".partial.png")
        write(tmp)
        os.replace(tmp, self.path / name)
        return self.path / name

    def publish_best(self, model, evaluation_json: str) -> Path:
        """``best/`` = these weights and their evaluation, replacing the previous best."""
        from dataprep.train.config import WEIGHTS_FILE

        tmp = self.path / f".{BEST_DIR}.{self.run}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save_weights(os.fspath(tmp / WEIGHTS_FILE))
        (tmp / "evaluation.json").write_text(evaluation_json, encoding="utf-8")
        best, old = self.path / BEST_DIR, self.path / f".{BEST_DIR}.{self.run}.old"
        if best.exists():
            os.replace(best, old)
        os.replace(tmp, best)
        shutil.rmtree(old, ignore_errors=True)
        return best
