"""Sync on Telegram's model: getState and getDifference over the per-user update log, and
getChannelDifference over a channel's or supergroup's own log."""

from __future__ import annotations

import time

import msgspec

from kurir.domain import errors
from kurir.domain.types import Message
from kurir.services.access import readable_channel
from kurir.storage import channels, messages, updates
from kurir.storage.port import Database, Tx
from kurir.storage.updates import with_pts

# How many recent messages a "too long" channel difference carries instead of its updates.
TOO_LONG_MESSAGES = 50


class State(msgspec.Struct, omit_defaults=True):
    pts: int
    # server time of this state; give it back to getDifference to learn which channels moved
    date: int | None = None


class ChannelState(msgspec.Struct):
    channel_id: int
    pts: int


class RawDifference(msgspec.Struct, omit_defaults=True):
    """`Difference` as sent: the logged update bodies go out as stored, spliced with pts."""

    updates: list[msgspec.Raw]
    state: State
    more: bool
    channels: list[ChannelState] | None = None


class ChannelDifference(msgspec.Struct, omit_defaults=True):
    """Telegram's updates.channelDifference / channelDifferenceTooLong in one shape."""

    pts: int
    updates: list[msgspec.Raw] | None = None
    final: bool | None = None
    too_long: bool | None = None
    messages: list[Message] | None = None


class Sync:
    def __init__(self, db: Database, too_long: int = 1000) -> None:
        self._db = db
        self._too_long = too_long

    async def state(self, caller: int) -> State:
        return State(pts=await self._db.read(updates.current, caller), date=int(time.time()))

    async def difference(
        self, caller: int, pts: int, limit: int, date: int | None = None
    ) -> RawDifference:
        now = int(time.time())

        def txn(tx: Tx) -> RawDifference:
            found = updates.since(tx, caller, pts, limit + 1)
            more = len(found) > limit
            found = found[:limit]
            # the contract: the last pts returned, or the user's current pts when none is
            head = found[-1][0] if found else updates.current(tx, caller)
            # a client that follows channels passes the date of its last state and learns
            # which of its channels moved since (then asks getChannelDifference of those)
            moved = None
            if date is not None:
                moved = [ChannelState(c, p) for c, p in channels.moved_since(tx, caller, date)]
            return RawDifference(
                updates=[msgspec.Raw(with_pts(p, b)) for p, b in found],
                state=State(pts=head, date=now if date is not None else None), more=more,
                channels=moved,
            )

        return await self._db.read(txn)

    async def between(self, caller: int, after: int, upto: int) -> list[tuple[int, bytes]]:
        return await self._db.read(updates.between, caller, after, upto)

    # channels -----------------------------------------------------------------------------
    async def channels_of(self, caller: int) -> list[tuple[int, int]]:
        return await self._db.read(channels.of_user, caller)

    async def channel_since(self, chat_id: int, after: int, limit: int
                            ) -> list[tuple[int, bytes]]:
        return await self._db.read(channels.since, chat_id, after, limit)

    async def channel_between(self, chat_id: int, after: int, upto: int) -> list[tuple[int, bytes]]:
        return await self._db.read(channels.between, chat_id, after, upto)

    async def channel_difference(
        self, caller: int, chat_id: int, pts: int, limit: int
    ) -> ChannelDifference:
        def txn(tx: Tx) -> ChannelDifference:
            chat, member_row = readable_channel(tx, chat_id, caller)
            head = int(chat.pts)
            if pts > head:
                raise errors.PTS_INVALID("that pts is ahead of the channel")
            if head - pts > self._too_long:
                history_from = int(member_row[8]) if member_row is not None else 0
                recent = messages.history(tx, chat_id, caller, history_from, 0, 0,
                                          TOO_LONG_MESSAGES)
                return ChannelDifference(pts=head, too_long=True, messages=recent)
            found = channels.since(tx, chat_id, pts, limit + 1)
            final = len(found) <= limit
            found = found[:limit]
            return ChannelDifference(
                pts=found[-1][0] if found else head,
                updates=[msgspec.Raw(with_pts(p, b)) for p, b in found], final=final,
            )

        return await self._db.read(txn)
