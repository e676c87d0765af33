"""A queue that its consumers can wait on until it is told that nothing more will come."""

from __future__ import annotations

import asyncio
from typing import Any, Final

_END: Final = object()


class Feed:
    """An asyncio.Queue of dicts plus an end marker.

    `maxsize` > 0 makes the feed drop its oldest item when full instead of blocking the
    producer: right for ephemeral events (typing, online status), wrong for updates, which
    therefore use an unbounded feed.
    """

    def __init__(self, maxsize: int = 0) -> None:
        self._queue: asyncio.Queue[dict[str, Any] | object] = asyncio.Queue()
        self._maxsize = maxsize
        self.ended = False

    def put(self, item: dict[str, Any]) -> None:
        if self._maxsize and self._queue.qsize() >= self._maxsize:
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    def end(self) -> None:
        """Let consumers stop once they have taken what is already queued."""
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(_END)

    def reopen(self) -> None:
        # A marker still queued from the previous end is skipped by `get`.
        self.ended = False

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next item, or None once the feed has ended; TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self._queue.get()
                if isinstance(item, dict):
                    return item
                # Only the end marker is not a dict.
                if self.ended:
                    # Put the marker back so that every other consumer stops too.
                    self._queue.put_nowait(_END)
                    return None
