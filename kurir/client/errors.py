"""The one exception type of the SDK: an error of the API, or of the client's own transport."""

from __future__ import annotations

from typing import Any


class KurirError(Exception):
    """A failure the caller can act on, shaped like the contract's `error` object.

    `code` is the HTTP status the server chose. Failures found on this side of the wire carry
    `code` 0 so that no server status is faked: `CONNECTION_LOST` (the socket or HTTP
    connection failed before an answer came) and `CLIENT_CLOSED` (the client was closed).
    """

    def __init__(
        self,
        code: int,
        type: str,
        message: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.type = type
        self.message = message or type
        self.retry_after = retry_after
        super().__init__(f"{type} ({code}): {self.message}")

    @classmethod
    def from_wire(cls, error: Any, status: int) -> KurirError:
        """Build from an `error` object; `status` fills in what a broken body leaves out."""
        if not isinstance(error, dict):
            return cls(status, f"HTTP_{status}", "response without an error object")
        retry_after = error.get("retry_after")
        return cls(
            code=int(error.get("code") or status),
            type=str(error.get("type") or f"HTTP_{status}"),
            message=str(error.get("message") or ""),
            retry_after=retry_after if isinstance(retry_after, int | float) else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickling replays `args`, which here is the formatted text only.
        return (type(self), (self.code, self.type, self.message, self.retry_after))


def connection_lost(detail: str = "") -> KurirError:
    return KurirError(0, "CONNECTION_LOST", detail or "the connection to the server was lost")


def client_closed() -> KurirError:
    return KurirError(0, "CLIENT_CLOSED", "the client was closed")


def session_ended() -> KurirError:
    return KurirError(401, "AUTH_KEY_INVALID", "the session was terminated")
