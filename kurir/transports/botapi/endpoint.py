"""The Telegram Bot API over HTTP: `/bot<token>/<method>` and `/file/bot<token>/<path>`.

Answers use the Bot API's envelopes exactly: `{"ok":true,"result":…}`, or
`{"ok":false,"error_code":N,"description":"…"}` with HTTP status N, and
`"parameters":{"retry_after":s}` on a 429, which the libraries raise as their RetryAfter
errors (their polling loops, and ptb's AIORateLimiter, wait it out).
kurir's error types become Telegram's codes and descriptions here, at the edge.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kurir.domain import errors
from kurir.logs import new_request_id
from kurir.services.accounts import Accounts
from kurir.services.files import Files
from kurir.transports.botapi import params
from kurir.transports.botapi.methods import HANDLERS, Call, Context, RawList
from kurir.transports.botapi.schema import METHODS
from kurir.transports.files import BlobResponse
from kurir.transports.metrics import Metrics

log = logging.getLogger("kurir.botapi")
JSON = "application/json"
_enc = msgspec.json.Encoder()
# Telegram's method names are case-insensitive
_BY_LOWER = {name.lower(): name for name in METHODS}
# kurir's error types that Telegram answers with other codes or words
_DESCRIPTIONS: dict[str, tuple[int, str]] = {
    "AUTH_KEY_INVALID": (401, "Unauthorized"),
    "METHOD_INVALID": (404, "Not Found"),
    "CHAT_NOT_FOUND": (400, "Bad Request: chat not found"),
    "PEER_INVALID": (400, "Bad Request: chat not found"),
    "CHANNEL_INVALID": (400, "Bad Request: chat not found"),
    "USER_ID_INVALID": (400, "Bad Request: user not found"),
    "USER_NOT_FOUND": (400, "Bad Request: user not found"),
    "MESSAGE_EMPTY": (400, "Bad Request: message text is empty"),
    "MESSAGE_TOO_LONG": (400, "Bad Request: message is too long"),
    "MESSAGE_ID_INVALID": (400, "Bad Request: message not found"),
    "MESSAGE_NOT_MODIFIED": (400, "Bad Request: message is not modified: specified new message"
                                  " content and reply markup are exactly the same as a current"
                                  " content and reply markup of the message"),
    "MESSAGE_AUTHOR_REQUIRED": (400, "Bad Request: message can't be edited"),
    "CHAT_WRITE_FORBIDDEN": (403, "Forbidden: bot is not a member of the chat or may not"
                                  " write there"),
    "CHAT_FORBIDDEN": (403, "Forbidden: bot is not a member of the chat"),
    "CHAT_ADMIN_REQUIRED": (400, "Bad Request: not enough rights"),
    "RIGHT_FORBIDDEN": (400, "Bad Request: not enough rights"),
    "CHAT_OWNER_REQUIRED": (400, "Bad Request: not enough rights"),
    "USER_ADMIN_INVALID": (400, "Bad Request: not enough rights"),
    "USER_BANNED_IN_CHANNEL": (403, "Forbidden: bot was kicked from the chat"),
    "USER_NOT_PARTICIPANT": (400, "Bad Request: user not found"),
    "FILE_ID_INVALID": (400, "Bad Request: wrong file identifier/HTTP URL specified"),
    "MEDIA_INVALID": (400, "Bad Request: IMAGE_PROCESS_FAILED"),
    "FILE_TOO_BIG": (400, "Bad Request: file is too big"),
    "PAYLOAD_TOO_LARGE": (413, "Request Entity Too Large"),
    "INTERNAL": (500, "Internal Server Error"),
}


def error_body(err: errors.ApiError) -> tuple[int, bytes]:
    code, description = _DESCRIPTIONS.get(err.type, (err.code, ""))
    if err.message.startswith(("Bad Request:", "Forbidden:", "Conflict:", "Too Many Requests:",
                               "Unauthorized", "Not Found")):
        description = err.message
    elif not description:
        prefix = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
                  429: "Too Many Requests"}.get(code, "Bad Request")
        # as Telegram's server: the core's message with its first letter lowercased
        description = f"{prefix}: {err.message[:1].lower()}{err.message[1:]}"
    if code not in (400, 401, 403, 404, 409, 413, 429, 500):
        code = 400
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if err.retry_after is not None:
        body["parameters"] = {"retry_after": err.retry_after}
    return code, _enc.encode(body)


def ok_body(result: Any) -> bytes:
    if isinstance(result, RawList):  # already-encoded updates
        return b'{"ok":true,"result":[' + b",".join(result) + b"]}"
    return b'{"ok":true,"result":' + _enc.encode(result) + b"}"


class BotApiEndpoint:
    def __init__(self, accounts: Accounts, files: Files, ctx: Context, metrics: Metrics,
                 max_body: int) -> None:
        self._accounts = accounts
        self._files = files
        self._ctx = ctx
        self._metrics = metrics
        self._max_body = max_body

    async def _bot(self, token: str) -> int:
        if ":" not in token:
            raise errors.AUTH_KEY_INVALID("Unauthorized")
        caller = await self._accounts.authenticate_bot(token)
        return caller.user_id

    async def handle(self, request: Request) -> Response:
        new_request_id()
        name = request.path_params["method"]
        try:
            bot_id = await self._bot(request.path_params["token"])
            method = _BY_LOWER.get(name.lower())
            handler = HANDLERS.get(method or "")
            if method is None or handler is None:
                raise errors.METHOD_INVALID("Not Found")
            raw, files = await params.read(request, self._max_body)
            typed = params.typed(method, raw, files)
            result = await handler(Call(bot_id, typed, self._ctx, files))
        except ClientDisconnect:
            return Response(status_code=499)
        except Exception as exc:
            if isinstance(exc, errors.ApiError):
                err = exc
            else:
                log.exception("Bot API method %s failed", name)
                err = errors.INTERNAL("internal error")
            self._metrics.count("bot." + (name if err.type != "METHOD_INVALID" else "?"), err.type)
            code, body = error_body(err)
            return Response(body, status_code=code, media_type=JSON)
        self._metrics.count("bot." + name, "OK")
        return Response(ok_body(result), media_type=JSON)

    async def file(self, request: Request) -> Response:
        """Downloads at /file/bot<token>/<file_path>, the path getFile gave."""
        try:
            bot_id = await self._bot(request.path_params["token"])
            file_id = request.path_params["path"].split("/", 1)[0]
            try:
                row = await self._files.readable(bot_id, file_id)
            except errors.FILE_ID_INVALID:
                raise errors.NOT_FOUND("Not Found") from None
            path = self._files.local_path(str(row[2]))
            if path is None:
                raise errors.NOT_FOUND("Not Found")
        except Exception as exc:
            err = exc if isinstance(exc, errors.ApiError) else errors.INTERNAL("internal error")
            code, body = error_body(err)
            return Response(body, status_code=code, media_type=JSON)
        return BlobResponse(path, media_type=str(row[5]), filename=str(row[4]))
