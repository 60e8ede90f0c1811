"""`Highlights`: the panel atop an integration — who it is, its figures, and the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from payloads_tui.domain.models import Integration, Job
from payloads_tui.domain.words import noun
from payloads_tui.tui.formatting import format_ago, status_text
from payloads_tui.tui.widgets.quiet import update_if_changed


@dataclass(frozen=True)
class JobFigures:
    """Today's job figures of an integration, and its newest job."""

    jobs_today: int = 0
    failures_today: int = 0
    last_job: Job | None = None
    refused_today: int = 0


def service_jobs(status: dict[str, Any]) -> tuple[int, int, int]:
    """(queued, running, retrying) outbound jobs from `Workspace.service_status()`."""
    jobs = status.get("jobs") or {}
    queued = status.get("queued", jobs.get("queued", 0))
    running = status.get("running_jobs", jobs.get("running", 0))
    retrying = status.get("retrying", jobs.get("retrying", 0))
    return int(queued or 0), int(running or 0), int(retrying or 0)


def _figure(label: str, value: str, style: str = "bold") -> Text:
    return Text.assemble((value, style), (f" {label}", "dim"))


class Highlights(Vertical):
    """Name and description on top; figures and the service below, in one line each."""

    _shown: tuple[Integration, JobFigures, float] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="highlights-head"):
            yield Static("", id="highlights-name")
            yield Static("", id="highlights-description")
        yield Static("", id="highlights-figures")
        yield Static("", id="highlights-service")

    def show(self, integration: Integration, figures: JobFigures, now: float) -> None:
        self._shown = (integration, figures, now)
        update_if_changed(self.query_one("#highlights-name", Static), Text(integration.name, style="bold"), layout=True)
        update_if_changed(self.query_one("#highlights-description", Static), Text(integration.description, style="dim"))
        payloads = [_figure("inbound", str(len(integration.inbound))), _figure("outbound", str(len(integration.outbound)))]
        today = [
            _figure(noun(figures.jobs_today, "job") + " today", str(figures.jobs_today)),
            _figure(noun(figures.failures_today, "failure") + " today", str(figures.failures_today),
                    "bold red" if figures.failures_today else "bold"),
        ]
        if figures.refused_today:  # requests that got no job: seen here after their notifications went
            today.append(_figure("refused (!)", str(figures.refused_today), "bold yellow"))
        if figures.last_job is not None:
            job = figures.last_job
            last = Text.assemble(("last ", "dim"), (job.number, "bold"), " ", status_text(job.status),
                                 (f" {format_ago(job.modified, now)}", "dim"))
        else:
            last = Text("no jobs yet", style="dim")
        figures_line = self.query_one("#highlights-figures", Static)
        line = Text(" · ", style="dim").join([*payloads, *today, last])
        if line.cell_len > figures_line.size.width > 0:  # narrow: the payload counts are on the Payloads tab
            line = Text(" · ", style="dim").join([*today, last])
        update_if_changed(figures_line, line)

    def on_resize(self, _event: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def show_service(self, status: dict[str, Any], *, line: str, state: str) -> None:
        text = Text()
        if status.get("running"):
            queued, running, retrying = service_jobs(status)
            text.append("● ", style="green")
            text.append("HTTP ", style="dim")
            text.append(str(status.get("http") or "off").removeprefix("http://"), style="bold")
            text.append("  SMTP ", style="dim")
            text.append(str(status.get("smtp") or "off"), style="bold")
            counts = [_figure(label, str(count), style) for label, count, style in (
                ("retrying", retrying, "bold magenta"), ("running", running, "bold"), ("queued", queued, "bold"))
                if count]  # the ones to act on first, so a narrow screen cuts the least telling
            text.append(" · ", style="dim")
            text.append_text(Text(" · ", style="dim").join(counts) if counts else Text("idle", style="dim"))
        else:
            text.append(line, style="dim" if state != "failed" else "red")
        service = self.query_one("#highlights-service", Static)
        update_if_changed(service, text)
        service.set_classes(f"-{state}")
