"""The exceptions dataprep raises.

One root, :class:`DataprepError`, and a few structured subclasses. Expected
problems with the user's input are raised as one of these and turned into a
one-line message (no traceback) by the CLI; problems found *inside* a dataset
(a bad box, an unreadable image) are not exceptions at all but
:class:`dataprep.findings.Finding` records written to ``report.json``.
"""

from __future__ import annotations


class DataprepError(Exception):
    """Root of every error dataprep raises on purpose. Exit code 1 in the CLI."""

    exit_code = 1


class UsageError(DataprepError):
    """The command line or arguments are wrong (exit code 2): a missing folder,
    an existing output without ``--overwrite``, options that contradict."""

    exit_code = 2


class LabelMapError(DataprepError):
    """A label map file is malformed or breaks the contract (id 0, duplicate
    ids or names)."""


class AnnotationError(DataprepError):
    """An annotation file cannot be used at all (raised only in ``--strict`` or
    ``--on-error fail`` mode; otherwise it becomes a finding)."""


class FindingError(DataprepError):
    """Raised by ``--on-error fail`` at the first error finding."""

    def __init__(self, finding):
        self.finding = finding
        super().__init__(finding.message())
