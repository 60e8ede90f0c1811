"""How the console writes times, statuses and long text in cells: one place for every screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text

from payloads_tui.domain.models import CONTENT_TYPE_LABELS, INITIATED_LABELS
from payloads_tui.domain.terminaltext import printable

#: Seconds since the epoch, UTC; injected so tests and snapshots can fix "now".
Clock = Callable[[], float]

#: Shortest timer delay: Textual's timers cannot take 0 (they divide by it).
MIN_DELAY = 0.001

#: Job statuses an operator counts as failures (the `f` filter, "failures" figures).
FAILURE_STATUSES: frozenset[str] = frozenset({"Failed", "Partially Completed"})

STATUS_STYLES: dict[str, str] = {
    "Completed": "green",
    "Partially Completed": "yellow",
    "Failed": "bold red",
    "Processing": "cyan",
    "Queued": "dim cyan",
    "Retrying": "magenta",
    "Cancelled": "dim",
}

ELLIPSIS = "…"


def jobs_and_failures(counts: dict[str, int]) -> tuple[int, int]:
    """(jobs, failures) from `Workspace.job_counts()` (counts by status, maybe with a total)."""
    statuses = {k: v for k, v in counts.items() if k != "total"}
    total = counts.get("total", sum(statuses.values()))
    return total, sum(v for k, v in statuses.items() if k in FAILURE_STATUSES)


def status_text(status: str) -> Text:
    """A job status, coloured so failures stand out at a glance."""
    return Text(status, style=STATUS_STYLES.get(status, ""), no_wrap=True, end="")


def clip(value: Any, width: int) -> str:
    """`value` as one line of at most `width` cells, ending in … when cut."""
    text = "" if value is None else printable(str(value))  # record values come from webhooks and emails
    text = " ".join(text.split())
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def clock_time(epoch: float) -> str:
    """`14:03:27`: a time of day, local."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def start_of_day(now: float) -> float:
    """Local midnight of the day `now` falls on."""
    lt = time.localtime(now)
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))


def format_moment(epoch: float | None, now: float) -> str:
    """`14:03:22` today, `Nov 26 14:03` this year, `2024-11-26` before."""
    if not epoch:
        return "—"
    moment = time.localtime(epoch)
    today = time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M:%S", moment)
    if moment.tm_year == today.tm_year:
        return time.strftime("%b %d %H:%M", moment)
    return time.strftime("%Y-%m-%d", moment)


def format_ago(epoch: float | None, now: float) -> str:
    """How long ago `epoch` was, in the largest whole unit: `42s ago`, `3m ago`, `2d ago`."""
    if not epoch:
        return "never"
    seconds = max(0, int(now - epoch))
    if seconds < 5:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_duration(seconds: float | None) -> str:
    """`850 ms`, `2.4 s`, `3m 05s`."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def format_size(size: int) -> str:
    """`512 B`, `14.2 KB`, `3.1 MB`."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def content_type_label(kind: str) -> str:
    return CONTENT_TYPE_LABELS.get(kind, kind)


def initiated_label(kind: str) -> str:
    return INITIATED_LABELS.get(kind, kind)


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def mask(value: str | None) -> str:
    """What a stored secret looks like on screen."""
    return "••••••••" if value else ""
