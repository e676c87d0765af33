"""The Bus port: publish bytes to a topic; deliver what arrives for subscribed topics.

Topics are strings: `u<user id>` carries a user's updates and control messages,
`c<chat id>` a channel's or supergroup's updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Deliver = Callable[[str, bytes], None]


class Bus(Protocol):
    def set_receiver(self, deliver: Deliver) -> None:
        """Where messages for subscribed topics go (called once, before start)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, items: list[tuple[str, bytes]]) -> None:
        """Send each (topic, data); fire and forget, the log is the truth."""
        ...

    def subscribe(self, topic: str) -> None: ...

    def unsubscribe(self, topic: str) -> None: ...
