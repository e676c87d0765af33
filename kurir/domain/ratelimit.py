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

    def wait(self, key: object, now: float, cost: float = 1.0) -> float:
        """The seconds until `cost` tokens are there, spending nothing."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= cost else (cost - tokens) / self.rate

    def take(self, key: object, now: float, cost: float = 1.0) -> float:
        """Spend `cost` tokens; return 0 when allowed, else the seconds to wait."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory: forgetting buckets only forgives
        self._buckets[key] = (tokens - cost, now)
        return 0.0

    @staticmethod
    def retry_after(wait: float) -> int:
        return max(1, math.ceil(wait))
