"""A fixed-answer OpenAI-compatible upstream for benchmarks: `python bench/fixed_upstream.py --port 8911`.

Every POST gets the same small chat completion, every GET the model list, over keep-alive HTTP/1.1, with
no framework and no per-request work beyond reading the request, so a benchmark measures the proxy in
front of it rather than the upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import json

ANSWER = json.dumps(
    {
        "id": "chatcmpl-fixed",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16},
    }
).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}).encode()


def _response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


RESPONSES = {b"POST": _response(ANSWER), b"GET": _response(MODELS)}


class FixedAnswer(asyncio.Protocol):
    """Reads pipelined requests (headers, then `content-length` bytes of body) and answers each."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(RESPONSES.get(head.split(b" ", 1)[0].upper(), RESPONSES[b"GET"]))


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            return int(value.strip())
    return 0


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(FixedAnswer, host, port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8911)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))
