"""The hub: who is connected to this process, and what to push to them.

Services call `updates`, `event`, `session_ended`, `channel_joined` and `channel_left` after
their transaction commits; the hub turns each into bus messages. What the bus delivers is
handed to the connections here (`Listener`), which keep their own pts order (see ws.py).

A user's topic carries their updates and control messages (a session ended; they joined or
left a channel, so their connections start or stop following it). A channel's topic
carries its updates once, however many of its members are connected. Every process also
hears the global topic (a session ended anywhere: its cached token goes) and its own node
topic (a bot's answer to a button pressed on a socket of this process).

With a broker, following starts only once the broker has the subscription: `settled` waits
for that, and a connection reads the log after it. After a broker outage every listener is
told to `on_resync`: read the log for what the outage may have swallowed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from kurir.bus.port import Bus
from kurir.storage.updates import Appended, with_pts

UPDATE, EVENT, SESSION_END, JOINED, LEFT = b"U", b"E", b"S", b"J", b"L"
GLOBAL = "g"
_q = struct.Struct(">q")
_qq = struct.Struct(">qq")
_enc = msgspec.json.Encoder()


def channel_frame(chat_id: int, pts: int, body: bytes) -> str:
    """A channel's update as pushed on a socket."""
    return (b'{"channel_id":%d,"channel_update":' % chat_id + with_pts(pts, body) + b"}").decode()


def user_topic(user_id: int) -> str:
    return f"u{user_id}"


def channel_topic(chat_id: int) -> str:
    return f"c{chat_id}"


def node_topic(node_id: int) -> str:
    return f"n{node_id}"


class Listener(Protocol):
    session_id: int

    def on_update(self, pts: int, body: bytes) -> None: ...

    def on_channel_update(self, chat_id: int, pts: int, body: bytes, frame: str) -> None: ...

    def on_channel_joined(self, chat_id: int, pts: int) -> None: ...

    def on_channel_left(self, chat_id: int) -> None: ...

    def on_event(self, frame: str) -> None: ...

    def on_session_end(self) -> None: ...

    def on_resync(self) -> None: ...


class Hub:
    def __init__(self, bus: Bus, node_id: int = 0) -> None:
        self._bus = bus
        self.node_id = node_id
        self._users: dict[int, set[Listener]] = {}
        self._channels: dict[int, set[Listener]] = {}
        # told of every session that ends anywhere (the token caches)
        self.session_end_listeners: list[Callable[[int], None]] = []
        # what a message on this node's topic, or on the global one, is for, by its first
        # byte
        self.node_handlers: dict[bytes, Callable[[bytes], None]] = {}
        self.global_handlers: dict[bytes, Callable[[bytes], None]] = {}
        bus.set_receiver(self._deliver, self._resync)
        bus.subscribe(GLOBAL)
        bus.subscribe(node_topic(node_id))

    async def settled(self) -> None:
        """Until what was followed so far is followed at the broker too."""
        await self._bus.settled()

    # publishing ---------------------------------------------------------------------------
    def updates(self, appended: Appended) -> None:
        data = appended.body
        if appended.channel is not None:
            chat_id, pts = appended.channel
            self._bus.publish([(channel_topic(chat_id), UPDATE + _qq.pack(chat_id, pts) + data)])
            return
        if appended.recipients:
            self._bus.publish(
                [(user_topic(u), UPDATE + _q.pack(p) + data) for u, p in appended.recipients]
            )

    def event(self, user_ids: Iterable[int], event: dict[str, object]) -> None:
        frame = EVENT + _enc.encode({"event": event})
        self._bus.publish([(user_topic(u), frame) for u in user_ids])

    def session_ended(self, user_id: int, session_id: int) -> None:
        self._bus.publish([(user_topic(user_id), SESSION_END + _q.pack(session_id)),
                           (GLOBAL, SESSION_END + _q.pack(session_id))])

    def to_node(self, node_id: int, kind: bytes, payload: bytes) -> None:
        self._bus.publish([(node_topic(node_id), kind + payload)])

    def to_all(self, kind: bytes, payload: bytes) -> None:
        """To every process, this one included."""
        self._bus.publish([(GLOBAL, kind + payload)])

    def channel_joined(self, user_id: int, chat_id: int, pts: int) -> None:
        """The user's connections follow the channel from `pts` on (what is above it is
        pushed to them)."""
        self._bus.publish([(user_topic(user_id), JOINED + _qq.pack(chat_id, pts))])

    def channel_left(self, user_id: int, chat_id: int) -> None:
        self._bus.publish([(user_topic(user_id), LEFT + _q.pack(chat_id))])

    # connections --------------------------------------------------------------------------
    def attach(self, user_id: int, listener: Listener) -> bool:
        """Register a connection; True when it is the user's first one here."""
        return self._add(self._users, user_id, user_topic(user_id), listener)

    def detach(self, user_id: int, listener: Listener) -> bool:
        """Unregister; True when the user has no connection here any more."""
        return self._remove(self._users, user_id, user_topic(user_id), listener)

    def follow(self, chat_id: int, listener: Listener) -> None:
        self._add(self._channels, chat_id, channel_topic(chat_id), listener)

    def unfollow(self, chat_id: int, listener: Listener) -> None:
        self._remove(self._channels, chat_id, channel_topic(chat_id), listener)

    def _add(self, table: dict[int, set[Listener]], key: int, topic: str,
             listener: Listener) -> bool:
        first = key not in table
        if first:
            table[key] = set()
            self._bus.subscribe(topic)
        table[key].add(listener)
        return first

    def _remove(self, table: dict[int, set[Listener]], key: int, topic: str,
                listener: Listener) -> bool:
        group = table.get(key)
        if group is None or listener not in group:
            return False
        group.discard(listener)
        if group:
            return False
        del table[key]
        self._bus.unsubscribe(topic)
        return True

    @property
    def connection_count(self) -> int:
        return sum(len(g) for g in self._users.values())

    def _resync(self) -> None:
        for group in list(self._users.values()):
            for listener in tuple(group):
                listener.on_resync()

    def _deliver(self, topic: str, data: bytes) -> None:
        kind = data[:1]
        if topic[0] == "n":
            handler = self.node_handlers.get(kind)
            if handler is not None:
                handler(data[1:])
            return
        if topic == GLOBAL:
            if kind == SESSION_END:
                sid = _q.unpack_from(data, 1)[0]
                for forget in self.session_end_listeners:
                    forget(sid)
            elif (handler := self.global_handlers.get(kind)) is not None:
                handler(data[1:])
            return
        if topic[0] == "c":
            chat_id, pts = _qq.unpack_from(data, 1)
            body = data[17:]
            listeners = tuple(self._channels.get(chat_id, ()))
            if listeners:
                # the same frame for every follower: made once, not once a connection
                frame = channel_frame(chat_id, pts, body)
                for listener in listeners:
                    listener.on_channel_update(chat_id, pts, body, frame)
            return
        group = self._users.get(int(topic[1:]))
        if not group:
            return
        listeners = tuple(group)
        if kind == UPDATE:
            pts = _q.unpack_from(data, 1)[0]
            body = data[9:]
            for listener in listeners:
                listener.on_update(pts, body)
        elif kind == EVENT:
            text = data[1:].decode()
            for listener in listeners:
                listener.on_event(text)
        elif kind == SESSION_END:
            sid = _q.unpack_from(data, 1)[0]
            for listener in listeners:
                if listener.session_id == sid:
                    listener.on_session_end()
        elif kind == JOINED:
            chat_id, pts = _qq.unpack_from(data, 1)
            for listener in listeners:
                listener.on_channel_joined(chat_id, pts)
        elif kind == LEFT:
            chat_id = _q.unpack_from(data, 1)[0]
            for listener in listeners:
                listener.on_channel_left(chat_id)
