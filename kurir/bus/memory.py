"""The in-process bus: one process, no broker; delivery is a function call, made on the
next turn of the event loop (as a broker's would be later), so that the publisher — a post
answering its caller — is not held up by handing the update to every connection first."""

from __future__ import annotations

import asyncio

from kurir.bus.port import Deliver, Resync


class MemoryBus:
    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._subscribed: set[str] = set()

    def set_receiver(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._subscribed.clear()

    def publish(self, items: list[tuple[str, bytes]]) -> None:
        if self._deliver is None:
            return
        wanted = [(t, d) for t, d in items if t in self._subscribed]
        if wanted:
            asyncio.get_running_loop().call_soon(self._deliver_all, wanted)

    def _deliver_all(self, items: list[tuple[str, bytes]]) -> None:
        deliver = self._deliver
        if deliver is None:
            return
        for topic, data in items:
            deliver(topic, data)

    def subscribe(self, topic: str) -> None:
        self._subscribed.add(topic)

    def unsubscribe(self, topic: str) -> None:
        self._subscribed.discard(topic)

    async def settled(self) -> None:
        pass
