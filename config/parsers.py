"""The REST API's JSON parser: DRF's, after refusing a body nested deeper than JSON_MAX_DEPTH (Python's
json would raise RecursionError on it, a 500) with a 400 naming the limit."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from config.json_depth import depth_message, json_too_deep


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        if json_too_deep(body, settings.JSON_MAX_DEPTH):
            raise ParseError(depth_message(settings.JSON_MAX_DEPTH))
        return super().parse(io.BytesIO(body), media_type, parser_context)
