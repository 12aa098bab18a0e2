"""Findings: every problem found in the input is a record, not an exception.

A finding names the item (an image, an object within an image, a row), the
file, a sentence for people (``detail``) and what was done (``action``). It
also carries structured fields for programs (``image``, ``annotation``,
``object_index``, ``value``): display text is for people and is never parsed.
Every code is listed, with its severity, actions, meaning and the structured
fields it always carries, in :mod:`dataprep.validate.catalogue`. They are
collected in a :class:`Report`, counted per code, printed as a summary table
and written to ``report.json``, whose layout is a versioned JSON Schema shipped
in the package (``dataprep/schemas/report-v1.schema.json``, made from the
catalogue by :mod:`dataprep.validate.report_schema`)::

    Finding --to_json()--> {severity, code, item, file, detail, action,     (for people)
                            image, annotation, object_index, value}         (for programs; absent: null)
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

#: Severities, most severe first.
ERROR, WARNING, INFO = "error", "warning", "info"
_RANK = {ERROR: 0, WARNING: 1, INFO: 2}

# Actions taken about a finding.
KEPT, FIXED, CLIPPED, SWAPPED, DROPPED_BOX, SKIPPED_IMAGE, REENCODED, ROTATED, RENAMED, IGNORED = (
    "kept",
    "fixed",
    "clipped",
    "swapped",
    "dropped box",
    "skipped image",
    "re-encoded",
    "rotated",
    "renamed",
    "ignored",  # an entry that is not data (a COCO category that is not an object, id 0 = background)
)


#: The version of report.json's layout (its schema: dataprep/schemas/report-v{N}.schema.json).
REPORT_VERSION = 1
#: The fields of a finding in report.json: for people, then for programs.
DISPLAY_FIELDS = ("severity", "code", "item", "file", "detail", "action")
STRUCTURED_FIELDS = ("image", "annotation", "object_index", "value")
REPORT_FIELDS = DISPLAY_FIELDS + STRUCTURED_FIELDS


def json_value(v):
    """``v`` as plain JSON: numpy scalars and arrays, tuples -> numbers and
    lists; a non-finite number -> ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has none)."""
    if hasattr(v, "tolist"):  # numpy scalar or array
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    item: str
    file: str
    detail: str
    action: str = KEPT
    #: The image file (relative to the images root) the finding is about, if any.
    image: str = ""
    #: The annotation file (and row or line) that referenced the image, if any.
    annotation: str = ""
    #: The box's index in its annotation, for box-level findings.
    object_index: int | None = None
    #: The offending value as data (a box's coordinates, a class name, a class id,
    #: a size ...), as plain JSON (see :func:`json_value`); None when there is none.
    value: object = None

    def __post_init__(self):
        if self.object_index is not None:
            object.__setattr__(self, "object_index", int(self.object_index))
        if self.value is not None:
            object.__setattr__(self, "value", json_value(self.value))

    def to_json(self) -> dict:
        """The finding as report.json writes it: every field, an absent one null."""
        out = {k: getattr(self, k) for k in DISPLAY_FIELDS}
        out.update({k: getattr(self, k) or None for k in ("image", "annotation")})
        out.update(object_index=self.object_index, value=self.value)  # 0 and "" are values
        return out

    def message(self) -> str:
        where = f"{self.file}: " if self.file else ""
        if self.annotation and self.annotation not in (self.file, self.item):
            where = f"{self.file} (annotated in {self.annotation}): "
        item = f"{self.item}: " if self.item and self.item != self.file else ""
        return f"{where}{item}{self.detail} [{self.code}; {self.action}]"


@dataclass
class Counts:
    """The accounting that must always balance."""

    images_read: int = 0
    images_written: int = 0
    images_skipped: int = 0
    boxes_read: int = 0
    boxes_written: int = 0
    boxes_dropped: int = 0

    def check(self) -> None:
        if self.images_read != self.images_written + self.images_skipped:
            raise AssertionError(
                f"accounting error: images read {self.images_read} != written {self.images_written}"
                f" + skipped {self.images_skipped}"
            )
        if self.boxes_read != self.boxes_written + self.boxes_dropped:
            raise AssertionError(
                f"accounting error: boxes read {self.boxes_read} != written {self.boxes_written}"
                f" + dropped {self.boxes_dropped}"
            )


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    #: Every image came from an annotation file (a reader's dataset; not a
    #: table built in code without one): then every finding about an image
    #: or a box names its annotation file (report.json's schema checks it).
    annotated: bool = True

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(f.code for f in self.findings).items()))

    def by_severity(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in (ERROR, WARNING, INFO)}

    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    def to_dict(self) -> dict:
        return {
            "report_version": REPORT_VERSION,
            "annotated": self.annotated,
            "counts": asdict(self.counts),
            "by_severity": self.by_severity(),
            "by_code": self.by_code(),
            "findings": [f.to_json() for f in sorted(self.findings, key=lambda f: (_RANK[f.severity], f.code))],
        }

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def summary_lines(self, per_code: int = 3) -> list[str]:
        """A readable table grouped by code, with the first few items of each."""
        if not self.findings:
            return ["No findings: every image and box passed the checks."]
        groups: dict[str, list[Finding]] = {}
        for f in sorted(self.findings, key=lambda f: (_RANK[f.severity], f.code)):
            groups.setdefault(f.code, []).append(f)
        width = max(len(c) for c in groups)
        lines = [f"{'severity':8}  {'code':{width}}  {'count':>6}  action / first items"]
        for code, fs in groups.items():
            actions = ", ".join(sorted({f.action for f in fs}))
            lines.append(f"{fs[0].severity:8}  {code:{width}}  {len(fs):6d}  {actions}")
            for f in fs[:per_code]:
                lines.append(f"{'':8}  {'':{width}}  {'':6}    {f.message()}")
            if len(fs) > per_code:
                lines.append(f"{'':8}  {'':{width}}  {'':6}    ... and {len(fs) - per_code} more in report.json")
        return lines
