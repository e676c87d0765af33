"""The in-process bus: one process, no broker; delivery is a function call."""

from __future__ import annotations

from kurir.bus.port import Deliver


class MemoryBus:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._subscribed: set[str] = set()

    def set_receiver(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._subscribed.clear()

    def publish(self, items: list[tuple[str, bytes]]) -> None:
        deliver = self._deliver
        if deliver is None:
            return
        for topic, data in items:
            if topic in self._subscribed:
                deliver(topic, data)

    def subscribe(self, topic: str) -> None:
        self._subscribed.add(topic)

    def unsubscribe(self, topic: str) -> None:
        self._subscribed.discard(topic)
