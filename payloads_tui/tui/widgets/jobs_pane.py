"""Tab 2, Jobs: live inbound and outbound job logs of an integration, filterable."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Select, Static

from payloads_tui.domain.models import Integration, Job, JobKind
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.formatting import FAILURE_STATUSES, Clock, clock_time
from payloads_tui.tui.readonly import changes_data, read_only_reason
from payloads_tui.tui.widgets.form import set_options_keeping
from payloads_tui.tui.widgets.jobs_table import JobsTable
from payloads_tui.tui.widgets.pane import ItemKind, Pane
from payloads_tui.tui.widgets.quiet import update_if_changed

STATUS_CHOICES = [
    ("Failures", "failures"),
    ("Failed", "Failed"),
    ("Partially Completed", "Partially Completed"),
    ("Completed", "Completed"),
    ("Queued / Processing", "active"),
    ("Retrying", "Retrying"),
]
STATUS_SETS: dict[str, frozenset[str]] = {
    "failures": FAILURE_STATUSES,
    "active": frozenset({"Queued", "Processing"}),
}

QueryJobs = Callable[..., list[Job]]
#: Seconds of quiet after typing in the text filter before the tables reload.
TEXT_DEBOUNCE = 0.25


@dataclass(frozen=True)
class JobFilter:
    """What the Jobs tab shows: statuses, one payload, and text found in the job."""

    status: str | None = None
    payload: str | None = None
    text: str = ""

    @property
    def statuses(self) -> frozenset[str] | None:
        if self.status is None:
            return None
        return STATUS_SETS.get(self.status, frozenset({self.status}))

    def matches(self, job: Job) -> bool:
        statuses = self.statuses
        if statuses is not None and job.status not in statuses:
            return False
        if self.payload and job.payload != self.payload:
            return False
        if self.text:
            needle = self.text.lower()
            response = job.response.message if job.response is not None else ""
            haystack = " ".join(filter(None, (job.number, job.payload, job.status, job.source, job.error, job.note, response)))
            return needle in haystack.lower()
        return True

    def describe(self) -> str:
        parts = []
        if self.status:
            parts.append(dict((v, k) for k, v in STATUS_CHOICES).get(self.status, self.status).lower())
        if self.payload:
            parts.append(self.payload)
        if self.text:
            parts.append(f"“{self.text}”")
        return " · ".join(parts)


class JobsPane(Pane):
    """Filter bar, then the inbound and the outbound jobs, each a live `JobsTable`."""

    TABLE_KINDS: dict[str, ItemKind] = {"inbound-jobs": "job", "outbound-jobs": "job"}
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "failures", "Failures"),
        Binding("R", "retry", "Retry"),
        Binding("P", "replay", "Replay"),
        Binding("ctrl+r", "read_again", "Read again", show=False),
    ]

    def __init__(self, *, clock: Clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.slug = ""
        self.query_jobs: QueryJobs | None = None
        self.filter = JobFilter()
        self._payload_names: tuple[str, ...] = ()
        self._text_timer: Timer | None = None
        self._read_at = 0.0  # when the tables were last read (what a read-only console shows)

    def compose(self) -> ComposeResult:
        with Horizontal(id="jobs-filter"):
            yield Select(STATUS_CHOICES, prompt="any status", id="jobs-filter-status", compact=True)
            yield Select([], prompt="any payload", id="jobs-filter-payload", compact=True)
            yield Input(placeholder="text in number, payload, error, subject…", id="jobs-filter-text", compact=True)
        yield Static("", id="inbound-jobs-title", classes="table-title")
        yield JobsTable("inbound", clock=self.clock, id="inbound-jobs")
        yield Static("", id="outbound-jobs-title", classes="table-title")
        yield JobsTable("outbound", clock=self.clock, id="outbound-jobs")

    def on_mount(self) -> None:
        self.query_one("#jobs-filter").display = False

    def tables(self) -> list[JobsTable]:
        return list(self.query(JobsTable))

    # --- data from the screen ------------------------------------------------------------

    def show(self, integration: Integration, query_jobs: QueryJobs) -> None:
        """Point the tables at `integration` (reloading them only the first time or on a new filter)."""
        first = self.query_jobs is None or self.slug != integration.slug
        self.slug, self.query_jobs = integration.slug, query_jobs
        names = tuple(sorted({p.name for p in integration.inbound} | {p.name for p in integration.outbound}))
        if names != self._payload_names:
            self._payload_names = names
            set_options_keeping(self.query_one("#jobs-filter-payload", Select), [(name, name) for name in names])
        if first:
            self.reload()

    def reload(self) -> None:
        self._read_at = self.clock()
        for table in self.tables():
            table.fetch = self._fetcher(table.kind)
            table.reload()
        self._show_titles()

    def action_read_again(self) -> None:
        """Read the jobs again: a read-only console gets no events, so its tables stay as last read."""
        if read_only_reason(self.app) is not None:
            attempt(self, "read the job log again", self.app.workspace.read_jobs_again)  # type: ignore[attr-defined]
        reload_screen = getattr(self.screen, "reload", None)
        if reload_screen is not None:
            reload_screen()  # the highlights' figures too
        self.reload()

    def _fetcher(self, kind: JobKind) -> Callable[[str | None, int], list[Job]]:
        def fetch(before: str | None, limit: int) -> list[Job]:
            if self.query_jobs is None:
                return []
            statuses: Collection[str] | None = self.filter.statuses
            return self.query_jobs(kind, integration=self.slug, statuses=statuses,
                                   payload=self.filter.payload, text=self.filter.text or None,
                                   limit=limit, before=before)

        return fetch

    def apply(self, jobs: Iterable[Job]) -> None:
        mine = [job for job in jobs if job.integration == self.slug]
        if not mine:
            return
        for table in self.tables():
            table.apply(mine, self.filter.matches)
        self._show_titles()

    # --- titles --------------------------------------------------------------------------

    def _show_titles(self) -> None:
        described = self.filter.describe()
        for table in self.tables():
            name = "Inbound jobs" if table.kind == "inbound" else "Outbound jobs"
            if read_only_reason(self.app) is not None:  # no service sends events: nothing new arrives
                state = f"○ read-only, as read at {clock_time(self._read_at)} · ctrl+r reads again"
            elif table.paused:
                state = f"⏸ paused — {table.pending} new · g: back to top" if table.pending else "⏸ paused · g: back to top"
            else:
                state = "● live"
            shown = f" · {len(table.numbers)}{'+' if table.has_more else ''} shown"
            where = f" · filter: {described}" if described else ""
            title = self.query_one(f"#{table.id}-title", Static)
            update_if_changed(title, f"{name} · {state}{shown}{where}")
            title.set_class(table.paused, "-paused")

    def on_jobs_table_paused(self, event: JobsTable.Paused) -> None:
        event.stop()
        self._show_titles()

    # --- filter --------------------------------------------------------------------------

    def set_filter(self, new: JobFilter) -> None:
        if new == self.filter:
            return
        self.filter = new
        self.reload()

    def action_filter(self) -> None:
        bar = self.query_one("#jobs-filter")
        bar.display = True
        self.query_one("#jobs-filter-text", Input).focus()

    def action_failures(self) -> None:
        status = None if self.filter.status == "failures" else "failures"
        select = self.query_one("#jobs-filter-status", Select)
        with select.prevent(Select.Changed):
            select.value = status if status else Select.NULL
        self.set_filter(replace(self.filter, status=status))
        self.notify("Failures only." if status else "All statuses.", timeout=2)

    def clear_filter(self) -> bool:
        """Hide the filter bar and show everything; False if there was nothing to clear."""
        bar = self.query_one("#jobs-filter")
        if not bar.display and self.filter == JobFilter():
            return False
        bar.display = False
        for select_id in ("#jobs-filter-status", "#jobs-filter-payload"):
            select = self.query_one(select_id, Select)
            with select.prevent(Select.Changed):
                select.value = Select.NULL
        text = self.query_one("#jobs-filter-text", Input)
        with text.prevent(Input.Changed):
            text.value = ""
        self.set_filter(JobFilter())
        self.tables()[0].focus()
        return True

    @on(Select.Changed, "#jobs-filter-status")
    def _status_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        self.set_filter(replace(self.filter, status=value))

    @on(Select.Changed, "#jobs-filter-payload")
    def _payload_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else str(event.value)
        self.set_filter(replace(self.filter, payload=value))

    @on(Input.Changed, "#jobs-filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        if self._text_timer is not None:
            self._text_timer.stop()
        text = event.value.strip()
        self._text_timer = self.set_timer(TEXT_DEBOUNCE, lambda: self.set_filter(replace(self.filter, text=text)))

    @on(Input.Submitted, "#jobs-filter-text")
    def _text_submitted(self) -> None:
        self.tables()[0].focus()

    # --- keys on a job -------------------------------------------------------------------

    @changes_data
    def action_retry(self) -> None:
        self.request("retry")

    @changes_data
    def action_replay(self) -> None:
        self.request("replay")
