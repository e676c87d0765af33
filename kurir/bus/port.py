"""The Bus port: publish bytes to a user's topic; deliver what arrives for subscribed users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Deliver = Callable[[int, bytes], None]


class Bus(Protocol):
    def set_receiver(self, deliver: Deliver) -> None:
        """Where messages for subscribed users go (called once, before start)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, items: list[tuple[int, bytes]]) -> None:
        """Send each (user_id, data); fire and forget, the log is the truth."""
        ...

    def subscribe(self, user_id: int) -> None: ...

    def unsubscribe(self, user_id: int) -> None: ...
