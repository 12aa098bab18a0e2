"""The finding-code catalogue is complete and every code in it is exercised.

Read from the source with ``ast``: every finding code the package uses is
catalogued (with the severity and action it is emitted with), every catalogued
code is used, and every catalogued code is asserted by some test module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dataprep.errors import FindingError, UsageError
from dataprep import findings as F
from dataprep.validate.catalogue import CATALOGUE, COLLAPSED, describe
from dataprep.validate.policy import ErrorPolicy

PACKAGE = Path(__file__).resolve().parents[1] / "dataprep"
TESTS = Path(__file__).resolve().parent
CODE_RE = re.compile(r"^(annotation|balance|box|coco|csv|dataset|image|label|policy|record|records|split|voc|yolo)"
                     r"\.[a-z][a-z0-9_]*$")
CONSTANTS = {name: getattr(F, name) for name in ("ERROR", "WARNING", "INFO", "KEPT", "FIXED", "CLIPPED", "SWAPPED",
                                                  "DROPPED_BOX", "SKIPPED_IMAGE", "REENCODED", "ROTATED", "RENAMED",
                                                  "IGNORED")}
CONSTANTS["COLLAPSED"] = COLLAPSED


def sources() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))
            if p.name != "catalogue.py"}


def codes_in(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and CODE_RE.match(n.value)}


def finding_calls(tree: ast.AST):
    """(severity, code, action) of every ``Finding(...)`` call whose arguments are literal or named constants."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding" and len(node.args) >= 2:
            def value(arg):
                if isinstance(arg, ast.Constant):
                    return arg.value
                if isinstance(arg, ast.Name):
                    return CONSTANTS.get(arg.id)
                return None
            action = node.args[5] if len(node.args) > 5 else next(
                (k.value for k in node.keywords if k.arg == "action"), None)
            yield node.lineno, value(node.args[0]), value(node.args[1]), value(action) if action is not None else F.KEPT


def test_every_code_in_the_source_is_catalogued():
    used = set().union(*(codes_in(t) for t in sources().values()))
    assert used - set(CATALOGUE) == set()
    assert set(CATALOGUE) - used == set(), "catalogued but never emitted"


def test_findings_are_emitted_with_their_catalogued_severity_and_action():
    checked = 0
    for path, tree in sources().items():
        for line, severity, code, action in finding_calls(tree):
            if code is None:
                continue
            entry = describe(code)
            where = f"{path.relative_to(PACKAGE)}:{line} {code}"
            if severity is not None:
                assert severity in entry.severities, where
            if action is not None:
                assert action in entry.actions, where
            checked += 1
    assert checked >= 40  # most calls name their code and severity literally


def test_no_raw_action_strings():
    """Actions are the named constants of findings.py, never string literals."""
    raw = [f"{path.relative_to(PACKAGE)}:{n.lineno}" for path, tree in sources().items() for n in ast.walk(tree)
           if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Finding" and len(n.args) > 5
           and isinstance(n.args[5], ast.Constant)]
    assert raw == []


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogued_code_is_triggered_by_a_test(code):
    """Some test module (not this one) names the code: the test that triggers it and asserts it."""
    holders = [p.name for p in sorted(TESTS.glob("test_*.py"))
               if p.name != "test_catalogue.py" and code in p.read_text(encoding="utf-8")]
    assert holders, f"no test triggers {code}"
    entry = CATALOGUE[code]
    assert entry.doc and "\n" not in entry.doc
    assert set(entry.severities) <= {F.ERROR, F.WARNING, F.INFO}


def test_describe_unknown_code_lists_the_known():
    with pytest.raises(KeyError, match="unknown finding code 'box.wat'; known: annotation.malformed"):
        describe("box.wat")


def test_error_policy():
    f = F.Finding(F.ERROR, "box.outside", "a.jpg object 0 'cat'", "a.xml", "outside", F.DROPPED_BOX)
    ErrorPolicy("fix").check([f])
    ErrorPolicy("skip").check([f])
    assert ErrorPolicy("skip").skips_images and not ErrorPolicy("fix").skips_images
    with pytest.raises(FindingError, match="a.xml: a.jpg object 0 'cat': outside"):
        ErrorPolicy("fail").check([f])
    ErrorPolicy("fail").check([F.Finding(F.WARNING, "box.clipped", "a", "a.xml", "clipped", F.CLIPPED)])
    with pytest.raises(UsageError, match="--on-error must be fix, skip or fail, got 'ignore'"):
        ErrorPolicy("ignore")


def test_findings_carry_structured_fields(tmp_path):
    """Image-level findings name the annotation that referenced the image; box findings their object index;
    --on-error skip finds the images behind annotation errors from those fields, not from display text."""
    from helpers import run, simple

    ds = simple(tmp_path, 4)
    (tmp_path / "images" / "img01.jpg").unlink()
    ds.objects.loc[ds.objects["image_id"] == 3, ["xmin", "xmax"]] = [30.0, 20.0]  # inverted: swapped, an error
    result = run(ds, tmp_path / "out", on_error="skip")
    (missing,) = [f for f in result.report.findings if f.code == "image.missing"]
    assert (missing.image, missing.annotation) == ("img01.jpg", "ann/img01.jpg.xml")
    assert missing.message().startswith("img01.jpg (annotated in ann/img01.jpg.xml): ")
    (inverted,) = [f for f in result.report.findings if f.code == "box.inverted"]
    assert (inverted.image, inverted.annotation, inverted.object_index) == ("img02.jpg", "ann/img02.jpg.xml", 0)
    (skipped,) = [f for f in result.report.findings if f.code == "policy.skipped"]
    assert skipped.image == "img02.jpg"
    assert result.report.counts.images_written == 2


def test_duplicate_findings_name_the_annotation(tmp_path):
    """image.byte_identical names the annotation that referenced the copy."""
    from helpers import run, simple

    ds = simple(tmp_path, 3)
    (tmp_path / "images" / "img02.jpg").write_bytes((tmp_path / "images" / "img00.jpg").read_bytes())
    result = run(ds, tmp_path / "out")
    (dup,) = [f for f in result.report.findings if f.code == "image.byte_identical"]
    assert (dup.image, dup.annotation) == ("img02.jpg", "ann/img02.jpg.xml")
    assert dup.message().startswith("img02.jpg (annotated in ann/img02.jpg.xml): byte-identical to img00.jpg")
