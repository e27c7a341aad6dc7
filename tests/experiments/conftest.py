import pytest

from tests.factories import PolicyVersionFactory


@pytest.fixture
def treatment(live_route):
    """A second policy on support-bot (rules: everything to the premium model), for experiments against it."""
    return PolicyVersionFactory(route=live_route.route, name="all-premium")
