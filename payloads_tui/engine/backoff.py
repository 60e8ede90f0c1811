"""Delays between attempts of an outbound request: exponential backoff with jitter, or Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass

from payloads_tui.domain.models import Job
from payloads_tui.engine.outbound import is_retryable


@dataclass(frozen=True)
class Backoff:
    """Delays `base * factor**(n-1)`, capped at `cap`, each shortened by up to `jitter` at random.

    A server's Retry-After is honoured instead, capped at `cap` too. Tests use a tiny
    `base` so retries take milliseconds.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25

    def delay(self, failures: int, hint: float | None = None) -> float:
        """Seconds to wait after `failures` failed attempts in a row; `hint` is a Retry-After."""
        if hint is not None:
            return min(max(hint, 0.0), self.cap)
        raw = min(self.cap, self.base * self.factor ** max(failures - 1, 0))
        return raw * (1.0 - self.jitter * random.random())


def trailing_failures(job: Job) -> int:
    """Failed attempts at the end of `job.attempts` (errors, 429 and 5xx answers): they count against the limit."""
    count = 0
    for attempt in reversed(job.attempts):
        if attempt.error is None and not (attempt.response_code and is_retryable(attempt.response_code)):
            break
        count += 1
    return count
