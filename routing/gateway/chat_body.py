"""Validation of a chat request body (OpenAI's chat completions shape), by hand, for the hot path.

A DRF serializer would do the same job at about two milliseconds a request (it deep-copies its fields
on every instantiation); these checks take microseconds. `wire.ChatInputSerializer` documents the same
shape in the OpenAPI schema. Errors name the path of the bad field, e.g. `messages[0].role`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")
REQUIRED = "This field is required."


class BodyError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _string(value: Any, path: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise BodyError(path, "Not a valid string.")
    if len(value) > max_length:
        raise BodyError(path, f"Ensure this field has no more than {max_length} characters.")
    return value


def _number(value: Any, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BodyError(path, "A valid number is required.")
    if not low <= value <= high:
        raise BodyError(path, f"Ensure this value is between {low} and {high}.")
    return float(value)


def _positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BodyError(path, "A valid integer is required.")
    if value < 1:
        raise BodyError(path, "Ensure this value is greater than or equal to 1.")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise BodyError(path, "Must be true or false.")
    return value


def _choice(value: Any, path: str, choices: Collection[str]) -> str:
    if value not in choices:
        raise BodyError(path, f'"{value}" is not a valid choice; use one of {", ".join(choices)}.')
    return value


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise BodyError(path, "Must be a JSON object.")
    return value


def _objects(value: Any, path: str) -> list[dict]:
    if not isinstance(value, list):
        raise BodyError(path, "Must be a list.")
    for index, item in enumerate(value):
        _object(item, f"{path}[{index}]")
    return value


# OpenAI's content part types, each with the field that carries it: a string for text and an
# assistant's refusal, an object for the others
PART_FIELDS = {
    "text": "text",
    "refusal": "refusal",
    "image_url": "image_url",
    "input_audio": "input_audio",
    "file": "file",
}
STRING_PARTS = ("text", "refusal")


def _part(part: Any, path: str) -> dict:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise BodyError(path, "Each content part must be an object with a 'type'.")
    field = PART_FIELDS[_choice(part["type"], f"{path}.type", PART_FIELDS)]
    if field not in part:
        raise BodyError(f"{path}.{field}", REQUIRED)
    if field in STRING_PARTS:
        _string(part[field], f"{path}.{field}", 10_000_000)
    elif field == "image_url" and isinstance(part["image_url"], dict):
        _string(part["image_url"].get("url"), f"{path}.image_url.url", 30_000_000)
    else:
        _object(part[field], f"{path}.{field}")
    return part


def _content(value: Any, path: str, required: bool) -> Any:
    if value is None:
        if required:
            raise BodyError(path, REQUIRED)
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_part(part, f"{path}[{index}]") for index, part in enumerate(value)]
    raise BodyError(path, "Must be a string, a list of content parts, or null.")


def _message(value: Any, path: str) -> dict:
    message = _object(value, path)
    if "role" not in message:
        raise BodyError(f"{path}.role", REQUIRED)
    role = _choice(message["role"], f"{path}.role", ROLES)
    # only an assistant turn may leave out its content, and then it must carry tool calls
    _content(
        message.get("content"),
        f"{path}.content",
        required=role != "assistant" or not message.get("tool_calls"),
    )
    if "tool_calls" in message:
        _objects(message["tool_calls"], f"{path}.tool_calls")
    if role == "tool" and "tool_call_id" not in message:
        raise BodyError(f"{path}.tool_call_id", REQUIRED)
    for name in ("name", "tool_call_id"):
        if name in message:
            _string(message[name], f"{path}.{name}", 256)
    return message


def _messages(value: Any) -> list[dict]:
    if value is None:
        raise BodyError("messages", REQUIRED)
    if not isinstance(value, list):
        raise BodyError("messages", f'Expected a list of messages but got type "{type(value).__name__}".')
    if not value:
        raise BodyError("messages", "This list may not be empty.")
    return [_message(item, f"messages[{index}]") for index, item in enumerate(value)]


def _stop(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(item, str) for item in value):
        return value
    raise BodyError("stop", "Must be a string or a list of up to 4 strings.")


def _url(value: Any, path: str) -> str:
    url = _string(value, path, 500)
    if not url.startswith(("http://", "https://")):
        raise BodyError(path, "Enter an http(s) URL.")
    return url


def _metadata(value: Any) -> dict[str, str]:
    metadata = _object(value, "metadata")
    for key, item in metadata.items():
        _string(item, f"metadata.{key}", 200)
    return metadata


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BodyError(path, "A valid integer is required.")
    if not low <= value <= high:
        raise BodyError(path, f"Ensure this value is between {low} and {high}.")
    return value


def _logit_bias(value: Any) -> dict:
    bias = _object(value, "logit_bias")
    if len(bias) > 300:
        raise BodyError("logit_bias", "Ensure it has no more than 300 tokens.")
    for token, weight in bias.items():
        if not token.isdigit():
            raise BodyError(f"logit_bias.{token[:40]}", "Keys must be token ids (integers).")
        _number(weight, f"logit_bias.{token}", -100, 100)
    return bias


def _one_choice(value: Any) -> int:
    if _positive_int(value, "n") != 1:
        raise BodyError("n", "routelab answers with one choice per request; send n=1 or leave it out.")
    return value


def _text_only(value: Any) -> list:
    if value != ["text"]:
        raise BodyError("modalities", 'routelab answers in text only; send ["text"] or leave it out.')
    return value


SEED_RANGE = (-(2**63), 2**63 - 1)

# OpenAI's parameters that routelab passes on to the provider as they are (`ChatRequest.params`); each
# adapter sends them, translates them, or refuses the request with a 400 naming the one it cannot honour.
FORWARDED = {
    "seed": lambda v: _integer(v, "seed", *SEED_RANGE),
    "top_p": lambda v: _number(v, "top_p", 0, 1),
    "frequency_penalty": lambda v: _number(v, "frequency_penalty", -2, 2),
    "presence_penalty": lambda v: _number(v, "presence_penalty", -2, 2),
    "logit_bias": _logit_bias,
    "logprobs": lambda v: _boolean(v, "logprobs"),
    "top_logprobs": lambda v: _integer(v, "top_logprobs", 0, 20),
    "parallel_tool_calls": lambda v: _boolean(v, "parallel_tool_calls"),
    "reasoning_effort": lambda v: _choice(
        v, "reasoning_effort", ("none", "minimal", "low", "medium", "high")
    ),
    "service_tier": lambda v: _choice(v, "service_tier", ("auto", "default", "flex", "scale", "priority")),
    "store": lambda v: _boolean(v, "store"),
    "verbosity": lambda v: _choice(v, "verbosity", ("low", "medium", "high")),
    "prompt_cache_key": lambda v: _string(v, "prompt_cache_key", 256),
    "safety_identifier": lambda v: _string(v, "safety_identifier", 256),
}

# Parameters OpenAI's API takes that routelab does not: a 400 saying what to send instead.
REFUSED = {
    "functions": "The legacy 'functions' parameter is not supported; send 'tools'.",
    "function_call": "The legacy 'function_call' parameter is not supported; send 'tool_choice'.",
    "audio": "routelab answers in text only; leave 'audio' out.",
    "prediction": "Predicted outputs are not supported; leave 'prediction' out.",
    "web_search_options": "Web search is not supported; leave 'web_search_options' out.",
}

OPTIONAL = {
    "model": lambda v: _string(v, "model", 200),
    "temperature": lambda v: _number(v, "temperature", 0, 2),
    "max_tokens": lambda v: _positive_int(v, "max_tokens"),
    "max_completion_tokens": lambda v: _positive_int(v, "max_completion_tokens"),
    "tools": lambda v: _objects(v, "tools"),
    "tool_choice": lambda v: v if isinstance(v, str | dict) else _object(v, "tool_choice"),
    "stop": _stop,
    "stream": lambda v: _boolean(v, "stream"),
    "stream_options": lambda v: _object(v, "stream_options"),
    "response_format": lambda v: _object(v, "response_format"),
    "user": lambda v: _string(v, "user", 256),
    "metadata": _metadata,
    "execute": lambda v: _boolean(v, "execute"),
    "webhook_url": lambda v: _url(v, "webhook_url"),
    "n": _one_choice,
    "modalities": _text_only,
}


# fields of POST /api/v1/route only (`wire.RouteRequestSerializer`); the chat endpoint ignores them
ROUTE_ONLY = ("execute", "webhook_url")


KNOWN = frozenset({"messages", *OPTIONAL, *FORWARDED})


def validate_chat_body(data: Any) -> dict:
    """The body with every field checked; a field routelab does not know is a 400 naming it (as OpenAI's
    API answers), so a parameter is never accepted and then silently dropped. The forwarded parameters
    are gathered under `params`."""
    body = _object(data, "")
    _no_unknown_fields(body)
    clean = {"messages": _messages(body.get("messages")), "stream": False}
    for name, check in OPTIONAL.items():
        if body.get(name) is not None:
            clean[name] = check(body[name])
    clean["params"] = {
        name: check(body[name]) for name, check in FORWARDED.items() if body.get(name) is not None
    }
    if "top_logprobs" in clean["params"] and not clean["params"].get("logprobs"):
        raise BodyError("top_logprobs", "Set logprobs to true to use top_logprobs.")
    return clean


def _no_unknown_fields(body: dict) -> None:
    for name in body:
        if name in REFUSED:
            raise BodyError(name, REFUSED[name])
        if name not in KNOWN:
            raise BodyError(name[:100], "Unrecognized request argument supplied.")
