"""The async client: methods over HTTP or the WebSocket, and a gap-free stream of updates.

    async with Client("http://localhost:8080") as client:
        await client.login("alice", "secret")
        await client.connect()
        async for update in client.updates():
            ...

Delivery of updates follows the contract's pts rule (see sequence.py): every update is
delivered once and in pts order, whether it came pushed over the socket, replayed by the
server after a reconnect (`?pts=`), or fetched with `updates.getDifference` to fill a gap.

Channels and supergroups have a pts sequence each (`channel_pts`), followed by the same rule:
their updates come into the same stream as the user's, each with a `"channel_id"` key added
(the user's updates never have one), in each channel's pts order; the user's own order is
untouched. A gap in a channel is filled with `updates.getChannelDifference`, page by page.
When the server answers that a channel's gap is too long, the stream gets instead

    {"type": "channel_too_long", "channel_id": C, "pts": P, "messages": [recent Message]}

(newest first, as the server sends them): the updates up to P are not replayed, so the
application should reload that chat's history (these are the recent messages); the
channel's updates after P follow as usual.

Which channels: every channel or supergroup whose updates the socket pushes; one the user
joins (a `chat_member` update about them; `chats.get` gives its pts); a group upgraded to
a supergroup (`chat_upgraded`: its log starts at pts 0). One the user leaves or is removed
from is dropped. On each (re)connect and in `catch_up`, a client that has a `state_date`
asks `updates.getDifference` with it for the channels that moved since, fetches the missed
updates of those it follows, and starts following the others at their current pts without
their history. A new client (`register`, or a first `connect`/`catch_up` without `pts`)
starts with `state_date` 0, which lists every channel the user is in. To resume after a
restart, save `pts`, `state_date` and `channel_pts` together and set them back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
from collections.abc import Callable
from functools import partial
from itertools import count
from typing import IO, Any, Final, NamedTuple, Self
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

from kurir.client import files
from kurir.client.errors import (
    KurirError,
    client_closed,
    connection_lost,
    session_ended,
)
from kurir.client.feed import Feed
from kurir.client.sequence import ChannelSequences, PtsSequence, Update

log = logging.getLogger("kurir.client")

# The server closes a session's sockets with this code when the session is terminated.
SESSION_ENDED_CODE: Final = 4001
_BACKOFF_FIRST: Final = 0.1
_BACKOFF_MAX: Final = 5.0
# A socket that stayed up this long was healthy; the next drop starts backing off afresh,
# while a server that accepts and drops at once keeps being backed off from.
_STABLE_AFTER: Final = 5.0
_FLOOD_ATTEMPTS: Final = 5
# Ephemeral events are worthless once stale, so an unread backlog is trimmed, not kept.
_EVENTS_KEPT: Final = 1000
# A difference page of 1000 updates with 4096-character texts exceeds websockets' 1 MiB default.
_MAX_FRAME: Final = 64 * 2**20
_DIFFERENCE_LIMIT: Final = 1000
# These run before there is a session; a socket always belongs to one, so they use HTTP.
_HTTP_ONLY: Final = frozenset({"auth.register", "auth.login"})
_RANDOM_ID_MAX: Final = 2**63 - 1

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class _NotSent(Exception):
    """The request frame never left, so sending it another way cannot duplicate it."""


class _ChannelPush(NamedTuple):
    channel_id: int
    update: Update


class _SocketOpened:
    """An inbox marker: a socket (re)opened, so the channels it missed are caught up on."""


_SOCKET_OPENED: Final = _SocketOpened()
# A user update (a dict), a channel update, the marker above, or None: the session ended.
_InboxItem = Update | _ChannelPush | _SocketOpened | None


class UpdateStream:
    """`async for update in client.updates()`; ends when the client closes or the session ends."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed

    def __aiter__(self) -> UpdateStream:
        return self

    async def __anext__(self) -> Update:
        update = await self._feed.get()
        if update is None:
            raise StopAsyncIteration
        return update


class Client:
    """A kurir client for one account.

    `call` goes over the WebSocket while one is connected, else over HTTP. `connect` opens the
    socket and keeps it open (reconnecting with backoff) until `disconnect`, `close`, or the
    end of the session (close code 4001, which sets `session_ended`).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        flood_retry: bool = False,
        flood_max_wait: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.flood_retry = flood_retry
        self.flood_max_wait = flood_max_wait
        self.user: dict[str, Any] | None = None
        self.session_id: int | None = None
        self.session_ended = False
        self._sequence = PtsSequence()
        self._channels = ChannelSequences()
        # The `date` of the last state: getDifference given it lists the channels that moved
        # since. None: channels are not caught up on (only followed through their pushes).
        self.state_date: int | None = None
        self._updates = Feed()
        self._events = Feed(maxsize=_EVENTS_KEPT)
        # Pushed updates wait here for the applier task, so that the reader stays free to
        # resolve the answer of the getDifference that a gap makes the applier send.
        self._inbox: asyncio.Queue[_InboxItem] = asyncio.Queue()
        # One ordering at a time: the applier and `catch_up` both advance the pts.
        self._sync_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = count(1)
        self._runner: asyncio.Task[None] | None = None
        self._applier: asyncio.Task[None] | None = None
        self._want_socket = False
        self._closed = False

    # state ---------------------------------------------------------------------------------
    @property
    def pts(self) -> int | None:
        """The pts of the last update delivered; set it to resume from a saved position."""
        return self._sequence.pts

    @pts.setter
    def pts(self, value: int | None) -> None:
        self._sequence.reset(value)

    @property
    def channel_pts(self) -> dict[int, int]:
        """The pts of the last update delivered per followed channel (a live dict)."""
        return self._channels.pts

    @channel_pts.setter
    def channel_pts(self, value: dict[int, int]) -> None:
        self._channels.reset(value)

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.state is State.OPEN

    # lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the socket and HTTP connections; pending calls fail with CLIENT_CLOSED."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop_socket(client_closed)
        finally:
            http, self._http = self._http, None
            if http is not None:
                await http.aclose()
            self._updates.end()
            self._events.end()

    async def connect(self) -> None:
        """Open the WebSocket, resuming from the local pts (initialised by updates.getState)."""
        async with self._connect_lock:
            if self._closed:
                raise client_closed()
            if self._runner is not None and not self._runner.done():
                return
            if not self.token:
                raise KurirError(401, "AUTH_KEY_INVALID", "log in before connecting")
            # A runner that ended with the session may leave its applier draining: restart both.
            await self._stop_socket(connection_lost)
            if self.pts is None:
                state = await self.call("updates.getState")
                self.pts = int(state["pts"])
                if self.state_date is None:
                    self.state_date = 0  # a first start: learn every channel's pts
            try:
                ws = await self._open()
            except KurirError as exc:
                if exc.code == 401:
                    self.session_ended = True
                raise
            if self._closed:
                # close() ran during the handshake and found no task to stop; start none.
                await ws.close()
                self._ws = None
                raise client_closed()
            self.session_ended = False
            self._updates.reopen()
            self._events.reopen()
            self._want_socket = True
            inbox: asyncio.Queue[_InboxItem] = asyncio.Queue()
            inbox.put_nowait(_SOCKET_OPENED)
            self._inbox = inbox
            self._applier = asyncio.create_task(self._apply_inbox(inbox), name="kurir-apply")
            self._runner = asyncio.create_task(self._run(ws), name="kurir-socket")

    async def disconnect(self) -> None:
        """Close the WebSocket without reconnecting; `connect` later resumes from `pts`."""
        # Behind a `connect` still under way, so that it cannot reopen what was just closed.
        async with self._connect_lock:
            await self._stop_socket(partial(connection_lost, "disconnected"))

    async def _stop_socket(self, error: Callable[[], KurirError]) -> None:
        self._want_socket = False
        self._fail_pending(error)
        tasks = [t for t in (self._runner, self._applier) if t is not None]
        self._runner = self._applier = None
        for task in tasks:
            task.cancel()
        # Exceptions are collected, not raised: a task that failed must not abort a close.
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ws = None

    # calls ---------------------------------------------------------------------------------
    async def call(self, method: str, /, **params: Any) -> Any:
        """Call a method; return its `result` or raise KurirError.

        With `flood_retry`, a FLOOD_WAIT is slept off and the call repeated, as long as the
        waits of this call stay within `flood_max_wait` seconds and a few attempts.
        """
        waited = 0.0
        attempt = 1
        while True:
            try:
                return await self._call_once(method, params)
            except KurirError as exc:
                pause = self._flood_pause(exc, attempt, waited)
                if pause is None:
                    raise
            log.info("%s: FLOOD_WAIT, retrying in %.1fs", method, pause)
            await asyncio.sleep(pause)
            waited += pause
            attempt += 1

    def _flood_pause(self, exc: KurirError, attempt: int, waited: float) -> float | None:
        if not self.flood_retry or exc.type != "FLOOD_WAIT" or attempt >= _FLOOD_ATTEMPTS:
            return None
        pause = max(float(exc.retry_after if exc.retry_after is not None else 1), 0.0)
        return pause if waited + pause <= self.flood_max_wait else None

    async def _call_once(self, method: str, params: dict[str, Any]) -> Any:
        if self._closed:
            raise client_closed()
        ws = self._ws
        if ws is not None and ws.state is State.OPEN and method not in _HTTP_ONLY:
            try:
                return await self._call_ws(ws, method, params)
            except _NotSent:
                pass
        return await self._call_http(method, params)

    async def _call_ws(self, ws: ClientConnection, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            frame = _encode({"id": request_id, "method": method, "params": params})
            try:
                await ws.send(frame.decode())
            except ConnectionClosed as exc:
                raise _NotSent from exc
            async with asyncio.timeout(self.timeout):
                return await future
        finally:
            self._pending.pop(request_id, None)

    @property
    def http(self) -> httpx.AsyncClient:
        """The client's HTTP connections (made on first use, closed by `close`): methods over
        HTTP, and the bytes of uploads and downloads. Its `event_hooks` may be added to."""
        if self._closed:
            raise client_closed()
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        return self._http

    async def _call_http(self, method: str, params: dict[str, Any]) -> Any:
        http = self.http
        headers = {"Content-Type": "application/json"}
        if self.token and method not in _HTTP_ONLY:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = await http.post(
                f"/api/v1/{method}", content=_encode(params), headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{method}: no answer within {self.timeout}s") from exc
        except httpx.TransportError as exc:
            raise connection_lost(f"{method}: {exc!r}") from exc
        return _http_result(response)

    def _fail_pending(self, error: Callable[[], KurirError]) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error())

    # convenience ---------------------------------------------------------------------------
    async def register(self, username: str, password: str, display_name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "auth.register", username=username, password=password, display_name=display_name
        )
        self._adopt_session(result)
        # A new account has seen nothing, so its whole update log is news: from pts 0 a later
        # `connect` misses nothing that happened since registration; likewise its channels.
        self.pts = 0
        self.state_date = 0
        self._channels.reset()
        return result

    async def login(
        self, username: str, password: str, device: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"username": username, "password": password}
        if device is not None:
            params["device"] = device
        previous = self.user
        result: dict[str, Any] = await self.call("auth.login", **params)
        self._adopt_session(result)
        # pts counts one user's updates; another user's position means nothing here.
        if previous is not None and (self.user or {}).get("id") != previous.get("id"):
            self.pts = None
            self.state_date = None
            self._channels.reset()
        return result

    def _adopt_session(self, result: dict[str, Any]) -> None:
        self.token = result["token"]
        self.user = result.get("user")
        self.session_id = result.get("session_id")
        self.session_ended = False
        self._updates.reopen()
        self._events.reopen()

    async def logout(self) -> Any:
        # The socket belongs to the session being ended: drop it first, so that its close
        # (4001) cannot race the answer to auth.logout.
        await self.disconnect()
        result = await self.call("auth.logout")
        self.token = None
        self.session_ended = True
        self._updates.end()
        self._events.end()
        return result

    async def send_message(
        self,
        chat_id: int | None = None,
        user_id: int | None = None,
        text: str = "",
        random_id: int | None = None,
        reply_to: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send a text; a repeat with the same `random_id` returns the first Message."""
        params: dict[str, Any] = {"text": text, "random_id": random_id or new_random_id()}
        optional = {
            "chat_id": chat_id,
            "user_id": user_id,
            "reply_to": reply_to,
            "entities": entities,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        message: dict[str, Any] = await self.call("messages.send", **params)
        return message

    async def get_history(
        self, chat_id: int, offset_id: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        params = _present(chat_id=chat_id, offset_id=offset_id, limit=limit)
        history: dict[str, Any] = await self.call("messages.getHistory", **params)
        return history

    async def get_dialogs(self, limit: int | None = None) -> list[dict[str, Any]]:
        dialogs: list[dict[str, Any]] = await self.call(
            "messages.getDialogs", **_present(limit=limit)
        )
        return dialogs

    async def get_state(self) -> dict[str, Any]:
        """The server's state; this does not move the local `pts`."""
        state: dict[str, Any] = await self.call("updates.getState")
        return state

    async def get_difference(
        self, pts: int, limit: int | None = None, date: int | None = None
    ) -> dict[str, Any]:
        """One raw page of the difference; this neither delivers nor moves the local `pts`.

        With `date` the result also lists the user's channels that moved since then.
        """
        params = _present(pts=pts, limit=limit, date=date)
        difference: dict[str, Any] = await self.call("updates.getDifference", **params)
        return difference

    async def get_channel_difference(
        self, channel_id: int, pts: int, limit: int | None = None
    ) -> dict[str, Any]:
        """One raw page of a channel's difference (`updates.getChannelDifference`); this
        neither delivers nor moves `channel_pts`."""
        params = _present(channel_id=channel_id, pts=pts, limit=limit)
        difference: dict[str, Any] = await self.call("updates.getChannelDifference", **params)
        return difference

    # bots ----------------------------------------------------------------------------------
    async def create_bot(self, username: str, display_name: str) -> dict[str, Any]:
        """Make a bot of one's own (its username ends in 'bot'): `{bot, token}`; the token
        is what a Bot API library is given."""
        made: dict[str, Any] = await self.call("bots.create", username=username,
                                               display_name=display_name)
        return made

    async def press_button(self, chat_id: int, message_id: int, data: str) -> dict[str, Any]:
        """Press the inline button with callback `data` under a bot's message; the bot's
        answer: `{alert, message?, url?}` (BOT_RESPONSE_TIMEOUT when it gives none)."""
        answer: dict[str, Any] = await self.call("messages.getBotCallbackAnswer",
                                                 chat_id=chat_id, message_id=message_id,
                                                 data=data)
        return answer

    # files ---------------------------------------------------------------------------------
    async def upload(
        self,
        source: files.Source,
        name: str | None = None,
        mime_type: str | None = None,
        progress: files.Progress | None = None,
        parallel: int = 4,
        resume: files.UploadState | dict[str, Any] | str | None = None,
        *,
        retries: int = files.RETRIES,
    ) -> dict[str, Any]:
        """Upload a file (a path, or a seekable binary file object from its current position);
        return the `upload.finish` result `{file_id, size, sha256}`.

        The file is read `part_size` bytes at a time, never whole; up to `parallel` parts are
        sent at once, each retried up to `retries` times while it fails transiently;
        `progress(done_bytes, total_bytes)` (a function or a coroutine function) is called as
        parts are stored. `name` defaults to the file's base name, `mime_type` to the server's
        guess from the name. The sha256 computed here must be the server's, else
        FILE_HASH_MISMATCH.

        `resume`: an `UploadState` (filled in as the upload goes: pass an empty one to keep
        hold of an upload that may be cancelled), its `to_dict()`, or an upload_id; only the
        parts the server lacks are sent. A failure once the upload exists is raised as
        `UploadInterrupted`, whose `state` resumes it.
        """
        return await files.upload(
            self, source, name=name, mime_type=mime_type, progress=progress,
            parallel=parallel, resume=resume, retries=retries,
        )

    async def download(
        self,
        file_id: str,
        dest: str | os.PathLike[str] | IO[bytes],
        progress: files.Progress | None = None,
        *,
        retries: int = files.RETRIES,
    ) -> int:
        """Stream a file to `dest` (a path, or a binary file object written from its current
        position); return the file's size.

        A `dest` file that holds the first bytes of the file already (an interrupted download)
        is completed from there with `Range`; a connection cut mid-way is resumed the same
        way, up to `retries` times. `progress(done_bytes, total_bytes)` as for `upload`.
        """
        return await files.download(self, file_id, dest, progress=progress, retries=retries)

    async def send_file(
        self,
        path: files.Source,
        chat_id: int | None = None,
        user_id: int | None = None,
        kind: str = "document",
        caption: str = "",
        progress: files.Progress | None = None,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        random_id: int | None = None,
        resume: files.UploadState | dict[str, Any] | str | None = None,
        parallel: int = 4,
        **media: Any,
    ) -> dict[str, Any]:
        """Upload a file and send it (`messages.sendMedia`) as a `kind` message: document,
        photo, video, audio or voice. Returns the Message.

        `media` adds other sendMedia parameters (reply_to, entities, duration, width, …).
        """
        uploaded = await self.upload(path, name=name, mime_type=mime_type, progress=progress,
                                     parallel=parallel, resume=resume)
        params: dict[str, Any] = {
            "file_id": uploaded["file_id"],
            "kind": kind,
            "random_id": random_id or new_random_id(),
            **_present(chat_id=chat_id, user_id=user_id),
            **_present(**media),
        }
        if caption:
            params["caption"] = caption
        message: dict[str, Any] = await self.call("messages.sendMedia", **params)
        return message

    # updates -------------------------------------------------------------------------------
    def updates(self) -> UpdateStream:
        return UpdateStream(self._updates)

    async def next_update(self, timeout: float | None = None) -> Update:
        """The next delivered update; TimeoutError after `timeout` seconds (None: no limit)."""
        update = await self._updates.get(timeout)
        if update is None:
            raise self._ended_error()
        return update

    async def wait_for(
        self, predicate: Callable[[Update], bool], timeout: float | None = None
    ) -> Update:
        """The first delivered update matching `predicate`.

        The updates before it are consumed and discarded: a later `next_update` continues
        after the match.
        """
        async with asyncio.timeout(timeout):
            while True:
                update = await self.next_update()
                if predicate(update):
                    return update

    async def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next ephemeral event (typing, user_status); only the newest 1000 are kept."""
        event = await self._events.get(timeout)
        if event is None:
            raise self._ended_error()
        return event

    async def catch_up(self) -> int:
        """Deliver every update after the local pts (from 0 when there is none yet), then
        the missed updates of the followed channels (when the client has a `state_date`).

        For clients without a socket; returns how many updates were delivered.
        """
        async with self._sync_lock:
            if self.pts is None and self.state_date is None:
                self.state_date = 0  # a first start: learn every channel's pts
            delivered, last = await self._pull_difference(self.state_date)
            if self.state_date is not None:
                delivered += await self._sync_channels(last)
            return delivered

    def _ended_error(self) -> KurirError:
        return client_closed() if self._closed else session_ended()

    def _deliver(self, updates: list[Update]) -> None:
        for update in updates:
            self._updates.put(update)

    async def _deliver_own(self, updates: list[Update]) -> None:
        """Deliver the user's own updates; those about channel membership change what is
        followed."""
        for update in updates:
            self._updates.put(update)
            if update.get("type") in ("chat_member", "chat_upgraded"):
                try:
                    await self._note_membership(update)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # following is best effort; delivery went on
                    log.warning("channel membership update not applied: %r", exc)

    async def _pull_difference(self, date: int | None = None) -> tuple[int, dict[str, Any]]:
        """Deliver the user's updates after the local pts, paged; returns how many, and the
        last page (with `date`, it lists the channels that moved)."""
        delivered = 0
        while True:
            start = self._sequence.pts or 0
            diff = await self.call(
                "updates.getDifference",
                **_present(pts=start, limit=_DIFFERENCE_LIMIT, date=date),
            )
            state = diff.get("state") or {}
            ready = self._sequence.difference(list(diff.get("updates") or []), state.get("pts"))
            await self._deliver_own(ready)
            delivered += len(ready)
            # Stopping when nothing moved guards against a `more` that would loop forever.
            if not diff.get("more") or (self._sequence.pts or 0) <= start:
                return delivered, diff

    async def _sync_channels(self, diff: dict[str, Any]) -> int:
        """Act on a getDifference page asked with `date`: fetch what the followed channels
        that moved are missing, start following the others, then keep the state's date."""
        moved: dict[int, int] = {}
        for entry in diff.get("channels") or []:
            if isinstance(entry, dict):
                channel_id, pts = entry.get("channel_id"), entry.get("pts")
                if isinstance(channel_id, int) and isinstance(pts, int):
                    moved[channel_id] = pts
        behind = set(self._channels.gaps())
        for channel_id, pts in moved.items():
            tracked = self._channels.track(channel_id, pts, soft=True)
            if not tracked and pts > self._channels.pts[channel_id]:
                behind.add(channel_id)
        delivered = 0
        for channel_id in sorted(behind):
            delivered += await self._fill_channel(channel_id)
        # Only once every channel listed is caught up: a failure lists them again next time.
        date = (diff.get("state") or {}).get("date")
        if isinstance(date, int):
            self.state_date = date
        return delivered

    async def _fill_channel(self, channel_id: int) -> int:
        """Deliver a channel's updates after its local pts, paged until `final`.

        A refusal (the channel is gone or no longer readable) stops following it; a failure
        of the connection or the server is raised.
        """
        delivered = 0
        while True:
            start = self._channels.pts.get(channel_id)
            if start is None:
                return delivered
            try:
                diff = await self.call(
                    "updates.getChannelDifference",
                    channel_id=channel_id, pts=start, limit=_DIFFERENCE_LIMIT,
                )
            except KurirError as exc:
                if _transient(exc):
                    raise
                log.info("channel %s not followed any more: %s", channel_id, exc)
                self._channels.forget(channel_id)
                return delivered
            ready = self._channels.difference(channel_id, diff)
            self._deliver(ready)
            delivered += len(ready)
            moved = self._channels.pts.get(channel_id, start) > start
            if diff.get("too_long") or diff.get("final", True) or not moved:
                return delivered

    async def _note_membership(self, update: Update) -> None:
        channel_id = update.get("chat_id")
        if not isinstance(channel_id, int):
            return
        if update.get("type") == "chat_upgraded":
            # The supergroup's own log starts at the upgrade: nothing of it is missed.
            self._channels.track(channel_id, 0)
            return
        me = (self.user or {}).get("id")
        if me is not None and update.get("user_id") != me:
            return  # about someone else (this user acted on them)
        status = update.get("status")
        followed = channel_id in self._channels.pts
        if status == "member" and not followed:
            chat = await self._chat_or_none(channel_id)
            if (
                chat is not None
                and chat.get("type") in ("channel", "supergroup")
                and chat.get("status") == "member"
                and isinstance(chat.get("pts"), int)
            ):
                self._channels.track(channel_id, int(chat["pts"]), soft=True)
        elif status in ("left", "kicked") and followed:
            if me is None:  # not sure the update is about this user: ask
                chat = await self._chat_or_none(channel_id)
                if chat is not None and chat.get("status") == "member":
                    return
            self._channels.forget(channel_id)

    async def _chat_or_none(self, chat_id: int) -> dict[str, Any] | None:
        try:
            chat: dict[str, Any] = await self.call("chats.get", chat_id=chat_id)
        except KurirError as exc:
            if _transient(exc):
                raise
            return None
        return chat

    async def _apply_update(self, update: Update) -> None:
        """Order one pushed update: deliver, drop as a duplicate, or fill the gap before it."""
        async with self._sync_lock:
            verdict = self._sequence.push(update)
            await self._deliver_own(verdict.ready)
            if not verdict.gap:
                return
            try:
                await self._pull_difference()
            except Exception as exc:  # any failure has the same remedy
                log.warning("gap before pts %s not filled: %r", update.get("pts"), exc)
                await self._resync()

    async def _apply_channel_update(self, channel_id: int, update: Update) -> None:
        """The same for a channel's pushed update, in that channel's own sequence."""
        async with self._sync_lock:
            verdict = self._channels.push(channel_id, update)
            self._deliver(verdict.ready)
            if not verdict.gap:
                return
            try:
                await self._fill_channel(channel_id)
            except Exception as exc:
                log.warning("gap in channel %s before pts %s not filled: %r",
                            channel_id, update.get("pts"), exc)
                # A fresh socket catches up on the channels with a gap (`_socket_opened`).
                await self._resync()

    async def _socket_opened(self) -> None:
        """A socket opened: it pushes each channel only from now on, so catch up on what the
        followed channels missed meanwhile (the user's own backlog the socket replays)."""
        async with self._sync_lock:
            try:
                if self.state_date is None:
                    for channel_id in self._channels.gaps():
                        await self._fill_channel(channel_id)
                    return
                diff = await self.call(
                    "updates.getDifference",
                    pts=self._sequence.pts or 0, limit=1, date=self.state_date,
                )
                await self._sync_channels(diff)
            except Exception as exc:  # the next socket tries again
                log.warning("channels not caught up after connecting: %r", exc)

    async def _resync(self) -> None:
        # The pushed update stays held. A fresh socket with `?pts=` makes the server replay
        # from its log whatever is missing, so the gap heals without another getDifference.
        ws = self._ws
        if ws is not None and ws.state is State.OPEN:
            await ws.close(1000, "resync")

    async def _apply_inbox(self, inbox: asyncio.Queue[_InboxItem]) -> None:
        while True:
            item = await inbox.get()
            if item is None:
                # The session ended; what it received before that has now been delivered.
                self._updates.end()
                return
            if isinstance(item, _SocketOpened):
                await self._socket_opened()
            elif isinstance(item, _ChannelPush):
                await self._apply_channel_update(item.channel_id, item.update)
            else:
                await self._apply_update(item)

    # socket --------------------------------------------------------------------------------
    def _ws_url(self) -> str:
        url = urlsplit(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)
        query: dict[str, Any] = {"token": self.token or ""}
        if self.pts is not None:
            query["pts"] = self.pts
        return urlunsplit((scheme, url.netloc, f"{url.path}/api/v1/ws", urlencode(query), ""))

    async def _open(self) -> ClientConnection:
        try:
            ws = await ws_connect(
                self._ws_url(),
                open_timeout=self.timeout,
                close_timeout=min(self.timeout, 5.0),
                max_size=_MAX_FRAME,
            )
        except InvalidStatus as exc:
            raise _handshake_error(exc) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise connection_lost(f"WebSocket: {exc!r}") from exc
        self._ws = ws
        return ws

    async def _run(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        delay = _BACKOFF_FIRST
        try:
            while True:
                opened = loop.time()
                code = await self._read(ws)
                self._ws = None
                if code == SESSION_ENDED_CODE:
                    self._end_session()
                    return
                self._fail_pending(partial(connection_lost, f"socket closed ({code})"))
                if not self._want_socket:
                    return
                if loop.time() - opened >= _STABLE_AFTER:
                    delay = _BACKOFF_FIRST
                log.info("socket closed (%s); reconnecting from pts %s", code, self.pts)
                next_ws, delay = await self._reconnect(delay)
                if next_ws is None:
                    return
                ws = next_ws
                self._inbox.put_nowait(_SOCKET_OPENED)
        except Exception:
            log.exception("socket task failed")
        finally:
            self._ws = None
            await ws.close()
            self._fail_pending(connection_lost)

    async def _reconnect(self, delay: float) -> tuple[ClientConnection | None, float]:
        while self._want_socket:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _BACKOFF_MAX)
            try:
                return await self._open(), delay
            except KurirError as exc:
                if exc.code == 401:
                    self._end_session()
                    return None, delay
                log.debug("reconnect failed: %s", exc)
        return None, delay

    async def _read(self, ws: ClientConnection) -> int | None:
        """Dispatch frames until the socket closes; return the close code the server sent."""
        try:
            while True:
                self._handle_frame(await ws.recv())
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None

    def _handle_frame(self, raw: str | bytes) -> None:
        try:
            frame = _decode(raw)
        except msgspec.DecodeError:
            log.warning("dropped a frame that is not JSON")
            return
        if not isinstance(frame, dict):
            return
        if isinstance(update := frame.get("update"), dict):
            self._inbox.put_nowait(update)
        elif isinstance(update := frame.get("channel_update"), dict):
            channel_id = frame.get("channel_id")
            if isinstance(channel_id, int):
                self._inbox.put_nowait(_ChannelPush(channel_id, update))
        elif isinstance(event := frame.get("event"), dict):
            self._events.put(event)
        elif isinstance(request_id := frame.get("id"), int):
            future = self._pending.pop(request_id, None)
            if future is None or future.done():
                return
            if frame.get("ok") is True:
                future.set_result(frame.get("result"))
            else:
                future.set_exception(KurirError.from_wire(frame.get("error"), 400))

    def _end_session(self) -> None:
        self.session_ended = True
        self._want_socket = False
        self._fail_pending(session_ended)
        self._inbox.put_nowait(None)
        self._events.end()


def new_random_id() -> int:
    """A `random_id` for messages.send: uniform over the positive signed 64-bit integers."""
    return secrets.randbelow(_RANDOM_ID_MAX) + 1


def _transient(exc: KurirError) -> bool:
    """A failure that trying again later may cure: the connection, the server, flooding."""
    return exc.code == 0 or exc.code >= 500 or exc.type == "FLOOD_WAIT"


def _present(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _http_result(response: httpx.Response) -> Any:
    try:
        body = _decode(response.content)
    except msgspec.DecodeError:
        status = response.status_code
        raise KurirError(status, f"HTTP_{status}", response.text[:200]) from None
    if isinstance(body, dict) and body.get("ok") is True and response.is_success:
        return body.get("result")
    error = body.get("error") if isinstance(body, dict) else None
    raise KurirError.from_wire(error, response.status_code)


def _handshake_error(exc: InvalidStatus) -> KurirError:
    status = exc.response.status_code
    try:
        body = _decode(exc.response.body or b"null")
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return KurirError.from_wire(body["error"], status)
    kind = "AUTH_KEY_INVALID" if status == 401 else f"HTTP_{status}"
    return KurirError(status, kind, f"WebSocket handshake rejected with HTTP {status}")
