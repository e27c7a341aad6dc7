"""Every OpenAI chat parameter, sent with the official `openai` package through routelab under uvicorn,
reaches the provider (an upstream that records what it receives) or gets a 400 naming it: as it is for
an OpenAI provider, translated or refused for an Anthropic one. Nothing is accepted and then dropped."""

import openai
import pytest

from devtools.serving import serve_in_thread
from routing.models import Provider
from tests.upstreams import receive_json, route_to_upstream, send_json

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HELLO = [{"role": "user", "content": "Say hello."}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
LOGPROBS = {"content": [{"token": "Hello", "logprob": -0.01, "bytes": [72], "top_logprobs": []}]}

# parameter -> the value the client sends; each must arrive at an OpenAI provider unchanged
OPENAI_PARAMETERS = {
    "seed": 42,
    "top_p": 0.5,
    "frequency_penalty": 0.25,
    "presence_penalty": -0.5,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "parallel_tool_calls": False,
    "reasoning_effort": "low",
    "service_tier": "flex",
    "store": False,
    "verbosity": "low",
    "prompt_cache_key": "tenant-7",
    "safety_identifier": "user-hash-1",
    "temperature": 0.3,
    "stop": ["END"],
    "response_format": {"type": "json_object"},
    "tool_choice": "auto",
    "user": "customer-42",
}


class Recorder:
    """An upstream that keeps every JSON body it receives and answers as OpenAI or Anthropic does."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.bodies: list[dict] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.bodies.append(await receive_json(receive))
        answer = self._openai() if self.dialect == "openai" else self._anthropic()
        await send_json(send, 200, answer)

    def _openai(self) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
        if self.bodies[-1].get("logprobs"):
            choice["logprobs"] = LOGPROBS
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": self.bodies[-1]["model"],
            "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }

    def _anthropic(self) -> dict:
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": self.bodies[-1]["model"],
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }


def _recording_route(name: str, kind: str):
    """A route whose only model is a provider of `kind` at a recording upstream; its API key."""
    recorder = Recorder("openai" if kind == Provider.Kind.OPENAI else "anthropic")
    served = serve_in_thread(recorder, name=f"recorder-{name}")
    key = route_to_upstream(
        name=name,
        kind=kind,
        base_url=f"{served.url}/v1",
        route=f"{name}-route",
        json_mode=kind == Provider.Kind.OPENAI,
    )
    return recorder, served, key


@pytest.fixture
def openai_upstream(asgi_server):
    recorder, served, key = _recording_route("recorded", Provider.Kind.OPENAI)
    yield recorder, openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=key, max_retries=0)
    served.stop()


@pytest.fixture
def anthropic_upstream(asgi_server):
    recorder, served, key = _recording_route("claude", Provider.Kind.ANTHROPIC)
    yield recorder, openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=key, max_retries=0)
    served.stop()


def test_every_parameter_reaches_an_openai_provider_as_sent(openai_upstream):
    recorder, client = openai_upstream
    for name, value in OPENAI_PARAMETERS.items():
        extra = {"tools": TOOLS} if name in {"parallel_tool_calls", "tool_choice"} else {}
        completion = client.chat.completions.create(model="any", messages=HELLO, **{name: value}, **extra)
        assert completion.choices[0].message.content == "Hello", name
        assert recorder.bodies[-1][name] == value, (name, recorder.bodies[-1])
        if name == "logprobs":  # and the answer's logprobs come back to the client
            assert completion.choices[0].logprobs.content[0].token == "Hello"


def test_top_logprobs_reach_the_provider_with_logprobs(openai_upstream):
    recorder, client = openai_upstream
    client.chat.completions.create(model="any", messages=HELLO, logprobs=True, top_logprobs=3)
    assert recorder.bodies[-1]["top_logprobs"] == 3 and recorder.bodies[-1]["logprobs"] is True


def test_an_anthropic_provider_gets_each_parameter_translated(anthropic_upstream):
    recorder, client = anthropic_upstream
    client.chat.completions.create(model="any", messages=HELLO, top_p=0.5)
    assert recorder.bodies[-1]["top_p"] == 0.5
    client.chat.completions.create(model="any", messages=HELLO, tools=TOOLS, parallel_tool_calls=False)
    assert recorder.bodies[-1]["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    client.chat.completions.create(model="any", messages=HELLO, service_tier="default")
    assert recorder.bodies[-1]["service_tier"] == "standard_only"
    client.chat.completions.create(model="any", messages=HELLO, safety_identifier="user-hash-1")
    assert recorder.bodies[-1]["metadata"] == {"user_id": "user-hash-1"}
    client.chat.completions.create(model="any", messages=HELLO, stop=["END"], user="u-1", store=False)
    assert recorder.bodies[-1]["stop_sequences"] == ["END"]
    assert recorder.bodies[-1]["metadata"] == {"user_id": "u-1"}
    assert "store" not in recorder.bodies[-1]  # Anthropic stores nothing anyway


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("seed", 42),
        ("frequency_penalty", 0.5),
        ("presence_penalty", 0.5),
        ("logit_bias", {"50256": -100}),
        ("logprobs", True),
        ("reasoning_effort", "high"),
        ("verbosity", "low"),
        ("prompt_cache_key", "tenant-7"),
        ("service_tier", "flex"),
        ("store", True),
    ],
)
def test_a_parameter_anthropic_cannot_honour_is_a_400_naming_it(anthropic_upstream, name, value):
    recorder, client = anthropic_upstream
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="any", messages=HELLO, **{name: value})
    assert f"'{name}'" in refused.value.message
    assert recorder.bodies == []  # refused before anything was sent


def test_a_json_mode_request_goes_only_to_a_model_with_structured_output(anthropic_upstream):
    recorder, client = anthropic_upstream
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="any", messages=HELLO, response_format={"type": "json_object"})
    assert refused.value.status_code == 422  # no model of the route can serve it
    assert "structured output" in refused.value.message
    assert recorder.bodies == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"n": 2}, "n"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"frobnicate": True}, "frobnicate"),
        ({"top_p": 3}, "top_p"),
        ({"seed": "abc"}, "seed"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"logit_bias": {"token": 1}}, "logit_bias"),
    ],
)
def test_an_unknown_or_malformed_parameter_is_a_400_naming_it(openai_upstream, extra, named):
    recorder, client = openai_upstream
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="any", messages=HELLO, extra_body=extra)
    assert named in refused.value.message
    assert recorder.bodies == []
