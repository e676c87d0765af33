"""NATS (core, no JetStream) as the bus between server processes.

nats-py keeps one connection, reconnects by itself and subscribes again to what was
subscribed; messages published while it is away are buffered by it (up to its pending
size), messages for us sent meanwhile by others are gone. After a reconnect the bus calls
`resync`, and every connection reads what it may have missed from the log.

`settled` is a flush: NATS answers a PING after it has processed everything sent before it,
subscriptions included. Subjects are `<prefix><topic>`, e.g. `kurir.1a2b3c4d.u17`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from kurir.bus.port import Deliver, Resync

log = logging.getLogger("kurir.bus")
SETTLE_TIMEOUT = 5


class NatsBus:
    def __init__(self, url: str, prefix: str, name: str = "kurir") -> None:
        self._url = url
        self._prefix = prefix
        self._plen = len(prefix)
        self._name = name
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._nc: Client | None = None
        self._subs: dict[str, Subscription] = {}
        self._changes: dict[str, bool] = {}
        self._outbox: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self.outages = 0
        self._closing = False

    def set_receiver(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver
        self._resync = resync

    async def start(self) -> None:
        self._nc = await nats.connect(
            self._url, name=self._name, max_reconnect_attempts=-1, reconnect_time_wait=1,
            allow_reconnect=True, disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected, error_cb=self._error,
        )
        self._task = asyncio.create_task(self._work())
        await self.settled()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None and self._nc is not None:
            # what was published goes out first (bounded: NATS may be away)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settled(), 2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    async def _disconnected(self) -> None:
        if self._closing:
            return
        self.outages += 1
        log.warning("nats bus: disconnected; reconnecting")

    async def _reconnected(self) -> None:
        log.info("nats bus: back; reading what may have been missed from the log")
        if self._nc is not None:
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await self._nc.flush(timeout=SETTLE_TIMEOUT)  # subscriptions in effect first
        if self._resync is not None:
            self._resync()

    async def _error(self, e: Exception) -> None:
        log.warning("nats bus: %s", e)

    def publish(self, items: list[tuple[str, bytes]]) -> None:
        self._outbox.extend(items)
        self._wake.set()

    def subscribe(self, topic: str) -> None:
        self._changes[topic] = True
        self._wake.set()

    def unsubscribe(self, topic: str) -> None:
        self._changes[topic] = False
        self._wake.set()

    async def settled(self) -> None:
        if self._nc is None:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), SETTLE_TIMEOUT)

    async def _on_msg(self, msg: Msg) -> None:
        if self._deliver is not None:
            self._deliver(msg.subject[self._plen:], msg.data)

    async def _work(self) -> None:
        """One task does the talking, so that subscribes, unsubscribes and publishes go out
        in the order they were asked for."""
        nc = self._nc
        assert nc is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            changes, self._changes = self._changes, {}
            outbox, self._outbox = self._outbox, []
            sent = 0
            try:
                while changes:
                    topic, on = next(iter(changes.items()))
                    sub = self._subs.get(topic)
                    if on and sub is None:
                        self._subs[topic] = await nc.subscribe(self._prefix + topic,
                                                               cb=self._on_msg)
                    elif not on and sub is not None:
                        del self._subs[topic]
                        await sub.unsubscribe()
                    del changes[topic]
                for topic, data in outbox:
                    await nc.publish(self._prefix + topic, data)
                    sent += 1
                if self._waiters:
                    waiters, self._waiters = self._waiters, []
                    try:
                        await nc.flush(timeout=SETTLE_TIMEOUT)
                    finally:
                        for fut in waiters:
                            if not fut.done():
                                fut.set_result(None)
            except (NatsError, OSError, TimeoutError) as e:
                # what was not done yet is done next time, before anything asked for later
                self._changes = {**changes, **self._changes}
                self._outbox = outbox[sent:] + self._outbox
                log.warning("nats bus: %s; trying again", e)
                await asyncio.sleep(0.5)
                self._wake.set()
