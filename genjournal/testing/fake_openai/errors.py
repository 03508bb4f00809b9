"""Error replies: what the fake answers instead of a result, shaped as the real API's."""

from __future__ import annotations


def mask_key(key: str) -> str:
    # The real API echoes a bad key's head and tail; so do we, so redaction gets tested.
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * max(4, len(key) - 7)}{key[-4:]}"


class Reply(Exception):
    """Carries an HTTP error reply out of the request logic."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        outcome: str,
        code: str | None = None,
        err_type: str = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": err_type, "param": param, "code": code}}
        self.outcome = outcome
        self.headers = headers or {}
        self.fault = fault


class Drop(Exception):
    """Asks the handler to close the connection without a reply."""

    def __init__(self, outcome: str, fault: str | None, hang_s: float = 0.0) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.fault = fault
        self.hang_s = hang_s
