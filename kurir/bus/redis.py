"""Redis pub/sub as the bus between server processes.

Two connections: one subscribed (a reader task takes every message off it, a writer task
sends SUBSCRIBE/UNSUBSCRIBE as connections come and go), and one that publishes. Publishing
is batched: whatever was published during one turn of the event loop goes to Redis as one
call of a small Lua function that PUBLISHes each item, so a message costs one round trip
shared with its neighbours instead of one each.

Redis pub/sub keeps nothing: a message published while a subscriber's connection is down
is gone. That is allowed (the update log is the truth), and the bus says so: after it
reconnects it calls `resync`, and every connection reads what it may have missed from the
log. Published items wait in a bounded outbox while Redis cannot be reached.

Topics are prefixed (`kurir.<hash of the database>.`): clusters on other databases may share
the Redis server without hearing each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from kurir.bus.port import Deliver, Resync

log = logging.getLogger("kurir.bus")

PUBLISH_MANY = """
for i = 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""
BATCH = 500  # items a publishing call carries at most
CHUNK = 1000  # topics a SUBSCRIBE carries at most
OUTBOX_MAX = 200_000  # items kept while Redis is away; the oldest go first beyond it
SETTLE_TIMEOUT = 5.0  # a settled() that waits longer gives up: resync covers the rest
RETRY_MAX = 5.0


class RedisBus:
    def __init__(self, url: str, prefix: str, name: str = "kurir") -> None:
        self._url = url
        self._prefix = prefix
        self._plen = len(prefix.encode())
        self._name = name
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._wanted: set[str] = set()
        self._changes: dict[str, bool] = {}  # topic -> subscribe (True) / unsubscribe, unsent
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._pub_wake = asyncio.Event()
        self._sub_wake = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []  # settled() calls not yet pinged for
        self._pings: dict[bytes, list[asyncio.Future[None]]] = {}
        self._ping_no = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._client: aioredis.Redis | None = None
        self._closed = False
        self._busy = False  # a publishing call is under way
        self.outages = 0  # times the subscribed connection was lost (for tests and metrics)

    def set_receiver(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver
        self._resync = resync

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(self._url, client_name=self._name + "-pub")
        await self._client.ping()  # fail at start, not later, on a wrong address
        self._tasks = [asyncio.create_task(self._publisher()),
                       asyncio.create_task(self._subscriber())]
        await self.settled()

    async def close(self) -> None:
        # what was published goes out first (bounded: Redis may be away)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while (self._outbox or self._busy) and loop.time() < deadline and self._tasks:
            await asyncio.sleep(0.01)
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    # publishing ---------------------------------------------------------------------------
    def publish(self, items: list[tuple[str, bytes]]) -> None:
        self._outbox.extend(items)
        overflow = len(self._outbox) - OUTBOX_MAX
        if overflow > 0:
            for _ in range(overflow):
                self._outbox.popleft()
            log.warning("redis bus: outbox full, dropped %d oldest messages", overflow)
        self._pub_wake.set()

    async def _publisher(self) -> None:
        assert self._client is not None
        script = self._client.register_script(PUBLISH_MANY)
        pause = 0.1
        while True:
            await self._pub_wake.wait()
            self._pub_wake.clear()
            while self._outbox:
                n = min(BATCH, len(self._outbox))
                batch = [self._outbox.popleft() for _ in range(n)]
                args: list[str | bytes] = []
                for topic, data in batch:
                    args.append(self._prefix + topic)
                    args.append(data)
                self._busy = True
                try:
                    await script(args=args)
                    pause = 0.1
                except (RedisError, OSError) as e:
                    self._outbox.extendleft(reversed(batch))
                    log.warning("redis bus: publishing failed (%s); retrying in %.1fs", e, pause)
                    await asyncio.sleep(pause)
                    pause = min(RETRY_MAX, pause * 2)
                finally:
                    self._busy = False

    # subscribing --------------------------------------------------------------------------
    def subscribe(self, topic: str) -> None:
        self._wanted.add(topic)
        self._changes[topic] = True
        self._sub_wake.set()

    def unsubscribe(self, topic: str) -> None:
        self._wanted.discard(topic)
        self._changes[topic] = False
        self._sub_wake.set()

    async def settled(self) -> None:
        if self._closed:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._sub_wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), SETTLE_TIMEOUT)

    async def _subscriber(self) -> None:
        # no retries inside redis-py: a lost connection surfaces here, so that the log is
        # read again after it (redis-py would quietly subscribe again and read nothing)
        client = aioredis.Redis.from_url(self._url, client_name=self._name + "-sub",
                                         retry=Retry(NoBackoff(), 0))
        pause = 0.1
        first = True
        try:
            while True:
                ps = client.pubsub()
                writer: asyncio.Task[None] | None = None
                try:
                    # everything wanted now is subscribed anew; what changes later goes by
                    # the writer, in order after these
                    self._changes.clear()
                    topics = [self._prefix + t for t in self._wanted]
                    for i in range(0, len(topics), CHUNK):
                        await ps.subscribe(*topics[i:i + CHUNK])
                    if not first:
                        # the resync reads the logs once these subscriptions are in effect
                        await self._ping(ps, [], resync=True)
                    first = False
                    pause = 0.1
                    if self._waiters:
                        self._sub_wake.set()
                    writer = asyncio.create_task(self._write_changes(ps))
                    await self._read(ps)
                except (RedisError, OSError) as e:
                    if self._closed:
                        return
                    self.outages += 1
                    log.warning("redis bus: subscription connection lost (%s); reconnecting",
                                e)
                finally:
                    if writer is not None:
                        writer.cancel()
                    with contextlib.suppress(Exception):
                        await ps.aclose()  # type: ignore[no-untyped-call]
                    # pings sent on the lost connection will never be answered: their
                    # waiters wait for the next one
                    for waiting in self._pings.values():
                        self._waiters.extend(waiting)
                    self._pings.clear()
                await asyncio.sleep(pause)
                pause = min(RETRY_MAX, pause * 2)
        finally:
            await client.aclose()

    async def _ping(self, ps: PubSub, waiters: list[asyncio.Future[None]],
                    resync: bool = False) -> None:
        self._ping_no += 1
        token = f"{'r' if resync else 'p'}{self._ping_no}"
        self._pings[token.encode()] = waiters
        await ps.ping(token)

    async def _write_changes(self, ps: PubSub) -> None:
        with contextlib.suppress(RedisError, OSError):  # the reader sees the loss too
            while True:
                await self._sub_wake.wait()
                self._sub_wake.clear()
                changes, self._changes = self._changes, {}
                subs = [self._prefix + t for t, on in changes.items() if on]
                unsubs = [self._prefix + t for t, on in changes.items() if not on]
                for i in range(0, len(unsubs), CHUNK):
                    await ps.unsubscribe(*unsubs[i:i + CHUNK])
                for i in range(0, len(subs), CHUNK):
                    await ps.subscribe(*subs[i:i + CHUNK])
                if self._waiters:
                    waiters, self._waiters = self._waiters, []
                    # Redis answers in order: once this PING's answer is back, everything
                    # sent before it is in effect
                    await self._ping(ps, waiters)

    async def _read(self, ps: PubSub) -> None:
        deliver = self._deliver
        plen = self._plen
        while True:
            msg = await ps.get_message(timeout=None)
            if msg is None:
                continue
            kind = msg["type"]
            if kind == "message":
                if deliver is not None:
                    deliver(msg["channel"][plen:].decode(), msg["data"])
            elif kind == "pong":
                token = msg["data"]
                waiting = self._pings.pop(token, None)
                for fut in waiting or ():
                    if not fut.done():
                        fut.set_result(None)
                if token[:1] == b"r" and self._resync is not None:
                    log.info("redis bus: back; reading what may have been missed from the log")
                    self._resync()
