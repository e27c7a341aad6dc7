"""Step 0: the JSON body of a request, and a chat request parsed and validated, or a `GatewayError`
naming what is wrong."""

from __future__ import annotations

import json
import re

from django.core.exceptions import RequestDataTooBig

from routing.gateway.chat_body import BodyError, validate_chat_body
from routing.gateway.errors import GatewayError

# JSON may escape half of a UTF-16 surrogate pair alone ("\\ud800"), which decodes to no character and
# cannot be encoded to go upstream or into PostgreSQL; a whole pair (an emoji) is fine
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_unicode(data) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_body(request):
    """The request body as parsed JSON, or a GatewayError: 413 when too large, 400 when it is not JSON or
    escapes a lone surrogate (which PostgreSQL and upstream providers would refuse)."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise GatewayError(413, "The request body is too large.") from None
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}.") from None
    if SURROGATE_ESCAPE.search(body) and not _is_unicode(data):
        raise GatewayError(
            400, "The body escapes a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode."
        )
    return data


def parse_chat_body(request) -> dict:
    """The validated body of a chat request, or a GatewayError naming what is wrong with it."""
    data = json_body(request)
    try:
        return validate_chat_body(data)
    except BodyError as exc:
        raise GatewayError(400, str(exc), param=exc.path or None) from None
