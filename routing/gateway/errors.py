"""The one error of the request path: a status, a message and the field at fault, in no wire format.

Each endpoint turns it into its own error shape (OpenAI's, Anthropic's, the routing API's).
"""

from __future__ import annotations


class GatewayError(Exception):
    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
