"""Step 0: the JSON body of a request, and a chat request parsed and validated, or a `GatewayError`
naming what is wrong."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from config.json_depth import depth_message, json_too_deep
from config.middleware import too_large_message
from routing.gateway.chat_body import BodyError, validate_chat_body
from routing.gateway.errors import GatewayError

# Half of a UTF-16 surrogate pair alone, escaped ("\\ud800") or as raw bytes (b"\\xed\\xa0\\x80", which
# decodes with "surrogatepass"): no character, and neither PostgreSQL nor a provider takes it
SURROGATE = re.compile(r"[\ud800-\udfff]")


def _well_formed(value):
    """`value` as JSON decodes it, with each lone surrogate U+FFFD (a raw pair becomes its character)."""
    if isinstance(value, str):
        if not SURROGATE.search(value):
            return value
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_well_formed(key): _well_formed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    return value


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8", "surrogatepass").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise GatewayError(400, f"The body is not valid UTF-8: {exc}.") from None


def json_body(request):
    """The request body as parsed JSON, or a GatewayError: 413 when too large, 400 when it is nested
    deeper than JSON_MAX_DEPTH, is not UTF-8 or is not JSON. A lone UTF-16 surrogate, escaped or raw,
    becomes U+FFFD, so the request proceeds and its call is recorded."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise GatewayError(413, too_large_message(), type="request_too_large") from None
    if json_too_deep(body, settings.JSON_MAX_DEPTH):
        raise GatewayError(400, depth_message(settings.JSON_MAX_DEPTH))
    text = _text(body)
    try:
        data = json.loads(text or "null")
    except ValueError as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}.") from None
    return _well_formed(data) if SURROGATE.search(text) or "\\u" in text else data


def parse_chat_body(request) -> dict:
    """The validated body of a chat request, or a GatewayError naming what is wrong with it."""
    with body_errors_as_400():
        return validate_chat_body(json_body(request))


@contextlib.contextmanager
def body_errors_as_400() -> Iterator[None]:
    """A BodyError (validating a chat body, or a wire format's conversion into one) as a 400 naming the
    field it is about."""
    try:
        yield
    except BodyError as exc:
        raise GatewayError(400, str(exc), param=exc.path or None) from None
