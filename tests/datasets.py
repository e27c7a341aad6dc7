"""The recorded datasets in ../shared/datasets: a test that needs one skips without it on a developer's
machine, and fails under CI=true, where a missing dataset would otherwise hide every oracle test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings


def datasets_dir() -> Path:
    return Path(settings.DATASETS_DIR)


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_dataset(path: Path) -> Path:
    """`path` if it exists; else a failure under CI=true, a skip elsewhere, naming what is missing."""
    if path.exists():
        return path
    message = f"{path} is missing (../shared/datasets, see its README.md)"
    if under_ci():
        pytest.fail(f"{message}: under CI=true a missing dataset fails the suite", pytrace=False)
    pytest.skip(message)
