"""Token buckets for flood limits, kept in memory; time is passed in, so tests need no sleep."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """Allow `burst` actions at once and `rate` per second after that, per key."""

    rate: float
    burst: float
    max_keys: int = 100_000
    _buckets: dict[object, tuple[float, float]] = field(default_factory=dict)

    def _level(self, key: object, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def wait(self, key: object, now: float, cost: float = 1.0) -> float:
        """The seconds until `cost` tokens are there, spending nothing.

        A cost above the burst could never be met, so it costs the whole bucket instead.
        """
        cost = min(cost, self.burst)
        tokens = self._level(key, now)
        return 0.0 if tokens >= cost else (cost - tokens) / self.rate

    def take(self, key: object, now: float, cost: float = 1.0) -> float:
        """Spend `cost` tokens (as in `wait`); return 0 when allowed, else the seconds to wait."""
        wait = self.wait(key, now, cost)
        tokens = self._level(key, now)
        if wait:
            self._buckets[key] = (tokens, now)
            return wait
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory: forgetting buckets only forgives
        self._buckets[key] = (tokens - min(cost, self.burst), now)
        return 0.0

    @staticmethod
    def retry_after(wait: float) -> int:
        return max(1, math.ceil(wait))
