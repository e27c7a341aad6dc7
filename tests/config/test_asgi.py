import pytest

from config.asgi import is_gateway_path


@pytest.mark.parametrize(
    ("path", "gateway"),
    [
        ("/v1/chat/completions", True),
        ("/api/v1/route", True),
        ("/api/v1/jobs/0b3c1d3e-0000-4000-8000-000000000000", True),
        ("/api/v1/calls/0123456789abcdef0123456789abcdef/feedback", True),
        ("/api/v1/routes", False),  # the staff API of routes needs the session middleware
        ("/api/v1/routes/support-bot/policies", False),
        ("/admin/", False),
        ("/dashboard/", False),
    ],
)
def test_only_key_authenticated_endpoints_skip_the_middleware(path, gateway):
    assert is_gateway_path(path) is gateway
