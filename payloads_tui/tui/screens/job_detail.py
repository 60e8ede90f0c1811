"""`JobDetailScreen`: everything logged about one job, and retry / replay.

Status line, timings and attempts; the request and the response (headers, body
highlighted by content type; large bodies read from their blob in a worker); the data
queried; each record written or its error; links to related jobs (enter follows them).
The screen follows the job live while it changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from payloads_tui.domain.emailjob import attachment_text, attachments_of, envelope_text
from payloads_tui.domain.models import FINISHED_STATUSES, NOT_WRITTEN, Job
from payloads_tui.domain.terminaltext import printable
from payloads_tui.domain.words import counted
from payloads_tui.tui.calls import attempt, workspace_work
from payloads_tui.tui.formatting import format_duration, format_moment, status_text
from payloads_tui.tui.messages import JobsChanged, WorkspaceSwitched
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data
from payloads_tui.tui.screens.base import ConsoleScreen
from payloads_tui.tui.screens.integration_actions import replay_job, retry_job
from payloads_tui.tui.widgets.exchange_view import render_exchange
from payloads_tui.tui.widgets.scrolling import KeyScroll

#: Characters of the data queried shown (the rest is a `jobs show --json` away).
DATA_SHOWN = 64 * 1024
from payloads_tui.tui.widgets.topbar import TopBar

#: Per-record results listed, at most.
RESULTS_SHOWN = 500
#: An email's attachments listed in the summary, at most.
ATTACHMENTS_SHOWN = 5


class BodiesRead(Message):
    """The full request and response bodies of a job, read from the job log."""

    def __init__(self, number: str, request: bytes | None, response: bytes | None,
                 data: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.number = number
        self.request = request
        self.response = response
        self.data = data


def summary(job: Job, now: float) -> Text:
    line = Text.assemble((job.number, "bold"), "  ")
    line.append_text(status_text(job.status))
    line.append(f"  {job.payload}", style="bold")
    if job.summary:
        line.append(f"\n{printable(job.summary)}")
    took = ""
    if job.status in FINISHED_STATUSES:  # the whole run, retries' waits included; not a link added later
        took = f" · took {format_duration(job.timings.get('total', job.modified - job.created))}"
    line.append(f"\nsource {job.source} · created {format_moment(job.created, now)} · "
                f"modified {format_moment(job.modified, now)}{took}", style="dim")
    if envelope := envelope_text(job):
        line.append(f"\nenvelope {envelope}", style="dim")
    attachments = attachments_of(job)
    for attachment in attachments[:ATTACHMENTS_SHOWN]:
        line.append(f"\nattachment {attachment_text(attachment)}", style="dim")
    if len(attachments) > ATTACHMENTS_SHOWN:
        line.append(f"\n… {counted(len(attachments) - ATTACHMENTS_SHOWN, 'more attachment')} "
                    f"(payloads jobs show {job.number} lists them all)", style="dim")
    line.append(f"\nrecords processed {job.records_processed}")
    if job.records_failed:
        line.append(f" · failed {job.records_failed}", style="bold red")
    if job.next_attempt_at:
        line.append(f" · next attempt at {format_moment(job.next_attempt_at, now)}", style="magenta")
    if job.error:
        line.append("\n")
        line.append(printable(job.error), style="bold red")
    if job.note:
        line.append("\n")
        line.append(printable(job.note), style="yellow")
    return line


def timings_and_attempts(job: Job, now: float) -> Group | None:
    parts: list[Any] = []
    if job.timings:
        parts.append(Text(" · ".join(f"{name} {format_duration(value)}" for name, value in job.timings.items()),
                          style="dim"))
    if job.attempts:
        table = Table("#", "started", "took", "code", "error", box=None, padding=(0, 1), header_style="bold")
        for attempt_ in job.attempts:
            took = format_duration(attempt_.finished - attempt_.started) if attempt_.finished else "…"
            table.add_row(str(attempt_.number), format_moment(attempt_.started, now), took,
                          str(attempt_.response_code or "—"), Text(printable(attempt_.error or ""), style="red"))
        parts.append(table)
    return Group(*parts) if parts else None


def results_table(job: Job) -> Table | None:
    if not job.results:
        return None
    table = Table("target", "item", "operation", "record", "error", box=None, padding=(0, 1), header_style="bold")
    failed = job.status == "Failed"
    for result in job.results[:RESULTS_SHOWN]:
        why = Text(printable(result.error), style="bold red") if result.error else Text(NOT_WRITTEN if failed else "",
                                                                                           style="dim")
        table.add_row(result.target, str(result.item), result.operation or "—", result.record_id or "—", why,
                      style="on #3a0000" if result.error else None)
    if len(job.results) > RESULTS_SHOWN:
        table.add_row("…", f"{len(job.results) - RESULTS_SHOWN} more", "", "", "")
    return table


def related_jobs(job: Job, source_of: Callable[[str], str | None] = lambda number: None) -> list[tuple[str, str]]:
    """(number, relation) of every job linked to `job`; `source_of` tells a rerun's source (Retry or Replay)."""
    links = job.links
    related: list[tuple[str, str]] = []
    if links.parent:
        related.append((links.parent, "started this job"))
    if links.original:
        related.append((links.original, f"original of this {_rerun_word(job.source)}"))
    related += [(number, "started by this job") for number in links.children]
    related += [(number, f"{_rerun_word(source_of(number))} of this job") for number in links.reruns]
    return related


def _rerun_word(source: str | None) -> str:
    return {"Retry": "retry", "Replay": "replay"}.get(source or "", "retry/replay")


class JobDetailScreen(ReadOnlyGuard, ConsoleScreen):
    """One job; `R` retries it, `P` replays it, enter on a link opens that job."""

    BINDINGS = [
        Binding("R", "retry", "Retry"),
        Binding("P", "replay", "Replay"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__(classes="job-screen")
        self.number = number.upper()
        self.job: Job | None = None
        self._bodies: tuple[bytes | None, bytes | None] = (None, None)
        self._bodies_read = False  # until then, a body kept in a blob shows as being read, not as missing
        self._data: list[dict[str, Any]] | None = None  # the data queried, when read from its blob
        self._sources: dict[str, str | None] = {}  # linked job → its source

    def compose(self) -> ComposeResult:
        yield TopBar(f"{self.console.location} › {self.number}")
        with KeyScroll(id="job-scroll"):
            yield Static("", id="job-summary")
            yield OptionList(id="job-links")
            yield Static("", id="job-timings")
            yield Static("Request", classes="section-title", id="job-request-title")
            yield Static("", id="job-request")
            yield Static("Response", classes="section-title", id="job-response-title")
            yield Static("", id="job-response")
            yield Static("Data queried", classes="section-title", id="job-data-title")
            yield Static("", id="job-data")
            yield Static("Records", classes="section-title", id="job-results-title")
            yield Static("", id="job-results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.reload():
            self.query_one("#job-scroll").focus()

    def reload(self) -> bool:
        job = attempt(self, f"open {self.number}", self.workspace.job, self.number)
        if job is None:
            self.dismiss()
            return False
        self.job = job
        self.show()
        self.read_bodies(job)
        return True

    @workspace_work("read the job's bodies", group="bodies", thread=True)
    def read_bodies(self, job: Job) -> None:
        request = self.workspace.job_body(job, "request")
        response = self.workspace.job_body(job, "response")
        data = self.workspace.job_data(job) if job.data_blob else None
        self.post_message(BodiesRead(job.number, request, response, data))

    def on_bodies_read(self, message: BodiesRead) -> None:
        if message.number == self.number:
            self._bodies = (message.request, message.response)
            self._bodies_read = True
            self.show_exchanges()
            if message.data is not None:
                self._data = message.data
                self.show_data()

    def show(self) -> None:
        job = self.job
        if job is None:
            return
        now = self.now()
        self.query_one("#job-summary", Static).update(summary(job, now))
        links = self.query_one("#job-links", OptionList)
        related = related_jobs(job, self._source_of)
        links.clear_options()
        links.add_options([Option(Text.assemble(("→ ", "dim"), (n, "bold underline"), f"  {why}"), id=n)
                           for n, why in related])
        links.display = bool(related)
        if related:
            links.highlighted = 0
        timings = timings_and_attempts(job, now)
        self.query_one("#job-timings", Static).update(timings or "")
        self.query_one("#job-timings").display = timings is not None
        self.show_data()
        results = results_table(job)
        self._section("results", results)
        self.show_exchanges()

    def show_data(self) -> None:
        job = self.job
        if job is None:
            return
        data = self._data if job.data_blob else job.data_queried
        if not data:
            self._section("data", None)
            return
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        shown = Text(f"{counted(len(data), 'record')}\n", style="bold")
        shown.append(printable(text[:DATA_SHOWN]))  # json.dumps leaves C1 controls as they are
        if len(text) > DATA_SHOWN:
            shown.append(f"\n… {len(text) - DATA_SHOWN:,} more characters not shown "
                         f"(`payloads jobs show {job.number} --json` shows all)", style="dim")
        self._section("data", shown)

    def _source_of(self, number: str) -> str | None:
        """The source of a linked job (read once; a rerun's source never changes)."""
        if number not in self._sources:
            linked = attempt(self, f"open {number}", self.workspace.job, number)
            self._sources[number] = linked.source if linked is not None else None
        return self._sources[number]

    def _section(self, name: str, content: Any) -> None:
        self.query_one(f"#job-{name}-title").display = content is not None
        body = self.query_one(f"#job-{name}", Static)
        body.display = content is not None
        body.update(content if content is not None else "")

    def show_exchanges(self) -> None:
        job = self.job
        if job is None:
            return
        request_body = self._bodies[0] if self._bodies[0] is not None else _inline(job.request)
        response_body = self._bodies[1] if self._bodies[1] is not None else _inline(job.response)
        reading = not self._bodies_read
        self._section("request", render_exchange(job.request, request_body, request=True, reading=reading)
                      if job.request else None)
        self._section("response", render_exchange(job.response, response_body, request=False, reading=reading)
                      if job.response else None)

    def on_workspace_switched(self, message: WorkspaceSwitched) -> None:
        super().on_workspace_switched(message)
        self.reload()

    def on_jobs_changed(self, message: JobsChanged) -> None:
        for job in message.jobs:
            if job.number == self.number:
                self.job = job
                self.show()
                if job.status in ("Completed", "Partially Completed", "Failed", "Cancelled"):
                    self.read_bodies(job)

    @on(OptionList.OptionSelected, "#job-links")
    def _follow(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.app.push_screen(JobDetailScreen(event.option.id))

    @changes_data
    def action_retry(self) -> None:
        retry_job(self, self.number)

    @changes_data
    def action_replay(self) -> None:
        replay_job(self, self.number)


def _inline(exchange: Any) -> bytes | None:
    if exchange is None or exchange.body is None:
        return None
    return exchange.body.encode("utf-8")
