"""A plain text progress bar for commands that move files, redrawn in place with `\\r`:

    report.pdf [##########..........]  50.0%  1.5 MiB / 3.0 MiB  2.1 MiB/s

Give it as the `progress` callback of `Client.upload` or `Client.download`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human(n: float) -> str:
    """Bytes for people: 512 B, 1.5 MiB."""
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class ProgressBar:
    """Draws `done / total` on `stream`, at most every `interval` seconds (and always at the
    end); `finish()` ends the line. The rate counts only the bytes moved since the bar started,
    not those a resumed transfer found done already."""

    def __init__(self, label: str = "", stream: TextIO | None = None, width: int = 30,
                 interval: float = 0.1) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self._started = time.monotonic()
        self._first: int | None = None
        self._drawn_at = 0.0
        self._last_len = 0
        self._last: tuple[int, int] | None = None
        self._undrawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = done
            self._started = now
        final = total >= 0 and done >= total
        throttled = self._last is not None and now - self._drawn_at < self.interval
        self._last = (done, total)
        self._undrawn = True
        if final or not throttled:
            self._draw(done, total, now)

    def line(self, done: int, total: int, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._started, 1e-6)
        rate = max(done - (self._first or 0), 0) / elapsed
        head = f"{self.label} " if self.label else ""
        if total > 0:
            fraction = min(done / total, 1.0)
            filled = int(fraction * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            return (f"{head}[{bar}] {fraction * 100:5.1f}%  {human(done)} / {human(total)}"
                    f"  {human(rate)}/s")
        return f"{head}{human(done)}  {human(rate)}/s"

    def _draw(self, done: int, total: int, now: float) -> None:
        text = self.line(done, total, now)
        pad = " " * max(self._last_len - len(text), 0)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._last_len = len(text)
        self._drawn_at = now
        self._undrawn = False

    def note(self, message: str) -> None:
        """Print a message on a line of its own; the bar goes on below it."""
        if self._last_len:
            self.stream.write("\n")
            self._last_len = 0
        self.stream.write(message + "\n")
        self.stream.flush()
        if self._last is not None:
            self._draw(*self._last, time.monotonic())

    def finish(self) -> None:
        """Draw the last state if it is not shown yet, and end the line."""
        if self._last is not None and self._undrawn:
            self._draw(*self._last, time.monotonic())
        if self._last_len:
            self.stream.write("\n")
            self.stream.flush()
            self._last_len = 0
