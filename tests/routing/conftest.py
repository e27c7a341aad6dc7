import pytest

from routing.providers import base


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Waits of the adapters' retry loops, recorded instead of slept."""
    recorded: list[float] = []

    async def wait(delay):
        recorded.append(delay)

    monkeypatch.setattr(base, "retry_wait", wait)
    return recorded
