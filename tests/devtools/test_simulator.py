"""The simulator over real HTTP: uvicorn in a thread, httpx as the client. Pure: no Django, no database."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from functools import partial

import httpx
import pytest

from devtools.simulator import DEFAULT_PROFILES, run_in_thread

SEED = 7
QUESTION = "How does TCP congestion control avoid collapse?"


@pytest.fixture(scope="module")
def simulator():
    with run_in_thread(seed=SEED, time_scale=0) as running:
        yield running


@pytest.fixture
def client(simulator):
    with httpx.Client(base_url=simulator.url, timeout=10) as http:
        http.post("/_sim/reset").raise_for_status()
        yield http


def chat_body(content: str = QUESTION, model: str = "gpt-4o-mini", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def anthropic_body(content: str = QUESTION, model: str = "claude-opus-4-1", **extra) -> dict:
    return {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": content}], **extra}


def sse_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


def answer_text(body: dict) -> str:
    return body["choices"][0]["message"]["content"]


def answers_at(http: httpx.Client, difficulty: str, prompt: str, count: int) -> list[dict]:
    headers = {"X-Sim-Difficulty": difficulty}
    post = partial(http.post, "/v1/chat/completions", headers=headers)
    return [post(json=chat_body(prompt.format(i))).json() for i in range(count)]


def set_faults(http: httpx.Client, **config) -> httpx.Response:
    response = http.post("/_sim/faults", json=config)
    response.raise_for_status()
    return response


def test_models_are_listed_in_the_openai_list_format(client):
    body = client.get("/v1/models").json()

    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["gpt-4o-mini", "gpt-4o", "claude-opus-4-1"]
    first = body["data"][0]
    assert first["object"] == "model" and first["owned_by"] == "routelab-simulator"
    assert isinstance(first["created"], int)


def test_a_chat_completion_has_the_documented_shape_and_usage(client):
    response = client.post("/v1/chat/completions", json=chat_body())

    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini" and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["prompt_tokens"] == -(-len(QUESTION) // 4)
    assert (
        usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > usage["prompt_tokens"]
    )
    assert set(body["simulator"]) == {"quality", "good", "difficulty"}


def test_prompt_tokens_count_a_quarter_of_the_characters_of_every_message_rounded_up(client):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Name a prime number."}]},
    ]
    body = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages}).json()

    assert body["usage"]["prompt_tokens"] == -(-(len("Be brief.") + len("Name a prime number.")) // 4)


def test_a_streamed_completion_sends_role_content_finish_usage_and_done(client):
    options = {"stream": True, "stream_options": {"include_usage": True}}
    response = client.post("/v1/chat/completions", json=chat_body(**options))

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == [] and usage_chunk["simulator"]["difficulty"]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks[1:-2])
    assert usage_chunk["usage"]["completion_tokens"] == len(text.split()) > 0


def test_a_stream_without_include_usage_ends_with_the_finish_chunk_and_done(client):
    events = sse_data(client.post("/v1/chat/completions", json=chat_body(stream=True)).text)

    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in json.loads(event) for event in events[:-1])


def test_streamed_and_plain_answers_to_the_same_request_are_the_same_text(simulator):
    with run_in_thread(seed=SEED, time_scale=0) as first, run_in_thread(seed=SEED, time_scale=0) as second:
        plain = httpx.post(f"{first.url}/v1/chat/completions", json=chat_body()).json()
        streamed = httpx.post(f"{second.url}/v1/chat/completions", json=chat_body(stream=True)).text

    deltas = [json.loads(event)["choices"][0]["delta"] for event in sse_data(streamed)[:-1]]
    assert "".join(delta.get("content", "") for delta in deltas) == answer_text(plain)


def test_max_tokens_caps_the_completion_with_finish_reason_length(client):
    for field in ("max_tokens", "max_completion_tokens"):
        body = client.post("/v1/chat/completions", json=chat_body(**{field: 5})).json()

        assert body["usage"]["completion_tokens"] == 5
        assert body["choices"][0]["finish_reason"] == "length"


def test_json_mode_answers_with_a_json_object(client):
    body = client.post("/v1/chat/completions", json=chat_body(response_format={"type": "json_object"})).json()

    assert json.loads(answer_text(body))["answer"]


def test_anthropic_messages_answer_in_the_messages_format(client):
    body = client.post("/v1/messages", json=anthropic_body(system="Be precise.")).json()

    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude-opus-4-1" and body["stop_reason"] == "end_turn"
    (block,) = body["content"]
    assert block["type"] == "text" and block["text"]
    assert body["usage"]["input_tokens"] == -(-(len("Be precise.") + len(QUESTION)) // 4)
    assert body["usage"]["output_tokens"] > 0


def test_anthropic_stream_sends_its_events_in_order(client):
    response = client.post("/v1/messages", json=anthropic_body(max_tokens=12, stream=True))

    names = [line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names[:2] == ["message_start", "content_block_start"]
    assert set(names[2:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    events = [json.loads(data) for data in sse_data(response.text)]
    assert "".join(event["delta"]["text"] for event in events[2:-3]).strip()
    assert events[-2]["delta"]["stop_reason"] == "max_tokens" and events[-2]["usage"]["output_tokens"] == 12


def test_anthropic_errors_use_the_anthropic_error_format(client):
    missing = client.post("/v1/messages", json={"model": "claude-opus-4-1", "messages": []})
    unknown = client.post("/v1/messages", json=anthropic_body(model="claude-nope"))

    assert missing.status_code == 400
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in missing.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"


async def answer_batch(url: str, prompts: list[str]) -> list[tuple[str, int]]:
    """Send a batch concurrently and return (text, completion tokens) in prompt order."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        responses = await asyncio.gather(
            *(http.post("/v1/chat/completions", json=chat_body(p)) for p in prompts)
        )
    bodies = [response.json() for response in responses]
    return [(answer_text(body), body["usage"]["completion_tokens"]) for body in bodies]


PROMPTS = [f"Question {i}: why does the cache miss rate grow with {i} threads?" for i in range(20)]


def test_two_fresh_simulators_with_the_same_seed_answer_identically_under_concurrency():
    with run_in_thread(seed=3, time_scale=0.01) as first, run_in_thread(seed=3, time_scale=0.01) as second:
        assert asyncio.run(answer_batch(first.url, PROMPTS)) == asyncio.run(answer_batch(second.url, PROMPTS))


def test_different_seeds_give_different_answers_on_a_batch():
    with run_in_thread(seed=1, time_scale=0) as first, run_in_thread(seed=2, time_scale=0) as second:
        assert asyncio.run(answer_batch(first.url, PROMPTS)) != asyncio.run(answer_batch(second.url, PROMPTS))


def test_repeating_a_request_draws_a_fresh_answer_the_same_way_in_every_run():
    def three_answers(url: str) -> list[str]:
        bodies = [httpx.post(f"{url}/v1/chat/completions", json=chat_body()).json() for _ in range(3)]
        return [answer_text(body) for body in bodies]

    with run_in_thread(seed=5, time_scale=0) as first, run_in_thread(seed=5, time_scale=0) as second:
        answers = three_answers(first.url)
        assert answers == three_answers(second.url)
    assert len(set(answers)) > 1


@pytest.mark.parametrize("difficulty", ["simple", "moderate", "complex"])
def test_the_good_answer_rate_follows_the_profile_for_each_difficulty(client, difficulty):
    bodies = answers_at(client, difficulty, "Item {}: explain caching.", 300)

    good_rate = sum(body["simulator"]["good"] for body in bodies) / len(bodies)
    assert good_rate == pytest.approx(DEFAULT_PROFILES[0].quality[difficulty], abs=0.08)
    assert {body["simulator"]["difficulty"] for body in bodies} == {difficulty}


def test_good_answers_score_higher_and_weak_answers_hedge(client):
    bodies = answers_at(client, "complex", "Case {}: debug kubernetes", 60)
    good = [body for body in bodies if body["simulator"]["good"]]
    weak = [body for body in bodies if not body["simulator"]["good"]]

    assert good and weak
    assert min(body["simulator"]["quality"] for body in good) > max(
        body["simulator"]["quality"] for body in weak
    )
    assert all(answer_text(body).startswith("I'm not sure") for body in weak)
    assert all("kubernetes" in answer_text(body) for body in good)


def test_the_difficulty_is_estimated_from_the_last_user_message_without_the_header(client):
    hard = "Implement and optimize this, step by step:\n```python\ndef f(x):\n    return x\n```"
    easy = client.post("/v1/chat/completions", json=chat_body("What is 2 + 2?")).json()
    complex_ = client.post("/v1/chat/completions", json=chat_body(hard)).json()

    assert easy["simulator"]["difficulty"] == "simple"
    assert complex_["simulator"]["difficulty"] == "complex"


def test_latency_follows_the_profile_scaled_by_time_scale():
    slow = replace(
        DEFAULT_PROFILES[0], name="slow-model", ttft_median_ms=4000.0, ttft_sigma=0.0, tokens_per_second=1e9
    )
    with run_in_thread(profiles=[slow], time_scale=0.1) as sim:
        started = time.perf_counter()
        httpx.post(f"{sim.url}/v1/chat/completions", json=chat_body(model="slow-model")).raise_for_status()
        elapsed = time.perf_counter() - started

    assert 0.35 < elapsed < 2.0


def test_an_error_rate_of_one_makes_every_call_to_that_model_fail_with_500(client):
    set_faults(client, model="gpt-4o", error_rate=1.0)

    statuses = {
        client.post("/v1/chat/completions", json=chat_body(f"q{i}", model="gpt-4o")).status_code
        for i in range(10)
    }
    other = client.post("/v1/chat/completions", json=chat_body(model="gpt-4o-mini"))

    assert statuses == {500}
    assert other.status_code == 200
    error = client.post("/v1/chat/completions", json=chat_body(model="gpt-4o")).json()["error"]
    assert error["type"] == "server_error"


def test_the_injected_error_is_a_529_overloaded_error_on_the_anthropic_path(client):
    set_faults(client, model="claude-opus-4-1", error_rate=1.0)

    response = client.post("/v1/messages", json=anthropic_body())

    assert response.status_code == 529
    assert response.json()["type"] == "error"
    assert response.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_a_partial_error_rate_fails_about_that_share_of_calls(client):
    set_faults(client, model="gpt-4o-mini", error_rate=0.3)

    statuses = [client.post("/v1/chat/completions", json=chat_body(f"q{i}")).status_code for i in range(200)]

    assert statuses.count(500) / len(statuses) == pytest.approx(0.3, abs=0.1)
    assert set(statuses) == {200, 500}


def test_a_rate_limit_answers_429_with_retry_after_headers(client):
    set_faults(client, model="gpt-4o-mini", rate_limit_rate=1.0, retry_after=2.5)

    response = client.post("/v1/chat/completions", json=chat_body())

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3" and response.headers["retry-after-ms"] == "2500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_the_fault_header_forces_one_fault_with_a_default_retry_after_of_one_second(client):
    response = client.post("/v1/messages", json=anthropic_body(), headers={"X-Sim-Fault": "rate_limit"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert client.post("/v1/messages", json=anthropic_body()).status_code == 200


def test_a_timeout_fault_holds_the_answer_until_a_short_client_timeout_fires(client):
    set_faults(client, model="gpt-4o-mini", timeout_rate=1.0, timeout_seconds=2)

    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=chat_body(), timeout=0.3)

    assert time.perf_counter() - started < 1.5
    assert client.get("/_sim/stats").json()["models"]["gpt-4o-mini"]["faults"]["timeout"] == 1


def test_a_timeout_fault_answers_after_the_configured_real_seconds(client):
    set_faults(client, model="gpt-4o", timeout_seconds=0.4)

    started = time.perf_counter()
    response = client.post(
        "/v1/chat/completions", json=chat_body(model="gpt-4o"), headers={"X-Sim-Fault": "timeout"}
    )

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.4


def test_a_cut_stream_drops_the_connection_before_done(client):
    set_faults(client, model="gpt-4o-mini", cut_stream_rate=1.0)
    received: list[str] = []

    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as response:
            received.extend(response.iter_lines())

    data = [line for line in received if line.startswith("data: ")]
    assert data and "data: [DONE]" not in data


def test_a_cut_anthropic_stream_never_reaches_message_stop(client):
    received: list[str] = []

    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with client.stream(
            "POST", "/v1/messages", json=anthropic_body(stream=True), headers={"X-Sim-Fault": "cut_stream"}
        ) as response:
            received.extend(response.iter_lines())

    assert "event: content_block_delta" in received and "event: message_stop" not in received


def test_a_cut_on_a_plain_request_leaves_the_body_incomplete(client):
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/chat/completions", json=chat_body(), headers={"X-Sim-Fault": "cut_stream"})


def test_fault_overrides_can_be_read_and_cleared(client):
    set_faults(client, model="*", error_rate=0.25)
    set_faults(client, model="gpt-4o", rate_limit_rate=0.5)

    faults = client.get("/_sim/faults").json()["faults"]
    assert faults["gpt-4o"]["error_rate"] == 0.25 and faults["gpt-4o"]["rate_limit_rate"] == 0.5
    assert faults["claude-opus-4-1"]["error_rate"] == 0.25 and faults["claude-opus-4-1"]["overridden"]

    cleared = client.delete("/_sim/faults").json()["faults"]
    assert not any(model["overridden"] for model in cleared.values())
    assert cleared["gpt-4o"]["error_rate"] == 0.0 and cleared["gpt-4o"]["rate_limit_rate"] == 0.0
    assert (cleared["gpt-4o"]["retry_after"], cleared["gpt-4o"]["timeout_seconds"]) == (1.0, 30.0)


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"error_rate": 1.0}, "model"),
        ({"model": "gpt-4o", "error_rate": 1.5}, "error_rate"),
        ({"model": "gpt-4o", "rate_limit_rate": -0.1}, "rate_limit_rate"),
        ({"model": "gpt-4o", "timeout_rate": "often"}, "timeout_rate"),
        ({"model": "gpt-4o", "cut_stream_rate": True}, "cut_stream_rate"),
        ({"model": "gpt-4o", "retry_after": -1}, "retry_after"),
        ({"model": "gpt-4o", "timeout_seconds": 10_000}, "timeout_seconds"),
        ({"model": "gpt-4o", "eror_rate": 1.0}, "eror_rate"),
    ],
)
def test_invalid_fault_settings_are_rejected_naming_the_field(client, config, param):
    response = client.post("/_sim/faults", json=config)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert client.get("/_sim/faults").json()["faults"]["gpt-4o"]["overridden"] is False


def test_fault_settings_for_an_unknown_model_are_rejected_with_404(client):
    assert client.post("/_sim/faults", json={"model": "gpt-9", "error_rate": 1}).status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": 4, "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": "hi"}, "messages"),
        ({"model": "gpt-4o", "messages": ["hi"]}, "messages[0]"),
        ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        (chat_body(max_tokens="ten"), "max_tokens"),
        (chat_body(max_tokens=0), "max_tokens"),
        (chat_body(max_tokens=100_000), "max_tokens"),
        (chat_body(max_completion_tokens=-3), "max_completion_tokens"),
        (chat_body(temperature=5), "temperature"),
        (chat_body(stream="yes"), "stream"),
        (chat_body(stream_options={"include_usage": True}), "stream_options"),
        (chat_body(tools="search"), "tools"),
        (chat_body(n=3), "n"),
        (chat_body(response_format={"type": "xml"}), "response_format"),
        (chat_body("x" * 600_000), "messages"),
    ],
)
def test_bad_chat_requests_answer_400_naming_the_field(client, body, param):
    response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_a_body_that_is_not_json_answers_400(client):
    response = client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_unknown_model_answers_404_model_not_found(client):
    response = client.post("/v1/chat/completions", json=chat_body(model="gpt-9"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize("name", ["X-Sim-Difficulty", "X-Sim-Fault"])
def test_unknown_simulator_header_values_answer_400_naming_the_header(client, name):
    response = client.post("/v1/chat/completions", json=chat_body(), headers={name: "sometimes"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == name


def test_unknown_paths_answer_404_and_wrong_methods_405(client):
    assert client.get("/v1/images/generations").status_code == 404
    assert client.get("/v1/embeddings").status_code == 405
    wrong_method = client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


def test_embeddings_are_served_over_http_with_their_usage(client):
    body = {"model": "text-embedding-3-small", "input": ["cat", "dog"], "dimensions": 3}
    response = client.post("/embeddings", json=body)

    assert response.status_code == 200
    assert [len(item["embedding"]) for item in response.json()["data"]] == [3, 3]
    assert response.json()["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_an_api_key_is_required_only_when_one_is_configured(client):
    with run_in_thread(time_scale=0, api_key="sk-sim") as sim, httpx.Client(base_url=sim.url) as http:
        missing = http.post("/v1/chat/completions", json=chat_body())
        wrong = http.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"})
        right = http.post(
            "/v1/chat/completions", json=chat_body(), headers={"Authorization": "Bearer sk-sim"}
        )
        anthropic = http.post("/v1/messages", json=anthropic_body(), headers={"x-api-key": "sk-sim"})
        anthropic_missing = http.post("/v1/messages", json=anthropic_body())

    assert missing.status_code == wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == anthropic.status_code == 200
    assert anthropic_missing.json()["error"]["type"] == "authentication_error"
    assert client.get("/v1/models").status_code == 200


def test_stats_count_requests_tokens_and_faults_per_model_until_reset(client):
    client.post("/v1/chat/completions", json=chat_body(model="gpt-4o"))
    client.post("/v1/chat/completions", json=chat_body(model="gpt-4o"), headers={"X-Sim-Fault": "error"})
    client.post("/v1/messages", json=anthropic_body())
    client.post("/v1/chat/completions", json=chat_body(model="gpt-9"))

    stats = client.get("/_sim/stats").json()
    assert stats["total_requests"] == 3
    assert stats["models"]["gpt-4o"]["requests"] == 2 and stats["models"]["gpt-4o"]["faults"]["error"] == 1
    assert stats["models"]["claude-opus-4-1"]["requests"] == 1
    assert stats["models"]["claude-opus-4-1"]["completion_tokens"] > 0
    assert stats["models"]["gpt-4o-mini"]["requests"] == 0

    client.post("/_sim/reset")
    assert client.get("/_sim/stats").json()["total_requests"] == 0
