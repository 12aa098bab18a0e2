"""``--on-error``: one object decides what an error finding does.

* ``fix`` (default): fix what is safe (clip, swap), drop what is not (a box,
  an unreadable image); the run goes on.
* ``skip``: also skip every image that has any error finding.
* ``fail``: stop at the first error finding (:class:`~dataprep.errors.FindingError`).

The same object runs in the main process (annotation checks) and in the
workers (image checks), like datumaro's ``ImportErrorPolicy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from dataprep.errors import FindingError
from dataprep.findings import ERROR, Finding
from dataprep.options import ON_ERROR_MODES, check_on_error

MODES = ON_ERROR_MODES


@dataclass(frozen=True)
class ErrorPolicy:
    mode: str = "fix"

    def __post_init__(self):
        check_on_error(self.mode)

    @property
    def skips_images(self) -> bool:
        """Whether an image with any error finding is skipped (``skip``)."""
        return self.mode == "skip"

    def check(self, findings: Iterable[Finding]) -> None:
        """Raise :class:`FindingError` for the first error finding under ``fail``."""
        if self.mode != "fail":
            return
        for f in findings:
            if f.severity == ERROR:
                raise FindingError(f)
