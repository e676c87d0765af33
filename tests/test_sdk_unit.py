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

from kurir.client import ChannelSequences, Client, KurirError, PtsSequence
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
        self.channel_log: list[dict[str, Any]] = []  # channel 7's, when there is one

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
                if request["params"].get("date") is not None:
                    result["state"]["date"] = 500
                    result["channels"] = [{"channel_id": 7, "pts": len(self.channel_log)}]
            elif request["method"] == "updates.getChannelDifference":
                start = request["params"]["pts"]
                result = {"pts": len(self.channel_log), "final": True,
                          "updates": [u for u in self.channel_log if u["pts"] > start]}
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


# channels: the pure sequences ---------------------------------------------------------------
def cupd(pts: int, chat: int = 7) -> dict[str, Any]:
    return {"pts": pts, "type": "new_message", "message": {"chat_id": chat, "id": pts}}


def test_channel_sequences_order_each_channel_on_its_own() -> None:
    seqs = ChannelSequences()
    seqs.track(7, 0)
    seqs.track(8, 10)
    ready = seqs.push(7, cupd(1)).ready
    assert ready == [{**cupd(1), "channel_id": 7}]
    assert seqs.push(7, cupd(1)).ready == []  # duplicate
    assert pts_of(seqs.push(8, cupd(11, 8)).ready) == [11]
    verdict = seqs.push(7, cupd(4))
    assert verdict.gap and verdict.ready == [] and seqs.held(7) == 1
    assert seqs.gaps() == [7] and seqs.pts == {7: 1, 8: 11}
    # the other channel is not held up by that gap
    assert pts_of(seqs.push(8, cupd(12, 8)).ready) == [12]
    filled = seqs.difference(7, {"pts": 3, "updates": [cupd(2), cupd(3)], "final": True})
    assert pts_of(filled) == [2, 3, 4] and all(u["channel_id"] == 7 for u in filled)
    assert seqs.pts == {7: 4, 8: 12} and seqs.gaps() == []
    # a page never moves a channel back, and skips what was delivered
    assert pts_of(seqs.difference(7, {"pts": 5, "updates": [cupd(4), cupd(5)]})) == [5]
    assert seqs.difference(7, {"pts": 2, "updates": []}) == [] and seqs.pts[7] == 5


def test_channel_too_long_jumps_to_the_server_pts_and_keeps_later_pushes() -> None:
    seqs = ChannelSequences()
    seqs.track(7, 2)
    seqs.push(7, cupd(40))
    seqs.push(7, cupd(42))
    seqs.push(7, cupd(43))
    recent = [{"chat_id": 7, "id": 41, "text": "newest"}]
    ready = seqs.difference(7, {"pts": 41, "too_long": True, "messages": recent})
    assert ready[0] == {"type": "channel_too_long", "channel_id": 7, "pts": 41,
                        "messages": recent}
    # 40 is covered by the reload; 42 and 43 come after it
    assert pts_of(ready[1:]) == [42, 43] and seqs.pts[7] == 43 and seqs.gaps() == []


def test_channel_adoption_soft_tracking_and_forgetting() -> None:
    seqs = ChannelSequences()
    # an unknown channel's first push is where the socket began following it
    assert pts_of(seqs.push(5, cupd(9, 5)).ready) == [9] and seqs.pts[5] == 9
    # tracked from chats.get at 12, but the socket followed from 10: delivery starts at 11
    assert seqs.track(6, 12, soft=True)
    assert not seqs.track(6, 30, soft=True)  # already followed: keeps its own pts
    assert pts_of(seqs.push(6, cupd(11, 6)).ready) == [11]
    assert pts_of(seqs.push(6, cupd(12, 6)).ready) == [12]
    assert seqs.push(6, cupd(11, 6)).ready == []  # soft only until the first push
    # soft, and the first push is past the recorded pts: a gap from there
    seqs.track(4, 20, soft=True)
    assert seqs.push(4, cupd(23, 4)).gap and seqs.pts[4] == 20
    # not soft: pushes at or below the pts are duplicates
    seqs.track(3, 20)
    assert seqs.push(3, cupd(20, 3)).ready == [] and seqs.pts[3] == 20
    seqs.forget(4)
    assert 4 not in seqs.pts and seqs.gaps() == []
    seqs.reset({1: 3})
    assert seqs.pts == {1: 3}


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=1, max_value=20), data=st.data())
def test_channel_sequences_any_interleaving_is_exact_per_channel(
    n: int, data: st.DataObject
) -> None:
    """Two channels, pushes lost, repeated or reordered, gaps filled by paged differences."""
    seqs = ChannelSequences()
    logs = {c: [cupd(p, c) for p in range(1, n + 1)] for c in (7, 8)}
    for c in logs:
        seqs.track(c, 0)
    delivered: list[dict[str, Any]] = []
    pushes = data.draw(st.lists(st.tuples(st.sampled_from([7, 8]),
                                          st.integers(min_value=1, max_value=n)),
                                max_size=4 * n))
    page = data.draw(st.integers(min_value=1, max_value=5))

    def fill(c: int, high: int) -> None:
        while True:
            start = seqs.pts[c]
            chunk = [u for u in logs[c] if start < u["pts"] <= high][:page]
            last = chunk[-1]["pts"] if chunk else start
            final = last >= high
            delivered.extend(seqs.difference(c, {"pts": last, "updates": chunk,
                                                 "final": final}))
            if final or seqs.pts[c] <= start:
                return

    for c, p in pushes:
        verdict = seqs.push(c, cupd(p, c))
        delivered.extend(verdict.ready)
        if verdict.gap:
            fill(c, data.draw(st.integers(min_value=p, max_value=n)))
    for c in logs:
        fill(c, n)
    for c in logs:
        mine = [u for u in delivered if u["channel_id"] == c]
        assert pts_of(mine) == list(range(1, n + 1))
        assert all(u["message"]["chat_id"] == c for u in mine)


# channels: the client with `call` scripted ------------------------------------------------
class ChannelScript(ScriptedClient):
    """Adds channel logs (getChannelDifference, paged, too_long past `too_long`), the
    channels list of getDifference with `date`, and chats.get."""

    def __init__(self, log_size: int = 0, page: int = 100, too_long: int = 1000) -> None:
        super().__init__(log_size, page)
        self.user = {"id": 1}
        self.channel_logs: dict[int, list[dict[str, Any]]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.too_long = too_long
        self.refuse: dict[int, KurirError] = {}
        self.now = 1000

    def post(self, chat: int, count: int = 1) -> list[dict[str, Any]]:
        log = self.channel_logs.setdefault(chat, [])
        added = [cupd(len(log) + 1 + i, chat) for i in range(count)]
        log += added
        return added

    async def call(self, method: str, /, **params: Any) -> Any:
        if method == "updates.getChannelDifference":
            self.calls.append((method, params))
            if params["channel_id"] in self.refuse:
                raise self.refuse[params["channel_id"]]
            log = self.channel_logs.get(params["channel_id"], [])
            if len(log) - params["pts"] > self.too_long:
                return {"pts": len(log), "too_long": True, "messages": [{"id": len(log)}]}
            after = [u for u in log if u["pts"] > params["pts"]]
            chunk = after[: min(self.page, params["limit"])]
            last = chunk[-1]["pts"] if chunk else len(log)
            return {"pts": last, "updates": chunk, "final": len(chunk) == len(after)}
        if method == "chats.get":
            self.calls.append((method, params))
            return self.chats[params["chat_id"]]
        result = await super().call(method, **params)
        if method == "updates.getDifference" and params.get("date") is not None:
            result["state"]["date"] = self.now
            result["channels"] = [{"channel_id": c, "pts": len(log)}
                                  for c, log in sorted(self.channel_logs.items())]
        return result

    def channel_calls(self) -> list[tuple[int, int]]:
        return [(p["channel_id"], p["pts"]) for m, p in self.calls
                if m == "updates.getChannelDifference"]


async def test_channel_gap_is_filled_in_pages_without_disturbing_user_order() -> None:
    async with ChannelScript(4, page=3) as client:
        client.pts = 0
        client.channel_pts = {7: 1}
        client.post(7, 10)
        await client._apply_update(upd(1))
        await client._apply_channel_update(7, cupd(2))
        await client._apply_update(upd(2))
        await client._apply_channel_update(7, cupd(10))  # 3..9 lost: a gap
        await client._apply_update(upd(3))
        await client._apply_channel_update(7, cupd(9))  # a late duplicate
        await client._apply_update(upd(4))
        got = await drain(client)
        assert pts_of([u for u in got if "channel_id" not in u]) == [1, 2, 3, 4]
        channel = [u for u in got if "channel_id" in u]
        assert pts_of(channel) == list(range(2, 11))
        assert all(u["channel_id"] == 7 for u in channel)
        # asked from the local pts, again from each page's pts while not final
        assert client.channel_calls() == [(7, 2), (7, 5), (7, 8)]
        assert client.channel_pts == {7: 10} and client.difference_calls() == []


async def test_channel_too_long_gap_delivers_a_reload_item() -> None:
    async with ChannelScript(too_long=5) as client:
        client.channel_pts = {7: 2}
        client.post(7, 20)
        await client._apply_channel_update(7, cupd(20))
        client.post(7)
        await client._apply_channel_update(7, cupd(21))
        got = await drain(client)
        assert got[0] == {"type": "channel_too_long", "channel_id": 7, "pts": 20,
                          "messages": [{"id": 20}]}
        assert pts_of(got[1:]) == [21] and client.channel_pts == {7: 21}
        assert client.channel_calls() == [(7, 2)]


async def test_refused_channel_difference_stops_following_a_failed_one_holds() -> None:
    async with ChannelScript() as client:
        client.channel_pts = {7: 1, 8: 1}
        client.post(7, 3)
        client.post(8, 3)
        client.refuse[7] = KurirError(403, "CHAT_FORBIDDEN")
        await client._apply_channel_update(7, cupd(3))
        assert 7 not in client.channel_pts
        client.refuse[8] = KurirError(0, "CONNECTION_LOST")
        await client._apply_channel_update(8, cupd(3, 8))
        assert client.channel_pts == {8: 1} and await drain(client) == []
        del client.refuse[8]
        await client._socket_opened()  # the next socket fills the gap it left
        assert pts_of(await drain(client)) == [2, 3] and client.channel_pts == {8: 3}


async def test_catch_up_follows_the_channels_that_moved() -> None:
    async with ChannelScript(2) as client:
        client.post(7, 5)
        client.post(8, 4)
        client.channel_pts = {7: 3}
        assert client.pts is None and client.state_date is None
        assert await client.catch_up() == 4  # 2 user updates, 4 and 5 of channel 7
        # a first start lists every channel (date 0); the new one starts at its pts
        assert client.calls[0] == ("updates.getDifference",
                                   {"pts": 0, "limit": 1000, "date": 0})
        got = await drain(client)
        assert [(u.get("channel_id"), u["pts"]) for u in got] == [
            (None, 1), (None, 2), (7, 4), (7, 5)]
        assert client.channel_pts == {7: 5, 8: 4} and client.state_date == 1000
        assert client.channel_calls() == [(7, 3)]
        client.post(8, 2)
        client.now = 2000
        assert await client.catch_up() == 2
        assert client.calls[-2][1]["date"] == 1000 and client.state_date == 2000
        assert [(u["channel_id"], u["pts"]) for u in await drain(client)] == [(8, 5), (8, 6)]
        # a client given a pts but no state_date does not ask for channels
    async with ChannelScript(1) as client:
        client.pts = 0
        assert await client.catch_up() == 1
        assert "date" not in client.calls[0][1] and client.channel_pts == {}


async def test_membership_updates_start_and_stop_following() -> None:
    def member(chat: int, status: str, user: int = 1, pts: int = 1) -> dict[str, Any]:
        return {"pts": pts, "type": "chat_member", "chat_id": chat, "user_id": user,
                "status": status, "role": "member"}

    async with ChannelScript() as client:
        client.pts = 0
        client.chats = {
            7: {"id": 7, "type": "channel", "pts": 12, "status": "member"},
            9: {"id": 9, "type": "group", "status": "member"},
        }
        await client._apply_update(member(7, "member"))
        assert client.channel_pts == {7: 12}
        # the socket followed from the join, before chats.get read pts 12: nothing dropped
        await client._apply_channel_update(7, cupd(11))
        await client._apply_channel_update(7, cupd(12))
        await client._apply_update(member(9, "member", pts=2))  # a basic group
        await client._apply_update(member(7, "kicked", user=5, pts=3))  # someone else
        assert client.channel_pts == {7: 12}
        assert [p["chat_id"] for m, p in client.calls if m == "chats.get"] == [7, 9]
        await client._apply_update(member(7, "kicked", pts=4))
        assert client.channel_pts == {}
        await client._apply_update({"pts": 5, "type": "chat_upgraded", "chat_id": 9})
        assert client.channel_pts == {9: 0}
        await client._apply_channel_update(9, cupd(1, 9))
        got = await drain(client)
        assert [(u.get("channel_id"), u["pts"]) for u in got] == [
            (None, 1), (7, 11), (7, 12), (None, 2), (None, 3), (None, 4), (None, 5), (9, 1)]


async def test_channel_frames_go_to_the_inbox_in_arrival_order() -> None:
    async with ScriptedClient(0) as client:
        client._handle_frame(json.dumps({"channel_id": 7, "channel_update": cupd(1)}))
        client._handle_frame(json.dumps({"update": upd(1)}))
        client._handle_frame(json.dumps({"channel_id": "x", "channel_update": cupd(2)}))
        first = client._inbox.get_nowait()
        assert isinstance(first, tuple) and first == (7, cupd(1))
        assert client._inbox.get_nowait() == upd(1)
        assert client._inbox.empty()


async def test_socket_pushes_and_reconnect_catch_up_of_a_channel(server: FakeServer) -> None:
    server.channel_log = [cupd(p) for p in range(1, 4)]
    async with Client(server.url, "good") as client:
        client.pts = 0
        client.state_date = 0
        await client.connect()
        server.channel_log.append(cupd(4))
        await server.sockets[-1].send(json.dumps({"channel_id": 7, "channel_update": cupd(4)}))
        got = await client.next_update(timeout=5)
        assert (got["channel_id"], got["pts"]) == (7, 4)
        server.channel_log += [cupd(5), cupd(6)]  # made while the socket is down
        await server.sockets[-1].close(1012, "restart")
        got = [await client.next_update(timeout=5) for _ in range(2)]
        assert [(u["channel_id"], u["pts"]) for u in got] == [(7, 5), (7, 6)]
        methods = [(r["method"], r["params"]) for r in server.requests]
        assert methods == [
            ("updates.getDifference", {"pts": 0, "limit": 1, "date": 0}),
            ("updates.getDifference", {"pts": 0, "limit": 1, "date": 500}),
            ("updates.getChannelDifference", {"channel_id": 7, "pts": 4, "limit": 1000}),
        ]
        assert client.channel_pts == {7: 6} and client.state_date == 500
