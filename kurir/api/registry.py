"""Method declarations and their dispatch, shared by every transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from kurir.domain import errors

Handler = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """One method of the client API.

    `handler(caller, params)` gets the authenticated caller (None when `auth` is False)
    and the decoded params struct; `result` is the type it returns, for the OpenAPI document.
    """

    name: str
    params: type[msgspec.Struct]
    result: Any
    handler: Handler
    summary: str
    auth: bool = True
    decoder: Any = None


class Registry:
    def __init__(self, methods: Iterable[Method]) -> None:
        self._methods: dict[str, Method] = {}
        for m in methods:
            if m.name in self._methods:
                raise ValueError(f"method {m.name} declared twice")
            decoder = msgspec.json.Decoder(m.params)
            self._methods[m.name] = Method(
                m.name, m.params, m.result, m.handler, m.summary, m.auth, decoder
            )

    def __iter__(self) -> Any:
        return iter(sorted(self._methods.values(), key=lambda m: m.name))

    def get(self, name: str) -> Method:
        method = self._methods.get(name)
        if method is None:
            raise errors.METHOD_INVALID(f"no method {name!r}")
        return method

    @staticmethod
    def decode(method: Method, body: bytes) -> msgspec.Struct:
        """Validate the params; every way of getting them wrong is a BAD_REQUEST."""
        try:
            params: msgspec.Struct = method.decoder.decode(body or b"{}")
        except msgspec.ValidationError as e:
            raise errors.BAD_REQUEST(f"invalid params: {e}") from None
        except msgspec.DecodeError as e:
            raise errors.BAD_REQUEST(f"malformed JSON: {e}") from None
        return params

    @staticmethod
    def convert(method: Method, params: object) -> msgspec.Struct:
        """The same validation for params that arrived already parsed (a WebSocket frame)."""
        if params is None:
            params = {}
        try:
            result: msgspec.Struct = msgspec.convert(params, method.params)
        except msgspec.ValidationError as e:
            raise errors.BAD_REQUEST(f"invalid params: {e}") from None
        return result
