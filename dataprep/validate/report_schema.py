"""report.json's JSON Schema, made from the finding-code catalogue.

The schema is a file shipped in the package for other programs to validate
against or read (``dataprep/schemas/report-v{N}.schema.json``, JSON Schema
draft 2020-12, N = :data:`~dataprep.findings.REPORT_VERSION`); this
module is what writes it, so the catalogue stays the one place a code, its
severities, actions and structured fields are declared::

    catalogue.CATALOGUE --schema()--> {report: counts, by_severity, by_code, findings[]}
                                      finding: 6 display fields + image, annotation, object_index, value
                                      per code: its severities, its actions, the fields it must carry
    python -m dataprep.validate.report_schema        rewrites the shipped file (after a catalogue change)

``tests/test_report_schema.py`` checks that the shipped file is what
:func:`schema` makes, and validates every report the test suite produces
against it. A change that removes or retypes a field, or stops a code from
carrying a field, is a new version (a new file); a new code is not.
"""

from __future__ import annotations

import json
from importlib import resources

from dataprep.validate.catalogue import CATALOGUE
from dataprep.findings import DISPLAY_FIELDS, ERROR, INFO, REPORT_VERSION, STRUCTURED_FIELDS, WARNING

SCHEMA_NAME = f"report-v{REPORT_VERSION}.schema.json"

_TEXT = {"type": "string"}
_OPTIONAL_TEXT = {"type": ["string", "null"], "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}

_FIELD_DOCS = {
    "severity": "error, warning or info (the catalogue gives each code's)",
    "code": "the finding code, e.g. box.clipped (dataprep/validate/catalogue.py lists every code)",
    "item": "what the finding is about, for people: an image, 'FILE object 3 \\'dog\\'', 'line 12', a class",
    "file": "the file shown first on the console line (an image or an annotation file)",
    "detail": "the sentence for people, with the offending value; never parse it: use the fields below",
    "action": "what dataprep did: kept, fixed, clipped, dropped box, skipped image, ...",
    "image": "the image file, relative to the images root (null when the finding is not about one image)",
    "annotation": "the annotation file that holds the finding's subject: the VOC XML, COCO JSON, CSV (with "
                  ":LINE for a row), YOLO label file or data.yaml, split list, label map or source record "
                  "(SHARD@OFFSET); null when there is none",
    "object_index": "the object's index within its annotation (0-based, in file order); null unless the finding "
                    "is about one box",
    "value": "the offending value as data: a box's (xmin, ymin, xmax, ymax), a class name or id, a size "
             "[width, height], a count ...; non-finite numbers are the strings 'nan', 'inf', '-inf'; null "
             "when there is none",
}


def _finding() -> dict:
    """A finding: its ten fields, each documented, and the rules of each code
    (but the annotation file's: :func:`_annotated_finding`)."""
    props: dict = {k: {**_TEXT, "description": _FIELD_DOCS[k]} for k in DISPLAY_FIELDS}
    props["severity"] = {"enum": [ERROR, WARNING, INFO], "description": _FIELD_DOCS["severity"]}
    props["code"] = {"type": "string", "pattern": r"^[a-z]+\.[a-z][a-z0-9_]*$", "description": _FIELD_DOCS["code"]}
    props["image"] = {**_OPTIONAL_TEXT, "description": _FIELD_DOCS["image"]}
    props["annotation"] = {**_OPTIONAL_TEXT, "description": _FIELD_DOCS["annotation"]}
    props["object_index"] = {"type": ["integer", "null"], "minimum": 0, "description": _FIELD_DOCS["object_index"]}
    props["value"] = {"description": _FIELD_DOCS["value"]}
    return {
        "type": "object",
        "properties": props,
        "required": list(DISPLAY_FIELDS + STRUCTURED_FIELDS),
        "additionalProperties": False,
        "allOf": [_code_rule(code) for code in sorted(CATALOGUE)],
    }


def _annotated_finding() -> dict:
    """A finding of a report whose images came from annotation files: the codes
    that carry the annotation file name it."""
    codes = sorted(code for code, entry in CATALOGUE.items() if "annotation" in entry.fields)
    return {"$ref": "#/$defs/finding",
            "if": {"properties": {"code": {"enum": codes}}, "required": ["code"]},
            "then": {"properties": {"annotation": {"not": {"type": "null"}}}}}


def _code_rule(code: str) -> dict:
    """Findings of ``code``: one of its severities and actions, its fields not null."""
    entry = CATALOGUE[code]
    then: dict = {"properties": {"severity": {"enum": list(entry.severities)},
                                 "action": {"enum": list(entry.actions)}}}
    for f in entry.fields:
        if f != "annotation":  # required where the report is annotated: _annotated_finding
            then["properties"][f] = {"not": {"type": "null"}}
    return {"if": {"properties": {"code": {"const": code}}, "required": ["code"]},
            "then": {"description": entry.doc, **then}}


def schema() -> dict:
    """report.json's JSON Schema (draft 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:dataprep:report:v{REPORT_VERSION}",
        "title": f"dataprep report.json, version {REPORT_VERSION}",
        "description": "Every finding of a dataprep conversion or check (convert, split, validate --report). "
                       "Written by dataprep.findings.Report.to_dict; made from the finding-code "
                       "catalogue by dataprep.validate.report_schema.",
        "type": "object",
        "properties": {
            "report_version": {"const": REPORT_VERSION},
            "annotated": {"type": "boolean",
                          "description": "every image came from an annotation file (false for a dataset built in "
                                         "code without them); when true, every finding whose code carries an "
                                         "annotation names it"},
            "counts": {"type": "object", "additionalProperties": False,
                       "required": ["images_read", "images_written", "images_skipped", "boxes_read",
                                    "boxes_written", "boxes_dropped"],
                       "properties": {k: _COUNT for k in ("images_read", "images_written", "images_skipped",
                                                          "boxes_read", "boxes_written", "boxes_dropped")}},
            "by_severity": {"type": "object", "additionalProperties": False, "required": [ERROR, WARNING, INFO],
                            "properties": {s: _COUNT for s in (ERROR, WARNING, INFO)}},
            "by_code": {"type": "object", "additionalProperties": _COUNT},
            "findings": {"type": "array"},
        },
        "required": ["report_version", "annotated", "counts", "by_severity", "by_code", "findings"],
        "additionalProperties": False,
        "if": {"properties": {"annotated": {"const": True}}},
        "then": {"properties": {"findings": {"items": {"$ref": "#/$defs/annotated_finding"}}}},
        "else": {"properties": {"findings": {"items": {"$ref": "#/$defs/finding"}}}},
        "$defs": {"finding": _finding(), "annotated_finding": _annotated_finding()},
    }


def shipped_schema() -> dict:
    """The schema file shipped in the package."""
    return json.loads(resources.files("dataprep").joinpath("schemas", SCHEMA_NAME).read_text(encoding="utf-8"))


def schema_text() -> str:
    return json.dumps(schema(), indent=1, ensure_ascii=False) + "\n"


def main() -> None:  # pragma: no cover - a maintainer's command
    path = resources.files("dataprep").joinpath("schemas", SCHEMA_NAME)
    with resources.as_file(path) as p:
        p.parent.mkdir(exist_ok=True)
        p.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {p}")


if __name__ == "__main__":  # pragma: no cover
    main()
