"""The SDK's own logic, without a kurir server.

Three levels: the pure pts sequence; the Client with `call` scripted (ordering, gap recovery,
catch-up, queues); and the Client against a tiny in-test WebSocket server that speaks the
contract's frames (replay by `?pts=`, request ids, reconnects, close code 4001). The real
server is exercised by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from kurir.client import Client, KurirError, PtsSequence
from kurir.client.sdk import new_random_id


def upd(pts: int) -> dict[str, Any]:
    return {"pts": pts, "type": "new_message", "message": {"chat_id": 1, "id": pts, "text": "x"}}


def failure(code: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "type": kind, "message": kind.lower(), **extra}}


def pts_of(updates: list[dict[str, Any]]) -> list[int]:
    return [u["pts"] for u in updates]


# the pure sequence ------------------------------------------------------------------------
def test_sequence_in_order_duplicate_and_gap() -> None:
    seq = PtsSequence(0)
    assert pts_of(seq.push(upd(1)).ready) == [1]
    assert seq.push(upd(1)).ready == []  # duplicate
    verdict = seq.push(upd(4))
    assert verdict.gap and verdict.ready == [] and seq.pts == 1 and seq.held == 1
    # The difference brings 2..3; the held 4 follows without another fetch.
    assert pts_of(seq.difference([upd(2), upd(3)], 3)) == [2, 3, 4]
    assert seq.pts == 4 and seq.held == 0


def test_sequence_difference_covering_held_update_delivers_it_once() -> None:
    seq = PtsSequence(1)
    seq.push(upd(3))
    assert pts_of(seq.difference([upd(2), upd(3), upd(4)], 4)) == [2, 3, 4]
    assert seq.held == 0


def test_sequence_empty_difference_never_moves_back() -> None:
    seq = PtsSequence(5)
    assert seq.difference([], 3) == []
    assert seq.pts == 5
    assert seq.difference([], 7) == [] and seq.pts == 7


def test_sequence_without_baseline_takes_first_update() -> None:
    seq = PtsSequence()
    assert pts_of(seq.push(upd(9)).ready) == [9]
    assert seq.pts == 9


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_sequence_any_push_pattern_plus_difference_is_exact(n: int, data: st.DataObject) -> None:
    """Pushes lost, repeated or replayed, then differences: each pts delivered once, in order."""
    pushes = data.draw(st.lists(st.integers(min_value=1, max_value=n), max_size=3 * n))
    seq = PtsSequence(0)
    log = [upd(p) for p in range(1, n + 1)]
    delivered: list[dict[str, Any]] = []
    for p in pushes:
        verdict = seq.push(upd(p))
        delivered += verdict.ready
        if verdict.gap:
            # The server's log at that moment holds at least the pushed update.
            high = data.draw(st.integers(min_value=p, max_value=n))
            page = [u for u in log if (seq.pts or 0) < u["pts"] <= high]
            delivered += seq.difference(page, high)
    delivered += seq.difference([u for u in log if u["pts"] > (seq.pts or 0)], n)
    assert pts_of(delivered) == list(range(1, n + 1))


# the client with `call` scripted ----------------------------------------------------------
class ScriptedClient(Client):
    """Serves updates.getDifference from `log` in pages of `page`; records every call."""

    def __init__(self, log_size: int, page: int = 100) -> None:
        super().__init__("http://kurir.invalid", token="t")
        self.log = [upd(p) for p in range(1, log_size + 1)]
        self.page = page
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_next = 0

    async def call(self, method: str, /, **params: Any) -> Any:
        self.calls.append((method, params))
        if self.fail_next:
            self.fail_next -= 1
            raise KurirError(500, "INTERNAL", "scripted failure")
        if method == "updates.getDifference":
            after = [u for u in self.log if u["pts"] > params["pts"]]
            chunk = after[: self.page]
            last = chunk[-1]["pts"] if chunk else len(self.log)
            return {"updates": chunk, "state": {"pts": last}, "more": len(after) > len(chunk)}
        if method == "updates.getState":
            return {"pts": len(self.log)}
        return {"method": method, **params}

    def difference_calls(self) -> list[int]:
        return [p["pts"] for m, p in self.calls if m == "updates.getDifference"]


async def drain(client: Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        try:
            out.append(await client.next_update(timeout=0.01))
        except TimeoutError:
            return out


async def test_in_order_pushes_are_delivered_and_duplicates_dropped() -> None:
    async with ScriptedClient(3) as client:
        client.pts = 0
        for p in (1, 2, 2, 1, 3):
            await client._apply_update(upd(p))
        assert pts_of(await drain(client)) == [1, 2, 3]
        assert client.pts == 3
        assert client.difference_calls() == []


async def test_gap_is_filled_from_local_pts_in_pages() -> None:
    async with ScriptedClient(10, page=3) as client:
        client.pts = 2
        await client._apply_update(upd(10))
        assert pts_of(await drain(client)) == list(range(3, 11))
        assert client.pts == 10
        # Asked again from state.pts while `more` was true.
        assert client.difference_calls() == [2, 5, 8]
        await client._apply_update(upd(9))
        await client._apply_update(upd(10))
        assert await drain(client) == []


async def test_pushed_update_beyond_the_difference_is_held_not_lost() -> None:
    async with ScriptedClient(4) as client:
        client.pts = 1
        await client._apply_update(upd(6))  # the server's difference still stops at 4
        assert pts_of(await drain(client)) == [2, 3, 4]
        client.log += [upd(5), upd(6)]
        await client._apply_update(upd(7))  # next gap: the fetch brings 5, 6; held 7 follows
        assert pts_of(await drain(client)) == [5, 6, 7]
        assert client.difference_calls() == [1, 4]


async def test_failed_fill_holds_update_until_a_later_fill() -> None:
    async with ScriptedClient(6) as client:
        client.pts = 3
        client.fail_next = 1
        await client._apply_update(upd(5))
        assert await drain(client) == []
        assert client.pts == 3
        await client._apply_update(upd(6))
        assert pts_of(await drain(client)) == [4, 5, 6]


async def test_catch_up_without_local_pts_starts_at_zero() -> None:
    async with ScriptedClient(4, page=2) as client:
        assert await client.catch_up() == 4
        assert pts_of(await drain(client)) == [1, 2, 3, 4]
        assert client.pts == 4
        assert await client.catch_up() == 0
        assert client.difference_calls() == [0, 2, 4]


async def test_frames_are_routed_by_kind() -> None:
    async with ScriptedClient(0) as client:
        client._handle_frame(json.dumps({"update": upd(1)}))
        client._handle_frame(json.dumps({"event": {"type": "typing", "user_id": 2}}))
        client._handle_frame("not json")
        assert client._inbox.get_nowait() == upd(1)
        assert (await client.next_event(timeout=1))["type"] == "typing"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        client._pending[7] = future
        client._handle_frame(json.dumps({"id": 7, **failure(403, "CHAT_WRITE_FORBIDDEN")}))
        with pytest.raises(KurirError) as err:
            await future
        assert (err.value.code, err.value.type) == (403, "CHAT_WRITE_FORBIDDEN")


async def test_wait_for_consumes_until_match_and_times_out() -> None:
    async with ScriptedClient(3) as client:
        client.pts = 0
        for p in (1, 2, 3):
            await client._apply_update(upd(p))
        assert (await client.wait_for(lambda u: u["pts"] == 2, timeout=1))["pts"] == 2
        assert (await client.next_update(timeout=1))["pts"] == 3
        with pytest.raises(TimeoutError):
            await client.next_update(timeout=0.01)


async def test_updates_iteration_ends_on_close() -> None:
    client = ScriptedClient(2)
    client.pts = 0
    await client._apply_update(upd(1))
    await client.close()
    assert pts_of([u async for u in client.updates()]) == [1]
    with pytest.raises(KurirError) as err:
        await client.next_update(timeout=1)
    assert err.value.type == "CLIENT_CLOSED"


async def test_send_message_fills_random_id_and_omits_absent_fields() -> None:
    async with ScriptedClient(0) as client:
        sent = await client.send_message(user_id=5, text="hi")
        assert set(sent) == {"method", "user_id", "text", "random_id"}
        assert 0 < sent["random_id"] < 2**63
        again = await client.send_message(chat_id=1, text="hi", random_id=42, reply_to=3)
        assert (again["random_id"], again["reply_to"]) == (42, 3)
    assert len({new_random_id() for _ in range(100)}) == 100


async def test_register_and_login_keep_token_user_and_a_valid_pts() -> None:
    class Auth(ScriptedClient):
        async def call(self, method: str, /, **params: Any) -> Any:
            if method.startswith("auth."):
                user = {"id": 1 if params["username"] == "alice" else 2}
                return {"user": user, "token": f"tok-{user['id']}", "session_id": 9}
            return await super().call(method, **params)

    async with Auth(0) as client:
        await client.register("alice", "pw", "Alice")
        assert (client.token, client.user, client.pts) == ("tok-1", {"id": 1}, 0)
        client.pts = 12
        await client.login("alice", "pw")
        assert client.pts == 12  # same user: the position still holds
        await client.login("bob", "pw", device="phone")
        assert client.pts is None and client.token == "tok-2"


# HTTP, through httpx's mock transport ------------------------------------------------------
def http_client(handler: Any, **kwargs: Any) -> Client:
    client = Client("http://kurir.test", token="secret", **kwargs)
    client._http = httpx.AsyncClient(
        base_url="http://kurir.test", transport=httpx.MockTransport(handler)
    )
    return client


async def test_http_envelope_and_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/users.get":
            return httpx.Response(200, json={"ok": True, "result": {"id": 3}})
        if request.url.path == "/api/v1/auth.login":
            return httpx.Response(401, json=failure(401, "PASSWORD_INVALID"))
        return httpx.Response(502, text="<html>bad gateway</html>")

    async with http_client(handler) as client:
        assert await client.call("users.get", user_id=3) == {"id": 3}
        assert seen[0].headers["authorization"] == "Bearer secret"
        assert json.loads(seen[0].content) == {"user_id": 3}
        with pytest.raises(KurirError) as err:
            await client.login("a", "b")
        assert err.value.type == "PASSWORD_INVALID"
        assert "authorization" not in seen[1].headers
        with pytest.raises(KurirError) as err:
            await client.call("chats.get", chat_id=1)
        assert (err.value.code, err.value.type) == (502, "HTTP_502")


async def test_flood_wait_is_retried_only_when_asked() -> None:
    answers: list[httpx.Response] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    def flood() -> httpx.Response:
        return httpx.Response(429, json=failure(429, "FLOOD_WAIT", retry_after=0))

    async with http_client(handler) as client:
        answers[:] = [flood()]
        with pytest.raises(KurirError) as err:
            await client.call("messages.send", text="x")
        assert (err.value.code, err.value.retry_after) == (429, 0)
    async with http_client(handler, flood_retry=True) as client:
        answers[:] = [flood(), flood(), httpx.Response(200, json={"ok": True, "result": 1})]
        assert await client.call("messages.send", text="x") == 1
        answers[:] = [flood() for _ in range(10)]
        with pytest.raises(KurirError):
            await client.call("messages.send", text="x")
        assert answers  # gave up after a bounded number of attempts


# a WebSocket server speaking the contract's frames -----------------------------------------
class FakeServer:
    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.connects: list[int | None] = []
        self.sockets: list[ServerConnection] = []
        self.requests: list[dict[str, Any]] = []
        self.reject: list[int] = []  # statuses for the next handshakes, then accept again
        self.url = ""

    def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        if self.reject:
            status = self.reject.pop(0)
            body = json.dumps(failure(status, "AUTH_KEY_INVALID" if status == 401 else "BUSY"))
            return ws.respond(status, body)
        return None

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        if query.get("token") != ["good"]:
            await ws.close(4001, "session terminated")
            return
        pts = int(query["pts"][0]) if "pts" in query else None
        self.connects.append(pts)
        self.sockets.append(ws)
        for update in self.log:
            if pts is not None and update["pts"] > pts:
                await ws.send(json.dumps({"update": update}))
        async for raw in ws:
            request = json.loads(raw)
            self.requests.append(request)
            if request["method"] == "test.hang":
                continue
            if request["method"] == "updates.getDifference":
                after = [u for u in self.log if u["pts"] > request["params"]["pts"]]
                result: Any = {
                    "updates": after,
                    "state": {"pts": after[-1]["pts"] if after else len(self.log)},
                    "more": False,
                }
            else:
                result = {"echo": request["params"]}
            await ws.send(json.dumps({"id": request["id"], "ok": True, "result": result}))

    def append(self, count: int = 1) -> list[dict[str, Any]]:
        """Add updates to the log without pushing them (as if their pushes were lost)."""
        added = [upd(len(self.log) + 1 + i) for i in range(count)]
        self.log += added
        return added

    async def push(self, count: int = 1) -> None:
        for update in self.append(count):
            await self.sockets[-1].send(json.dumps({"update": update}))


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    async with serve(
        fake.handler, "127.0.0.1", 0, process_request=fake.process_request
    ) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


def kurir_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("kurir-") and not t.done()]


async def test_socket_replays_from_pts_and_fills_gaps_over_the_socket(server: FakeServer) -> None:
    server.append(3)
    async with Client(server.url, "good") as client:
        client.pts = 1
        await client.connect()
        assert client.connected and server.connects == [1]
        assert pts_of([await client.next_update(timeout=5) for _ in range(2)]) == [2, 3]
        server.append(2)  # 4 and 5 are lost
        await server.push()  # 6 arrives: a gap
        assert pts_of([await client.next_update(timeout=5) for _ in range(3)]) == [4, 5, 6]
        assert [r["params"] for r in server.requests] == [{"pts": 3, "limit": 1000}]
        assert await client.call("users.get", user_id=1) == {"echo": {"user_id": 1}}
    assert kurir_tasks() == []


async def test_connect_without_pts_starts_from_get_state(server: FakeServer) -> None:
    server.append(4)

    class StateClient(Client):
        async def call(self, method: str, /, **params: Any) -> Any:
            if method == "updates.getState":
                return {"pts": 4}
            return await super().call(method, **params)

    async with StateClient(server.url, "good") as client:
        await client.connect()
        await server.push()
        assert (await client.next_update(timeout=5))["pts"] == 5
        assert server.connects == [4]


async def test_reconnects_from_local_pts_and_fails_pending_calls(server: FakeServer) -> None:
    async with Client(server.url, "good") as client:
        client.pts = 0
        await client.connect()
        await server.push(2)
        assert pts_of([await client.next_update(timeout=5) for _ in range(2)]) == [1, 2]
        hanging = asyncio.create_task(client.call("test.hang"))
        while not server.requests:
            await asyncio.sleep(0.01)
        server.append(2)  # written while the socket goes down
        await server.sockets[-1].close(1011, "restart")
        with pytest.raises(KurirError) as err:
            await hanging
        assert err.value.type == "CONNECTION_LOST"
        assert pts_of([await client.next_update(timeout=5) for _ in range(2)]) == [3, 4]
        assert server.connects == [0, 2] and client.connected


async def test_close_code_4001_ends_the_session(server: FakeServer) -> None:
    async with Client(server.url, "good") as client:
        client.pts = 0
        await client.connect()
        await server.push()
        hanging = asyncio.create_task(client.call("test.hang"))
        while not server.requests:
            await asyncio.sleep(0.01)
        await server.sockets[-1].close(4001, "session terminated")
        with pytest.raises(KurirError) as err:
            await hanging
        assert (err.value.code, err.value.type) == (401, "AUTH_KEY_INVALID")
        # What arrived before the end is still delivered, then the stream stops.
        assert pts_of([u async for u in client.updates()]) == [1]
        assert client.session_ended and not client.connected
        await asyncio.sleep(0.3)
        assert server.connects == [0]  # no reconnect


async def test_disconnect_and_close_leave_no_tasks(server: FakeServer) -> None:
    client = Client(server.url, "good")
    client.pts = 0
    await client.connect()
    assert kurir_tasks()
    await client.disconnect()
    assert kurir_tasks() == [] and not client.connected
    server.append(2)
    await client.connect()
    assert pts_of([await client.next_update(timeout=5) for _ in range(2)]) == [1, 2]
    assert server.connects == [0, 0]
    await client.close()
    assert kurir_tasks() == []
    with pytest.raises(KurirError):
        await client.call("users.get", user_id=1)


async def test_rejected_handshake_raises_and_ends_session(server: FakeServer) -> None:
    server.reject = [401]
    async with Client(server.url, "good") as client:
        client.pts = 0
        with pytest.raises(KurirError) as err:
            await client.connect()
        assert (err.value.code, err.value.type) == (401, "AUTH_KEY_INVALID")
        assert client.session_ended and not client.connected
        assert kurir_tasks() == []


async def test_reconnect_backs_off_through_refusals_then_ends_on_401(server: FakeServer) -> None:
    async with Client(server.url, "good") as client:
        client.pts = 0
        await client.connect()
        server.reject = [503, 503]
        server.append()
        await server.sockets[-1].close(1012, "restart")
        assert (await client.next_update(timeout=5))["pts"] == 1
        assert server.connects == [0, 0] and not server.reject
        server.reject = [401]
        await server.sockets[-1].close(1012, "restart")
        assert [u async for u in client.updates()] == []
        assert client.session_ended and not client.connected
        for _ in range(100):  # the socket task may still be closing the old connection
            if not kurir_tasks():
                break
            await asyncio.sleep(0.01)
        assert kurir_tasks() == []
