"""Registry pacing: a token bucket per host (a 429 pauses every thread talking to that host) and the retry policy."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx


class TokenBucket:
    """At most `rate` requests per second on average, bursts of up to `burst`; `pause()` stops everyone."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def _wait_time(self) -> float:
        """Take a token if one is there (returns 0), else say how long to wait; caller holds the lock."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        # The tolerance keeps float rounding from turning a due token into an endless series of tiny sleeps.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def acquire(self) -> None:
        """Block until this thread may send one request."""
        while True:
            with self._lock:
                wait = self._wait_time()
            if wait <= 0:
                return
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Stop every thread for `seconds` (a 429 with Retry-After); later pauses extend, never shorten."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if until > self._paused_until:
                self._paused_until = until
                self.pauses += 1
            # Nothing saved up may be spent right after the pause: restart the bucket empty.
            self._tokens = 0.0
            self._stamp = max(self._stamp, self._paused_until)


class HostLimits:
    """One TokenBucket per registry host: a 429 from one region (us-east1-docker.pkg.dev) pauses that region only."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1, int(rate))
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str) -> TokenBucket:
        """The bucket of host (created on first use)."""
        with self._lock:
            bucket = self._buckets.get(host)
            if bucket is None:
                bucket = self._buckets[host] = TokenBucket(self.rate, self.burst)
            return bucket

    @property
    def pauses(self) -> int:
        """How many 429 pauses all hosts took together."""
        with self._lock:
            return sum(b.pauses for b in self._buckets.values())

    def paused_hosts(self) -> list[str]:
        """The hosts that had to pause at least once."""
        with self._lock:
            return sorted(h for h, b in self._buckets.items() if b.pauses)


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request may keep retrying: exponential backoff with jitter inside a total time budget.

    The default budget follows the original promoter (30 s doubling over 6 steps, ~12 min in all): a quota
    exhausted for a few minutes is ridden out, a registry that stays down fails in bounded time.
    """

    budget: float = 600.0
    initial: float = 0.5
    cap: float = 60.0
    attempts: int | None = None  # an extra cap on attempts (tests); None means the budget alone decides
    # A refused connection or unknown host is more often a wrong address than an outage: give up sooner.
    connect_budget: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); Retry-After wins when the server sent it."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.cap, self.initial * 2 ** (attempt - 1))
        # Full jitter on the upper half: threads that failed together do not come back together.
        return random.uniform(ceiling / 2, ceiling)


def retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """The server's Retry-After in seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now()) if when.tzinfo else None


class RetryableResponse(Exception):
    """A 429 or 5xx from the registry or its token service (`source` names the latter); worth another attempt."""

    def __init__(self, response: httpx.Response, source: str = "") -> None:
        super().__init__(response.status_code)
        self.response = response
        self.status = response.status_code
        self.source = source


def is_retryable_status(status: int) -> bool:
    """429 (quota) and 5xx (server trouble) are transient; everything else is an answer."""
    return status == 429 or status >= 500
