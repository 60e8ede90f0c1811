"""A group-commit batch of the job log: the lines it carries and who waits for them.

Callers append to the open batch; the writer thread takes it whole once it is *ready*,
writes it with one `write` and one `fdatasync`, then wakes every waiter at once:
threads through an `Event`, each asyncio loop through a single `call_soon_threadsafe`
that resolves all of that loop's futures (one wake-up per loop per batch, not per job).

A batch filled from an event loop becomes ready at the end of the loop iteration that
queued into it (a `call_soon` "kick" runs after every callback already scheduled), so
all the handlers woken together land in one batch, and the writer runs while the loop
sleeps instead of fighting it for the GIL. A batch filled from another thread is ready
at once. A loop may also commit a batch only it waits for itself (`JobLog.commit_on_loop`).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from payloads_tui.domain.errors import StoreError


class Batch:
    """Job versions and number reservations written together, and their waiters."""

    __slots__ = ("items", "done", "error", "waiters", "ready", "kicks")

    def __init__(self) -> None:
        #: `("job", entry)` or `("reserve", kind, upto)`, in the order they were queued.
        self.items: list[tuple[Any, ...]] = []
        self.done = threading.Event()
        self.error: StoreError | None = None
        self.waiters: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        #: Whether the writer may take the batch now.
        self.ready = False
        #: Loops that have a kick scheduled for this batch.
        self.kicks: set[asyncio.AbstractEventLoop] = set()

    def add_waiter(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        future: asyncio.Future[None] = loop.create_future()
        self.waiters.setdefault(loop, []).append(future)
        return future

    def wait(self) -> None:
        """Block the calling thread until the batch is durable; raise its error if it failed."""
        self.done.wait()
        if self.error is not None:
            raise StoreError(str(self.error))

    def wake(self, here: asyncio.AbstractEventLoop | None = None) -> None:
        """Resolve every waiter (called once, after `done` is set): those of `here`, the caller's
        running loop, at once; those of other loops through their `call_soon_threadsafe`."""
        for loop, futures in self.waiters.items():
            if loop is here:
                _resolve(futures, self.error)
                continue
            try:
                loop.call_soon_threadsafe(_resolve, futures, self.error)
            except RuntimeError:  # that loop is closed; nobody is waiting there any more
                pass


def _resolve(futures: list[asyncio.Future[None]], error: StoreError | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(StoreError(str(error)))
