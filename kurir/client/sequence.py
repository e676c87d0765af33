"""Putting one user's updates in pts order — a pure state machine, no I/O.

Rules (the contract's, as Telegram's pts rule for a user's common box):
1. A user's n-th update has pts n; the log has no gaps, so `pts == local + 1` is the only
   update that may be applied next.
2. `pts <= local` was applied already: a replay after a reconnect, or a push that raced a
   difference. It is dropped.
3. `pts > local + 1` means updates are missing. The update is held back and the owner must
   fetch `updates.getDifference` from `local`; whatever that brings is authoritative.
4. Held updates are released as soon as the ones before them have been applied, so a push
   that arrived early is never lost when the difference falls short of it.

The async owner (`Client`) performs the fetch; this object only says what to deliver.
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
