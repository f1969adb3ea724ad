"""Azure Resource Manager's rate, kept on the client side: throttling is weather, not a failure.

ARM meters each subscription (per principal) with token buckets: reads 250 tokens refilled at
25 per second, writes and deletes 200 at 10 per second (Microsoft's "how Resource Manager throttles
requests"). A fleet that sends faster gets 429s, and each 429 costs a retry and its Retry-After.
So every ARM request first takes a token from a bucket shaped like ARM's; every answer's
`x-ms-ratelimit-remaining-subscription-*` header lowers ours to what ARM says is left (another
client may be spending the same budget); a 429 empties it and holds every request of that kind
to that subscription for its Retry-After. Concurrency then adapts by itself: workers wait for
tokens instead of running into the limit. Pure Python, no SDK: the gateway wires it in as a
pipeline policy.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Callable, Mapping, Optional

READS = "reads"
WRITES = "writes"
ARM_BUCKETS = {READS: (250.0, 25.0), WRITES: (200.0, 10.0)}  # size, refill per second
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)


class TokenBucket:
    def __init__(self, size: float, refill: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.refill, self.clock = size, refill, clock
        self.tokens, self.stamp = size, clock()
        self.held_until = 0.0
        self.lock = threading.Lock()

    def _top_up(self, now: float) -> None:
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now

    def wait_time(self) -> float:
        """0 and a token taken, or how long to wait before asking again."""
        with self.lock:
            now = self.clock()
            if now < self.held_until:
                return self.held_until - now
            self._top_up(now)
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.refill

    def observe_remaining(self, remaining: float) -> None:
        with self.lock:
            self._top_up(self.clock())
            self.tokens = min(self.tokens, remaining)

    def hold(self, seconds: float) -> None:
        with self.lock:
            now = self.clock()
            self.tokens = 0.0
            self.stamp = now
            self.held_until = max(self.held_until, now + seconds)


class ArmRateLimiter:
    """One bucket per (subscription, reads|writes); shared by every thread of a run."""

    def __init__(self, buckets: Mapping[str, tuple[float, float]] = ARM_BUCKETS, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.shapes, self.sleep, self.clock = dict(buckets), sleep, clock
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self.lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for tokens (for --debug and the benchmark)

    def _bucket(self, url: str, method: str) -> Optional[TokenBucket]:
        m = _SUBSCRIPTION.search(url)
        if m is None:
            return None  # tenant-level calls (metadata, tokens) are not metered per subscription
        key = (m.group(1).lower(), _kind(method))
        with self.lock:
            if key not in self.buckets:
                self.buckets[key] = TokenBucket(*self.shapes[key[1]], clock=self.clock)
            return self.buckets[key]

    def before(self, method: str, url: str) -> None:
        bucket = self._bucket(url, method)
        while bucket is not None:
            wait = bucket.wait_time()
            if wait <= 0:
                return
            self.waited += wait
            self.sleep(wait)

    def after(self, method: str, url: str, status: int, headers: Mapping[str, str]) -> None:
        bucket = self._bucket(url, method)
        if bucket is None:
            return
        lowered = {k.lower(): v for k, v in headers.items()}
        remaining = lowered.get(f"x-ms-ratelimit-remaining-subscription-{_kind(method)}")
        if remaining is not None and remaining.strip().isdigit():
            bucket.observe_remaining(float(remaining))
        if status == 429:
            bucket.hold(_retry_after(lowered))


def _kind(method: str) -> str:
    return READS if method.upper() in ("GET", "HEAD") else WRITES


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds a 429 asks for (header names lower case)."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return 1.0
