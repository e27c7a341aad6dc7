from pathlib import Path

import pytest

from tests.datasets import require_dataset

ROUTELLM = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "routellm"


@pytest.fixture(scope="session")
def routellm() -> Path:
    """The RouteLLM recorded data (../shared/datasets/routellm); see tests/datasets.py when it is absent."""
    return require_dataset(ROUTELLM)
