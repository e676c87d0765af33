from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.server import ENGINES, Server


@pytest.fixture(scope="session", params=ENGINES)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One live kurir per engine for the whole session; tests make users of their own."""
    srv = Server(request.param).start()
    yield srv
    srv.drop()


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


class Api:
    """A bare HTTP caller (the SDK is tested separately; these tests see the raw wire)."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token
        self.user: dict[str, Any] = {}

    async def raw(self, method: str, params: Any = None, *, token: str | None = None,
                  content: bytes | None = None) -> httpx.Response:
        tok = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        if content is not None:
            return await self.http.post(f"/api/v1/{method}", content=content, headers=headers)
        return await self.http.post(f"/api/v1/{method}", json=params or {}, headers=headers)

    async def __call__(self, method: str, **params: Any) -> Any:
        r = await self.raw(method, params)
        body = r.json()
        assert body["ok"], (method, params, body)
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        r = await self.raw(method, params)
        body = r.json()
        assert not body["ok"], (method, params, body)
        return r.status_code, body["error"]["type"]

    @property
    def id(self) -> int:
        return int(self.user["id"])


async def full_history(api: Api, chat_id: int) -> list[dict[str, Any]]:
    """Every message of the chat the caller can see, oldest first."""
    out: list[dict[str, Any]] = []
    offset = 0
    for _ in range(1000):
        page = (await api("messages.getHistory", chat_id=chat_id, offset_id=offset,
                          limit=100))["messages"]
        if not page:
            break
        out += page
        offset = page[-1]["id"]
    out.reverse()
    return out


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def make_user(http: httpx.AsyncClient) -> Callable[..., Any]:
    async def make(display_name: str = "Test User", password: str = "correct horse") -> Api:
        api = Api(http)
        result = await api("auth.register", username=unique_name(), password=password,
                           display_name=display_name)
        api.token = result["token"]
        api.user = result["user"]
        return api

    return make
