"""Sync on Telegram's model: getState and getDifference over the per-user update log."""

from __future__ import annotations

import msgspec

from kurir.domain.types import State
from kurir.storage import updates
from kurir.storage.port import Database, Tx
from kurir.storage.updates import with_pts


class RawDifference(msgspec.Struct):
    """`Difference` as sent: the logged update bodies go out as stored, spliced with pts."""

    updates: list[msgspec.Raw]
    state: State
    more: bool


class Sync:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def state(self, caller: int) -> State:
        return State(pts=await self._db.read(updates.current, caller))

    async def difference(self, caller: int, pts: int, limit: int) -> RawDifference:
        def txn(tx: Tx) -> RawDifference:
            found = updates.since(tx, caller, pts, limit + 1)
            more = len(found) > limit
            found = found[:limit]
            # the contract: the last pts returned, or the user's current pts when none is
            head = found[-1][0] if found else updates.current(tx, caller)
            return RawDifference(
                updates=[msgspec.Raw(with_pts(p, b)) for p, b in found],
                state=State(pts=head), more=more,
            )

        return await self._db.read(txn)

    async def between(self, caller: int, after: int, upto: int) -> list[tuple[int, bytes]]:
        return await self._db.read(updates.between, caller, after, upto)
