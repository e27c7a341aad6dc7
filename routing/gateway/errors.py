"""The one error of the request path: a status, a message and the field at fault, in no wire format.

Each endpoint turns it into its own error shape (OpenAI's, Anthropic's, the routing API's).
"""

from __future__ import annotations


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.retry_after = retry_after  # seconds, sent as Retry-After (a 429)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
