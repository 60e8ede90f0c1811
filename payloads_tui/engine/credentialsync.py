"""Writes back what using a credential changes: `last_used`, and OAuth tokens obtained.

Refreshed tokens are the service's bookkeeping, not a user's change: saved without
a history entry.

Both are small config saves done in a worker thread, off the request path; a failure
is logged and never fails a job. `last_used` is saved at most once a minute per
credential, so a busy payload does not rewrite the configuration per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from payloads_tui.domain.models import Credential, now
from payloads_tui.store.config import ConfigStore

log = logging.getLogger(__name__)

#: `last_used` of a credential is saved at most this often (seconds).
LAST_USED_EVERY = 60.0


class CredentialSync:
    """Background saves of credential bookkeeping; `drain()` waits for those in flight."""

    def __init__(self, config: ConfigStore) -> None:
        self._config = config
        self._last_used: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def used(self, slug: str, credential: Credential) -> None:
        """A request used `credential`: save `last_used` unless it was saved within the minute."""
        key = (slug, credential.id)
        at = now()
        if at - self._last_used.get(key, 0.0) < LAST_USED_EVERY:
            return
        self._last_used[key] = at
        self._spawn(slug, credential.id, lambda c: setattr(c, "last_used", at))

    def token_obtained(self, slug: str, updated: Credential) -> None:
        """An OAuth token was fetched: persist the credential's new (encrypted) tokens and expiry."""

        def adopt(credential: Credential) -> None:
            credential.secrets = dict(updated.secrets)
            credential.fields = dict(updated.fields)

        self._spawn(slug, updated.id, adopt, history=False)

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the saves in flight."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=timeout)

    def _spawn(
        self, slug: str, credential_id: str, change: Callable[[Credential], None], *, history: bool = True
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._save, slug, credential_id, change, history))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _save(self, slug: str, credential_id: str, change: Callable[[Credential], None], history: bool) -> None:
        try:
            integration = self._config.get(slug)
            credential = next((c for c in integration.credentials if c.id == credential_id), None)
            if credential is None:
                return
            change(credential)
            self._config.save(integration, history=history)
        except Exception:  # noqa: BLE001 - bookkeeping must not fail a job
            log.warning("a credential of %s could not be updated", slug, exc_info=True)
