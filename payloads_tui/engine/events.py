"""The event bus: job and configuration changes announced to subscribers.

Publishing never blocks and never fails: a subscriber is a plain callable invoked
synchronously, and must only hand the event on (the TUI posts a Textual message).
A subscriber that raises is logged and dropped from that publish, not from the bus.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from payloads_tui.domain.models import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobChanged:
    """A job was created (`created=True`) or changed status, results or attempts; `linked=True`: only
    its links changed (a retry or replay of it started), which no status log should print again."""

    job: Job
    created: bool = False
    linked: bool = False


@dataclass(frozen=True)
class ConfigChanged:
    """An integration (by slug; None for object schemas) was created, changed or deleted."""

    integration: str | None
    action: str = "update"


@dataclass(frozen=True)
class ServiceChanged:
    """The service started, stopped, or its listeners changed."""

    running: bool
    http: str | None = None
    smtp: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class AuthRejected:
    """An External API request or SMTP recipient was refused; shown to the operator."""

    integration: str
    where: str
    reason: str
    peer: str = ""


@dataclass(frozen=True)
class JobsPruned:
    """Old jobs were dropped from the log (`payloads jobs prune`, or retention): what shows them reads again."""

    dropped: int


Event = JobChanged | ConfigChanged | ServiceChanged | AuthRejected | JobsPruned
Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers; thread-safe."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add `subscriber`; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:  # noqa: BLE001 - a broken subscriber must not stop the service
                log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
