"""The in-process bus: one process, no broker; delivery is a function call."""

from __future__ import annotations

from kurir.bus.port import Deliver


class MemoryBus:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._subscribed: set[int] = set()

    def set_receiver(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._subscribed.clear()

    def publish(self, items: list[tuple[int, bytes]]) -> None:
        deliver = self._deliver
        if deliver is None:
            return
        for user_id, data in items:
            if user_id in self._subscribed:
                deliver(user_id, data)

    def subscribe(self, user_id: int) -> None:
        self._subscribed.add(user_id)

    def unsubscribe(self, user_id: int) -> None:
        self._subscribed.discard(user_id)
