"""The hub: who is connected to this process, and what to push to them.

Services call `updates`, `event` and `session_ended` after their transaction commits; the
hub turns each into bus messages. What the bus delivers for a user is handed to each of
that user's connections here (`Listener`), which keep their own pts order (see ws.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Protocol

import msgspec

from kurir.bus.port import Bus
from kurir.storage.updates import Appended

UPDATE, EVENT, SESSION_END = b"U", b"E", b"S"
_pts = struct.Struct(">q")
_enc = msgspec.json.Encoder()


class Listener(Protocol):
    session_id: int

    def on_update(self, pts: int, body: bytes) -> None: ...

    def on_event(self, frame: bytes) -> None: ...

    def on_session_end(self) -> None: ...


class Hub:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._listeners: dict[int, set[Listener]] = {}
        bus.set_receiver(self._deliver)

    # publishing ---------------------------------------------------------------------------
    def updates(self, appended: Appended) -> None:
        data = appended.body
        self._bus.publish([(u, UPDATE + _pts.pack(p) + data) for u, p in appended.recipients])

    def event(self, user_ids: Iterable[int], event: dict[str, object]) -> None:
        frame = EVENT + _enc.encode({"event": event})
        self._bus.publish([(u, frame) for u in user_ids])

    def session_ended(self, user_id: int, session_id: int) -> None:
        self._bus.publish([(user_id, SESSION_END + _pts.pack(session_id))])

    # connections --------------------------------------------------------------------------
    def attach(self, user_id: int, listener: Listener) -> bool:
        """Register a connection; True when it is the user's first one here."""
        first = user_id not in self._listeners
        if first:
            self._listeners[user_id] = set()
            self._bus.subscribe(user_id)
        self._listeners[user_id].add(listener)
        return first

    def detach(self, user_id: int, listener: Listener) -> bool:
        """Unregister; True when the user has no connection here any more."""
        group = self._listeners.get(user_id)
        if group is None:
            return False
        group.discard(listener)
        if group:
            return False
        del self._listeners[user_id]
        self._bus.unsubscribe(user_id)
        return True

    def is_online(self, user_id: int) -> bool:
        return user_id in self._listeners

    @property
    def connection_count(self) -> int:
        return sum(len(g) for g in self._listeners.values())

    def _deliver(self, user_id: int, data: bytes) -> None:
        group = self._listeners.get(user_id)
        if not group:
            return
        kind = data[:1]
        if kind == UPDATE:
            pts = _pts.unpack_from(data, 1)[0]
            body = data[9:]
            for listener in tuple(group):
                listener.on_update(pts, body)
        elif kind == EVENT:
            frame = data[1:]
            for listener in tuple(group):
                listener.on_event(frame)
        elif kind == SESSION_END:
            sid = _pts.unpack_from(data, 1)[0]
            for listener in tuple(group):
                if listener.session_id == sid:
                    listener.on_session_end()
