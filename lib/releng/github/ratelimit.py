"""GitHub's rate limits and transient failures, retried the way krel learned to (issues #979, #2225)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")

SECONDARY_WAIT = 60.0  # krel PR #2324: sleep 60 s plus up to 30 s of jitter on the secondary limit
SECONDARY_JITTER = 30.0
ATTEMPTS = 6


class RetryableError(Exception):
    """Raised inside a source call to ask for another attempt after `wait` seconds."""

    def __init__(self, reason: str, wait: float, backoff: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.backoff = backoff  # transient errors double their wait per attempt; rate-limit waits are exact


@dataclass(frozen=True)
class Policy:
    """How long to wait; tests shrink the waits and replace sleep."""

    secondary_wait: float = SECONDARY_WAIT
    secondary_jitter: float = SECONDARY_JITTER
    server_error_wait: float = 1.0
    attempts: int = ATTEMPTS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


def classify(status: int, headers: Mapping[str, str], message: str, policy: Policy) -> RetryableError | None:
    """A RetryableError for rate limits (primary: until reset; secondary: 60 s + jitter) and 5xx, else None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    text = message.lower()
    if status in (403, 429):
        if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
            reset = float(lowered["x-ratelimit-reset"])
            return RetryableError("primary rate limit", max(0.0, reset - policy.clock()) + 1.0)
        if "retry-after" in lowered:
            return RetryableError("secondary rate limit", float(lowered["retry-after"]))
        if "secondary rate limit" in text or "abuse" in text or status == 429:
            jitter = random.uniform(0, policy.secondary_jitter)
            return RetryableError("secondary rate limit", policy.secondary_wait + jitter)
        return None
    if status >= 500:
        return RetryableError(f"server error {status}", policy.server_error_wait, backoff=True)
    return None


def call(fn: Callable[[], T], policy: Policy) -> T:
    """Run fn, retrying on RetryableError with the wait it names, up to policy.attempts times."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, RetryableError):
            return policy.server_error_wait
        return exc.wait * 2 ** (state.attempt_number - 1) if exc.backoff else exc.wait

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RetryableError),
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=wait,
        sleep=policy.sleep,
        reraise=True,
    )
    return retrying(fn)
