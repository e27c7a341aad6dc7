"""routelab's side of OpenAI's Responses API wire format, for `POST /v1/responses`.

A Responses request (text and function tools) becomes the chat body the rest of the request path speaks,
then validated like any chat body; what the path produces goes back as a `response` object (`message`
items of `output_text`, `function_call` items) or as the Responses stream's named events. What routelab
cannot honour (stored conversations, background runs, built-in tools, ...) is a BodyError naming it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from routing.gateway.anthropic_wire import event
from routing.gateway.chat_body import BodyError, _object
from routing.providers.base import CompletionResult, StreamDelta

PASSED = ("model", "temperature", "top_p", "stream", "user", "metadata", "parallel_tool_calls")
PASSED_ON = ("service_tier", "safety_identifier", "prompt_cache_key")
REFUSED = {
    "previous_response_id": "routelab stores no responses; send the whole conversation in 'input'.",
    "conversation": "routelab stores no conversations; send the whole conversation in 'input'.",
    "background": "Background responses are not supported; leave 'background' out.",
    "prompt": "Stored prompt templates are not supported; send 'instructions' and 'input'.",
    "include": "Extra output data is not supported; leave 'include' out.",
    "reasoning": "Reasoning options are not supported; leave 'reasoning' out.",
    "max_tool_calls": "'max_tool_calls' is not supported (only function tools, which your code runs).",
    "top_logprobs": "Log probabilities are not supported by /v1/responses; use /v1/chat/completions.",
    "truncation": "routelab does not truncate conversations; leave 'truncation' out.",
    "stream_options": "Stream options are not supported; leave 'stream_options' out.",
}
ALLOWED = frozenset({*PASSED, *PASSED_ON, "input", "instructions", "tools", "tool_choice", "store"})
ALLOWED |= {"max_output_tokens", "text"}
ROLES = ("user", "system", "developer", "assistant")
TOOL_CHOICES = ("auto", "none", "required")
FORMATS = ("text", "json_object", "json_schema")


# -- request ------------------------------------------------------------------------------------------


def chat_body_from(data: Any) -> dict:
    """A Responses request as an OpenAI chat body; a BodyError names the field at fault."""
    if not isinstance(data, dict):
        raise BodyError("", "The body must be a JSON object.")
    _known_fields(data)
    body: dict[str, Any] = {
        "messages": [*_instructions(data.get("instructions")), *_input(data.get("input"))]
    }
    body.update({name: data[name] for name in (*PASSED, *PASSED_ON) if data.get(name) is not None})
    if data.get("max_output_tokens") is not None:
        body["max_completion_tokens"] = data["max_output_tokens"]
    if data.get("tools"):
        body["tools"] = [
            _tool(tool, f"tools[{index}]") for index, tool in enumerate(_list(data["tools"], "tools"))
        ]
    if data.get("tool_choice") is not None:
        body["tool_choice"] = _tool_choice(data["tool_choice"])
    body.update(_text(data.get("text")))
    return body


def _known_fields(data: dict) -> None:
    for name, value in data.items():
        if name in REFUSED and value is not None:
            raise BodyError(name, REFUSED[name])
        if name not in ALLOWED and name not in REFUSED:
            raise BodyError(name[:100], "Unrecognized request argument supplied.")
    if data.get("store"):
        raise BodyError("store", "routelab stores no responses; send store=false or leave it out.")


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise BodyError(path, "Must be a list.")
    return value


def _instructions(instructions: Any) -> list[dict]:
    if instructions is None or instructions == "":
        return []
    if not isinstance(instructions, str):
        raise BodyError("instructions", "Must be a string.")
    return [{"role": "system", "content": instructions}]


def _input(value: Any) -> list[dict]:
    if value is None:
        raise BodyError("input", "This field is required.")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages: list[dict] = []
    for index, item in enumerate(_list(value, "input")):
        _item(_object(item, f"input[{index}]"), f"input[{index}]", messages)
    if not messages:
        raise BodyError("input", "This list may not be empty.")
    return messages


def _item(item: dict, path: str, messages: list[dict]) -> None:
    """One input item as chat messages: a message, a function call (the assistant's), or its output."""
    kind = item.get("type", "message")
    if kind == "message":
        messages.append(_message(item, path))
    elif kind == "function_call":
        _function_call(item, path, messages)
    elif kind == "function_call_output":
        output = item.get("output")
        text = output if isinstance(output, str) else _parts_text(output, f"{path}.output")
        messages.append({"role": "tool", "tool_call_id": _string(item, "call_id", path), "content": text})
    else:
        raise BodyError(f"{path}.type", f"Input items of type {kind!r} are not supported.")


def _string(item: dict, name: str, path: str) -> str:
    if not isinstance(item.get(name), str):
        raise BodyError(f"{path}.{name}", "Must be a string.")
    return item[name]


def _message(item: dict, path: str) -> dict:
    role = item.get("role")
    if role not in ROLES:
        raise BodyError(f"{path}.role", f"Must be one of {', '.join(ROLES)}.")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [_part(part, f"{path}.content[{i}]") for i, part in enumerate(_list(content, f"{path}.content"))]
    if role == "user":
        return {"role": role, "content": parts}
    if any(part["type"] != "text" for part in parts):  # only a user's turn may hold images
        raise BodyError(f"{path}.content", f"A {role} message holds text only.")
    return {"role": role, "content": "".join(part["text"] for part in parts)}


def _part(part: Any, path: str) -> dict:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        return {
            "type": "image_url",
            "image_url": {"url": part["image_url"], "detail": part.get("detail", "auto")},
        }
    if kind in ("input_text", "output_text", "input_image"):
        field = "image_url" if kind == "input_image" else "text"
        raise BodyError(f"{path}.{field}", "Must be a string (images by URL or data URL, not file id).")
    raise BodyError(f"{path}.type", f"Content parts of type {kind!r} are not supported.")


def _parts_text(parts: Any, path: str) -> str:
    return "".join(_part(part, f"{path}[{i}]").get("text", "") for i, part in enumerate(_list(parts, path)))


def _function_call(item: dict, path: str, messages: list[dict]) -> None:
    """The assistant's function call; consecutive calls join one assistant turn, as chat holds them."""
    function = {"name": _string(item, "name", path), "arguments": _string(item, "arguments", path)}
    call = {"id": _string(item, "call_id", path), "type": "function", "function": function}
    last = messages[-1] if messages else {}
    if last.get("role") == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool(tool: Any, path: str) -> dict:
    tool = _object(tool, path)
    if tool.get("type") != "function":
        message = (
            f"Only function tools are supported, not {tool.get('type')!r} (built-in tools run at OpenAI)."
        )
        raise BodyError(f"{path}.type", message)
    function = {
        "name": _string(tool, "name", path),
        "parameters": tool.get("parameters") or {"type": "object"},
    }
    for name in ("description", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if choice in TOOL_CHOICES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise BodyError("tool_choice", "Must be 'auto', 'none', 'required' or {'type': 'function', 'name': ...}.")


def _text(text: Any) -> dict:
    """`text.format` as chat's `response_format`, `text.verbosity` as its `verbosity`."""
    if text is None:
        return {}
    for name in _object(text, "text"):
        if name not in ("format", "verbosity"):
            raise BodyError(f"text.{name[:100]}", "Unrecognized request argument supplied.")
    body = {"verbosity": text["verbosity"]} if text.get("verbosity") is not None else {}
    form = _object(text.get("format") or {"type": "text"}, "text.format")
    if form.get("type") not in FORMATS:
        raise BodyError("text.format.type", f"Must be one of {', '.join(FORMATS)}.")
    if form["type"] == "json_schema":
        schema = {name: form[name] for name in ("name", "schema", "strict", "description") if name in form}
        return {**body, "response_format": {"type": "json_schema", "json_schema": schema}}
    return {**body, "response_format": {"type": form["type"]}} if form["type"] != "text" else body


def echo_of(data: dict) -> dict:
    """The request's settings a `response` object repeats back."""
    return {
        "instructions": data.get("instructions"),
        "max_output_tokens": data.get("max_output_tokens"),
        "metadata": data.get("metadata") or {},
        "parallel_tool_calls": data.get("parallel_tool_calls", True),
        "temperature": data.get("temperature"),
        "top_p": data.get("top_p"),
        "tool_choice": data.get("tool_choice") or "auto",
        "tools": list(data.get("tools") or []),
        "text": data.get("text") or {"format": {"type": "text"}},
        "user": data.get("user"),
        "store": False,
    }


# -- answers ------------------------------------------------------------------------------------------


def response_body(call_id: str, result: CompletionResult | None, echo: dict, model: str = "") -> dict:
    """A `response` object: finished with `result`, or (None) just created, as a stream first sends it."""
    body = {
        "id": f"resp_{call_id}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "usage": None,
        **echo,
    }
    if result is None:
        return body
    status = "incomplete" if result.finish_reason == "length" else "completed"
    output = [message_item(call_id, result.text)] if result.text else []
    output += [function_call_item(call_id, index, call) for index, call in enumerate(result.tool_calls)]
    details = {"reason": "max_output_tokens"} if status == "incomplete" else None
    finished = {"status": status, "incomplete_details": details, "model": result.model, "output": output}
    return {**body, **finished, "usage": usage_body(result)}


def message_item(call_id: str, text: str, status: str = "completed") -> dict:
    content = [_output_text(text)] if status == "completed" else []
    return {
        "id": f"msg_{call_id}",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _output_text(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(call_id: str, index: int, call: dict, status: str = "completed") -> dict:
    function = call.get("function") or {}
    return {
        "id": f"fc_{call_id}_{index}",
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or f"call_{call_id}_{index}",
        "name": function.get("name") or "",
        "arguments": function.get("arguments") or "",
    }


def usage_body(result: CompletionResult) -> dict:
    return {
        "input_tokens": result.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": result.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": result.input_tokens + result.output_tokens,
    }


class StreamWriter:
    """Chat deltas as the Responses stream's events: a `message` item while text comes, a `function_call`
    item per tool call, each added, filled by deltas and done; `sequence_number` counts every event."""

    def __init__(self, call_id: str, model: str, echo: dict):
        self.call_id, self.model, self.echo = call_id, model, echo
        self.sequence = 0
        self.index = -1  # the open output item's output_index
        self.open: dict | None = None  # the open item, as output_item.done will send it

    def emit(self, payload: dict) -> bytes:
        payload = {**payload, "sequence_number": self.sequence}
        self.sequence += 1
        return event(payload["type"], payload)

    def start(self) -> list[bytes]:
        response = response_body(self.call_id, None, self.echo, self.model)
        return [
            self.emit({"type": "response.created", "response": response}),
            self.emit({"type": "response.in_progress", "response": response}),
        ]

    def delta(self, delta: StreamDelta) -> list[bytes]:
        out: list[bytes] = []
        if delta.text:
            out += self._open_message()
            self.open["content"][0]["text"] += delta.text
            out.append(
                self.emit({**self._where(), "type": "response.output_text.delta", "delta": delta.text})
            )
        for fragment in delta.tool_calls:
            out += self._tool_fragment(fragment)
        return out

    def finish(self, result: CompletionResult) -> list[bytes]:
        body = response_body(self.call_id, result, self.echo)
        kind = "response.completed" if body["status"] == "completed" else "response.incomplete"
        return [*self._close(), self.emit({"type": kind, "response": body})]

    def _where(self) -> dict:
        where = {"item_id": self.open["id"], "output_index": self.index}
        return where | ({"content_index": 0, "logprobs": []} if self.open["type"] == "message" else {})

    def _open_message(self) -> list[bytes]:
        if self.open is not None and self.open["type"] == "message":
            return []
        out = self._open(message_item(self.call_id, "", "in_progress"))
        self.open["content"] = [_output_text("")]
        part = {"type": "response.content_part.added", "part": _output_text("")}
        return [*out, self.emit({**self._where(), **part})]

    def _tool_fragment(self, fragment: dict) -> list[bytes]:
        """The first fragment of a call (its OpenAI `index`) opens its item; each carries arguments."""
        position = fragment.get("index", 0)
        function = fragment.get("function") or {}
        out: list[bytes] = []
        if self.open is None or self.open.get("position") != position:
            started = {"id": fragment.get("id"), "function": {"name": function.get("name")}}
            item = function_call_item(self.call_id, position, started, "in_progress")
            out += self._open({**item, "position": position})
        if piece := function.get("arguments") or "":
            self.open["arguments"] += piece
            delta = {"type": "response.function_call_arguments.delta", "delta": piece}
            out.append(self.emit({**self._where(), **delta}))
        return out

    def _open(self, item: dict) -> list[bytes]:
        out = self._close()
        self.index += 1
        self.open = item
        added = {k: v for k, v in item.items() if k != "position"}
        return [
            *out,
            self.emit({"type": "response.output_item.added", "output_index": self.index, "item": added}),
        ]

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        item = {k: v for k, v in self.open.items() if k != "position"} | {"status": "completed"}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            out = [
                self.emit({**self._where(), "type": "response.output_text.done", "text": text}),
                self.emit(
                    {**self._where(), "type": "response.content_part.done", "part": _output_text(text)}
                ),
            ]
        else:
            done = {"type": "response.function_call_arguments.done", "arguments": item["arguments"]}
            out = [self.emit({**self._where(), **done})]
        out.append(self.emit({"type": "response.output_item.done", "output_index": self.index, "item": item}))
        self.open = None
        return out


def error_event(message: str) -> bytes:
    """A stream that broke after its first byte ends with this event, as the Responses API's do."""
    payload = {
        "type": "error",
        "code": "upstream_error",
        "message": message,
        "param": None,
        "sequence_number": 0,
    }
    return event("error", payload)


async def stream_bytes(call_id: str, model: str, events: AsyncIterator, echo: dict) -> AsyncIterator[bytes]:
    """The Responses stream's events for the request path's `events`: deltas, then the Execution."""
    writer = StreamWriter(call_id, model, echo)
    for chunk in writer.start():
        yield chunk
    async for item in events:
        chunks = writer.delta(item) if isinstance(item, StreamDelta) else writer.finish(item.result)
        for chunk in chunks:
            yield chunk
