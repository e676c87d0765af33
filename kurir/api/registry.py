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
        params: msgspec.Struct = decode_json(method.decoder, body or b"{}", "params")
        if b"\\u0000" in body and _has_nul(msgspec.to_builtins(params)):
            # PostgreSQL's text cannot hold NUL, and no one types it: refuse it everywhere
            raise errors.BAD_REQUEST("strings may not contain the NUL character")
        return params


def decode_json(decoder: Any, data: bytes | str, what: str) -> Any:
    """Decode and validate JSON, turning each way it can fail into a BAD_REQUEST."""
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as e:
        raise errors.BAD_REQUEST(f"invalid {what}: {e}") from None
    except msgspec.DecodeError as e:
        raise errors.BAD_REQUEST(f"malformed JSON: {e}") from None
    except RecursionError:
        raise errors.BAD_REQUEST("JSON nested too deeply") from None


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
