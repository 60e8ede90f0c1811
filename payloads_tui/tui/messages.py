"""Messages from the service and the workspace to the screens, posted in one place (`bridge.py`).

Widgets' own messages (`JobSelected`, `PayloadSaved`, …) are nested in the widget that
sends them; these are the app-wide ones every screen may listen to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message

from payloads_tui.domain.errors import PayloadsError
from payloads_tui.domain.models import Job


class JobsChanged(Message):
    """Jobs were created or changed since the last batch (newest state of each, at most ~10 batches/s)."""

    def __init__(self, jobs: tuple[Job, ...]) -> None:
        super().__init__()
        self.jobs = jobs


class ConfigUpdated(Message):
    """An integration (by slug; None for object schemas) was created, changed or deleted."""

    def __init__(self, integration: str | None, action: str) -> None:
        super().__init__()
        self.integration = integration
        self.action = action


class ServiceUpdated(Message):
    """The service started, stopped or failed; `status` is `Workspace.service_status()`."""

    def __init__(self, status: dict[str, Any], error: str | None = None) -> None:
        super().__init__()
        self.status = status
        self.error = error


class CallFailed(Message):
    """A workspace call made for the user failed; the app shows it unless a screen stops it."""

    def __init__(self, error: PayloadsError, doing: str) -> None:
        super().__init__()
        self.error = error
        self.doing = doing


class BundleExported(Message):
    """An integration was written to a bundle file."""

    def __init__(self, slug: str, path: Path, with_secrets: bool) -> None:
        super().__init__()
        self.slug = slug
        self.path = path
        self.with_secrets = with_secrets


class BundleImported(Message):
    """A bundle was imported; `result` is the workspace's `ImportResult`."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


class JobsStarted(Message):
    """Jobs were started from the console (run, retry, replay); `what` says how."""

    def __init__(self, jobs: list[Job], what: str) -> None:
        super().__init__()
        self.jobs = jobs
        self.what = what


class EmailSent(Message):
    """A test email went through the local SMTP receiver; `reply` is the server's answer."""

    def __init__(self, to: list[str], reply: str) -> None:
        super().__init__()
        self.to = to
        self.reply = reply


class RequestRefused(Message):
    """The service refused a request or recipient for `integration` ('' when no integration was named)."""

    def __init__(self, integration: str) -> None:
        super().__init__()
        self.integration = integration


class JobsDropped(Message):
    """Old jobs were dropped from the log (a prune): tables and figures that show them read again."""

    def __init__(self, dropped: int) -> None:
        super().__init__()
        self.dropped = dropped


class WorkspaceSwitched(Message):
    """The console now reads and changes things through another workspace (its attached service stopped, or
    one started): every screen shows it afresh, and its keys follow (a read-only console's are fewer)."""
