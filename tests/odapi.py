"""The marker of tests that run the genuine TF OD API (they also run inside its venv, which has
neither pandas nor the rest of dataprep's dependencies, so this module imports nothing of ours)."""

from __future__ import annotations

import importlib.util

import pytest


def _object_detection_available() -> bool:
    try:
        return (importlib.util.find_spec("tensorflow") is not None
                and importlib.util.find_spec("object_detection") is not None)
    except (ImportError, ValueError):
        return False


#: Skipped where the TF OD API is not installed (CI).
needs_odapi = pytest.mark.skipif(not _object_detection_available(), reason="TF OD API (object_detection) not installed")
