"""One error shape for every API: {"error": {"message": ..., "fields": {...}}}, never a traceback."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and not all(isinstance(item, str) for item in detail):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}[{index}]"))
        return out
    messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
    return {prefix or "non_field_errors": messages}


logger = logging.getLogger(__name__)

# A value PostgreSQL refuses to store or compare (a NUL character, a number out of the column's range)
# came from the request: the client's error, not the server's. Services write in transactions, so the
# statement it broke took the rest of its write with it.
DATA_ERROR = "A value in the request cannot be stored: a NUL character or a number out of range."


def exception_handler(exc, context):
    if isinstance(exc, DataError):
        logger.warning("request refused by the database: %s", exc)
        exc = exceptions.ValidationError({"non_field_errors": [DATA_ERROR]})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        response.data = {"error": {"type": "invalid_request", "message": summary, "fields": fields}}
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = {"error": {"type": getattr(exc, "default_code", "error"), "message": str(detail)}}
    return response
