"""Putting one user's updates, and each channel's, in pts order — pure state machines, no I/O.

Rules (the contract's, as Telegram's pts rule for a user's common box):
1. A user's n-th update has pts n; the log has no gaps, so `pts == local + 1` is the only
   update that may be applied next.
2. `pts <= local` was applied already: a replay after a reconnect, or a push that raced a
   difference. It is dropped.
3. `pts > local + 1` means updates are missing. The update is held back and the owner must
   fetch `updates.getDifference` from `local`; whatever that brings is authoritative.
4. Held updates are released as soon as the ones before them have been applied, so a push
   that arrived early is never lost when the difference falls short of it.

The async owner (`Client`) performs the fetch; these objects only say what to deliver.
`ChannelSequences` below applies the same rules to every followed channel (rules 5-8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Update = dict[str, Any]


@dataclass
class Verdict:
    """What one pushed update leads to: updates to deliver now, and whether to fetch."""

    ready: list[Update] = field(default_factory=list)
    gap: bool = False


class PtsSequence:
    def __init__(self, pts: int | None = None) -> None:
        self.pts = pts
        self._held: dict[int, Update] = {}

    def reset(self, pts: int | None) -> None:
        self.pts = pts
        self._held.clear()

    @property
    def held(self) -> int:
        """How many pushed updates wait for a gap before them to be filled."""
        return len(self._held)

    def push(self, update: Update) -> Verdict:
        pts = update.get("pts")
        if not isinstance(pts, int):
            # Not part of the pts sequence (the contract gives every update a pts; a future
            # kind might not): there is nothing to order it against.
            return Verdict([update])
        if self.pts is None:
            # No baseline yet: the first update seen becomes it.
            self.pts = pts - 1
        if pts <= self.pts:
            return Verdict()
        if pts > self.pts + 1:
            self._held[pts] = update
            return Verdict(gap=True)
        self.pts = pts
        return Verdict([update, *self._release()])

    def difference(self, updates: list[Update], state_pts: int | None) -> list[Update]:
        """Apply one page of `updates.getDifference`; return what to deliver, in order."""
        ready: list[Update] = []
        for update in updates:
            pts = update.get("pts")
            if not isinstance(pts, int):
                ready.append(update)
                continue
            if self.pts is not None and pts <= self.pts:
                continue
            # The server's log is the truth (rule 3): a page is applied as it comes, even if
            # it were to skip a number.
            self.pts = pts
            ready.append(update)
        if isinstance(state_pts, int) and (self.pts is None or state_pts > self.pts):
            # `state.pts` is the user's current pts when the page is empty; never move back.
            self.pts = state_pts
        ready.extend(self._release())
        return ready

    def _release(self) -> list[Update]:
        if self.pts is None:
            return []
        for stale in [p for p in self._held if p <= self.pts]:
            del self._held[stale]
        out: list[Update] = []
        while (update := self._held.pop(self.pts + 1, None)) is not None:
            self.pts += 1
            out.append(update)
        return out


class ChannelSequences:
    """The same rules for each followed channel's own sequence, plus what channels add.

    5. Each channel's pts is its own gap-free sequence (`pts[channel_id]`), independent of the
       user's and of every other channel's. What is delivered carries `"channel_id"`.
    6. A push for a channel with no local pts is adopted: the server pushes a channel only
       from the pts at which it began following it (connect or join), so the first push seen
       is the first one after that point.
    7. A channel tracked without its history (`track(..., soft=True)`: learnt from chats.get
       or from getDifference's channel list) may have its first push lower than or next to
       the recorded pts: the socket then followed it from before that read (a join seen
       live), and that push is where delivery starts, so that no post made between the join
       and the read is dropped as a duplicate.
    8. A `too_long` difference moves the local pts to the server's and yields a
       `channel_too_long` item carrying the recent messages: the history in between is not
       replayed, the application reloads it.
    """

    def __init__(self) -> None:
        self.pts: dict[int, int] = {}
        self._held: dict[int, dict[int, Update]] = {}
        self._soft: set[int] = set()

    def reset(self, pts: dict[int, int] | None = None) -> None:
        self.pts.clear()
        self.pts.update(pts or {})
        self._held.clear()
        self._soft.clear()

    def held(self, channel_id: int) -> int:
        return len(self._held.get(channel_id, ()))

    def gaps(self) -> list[int]:
        """Channels with pushes held back behind a gap not filled yet."""
        return sorted(c for c, held in self._held.items() if held)

    def track(self, channel_id: int, pts: int, *, soft: bool = False) -> bool:
        """Start following a channel at `pts` (its history before that is not delivered);
        False when it is followed already, which then keeps its own pts."""
        if channel_id in self.pts:
            return False
        self.pts[channel_id] = pts
        if soft:
            self._soft.add(channel_id)
        return True

    def forget(self, channel_id: int) -> None:
        self.pts.pop(channel_id, None)
        self._held.pop(channel_id, None)
        self._soft.discard(channel_id)

    def push(self, channel_id: int, update: Update) -> Verdict:
        pts = update.get("pts")
        if not isinstance(pts, int):
            return Verdict([_tag(channel_id, update)])
        local = self.pts.get(channel_id)
        if local is None or (channel_id in self._soft and pts <= local + 1):
            local = pts - 1  # rules 6 and 7
        self._soft.discard(channel_id)
        if pts <= local:
            self.pts[channel_id] = local
            return Verdict()
        if pts > local + 1:
            self.pts[channel_id] = local
            self._held.setdefault(channel_id, {})[pts] = update
            return Verdict(gap=True)
        self.pts[channel_id] = pts
        return Verdict([_tag(channel_id, update), *self._release(channel_id)])

    def difference(self, channel_id: int, diff: dict[str, Any]) -> list[Update]:
        """Apply one page of `updates.getChannelDifference`; return what to deliver."""
        self._soft.discard(channel_id)
        head = diff.get("pts")
        local = self.pts.get(channel_id)
        ready: list[Update] = []
        if diff.get("too_long"):
            if isinstance(head, int):
                local = head
            ready.append({
                "type": "channel_too_long",
                "channel_id": channel_id,
                "pts": local,
                "messages": list(diff.get("messages") or []),
            })
        else:
            for update in diff.get("updates") or []:
                pts = update.get("pts")
                if isinstance(pts, int):
                    if local is not None and pts <= local:
                        continue
                    local = pts  # the server's log is the truth, as in `PtsSequence`
                ready.append(_tag(channel_id, update))
            if isinstance(head, int) and (local is None or head > local):
                local = head
        if local is not None:
            self.pts[channel_id] = local
        ready.extend(self._release(channel_id))
        return ready

    def _release(self, channel_id: int) -> list[Update]:
        held = self._held.get(channel_id)
        local = self.pts.get(channel_id)
        if not held or local is None:
            return []
        for stale in [p for p in held if p <= local]:
            del held[stale]
        out: list[Update] = []
        while (update := held.pop(local + 1, None)) is not None:
            local += 1
            out.append(_tag(channel_id, update))
        self.pts[channel_id] = local
        if not held:
            del self._held[channel_id]
        return out


def _tag(channel_id: int, update: Update) -> Update:
    return {**update, "channel_id": channel_id}
