"""Online and last seen: ephemeral, pushed to the user's one-to-one peers, never logged."""

from __future__ import annotations

import time

from kurir.live import Hub
from kurir.storage import peers, users
from kurir.storage.port import Database


class Presence:
    def __init__(self, db: Database, hub: Hub) -> None:
        self._db = db
        self._hub = hub

    async def _announce(self, user_id: int, online: bool) -> None:
        now = int(time.time())
        await self._db.write(users.touch_user, user_id, now)
        who = await self._db.read(peers.private_peers, user_id)
        self._hub.event(who, {"type": "user_status", "user_id": user_id, "online": online,
                              "last_seen": now})

    async def came_online(self, user_id: int) -> None:
        await self._announce(user_id, True)

    async def went_offline(self, user_id: int) -> None:
        await self._announce(user_id, False)
