"""Service events → Textual messages, in one place, coalesced so bursts never flood the UI.

The workspace's event bus calls `EventBridge.receive` from whatever thread published
(the service's loop, an executor thread). Job changes are gathered (the newest state of
each job wins) and handed to the app at most `rate` times a second as one batch;
configuration and service changes are posted at once (they are rare).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual.app import App
from textual.message import Message

from payloads_tui.domain.models import Job
from payloads_tui.service.events import AuthRejected, ConfigChanged, JobChanged, JobsPruned, ServiceChanged

#: Batches of job changes per second, at most.
DEFAULT_RATE = 10.0


class JobsPending(Message):
    """Job changes are waiting in the bridge; the app arms a flush timer once per batch."""


class AuthRefused(Message):
    """An External API request or an SMTP recipient was refused."""

    def __init__(self, event: AuthRejected) -> None:
        super().__init__()
        self.event = event


class ServiceEventArrived(Message):
    """The service started or stopped (the app asks the workspace for the full status)."""

    def __init__(self, event: ServiceChanged) -> None:
        super().__init__()
        self.event = event


class ConfigEventArrived(Message):
    """An integration changed (possibly in another part of the app, or by the service)."""

    def __init__(self, event: ConfigChanged) -> None:
        super().__init__()
        self.event = event


class JobsPrunedArrived(Message):
    """Old jobs were dropped from the log: tables and figures read again."""

    def __init__(self, event: JobsPruned) -> None:
        super().__init__()
        self.event = event


class EventBridge:
    """Subscribes to a workspace's events and hands them to `app` as messages."""

    def __init__(self, app: App[object], rate: float = DEFAULT_RATE) -> None:
        self.app = app
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._pending: dict[str, Job] = {}
        self._relinked: set[str] = set()  # pending jobs whose only change is a new link
        #: the jobs of the last `take()` whose only change was a link: nothing to notify about them
        self.relinked: frozenset[str] = frozenset()
        self._armed = False
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, subscribe: Callable[[Callable[[object], None]], Callable[[], None]]) -> None:
        self._unsubscribe = subscribe(self.receive)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def receive(self, event: object) -> None:
        """Called by the event bus on any thread; only hands the event on."""
        if isinstance(event, JobChanged):
            with self._lock:
                number = event.job.number
                if event.linked and number not in self._pending:
                    self._relinked.add(number)
                elif not event.linked:
                    self._relinked.discard(number)
                self._pending[number] = event.job
                if self._armed:
                    return
                self._armed = True
            self.app.post_message(JobsPending())
        elif isinstance(event, ConfigChanged):
            self.app.post_message(ConfigEventArrived(event))
        elif isinstance(event, ServiceChanged):
            self.app.post_message(ServiceEventArrived(event))
        elif isinstance(event, AuthRejected):
            self.app.post_message(AuthRefused(event))
        elif isinstance(event, JobsPruned):
            self.app.post_message(JobsPrunedArrived(event))

    def take(self) -> tuple[Job, ...]:
        """The jobs gathered since the last batch, oldest change first; re-arms the bridge."""
        with self._lock:
            jobs = tuple(self._pending.values())
            self.relinked = frozenset(self._relinked)
            self._pending.clear()
            self._relinked.clear()
            self._armed = False
        return jobs
