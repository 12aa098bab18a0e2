"""report.json against its shipped JSON Schema (dataprep/schemas/report-v1.schema.json).

The schema file is what :mod:`dataprep.validate.report_schema` makes from the
catalogue; every finding carries the structured fields its code declares
(image, annotation file, object index, value), and every report the test
suite produces validates (the last test of a run: see tests/conftest.py).

Validation uses ``jsonschema`` (the test extra): a full draft 2020-12
validator, not a second, partial one written here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import pytest

from dataprep.validate import report_schema
from dataprep.validate.catalogue import CATALOGUE
from dataprep.findings import ERROR, KEPT, REPORT_FIELDS, SKIPPED_IMAGE, Counts, Finding, Report

jsonschema = pytest.importorskip("jsonschema")


@functools.cache
def validator():
    schema = report_schema.shipped_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors_of(report: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(report)]


def test_the_shipped_schema_is_the_catalogues():
    shipped = report_schema.shipped_schema()
    assert shipped == report_schema.schema(), (
        "dataprep/schemas/report-v1.schema.json is out of date with the catalogue: run "
        "`python -m dataprep.validate.report_schema` and commit the file")
    assert shipped["$id"].endswith(f"v{shipped['properties']['report_version']['const']}")


def test_the_schema_is_shipped_as_package_data():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"schemas/*.schema.json"' in text
    assert report_schema.SCHEMA_NAME == "report-v1.schema.json"


def test_a_finding_written_to_report_json_keeps_its_structured_fields(tmp_path):
    report = Report()
    report.add(Finding(ERROR, "box.outside", "a.jpg object 2 'cat'", "Annotations/a.xml",
                       "box (xmin, ymin, xmax, ymax) = (500, 1, 600, 9) px lies entirely outside the image (64x48)",
                       "dropped box", image="a.jpg", annotation="Annotations/a.xml", object_index=2,
                       value=(500.0, 1.0, 600.0, float("nan"))))
    report.write(tmp_path / "report.json")
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (f,) = written["findings"]
    assert tuple(f) == REPORT_FIELDS
    assert (f["image"], f["annotation"], f["object_index"]) == ("a.jpg", "Annotations/a.xml", 2)
    assert f["value"] == [500.0, 1.0, 600.0, "nan"]  # JSON has no NaN: plain JSON for any reader
    assert written["report_version"] == 1
    assert errors_of(written) == []


def invalid_report(*findings: Finding) -> dict:
    """A report of deliberately invalid findings, made without Report.to_dict
    (which the session-wide check collects)."""
    return {"report_version": 1, "annotated": True, "counts": dict.fromkeys(Counts().__dict__, 0),
            "by_severity": {"error": len(findings), "warning": 0, "info": 0},
            "by_code": {}, "findings": [f.to_json() for f in findings]}


def test_the_schema_refuses_a_finding_without_its_codes_fields():
    escape = Finding(ERROR, "image.path_escapes_root", "../x.jpg", "../x.jpg", "outside the images folder",
                     SKIPPED_IMAGE, image="../x.jpg")
    assert any("annotation" in e for e in errors_of(invalid_report(escape))), \
        "an image finding must name its annotation file"
    assert errors_of(invalid_report(dataclasses.replace(escape, annotation="Annotations/x.xml"))) == []
    wrong_action = Finding(ERROR, "image.missing", "a.jpg", "a.jpg", "not found", KEPT, image="a.jpg",
                           annotation="a.xml")
    assert errors_of(invalid_report(wrong_action)), "image.missing is never kept"
    negative = Finding(ERROR, "box.outside", "a.jpg", "a.jpg", "x", "dropped box", image="a.jpg",
                       annotation="a.xml", object_index=-1, value=[0, 0, 1, 1])
    assert any("object_index" in e for e in errors_of(invalid_report(negative)))
    assert errors_of({**invalid_report(escape), "annotated": False}) == [], \
        "a dataset built in code without annotation files has none to name"
    no_value = dataclasses.replace(negative, object_index=0, value=None)
    assert any("value" in e for e in errors_of(invalid_report(no_value))), "a box finding carries its box"


def test_an_escaping_image_path_names_the_annotation_that_holds_it(tmp_path, write_image):
    """The issue's example: ../ in a VOC <filename> is refused, and report.json says which XML holds it."""
    from dataprep.convert import ConvertOptions, convert
    from dataprep.formats.voc import read_voc

    voc = tmp_path / "voc"
    write_image(voc / "JPEGImages" / "ok.jpg")
    write_image(tmp_path / "outside.jpg")
    (voc / "Annotations").mkdir(parents=True)
    for stem, filename in (("ok", "ok.jpg"), ("evil", "../../outside.jpg")):
        (voc / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{filename}</filename><size><width>64</width><height>48</height></size>"
            "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox>"
            "</object></annotation>", encoding="utf-8")
    out = tmp_path / "out"
    convert(read_voc(voc), ConvertOptions(out=out, workers=1, progress=False))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    (escape,) = [f for f in report["findings"] if f["code"] == "image.path_escapes_root"]
    assert escape["image"] == "../../outside.jpg"
    assert escape["annotation"] == "Annotations/evil.xml"
    assert errors_of(report) == []


def test_every_catalogued_field_is_a_finding_field():
    for code, entry in CATALOGUE.items():
        assert set(entry.fields) <= set(REPORT_FIELDS), code


def test_every_report_of_the_session_validates(tmp_path_factory, session_reports):
    """Runs last: every report this test session produced (in this process and
    in CLI subprocesses: report.json files under the session's temp folder),
    as its distinct shapes (tests/conftest.py)."""
    shapes = session_reports
    base = tmp_path_factory.getbasetemp()
    for path in sorted(base.rglob("report.json")):
        try:
            shapes.add(str(path.relative_to(base)), json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a test's deliberately broken file
    v = validator()
    bad = []
    for where, head in shapes.heads.values():
        bad.extend(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(head))
    for (annotated, _), (where, finding) in shapes.findings.items():
        one = {**invalid_report(), "annotated": annotated, "findings": [finding]}
        bad.extend(f"{where}: finding {finding.get('code') if isinstance(finding, dict) else finding!r}: "
                   f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:400] for e in v.iter_errors(one))
    assert not bad, f"{len(bad)} schema errors in the reports of this session:\n" + "\n".join(bad[:30])
    codes = {f.get("code") for _, f in shapes.findings.values() if isinstance(f, dict)}
    print(f"\n{shapes.reports} reports, {shapes.total} findings ({len(shapes.findings)} shapes) of {len(codes)} "
          "codes validated")
