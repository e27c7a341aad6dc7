from pathlib import Path

import pytest

ROUTELLM = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "routellm"


@pytest.fixture(scope="session")
def routellm() -> Path:
    """The RouteLLM recorded data (../shared/datasets/routellm), or a skip when it is absent."""
    if not ROUTELLM.is_dir():
        pytest.skip(f"the RouteLLM data is not at {ROUTELLM} (../shared/datasets, see its README.md)")
    return ROUTELLM
