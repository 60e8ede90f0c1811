"""Refused requests as an operator reads them: the first at once, then a digest; and a record.

A sender with a wrong secret retries fast, and a line (or a console notification) per
refusal would bury everything else. `RefusalDigest` lets one through per `interval`
and counts the rest; the caller asks `flush()` an `interval` after one was held back,
so the count of the last burst is shown too instead of being lost.

Notifications go away; `RecentRefusals` keeps the newest refusals of the running
service (in memory, `KEPT` of them), so an operator who looked away can still see that
a partner's webhooks are being refused, and why.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from payloads_tui.engine.events import AuthRejected

#: Seconds between two refusals shown one by one.
REFUSAL_INTERVAL = 2.0


@dataclass(frozen=True)
class RefusalNotice:
    """What to show: the integration refused for (may be empty) and one line of text."""

    integration: str
    text: str


def describe(event: AuthRejected) -> str:
    """`POST /api/stripe/customers from 127.0.0.1:5312: missing Stripe-Signature header`."""
    peer = f" from {event.peer}" if event.peer else ""
    return f"{event.where}{peer}: {event.reason}"


class RefusalDigest:
    """Decides which refusals are shown and counts the ones held back."""

    def __init__(self, interval: float = REFUSAL_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last_shown = float("-inf")
        self._held = 0
        self._last_held: AuthRejected | None = None
        self._held_for: set[str] = set()

    @property
    def held(self) -> int:
        """Refusals held back since the last notice."""
        return self._held

    def offer(self, event: AuthRejected) -> RefusalNotice | None:
        """The notice to show for `event` now, or None when it is held back (then call `flush()` later)."""
        now = self._clock()
        if now - self._last_shown < self.interval:
            self._held += 1
            self._last_held = event
            self._held_for.add(event.integration)
            return None
        more = f" (and {self._held} more before it)" if self._held else ""
        self._forget_held(now)
        return RefusalNotice(event.integration, describe(event) + more)

    def flush(self) -> RefusalNotice | None:
        """A notice counting the refusals held back since the last one shown; None if there were none."""
        last = self._last_held
        if not self._held or last is None:
            return None
        count, integrations = self._held, self._held_for
        self._forget_held(self._clock())
        if count == 1:
            return RefusalNotice(last.integration, describe(last))
        last_for = f"{last.integration}: " if last.integration and len(integrations) > 1 else ""
        return RefusalNotice(
            last.integration if len(integrations) == 1 else "",  # a count over several integrations is no one's
            f"{count} more refusals; the last: {last_for}{describe(last)}",
        )

    def _forget_held(self, shown_at: float) -> None:
        self._last_shown, self._held, self._last_held, self._held_for = shown_at, 0, None, set()


#: Refusals a running service remembers.
KEPT = 500


class Refusal(msgspec.Struct, frozen=True):
    """One refused request or recipient, as `RecentRefusals` keeps it."""

    at: float
    integration: str
    where: str
    reason: str
    peer: str = ""


class RecentRefusals:
    """The newest refusals, and how many came in each of the last two days' hours (an event bus
    subscriber; any thread). The counts go beyond the refusals kept, so a burst is counted whole."""

    def __init__(self, kept: int = KEPT, clock: Callable[[], float] = time.time) -> None:
        self._kept: deque[Refusal] = deque(maxlen=kept)
        self._hourly: dict[tuple[str, int], int] = {}  # (integration, hour since the epoch) → refusals
        self._lock = threading.Lock()
        self._clock = clock

    def offer(self, event: object) -> None:
        if isinstance(event, AuthRejected):
            refusal = Refusal(self._clock(), event.integration, event.where, event.reason, event.peer)
            hour = int(refusal.at // 3600)
            with self._lock:
                self._kept.append(refusal)
                key = (event.integration, hour)
                if key not in self._hourly:
                    self._hourly = {k: n for k, n in self._hourly.items() if k[1] > hour - 48}
                self._hourly[key] = self._hourly.get(key, 0) + 1

    def count(self, *, integration: str, since: float) -> int:
        """Refusals for `integration` in the hours from the one holding `since` on (at most two days back)."""
        first = int(since // 3600)
        with self._lock:
            return sum(n for (name, hour), n in self._hourly.items() if name == integration and hour >= first)

    def newest(self, *, integration: str | None = None, since: float | None = None,
               limit: int | None = None) -> list[Refusal]:
        """Newest first; of `integration` only (None: every one), at or after `since`."""
        with self._lock:
            kept = list(self._kept)
        found = [r for r in reversed(kept) if (integration is None or r.integration == integration)
                 and (since is None or r.at >= since)]
        return found if limit is None else found[:limit]
