"""The plumbing of the tests' own upstreams: tiny ASGI apps that stand for a provider and keep what they
receive, served by devtools.serving.serve_in_thread."""

from __future__ import annotations

import json


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
