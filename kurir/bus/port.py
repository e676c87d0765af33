"""The Bus port: publish bytes to a topic; deliver what arrives for subscribed topics.

Topics are strings: `u<user id>` carries a user's updates and control messages,
`c<chat id>` a channel's or supergroup's updates, `n<node id>` what is meant for one server
process, and `g` what every process hears (a session ended: drop its cached token).

A broker may lose a message (a dropped connection, a restart): the bus then calls `resync`
once it is back, and the connections read from the log what they may have missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Deliver = Callable[[str, bytes], None]
Resync = Callable[[], None]


class Bus(Protocol):
    def set_receiver(self, deliver: Deliver, resync: Resync) -> None:
        """Where messages for subscribed topics go, and whom to tell after an outage
        (called once, before start)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, items: list[tuple[str, bytes]]) -> None:
        """Send each (topic, data); fire and forget, the log is the truth."""
        ...

    def subscribe(self, topic: str) -> None: ...

    def unsubscribe(self, topic: str) -> None: ...

    async def settled(self) -> None:
        """Return once every subscribe and unsubscribe asked for so far is in effect: what
        is published from then on reaches this process. A connection reads the log after
        this, so that nothing falls between its reading and its first live message."""
        ...
