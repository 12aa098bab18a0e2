"""Shared fixtures: small datasets written into tmp_path by the tests."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_jpeg(width: int, height: int, seed: int = 0, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    base = np.linspace(30, 220, width)[None, :, None] + rng.normal(0, 8, (height, width, 3))
    arr = np.clip(base, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_png(width: int, height: int, mode: str = "RGB", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    if mode != "RGB":
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def write_image():
    def _write(path: Path, width: int = 64, height: int = 48, fmt: str = "jpeg", seed: int = 0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_jpeg(width, height, seed) if fmt == "jpeg" else make_png(width, height, seed=seed))
        return path

    return _write


def distinct_jpeg(seed: int, size=(96, 72), quality: int = 90) -> bytes:
    """A smooth random colour field: perceptually distinct per seed (unrelated
    fields are >= 16 hash bits apart, a resized re-compressed copy <= 2)."""
    rng = np.random.default_rng(seed)
    grid = Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).resize(size, Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    grid.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def near_copy(seed: int) -> bytes:
    """A resized, re-compressed copy of ``distinct_jpeg(seed)``: a near-duplicate."""
    im = Image.open(io.BytesIO(distinct_jpeg(seed))).resize((80, 60))
    buf = io.BytesIO()
    im.resize((96, 72)).save(buf, "JPEG", quality=60)
    return buf.getvalue()


def build_dataset(tmp_path: Path, per_image_classes, *, files=None, data=None, splits=None, size=(96, 72)):
    """A Dataset of distinct images with random boxes, one class list per image."""
    import pandas as pd

    from dataprep.dataset import Dataset

    root = tmp_path / "images"
    root.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    images, objects = [], []
    for k, classes in enumerate(per_image_classes):
        name = files[k] if files else f"img{k:04d}.jpg"
        (root / name).write_bytes(data[k] if data and data[k] is not None else distinct_jpeg(k, size))
        images.append({"image_id": k + 1, "file": name, "split": splits[k] if splits else "train",
                       "width": size[0], "height": size[1], "annotation": f"{name}.xml"})
        for j, c in enumerate(classes):
            x, y = rng.uniform(0, size[0] - 14), rng.uniform(0, size[1] - 14)
            w, h = rng.uniform(5, 13, 2)
            objects.append({"image_id": k + 1, "index": j, "text": c, "xmin": x, "ymin": y, "xmax": x + w,
                            "ymax": y + h})
    return Dataset.build(pd.DataFrame(images), pd.DataFrame(objects), root)


# -- every report the suite produces, validated against report.json's schema ---------------------------------
#
# Collected here, checked by tests/test_report_schema.py::test_every_report_of_the_session_validates, which
# runs last (see pytest_collection_modifyitems): the reports made in this process (Report.to_dict: what
# report.json and `validate --report` write) and every report.json under this session's temporary folders
# (written by CLI subprocesses and worker processes too). A report is kept as its distinct shapes (what the
# schema looks at: the codes, severities, actions, which fields are null, empty or set), so thousands of
# fuzzed findings cost a few hundred validations.

SESSION_CHECK = "test_every_report_of_the_session_validates"


class ReportShapes:
    """The distinct shapes of the reports seen: report heads and findings, each with where it was first seen."""

    def __init__(self):
        self.heads: dict[str, tuple[str, dict]] = {}
        self.findings: dict[tuple, tuple[str, dict]] = {}
        self.reports = self.total = 0

    def add(self, where: str, report) -> None:
        if not isinstance(report, dict) or "findings" not in report or "by_code" not in report:
            return  # another file named report.json
        self.reports += 1
        findings = report["findings"] if isinstance(report["findings"], list) else []
        head = {**report, "findings": [] if isinstance(report["findings"], list) else report["findings"]}
        self.heads.setdefault(json.dumps(head, sort_keys=True, default=str), (where, head))
        for f in findings:
            self.total += 1
            shaped = shape_of_finding(f)
            key = (report.get("annotated"), json.dumps(shaped, sort_keys=True, default=str))
            self.findings.setdefault(key, (where, shaped))


def shape_of_finding(f):
    """``f`` with what the schema does not check made alike: display text (only its type), a set
    image or annotation ("x"), an object index (0 or -1 by sign) and a value (0 when set)."""
    if not isinstance(f, dict):
        return f
    out = dict(f)
    for k in ("item", "file", "detail"):
        if isinstance(out.get(k), str):
            out[k] = "x"
    for k in ("image", "annotation"):
        if isinstance(out.get(k), str) and out[k]:
            out[k] = "x"
    i = out.get("object_index")
    if isinstance(i, int) and not isinstance(i, bool):
        out["object_index"] = 0 if i >= 0 else -1
    if out.get("value") is not None:
        out["value"] = 0
    return out


REPORTS_SEEN = ReportShapes()


@pytest.fixture
def session_reports():
    """The shapes of the reports made in this process so far."""
    return REPORTS_SEEN


@pytest.fixture(autouse=True, scope="session")
def _collect_reports():
    from dataprep.dataset import Dataset
    from dataprep.findings import Report

    original, build = Report.to_dict, Dataset.__dict__["build"]

    def to_dict(self):
        out = original(self)
        REPORTS_SEEN.add(os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], out)
        return out

    def build_and_collect(cls, *args, **kwargs):
        """A reader's findings too, as the report a conversion of it would write: many tests read a
        source and look at ds.findings without converting it."""
        ds = build.__func__(cls, *args, **kwargs)
        if ds.findings:
            annotations = ds.images.get("annotation")
            report = Report(annotated=annotations is not None and bool((annotations.astype(str) != "").all()))
            for f in ds.findings:
                report.add(f)
            to_dict(report)
        return ds

    Report.to_dict, Dataset.build = to_dict, classmethod(build_and_collect)
    yield
    Report.to_dict, Dataset.build = original, build


def pytest_collection_modifyitems(config, items):
    """The session-wide schema check runs after every other test."""
    last = [i for i in items if i.name == SESSION_CHECK]
    items[:] = [i for i in items if i.name != SESSION_CHECK] + last
