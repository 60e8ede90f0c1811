"""Automatic retention: the running service prunes the job log by the retention settings.

`limits.retention_days` and `limits.retention_jobs` (0: no limit) are applied a few
seconds after the service starts and then every `RETENTION_INTERVAL` seconds, in a
thread (pruning removes files). A prune with nothing to drop only reads the log's
in-memory segment list, so it never holds up a commit; one that drops segments says
so in the service log. `payloads jobs prune` applies the same settings by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from payloads_tui.domain.errors import PayloadsError

if TYPE_CHECKING:
    from payloads_tui.service.workspace import Workspace
    from payloads_tui.settings import Limits

log = logging.getLogger(__name__)

#: Seconds between two automatic prunes.
RETENTION_INTERVAL = 300.0
#: Seconds after the service starts before the first one (start-up has other work to do).
RETENTION_FIRST = 10.0


def retention_limits(limits: Limits) -> tuple[float | None, int | None]:
    """(days, jobs) to keep by the settings; None where a setting is 0 (no limit)."""
    return (limits.retention_days or None), (limits.retention_jobs or None)


class Retention:
    """Prunes `workspace`'s job log now and then while started; does nothing if no limit is set."""

    def __init__(
        self, workspace: Workspace, *, interval: float = RETENTION_INTERVAL, first: float = RETENTION_FIRST
    ) -> None:
        self.workspace = workspace
        self.interval = interval
        self.first = first
        self.dropped = 0  # jobs dropped since started (tests, status)
        self._task: asyncio.Task[None] | None = None
        self._pruning: asyncio.Future[int] | None = None  # the prune thread's result, while it runs

    @property
    def limits(self) -> tuple[float | None, int | None]:
        """(days, jobs) to keep; None where the setting is 0 (no limit)."""
        return retention_limits(self.workspace.settings.limits)

    def start(self) -> None:
        if self._task is None and self.limits != (None, None):
            self._task = asyncio.create_task(self._run(), name="payloads-retention")

    async def stop(self) -> None:
        """Stop pruning; a prune already running in its thread is waited for (the log closes next)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pruning = self._pruning
        if pruning is not None and not pruning.done():
            with contextlib.suppress(Exception):
                await pruning

    async def prune_now(self) -> int:
        """Apply the retention settings once; returns the jobs dropped (0 on a failure, which is logged)."""
        days, jobs = self.limits
        pruning = self._pruning = asyncio.ensure_future(
            asyncio.to_thread(self.workspace.prune_jobs, max_age_days=days, max_jobs=jobs))
        try:
            dropped = await asyncio.shield(pruning)  # a cancelled caller leaves it to `stop()`
        except PayloadsError as exc:
            log.warning("retention: the job log could not be pruned: %s", exc)
            return 0
        if dropped:
            self.dropped += dropped
            kept = ", ".join(filter(None, [
                f"the last {days:g} days" if days is not None else "",
                f"at most {jobs:,} jobs" if jobs is not None else "",
            ]))
            log.info("retention: dropped %d jobs (keeping %s)", dropped, kept)
        return dropped

    async def _run(self) -> None:
        await asyncio.sleep(self.first)
        while True:
            try:
                await self.prune_now()
            except Exception:  # noqa: BLE001 - a bug must not end retention for the service's lifetime
                log.exception("retention: pruning failed")
            await asyncio.sleep(self.interval)
