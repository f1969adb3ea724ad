"""The client-side ARM rate limiter, on a fake clock: it spends ARM's bucket, never more."""
from __future__ import annotations

from provision.throttle import ArmRateLimiter

SUB = "/subscriptions/6b0f5e5a-3c39-4d2f-8a4e-1f0c9d2b7a11/resourceGroups/rg/providers/x"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(clock, writes=(5.0, 2.0)):
    return ArmRateLimiter({"reads": (10.0, 5.0), "writes": writes}, sleep=clock.sleep, clock=clock)


def test_a_burst_is_the_bucket_then_the_refill_rate():
    clock = Clock()
    rl = limiter(clock)
    for _ in range(5 + 10):
        rl.before("PUT", SUB)
    # 5 from the bucket at once, then 10 more at 2 per second: 5 s, and never faster
    assert abs(clock.now - 5.0) < 1e-9


def test_reads_and_writes_and_subscriptions_have_their_own_buckets():
    clock = Clock()
    rl = limiter(clock)
    for _ in range(5):
        rl.before("PUT", SUB)
    for _ in range(10):
        rl.before("GET", SUB)
    for _ in range(5):
        rl.before("DELETE", SUB.replace("6b0f", "0000"))
    rl.before("GET", "https://login.microsoftonline.com/x/oauth2/v2.0/token")  # not metered
    assert clock.now == 0.0


def test_arms_remaining_header_lowers_the_bucket():
    clock = Clock()
    rl = limiter(clock)
    rl.after("PUT", SUB, 201, {"x-ms-ratelimit-remaining-subscription-writes": "0"})  # another client spent it
    rl.before("PUT", SUB)
    assert abs(clock.now - 0.5) < 1e-9  # one token at 2 per second


def test_a_429_holds_every_request_of_its_kind_for_retry_after():
    clock = Clock()
    rl = limiter(clock)
    rl.after("PUT", SUB, 429, {"Retry-After": "7"})
    rl.before("GET", SUB)
    assert clock.now == 0.0  # reads are not held
    rl.before("PUT", SUB)
    assert abs(clock.now - 7.0) < 1e-9 and rl.waited >= 7.0
