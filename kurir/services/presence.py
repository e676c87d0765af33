"""Online and last seen: pushed to the user's one-to-one peers, never logged.

A user is online while any server process (node) holds a socket of theirs: each node
writes a row in `online` when a user's first socket opens on it and removes it when the
last one closes; the user comes online with the first row and goes offline with the last,
whichever nodes these are. A node refreshes its heartbeat four times in `dead_after`
seconds; one killed without a word is swept by the others once `dead_after` seconds have
passed, and the users it leaves offline are announced so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from kurir.live import Hub
from kurir.storage import nodes, peers
from kurir.storage.port import Database

log = logging.getLogger("kurir.presence")
DEAD_AFTER = 20


class Presence:
    def __init__(self, db: Database, hub: Hub, dead_after: int = DEAD_AFTER) -> None:
        self._db = db
        self._dead_after = max(2, dead_after)
        self._hub = hub
        self.node_id = hub.node_id
        self._task: asyncio.Task[None] | None = None
        self._here: set[int] = set()  # users this node has marked online

    async def start(self, alone: bool) -> None:
        """Register this node. `alone`: no other node can be running (one process, no
        broker), so whatever other nodes the database remembers died with a past run."""
        now = int(time.time())
        await self._db.write(nodes.register, self.node_id, os.getpid(), now)
        if alone:
            for node in await self._db.read(nodes.others, self.node_id):
                await self._drop(node)
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._drop(self.node_id)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._dead_after / 4)
            try:
                now = int(time.time())
                if not await self._db.write(nodes.heartbeat, self.node_id, now):
                    # swept as dead (a long pause): come back, with the sockets held now
                    log.warning("this node was taken for dead; registering again")
                    await self._db.write(nodes.register, self.node_id, os.getpid(), now)
                    for uid in sorted(self._here):
                        await self.came_online(uid)
                for node in await self._db.read(nodes.dead, now - self._dead_after, self.node_id):
                    log.info("node %d stopped beating; its users go offline", node)
                    await self._drop(node)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence heartbeat failed")

    async def _drop(self, node: int) -> None:
        now = int(time.time())
        gone = await self._db.write(nodes.drop_node, node, now)
        for uid in gone or ():
            await self._announce(uid, False, now)

    async def _announce(self, user_id: int, online: bool, now: int) -> None:
        who = await self._db.read(peers.private_peers, user_id)
        self._hub.event(who, {"type": "user_status", "user_id": user_id, "online": online,
                              "last_seen": now})

    async def came_online(self, user_id: int) -> None:
        now = int(time.time())
        self._here.add(user_id)
        if await self._db.write(nodes.came_online, user_id, self.node_id, now):
            await self._announce(user_id, True, now)

    async def went_offline(self, user_id: int) -> None:
        now = int(time.time())
        self._here.discard(user_id)
        if await self._db.write(nodes.went_offline, user_id, self.node_id, now):
            await self._announce(user_id, False, now)
