"""Per-client-address rate limiting for the public verification routes.

Report numbers are guessable and codes are short, so an unthrottled verifier would let anyone
enumerate reports; a token bucket per address makes that hopeless while a real verifier, who
makes a handful of requests, never notices it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_full(self, now: float) -> None:
        """Drop clients whose bucket has refilled: forgetting them changes nothing."""
        self._buckets = {
            client: b
            for client, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate < self.burst
        }
