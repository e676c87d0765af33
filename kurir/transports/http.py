"""POST /api/v1/<method>: the registry over HTTP."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kurir.api.context import Request as CallerInfo
from kurir.api.registry import Registry
from kurir.domain import errors
from kurir.logs import new_request_id
from kurir.services.accounts import Accounts
from kurir.transports.errors import as_api_error, error_body, ok_body
from kurir.transports.metrics import Metrics

JSON = "application/json"


def bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise errors.PAYLOAD_TOO_LARGE(f"the request body may be at most {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PAYLOAD_TOO_LARGE(f"the request body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ApiEndpoint:
    def __init__(self, registry: Registry, accounts: Accounts, metrics: Metrics,
                 max_body: int) -> None:
        self._registry = registry
        self._accounts = accounts
        self._metrics = metrics
        self._max_body = max_body

    async def handle(self, request: Request) -> Response:
        name = request.path_params["method"]
        new_request_id()
        try:
            method = self._registry.get(name)
            if method.auth:
                caller: object = await self._accounts.authenticate(
                    bearer(request.headers.get("authorization"))
                )
            else:
                client = request.client
                caller = CallerInfo(client.host if client else "",
                                    request.headers.get("user-agent", "")[:128])
            body = await read_body(request, self._max_body)
            params = self._registry.decode(method, body)
            result = await method.handler(caller, params)
        except ClientDisconnect:
            return Response(status_code=499)
        except Exception as exc:
            err = as_api_error(exc, name)
            self._metrics.count(name if err.type != "METHOD_INVALID" else "?", err.type)
            return Response(error_body(err), status_code=err.code, media_type=JSON)
        self._metrics.count(name, "OK")
        return Response(ok_body(result), media_type=JSON)
