"""Chat traffic as a client sends it: one request per user through the OpenAI-compatible endpoint."""

import httpx

QUESTION = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


def chat_traffic(url: str, key: str, users: int, *, prefix: str = "user") -> None:
    """One chat completion for each of `users` users (`<prefix>-<i>`), each answered with a 200."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for i in range(users):
            response = client.post("/v1/chat/completions", json={**QUESTION, "user": f"{prefix}-{i}"})
            assert response.status_code == 200
