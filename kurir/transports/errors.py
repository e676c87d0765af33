"""Turning errors into the client API's JSON envelope."""

from __future__ import annotations

import logging

import msgspec

from kurir.domain import errors

log = logging.getLogger("kurir.api")
_enc = msgspec.json.Encoder()


def as_api_error(exc: BaseException, method: str) -> errors.ApiError:
    if isinstance(exc, errors.ApiError):
        return exc
    log.exception("method %s failed", method, exc_info=exc)
    return errors.INTERNAL("internal error")


def error_body(err: errors.ApiError) -> bytes:
    return _enc.encode({"ok": False, "error": err.to_dict()})


def ok_body(result: object) -> bytes:
    return b'{"ok":true,"result":' + _enc.encode(result) + b"}"
