"""A token bucket shared by every thread talking to a registry; a 429 pauses all of them at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
