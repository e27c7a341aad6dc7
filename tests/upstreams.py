"""The plumbing of the tests' own upstreams: tiny ASGI apps that stand for a provider and keep what they
receive, served by devtools.serving.serve_in_thread."""

from __future__ import annotations

import json
from decimal import Decimal

from routing import services


async def receive_json(receive) -> dict:
    """The whole request body, parsed."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return json.loads(b"".join(chunks) or b"null")


async def send_json(send, status: int, payload: dict) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def route_to_upstream(*, name: str, kind: str, base_url: str, route: str, json_mode: bool = False) -> str:
    """A provider `name` of `kind` at `base_url` with one model `m1`, a route `route` whose rules policy
    always picks it, and an API key for that route, which is returned."""
    provider = services.provider_create(name=name, kind=kind, base_url=base_url)
    services.model_create(
        provider=provider,
        model_id="m1",
        tier="mid",
        input_price_per_mtok=Decimal("1"),
        output_price_per_mtok=Decimal("2"),
        context_window=128_000,
        max_output_tokens=4096,
        supports_tools=True,
        supports_json_mode=json_mode,
    )
    created = services.route_create(name=route)
    spec = {"kind": "rules", "rules": [], "default": f"{name}/m1"}
    services.policy_create(route=created, name="only", spec=spec)
    return services.api_key_create(name=f"{route} app", routes=[created])[1]
