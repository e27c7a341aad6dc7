"""The dialect-neutral chat call both wire formats parse into, and the validation they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.simulator.answers import Answer, Message, count_prompt_tokens
from devtools.simulator.profiles import ModelProfile
from devtools.simulator.wire import RequestError, StreamPart

_TEXT_PART_TYPES = frozenset({"text", "input_text"})
_IMAGE_PART_TYPES = frozenset({"image_url", "image", "input_image"})


@dataclass(frozen=True)
class ChatCall:
    profile: ModelProfile
    messages: tuple[Message, ...]
    max_tokens: int
    stream: bool = False
    include_usage: bool = False
    images: bool = False
    tools: bool = False
    json_output: bool = False

    @property
    def prompt_tokens(self) -> int:
        return count_prompt_tokens(self.messages)


def find_profile(body: dict[str, Any], profiles: dict[str, ModelProfile]) -> ModelProfile:
    model = body.get("model")
    if model is None:
        raise RequestError("You must provide a model parameter.", param="model")
    if not isinstance(model, str):
        raise RequestError("'model' must be a string.", param="model")
    if model not in profiles:
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise RequestError(message, param="model", status=404, code="model_not_found")
    return profiles[model]


def optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"'{name}' must be a positive integer, got {value!r}.", param=name)
    return value


def optional_bool(body: dict[str, Any], name: str, param: str | None = None) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"'{name}' must be a boolean, got {value!r}.", param=param or name)
    return value


def optional_number(body: dict[str, Any], name: str, lower: float, upper: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lower <= value <= upper:
        raise RequestError(f"'{name}' must be a number between {lower:g} and {upper:g}.", param=name)


def message_list(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if messages is None:
        raise RequestError("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list):
        raise RequestError("'messages' must be an array.", param="messages")
    if not messages:
        raise RequestError("'messages' must contain at least one message.", param="messages")
    return messages


def content_text(content: Any, param: str) -> tuple[str, bool]:
    """The text of a message's content (a string or a list of parts) and whether it holds an image."""
    if content is None or isinstance(content, str):
        return content or "", False
    if not isinstance(content, list):
        raise RequestError(f"'{param}' must be a string or an array of content parts.", param=param)
    texts, image = [], False
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in _IMAGE_PART_TYPES:
            image = True
        elif kind not in ("tool_use", "tool_result"):
            raise RequestError(f"'{param}[{index}]' is not a valid content part.", param=f"{param}[{index}]")
    return "\n".join(texts), image


def check_limits(call: ChatCall, max_tokens_param: str) -> ChatCall:
    """Reject what the real model would: too many output tokens, too long a context, missing capabilities."""
    profile = call.profile
    if call.max_tokens > profile.max_output_tokens:
        message = (
            f"max_tokens is too large: {call.max_tokens}. This model supports at most "
            f"{profile.max_output_tokens} completion tokens."
        )
        raise RequestError(message, param=max_tokens_param)
    if call.prompt_tokens + call.max_tokens > profile.context_window:
        message = (
            f"This model's maximum context length is {profile.context_window} tokens; the messages hold "
            f"{call.prompt_tokens} tokens and {call.max_tokens} more were requested for the completion."
        )
        raise RequestError(message, param="messages", code="context_length_exceeded")
    if call.images and not profile.vision:
        raise RequestError(f"The model `{profile.name}` does not accept images.", param="messages")
    if call.json_output and not profile.json_mode:
        raise RequestError(f"The model `{profile.name}` does not support JSON mode.", param="response_format")
    if call.tools and not profile.tools:
        raise RequestError(f"The model `{profile.name}` does not support tools.", param="tools")
    return call


def default_max_tokens(profile: ModelProfile, messages: tuple[Message, ...]) -> int:
    """Without a limit, a model may write up to its output cap or whatever the context leaves."""
    room = profile.context_window - count_prompt_tokens(messages)
    return max(1, min(profile.max_output_tokens, room))


class Dialect:
    """One wire format (OpenAI chat completions, Anthropic messages) over the same simulated models."""

    injected_error_status = 500
    injected_error_message = "The server had an error while processing your request. Sorry about that!"

    def api_key(self, scope: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def parse(self, body: dict[str, Any], profiles: dict[str, ModelProfile]) -> ChatCall:
        raise NotImplementedError

    def error_payload(self, error: RequestError) -> dict[str, Any]:
        raise NotImplementedError

    def response_payload(self, call: ChatCall, answer: Answer, response_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream_parts(self, call: ChatCall, answer: Answer, response_id: str) -> list[StreamPart]:
        raise NotImplementedError
