"""GET /api/v1/ws: method calls as frames, and the user's updates pushed in pts order.

Rules of a connection:
 1. It authenticates once, with `?token=` or an `Authorization` header; a bad token gets
    close code 4001. When its session is terminated it is closed with 4001 at once.
 2. Pushing starts above `?pts=N` when given (the backlog is read from the log first),
    else at the user's pts when the socket opened.
 3. Updates go out in strictly increasing pts with no gap and no repeat: one that arrives
    from the bus ahead of its turn makes the connection read the missing ones from the log
    (they are committed: a user's pts rows are committed in order), and one already sent
    is dropped.
 4. Requests run concurrently (at most MAX_INFLIGHT per connection); responses carry the
    request's id and may come back in any order.
 5. A client that does not read its pushes is closed once MAX_QUEUE frames wait for it
    (1013, try again later); it reconnects with `?pts=` and loses nothing.
 6. The channels and supergroups the user is in are followed from their pts when the socket
    opened (or when the user joined one): their updates come as
    `{"channel_id": C, "channel_update": {"pts": …}}` in each channel's pts order, by rule 3.
 7. With a broker between server processes, the log is read only once the broker has the
    subscriptions (`Hub.settled`), so nothing falls between the reading and the first live
    message; after a broker outage the connection reads the log again (`on_resync`) for
    what the outage swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from kurir.api.registry import Registry, decode_json
from kurir.domain import errors
from kurir.live import Hub, channel_frame
from kurir.logs import new_request_id
from kurir.services.accounts import Accounts, Caller
from kurir.services.presence import Presence
from kurir.services.sync import Sync
from kurir.storage.updates import with_pts
from kurir.transports.errors import as_api_error, error_body
from kurir.transports.http import bearer
from kurir.transports.metrics import Metrics

log = logging.getLogger("kurir.ws")
MAX_INFLIGHT = 32
MAX_QUEUE = 10_000
BACKLOG_PAGE = 1000
CLOSE_AUTH = 4001
CLOSE_SLOW = 1013


class Frame(msgspec.Struct):
    """A request frame, read loosely first so that a bad one still gets its id back."""

    id: Any = None
    method: Any = None
    params: msgspec.Raw = msgspec.Raw(b"{}")


_frame = msgspec.json.Decoder(Frame)
_enc = msgspec.json.Encoder()


def _update_frame(pts: int, body: bytes) -> str:
    return (b'{"update":' + with_pts(pts, body) + b"}").decode()


class Connection:
    """One open socket; a `Listener` of the hub.

    Its queue holds what to write, in arrival order: ("t", text) a ready frame,
    ("u", pts, body) a user update, ("c", chat_id, pts, frame) a channel update,
    ("f", chat_id) a look in a channel's log for anything above what was sent, ("r",) a look
    in the user's log and every followed channel's, ("x", code) close. Per channel it keeps
    the last pts sent, like `sent_pts` for the user's own sequence, and the same rule 3 holds
    for each channel's sequence.
    """

    def __init__(self, send: Send, caller: Caller, sync: Sync, hub: Hub) -> None:
        self._send = send  # the ASGI send: no wrapper between a frame and uvicorn
        self.caller = caller
        self.session_id = caller.session_id
        self._sync = sync
        self._hub = hub
        self._out: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.sent_pts = 0
        self.channels: dict[int, int] = {}
        self.closing: int | None = None

    # hub callbacks (run on the event loop, must not block) --------------------------------
    def on_update(self, pts: int, body: bytes) -> None:
        self._enqueue(("u", pts, body))

    def on_channel_update(self, chat_id: int, pts: int, body: bytes, frame: str) -> None:
        self._enqueue(("c", chat_id, pts, frame))

    def on_channel_joined(self, chat_id: int, pts: int) -> None:
        if chat_id not in self.channels:
            self.channels[chat_id] = pts
            self._hub.follow(chat_id, self)
            # a post may have been published between the join's commit and this moment, so
            # before it was followed: look in the log once
            self._enqueue(("f", chat_id))

    def on_channel_left(self, chat_id: int) -> None:
        if self.channels.pop(chat_id, None) is not None:
            self._hub.unfollow(chat_id, self)

    def on_event(self, frame: str) -> None:
        self._enqueue(("t", frame))

    def on_session_end(self) -> None:
        self._enqueue(("x", CLOSE_AUTH))

    def on_resync(self) -> None:
        self._enqueue(("r",))

    def reply(self, text: str) -> None:
        self._enqueue(("t", text))

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        if self._out.qsize() >= MAX_QUEUE and item[0] != "x":
            item = ("x", CLOSE_SLOW)
        self._out.put_nowait(item)

    def follow_all(self, channels: list[tuple[int, int]]) -> None:
        """Follow from these pts, read before following; what moved in between is found by
        `refill` with a second reading."""
        for chat_id, pts in channels:
            if chat_id not in self.channels:
                self.channels[chat_id] = pts
                self._hub.follow(chat_id, self)

    def refill(self, channels: list[tuple[int, int]]) -> None:
        for chat_id, pts in channels:
            if pts > self.channels.get(chat_id, pts):
                self._enqueue(("f", chat_id))

    def unfollow_all(self) -> None:
        for chat_id in list(self.channels):
            self.on_channel_left(chat_id)

    # the writer ---------------------------------------------------------------------------
    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def write_loop(self) -> None:
        # the socket may go away mid-send; the reader sees that too and cleans up
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self._write_loop()

    async def _write_loop(self) -> None:
        while True:
            item = await self._out.get()
            kind = item[0]
            if kind == "t":
                await self.send_text(item[1])
            elif kind == "u":
                await self._send_update(item[1], item[2])
            elif kind == "c":
                await self._send_channel_update(item[1], item[2], item[3])
            elif kind == "f":
                await self._hub.settled()
                await self._fill_channel(item[1])
            elif kind == "r":
                await self._resync()
            else:
                self.closing = item[1]
                await self._send({"type": "websocket.close", "code": item[1], "reason": ""})
                return

    async def _send_update(self, pts: int, body: bytes) -> None:
        if pts <= self.sent_pts:
            return
        if pts > self.sent_pts + 1:
            await self._send_from_log(pts - 1)
        await self.send_text(_update_frame(pts, body))
        self.sent_pts = pts

    async def _send_from_log(self, upto: int) -> None:
        """The user's updates above what was sent, up to `upto`, read from the log."""
        for p, missing in await self._sync.between(self.caller.user_id, self.sent_pts, upto):
            await self.send_text(_update_frame(p, missing))
            self.sent_pts = p

    async def _send_channel_update(self, chat_id: int, pts: int, frame: str) -> None:
        sent = self.channels.get(chat_id)
        if sent is None or pts <= sent:
            return  # not followed (left meanwhile), or already sent
        if pts > sent + 1:
            for p, missing in await self._sync.channel_between(chat_id, sent, pts - 1):
                await self.send_text(channel_frame(chat_id, p, missing))
        await self.send_text(frame)
        if chat_id in self.channels:
            self.channels[chat_id] = pts

    async def _resync(self) -> None:
        pts = (await self._sync.state(self.caller.user_id)).pts
        if pts > self.sent_pts:
            await self._send_from_log(pts)
        for chat_id in list(self.channels):
            await self._fill_channel(chat_id)

    async def _fill_channel(self, chat_id: int) -> None:
        """Send what the channel's log holds above what was sent (nothing, mostly)."""
        sent = self.channels.get(chat_id)
        if sent is None:
            return
        for p, body in await self._sync.channel_since(chat_id, sent, BACKLOG_PAGE):
            await self.send_text(channel_frame(chat_id, p, body))
            if chat_id in self.channels:
                self.channels[chat_id] = p

    async def send_backlog(self, since: int) -> None:
        """Rule 2: everything above `since`, from the log, before anything live."""
        self.sent_pts = since
        while True:
            diff = await self._sync.difference(self.caller.user_id, self.sent_pts, BACKLOG_PAGE)
            for raw in diff.updates:
                await self.send_text((b'{"update":' + bytes(raw) + b"}").decode())
            self.sent_pts = diff.state.pts if diff.updates else self.sent_pts
            if not diff.more:
                return


class WsEndpoint:
    def __init__(self, registry: Registry, accounts: Accounts, sync: Sync, hub: Hub,
                 presence: Presence, metrics: Metrics) -> None:
        self._registry = registry
        self._accounts = accounts
        self._sync = sync
        self._hub = hub
        self._presence = presence
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A raw ASGI app (Starlette routes to it as one): frames go straight between the
        connection and uvicorn, not through a wrapper each."""
        await self.handle(WebSocket(scope, receive, send), receive, send)

    async def handle(self, ws: WebSocket, receive: Receive, send: Send) -> None:
        token = ws.query_params.get("token") or bearer(ws.headers.get("authorization"))
        since_raw = ws.query_params.get("pts")
        try:
            caller = await self._accounts.authenticate(token)
            since = int(since_raw) if since_raw is not None else None
            if since is not None and since < 0:
                raise ValueError
        except errors.ApiError as e:
            await ws.accept()
            await ws.close(code=CLOSE_AUTH, reason=e.message[:120])
            return
        except ValueError:
            await ws.accept()
            await ws.close(code=1008, reason="pts must be a whole number")
            return
        conn = Connection(send, caller, self._sync, self._hub)
        first = self._hub.attach(caller.user_id, conn)
        writer: asyncio.Task[None] | None = None
        try:
            # channels are followed live from their current pts; a client catches up on
            # them with getChannelDifference (getDifference lists the channels that moved)
            conn.follow_all(await self._sync.channels_of(caller.user_id))
            await self._hub.settled()
            conn.refill(await self._sync.channels_of(caller.user_id))
            if since is None:
                conn.sent_pts = (await self._sync.state(caller.user_id)).pts
            # the socket opens once where pushing starts is known: whatever commits after
            # the client sees it open is above that, and pushed (rule 2)
            await ws.accept()
            if since is not None:
                await conn.send_backlog(since)
            writer = asyncio.create_task(conn.write_loop())
            if first:
                await self._presence.came_online(caller.user_id)
            await self._read_loop(receive, conn, writer)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            if writer is not None:
                writer.cancel()
            conn.unfollow_all()
            if self._hub.detach(caller.user_id, conn):
                await self._presence.went_offline(caller.user_id)

    async def _read_loop(self, receive: Receive, conn: Connection,
                         writer: asyncio.Task[None]) -> None:
        """Read frames until the client goes, or until the writer ends (it closed the socket:
        rule 1 or 5, or the socket broke), which cancels this read."""
        inflight = asyncio.Semaphore(MAX_INFLIGHT)
        tasks: set[asyncio.Task[None]] = set()
        reader = asyncio.current_task()
        assert reader is not None
        reading = True

        def writer_ended(_: object) -> None:
            if reading:  # not once this loop is over: the cleanup after it must run whole
                reader.cancel()

        writer.add_done_callback(writer_ended)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("text") or message.get("bytes") or b""
                await inflight.acquire()
                task = asyncio.create_task(self._handle(conn, data, inflight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                # an idle socket keeps nothing of its last request alive while it waits
                del message, data, task
        except asyncio.CancelledError:
            if not writer.done():
                raise  # the server is stopping
            reader.uncancel()
        finally:
            reading = False
            for task in tasks:
                task.cancel()

    async def _handle(
        self, conn: Connection, data: str | bytes, inflight: asyncio.Semaphore
    ) -> None:
        frame_id: int | str | None = None
        name = "?"
        new_request_id()
        try:
            frame = decode_json(_frame, data, "frame")
            if isinstance(frame.id, (int, str)) and not isinstance(frame.id, bool):
                frame_id = frame.id
            else:
                raise errors.BAD_REQUEST("a frame needs an id: a number or a string")
            if not isinstance(frame.method, str):
                raise errors.BAD_REQUEST("a frame needs a method name")
            name = frame.method
            method = self._registry.get(frame.method)
            if not method.auth:
                raise errors.BAD_REQUEST(f"{frame.method} is not available on a socket")
            params = self._registry.decode(method, bytes(frame.params))
            result = await method.handler(conn.caller, params)
            text = _enc.encode({"id": frame_id, "ok": True, "result": result}).decode()
            self._metrics.count(name, "OK")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = as_api_error(exc, name)
            self._metrics.count(name if err.type != "METHOD_INVALID" else "?", err.type)
            text = (b'{"id":' + _enc.encode(frame_id) + b',' + error_body(err)[1:]).decode()
        finally:
            inflight.release()
        if conn.closing is None:
            conn.reply(text)
