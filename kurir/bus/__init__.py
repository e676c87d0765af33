"""Live fanout between the parts of kurir that hold client connections.

The bus only carries news ("user 7's log moved to pts 42, here are the bytes"); the update
log in the database stays the truth, so a lost bus message costs latency, never data: a
connection that sees a pts jump reads the missing updates from the log.
"""

from __future__ import annotations

import hashlib

from kurir.bus.port import Bus

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
NATS_SCHEMES = ("nats://", "tls://")
SCHEMES = ("memory:", *REDIS_SCHEMES, *NATS_SCHEMES)


def open_bus(url: str, prefix: str, name: str) -> Bus:
    """The bus `url` names: empty for the in-process one, redis://… or nats://…"""
    if not url or url == "memory:":
        from kurir.bus.memory import MemoryBus

        return MemoryBus()
    if url.startswith(REDIS_SCHEMES):
        from kurir.bus.redis import RedisBus

        return RedisBus(url, prefix, name)
    if url.startswith(NATS_SCHEMES):
        from kurir.bus.nats import NatsBus

        return NatsBus(url, prefix, name)
    raise ValueError(f"unsupported broker_url {url!r}: redis://… or nats://…")


def default_prefix(database_url: str) -> str:
    """Topics of processes on the same database meet; others on the same broker don't."""
    return "kurir." + hashlib.sha256(database_url.encode()).hexdigest()[:10] + "."
