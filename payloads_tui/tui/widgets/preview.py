"""`PreviewPane`: a sample body on the left, the records a dry run would write on the right.

The owner hands down the payload model (`set_payload`) whenever it changes; the pane
re-runs the dry run in a worker thread, debounced, so typing stays smooth. The sample
is typed or pasted, loaded from a file path, or taken from the newest job of the
payload (ctrl+l). Errors of a dry run are the point of a preview: they are shown in
the pane, not as notifications.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static, TextArea

from payloads_tui.domain.errors import PayloadsError, ValidationError
from payloads_tui.domain.formats.charset import readable_text
from payloads_tui.domain.models import NOT_WRITTEN, InboundPayload, Integration, RecordResult, from_data
from payloads_tui.domain.terminaltext import printable
from payloads_tui.domain.validation import validate_integration
from payloads_tui.tui.calls import as_payloads_error

#: Seconds of quiet after a change before the dry run runs again.
DEBOUNCE = 0.3
#: Values shown per record, at most.
VALUES_SHOWN = 12


def describe_outcome(outcome: Any) -> Text:
    """One line: `Completed: 2 records would be written, 0 failed`."""
    status = outcome.status
    style = {"Completed": "green", "Partially Completed": "yellow", "Failed": "bold red"}.get(status, "")
    line = Text(status, style=style)
    written = outcome.records_processed
    line.append(f": {written} record{'s' if written != 1 else ''} would be written")
    if outcome.records_failed:
        line.append(f", {outcome.records_failed} failed", style="red")
    return line


def render_results(results: list[RecordResult], failed: bool = False) -> Group:
    """Each planned write (operation, target, item, record id, values) or its error; in a
    run that `failed`, the writes planned are marked as not done."""
    parts: list[Text] = []
    for result in results:
        where = f"{result.target} #{result.item}"
        if result.error:
            parts.append(Text.assemble(("✗ ", "bold red"), (where, "bold"), (f"  {printable(result.error)}", "red")))
            continue
        head = Text.assemble(("– ", "dim") if failed else ("✓ ", "green"), (f"{result.operation} ", "cyan"),
                             (where, "bold"))
        if result.record_id:
            head.append(f" → {result.record_id}", style="dim")
        if failed:
            head.append(f"  ({NOT_WRITTEN})", style="dim")
        parts.append(head)
        values = list((result.values or {}).items())
        for field, value in values[:VALUES_SHOWN]:
            parts.append(Text.assemble(("    ", ""), (field, "italic"), (" = ", "dim"), (repr(value), "")))
        if len(values) > VALUES_SHOWN:
            parts.append(Text(f"    … {len(values) - VALUES_SHOWN} more fields", style="dim"))
    return Group(*parts)


#: Lines of a parsed body shown, at most (the rest is counted).
DOCUMENT_LINES = 400


def render_document(document: Any) -> Text:
    """A parsed body as indented JSON: an XML, CSV, form or email body as the expressions see it."""
    if document is None:
        return Text("The body gave no document (it did not parse, or it is null).", style="dim")
    lines = printable(json.dumps(document, indent=2, ensure_ascii=False, default=str)).splitlines()
    shown = "\n".join(lines[:DOCUMENT_LINES])
    if len(lines) > DOCUMENT_LINES:
        shown += f"\n… {len(lines) - DOCUMENT_LINES} more lines"
    return Text(shown)


def save_problem(integration: Integration, payload: InboundPayload) -> str | None:
    """Why saving `payload` (an editor's working copy) into `integration` would be refused, if it would:
    the preview then says so rather than show writes a saved payload could never make."""
    payloads = list(integration.inbound)
    index = next((i for i, p in enumerate(payloads) if p.id == payload.id), len(payloads))
    try:
        copied = from_data(InboundPayload, msgspec.to_builtins(payload))
        payloads[index:index + 1] = [copied]
        validate_integration(msgspec.structs.replace(integration, inbound=payloads))
    except ValidationError as exc:
        return str(exc).removeprefix(f"inbound[{index}].")
    return None


@dataclass(frozen=True)
class JobSample:
    """A logged job's body as the sample: the text shown, and the bytes, content type and
    context the dry run uses while that text is unchanged (so a Latin-1 body reads as
    processing read it, and a response handler's mapping of `record` has its record)."""

    shown: str
    body: bytes
    content_type: str | None
    context: dict[str, Any]


class PreviewPane(Horizontal):
    """Sample | dry-run records; see the module docstring."""

    BINDINGS = [
        Binding("ctrl+l", "load_latest", "Sample from newest job"),
        Binding("ctrl+o", "toggle_document", "Parsed body / records"),
    ]

    class Updated(Message):
        """A dry run finished: `outcome` (None with `error` when it could not run)."""

        def __init__(self, outcome: Any, error: str | None = None) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    class SampleLoaded(Message):
        """A sample body was read from a file or a job (from a worker thread); from a job, `job`
        holds its logged body as it came, its content type and its context."""

        def __init__(self, text: str, origin: str, job: JobSample | None = None) -> None:
            super().__init__()
            self.text = text
            self.origin = origin
            self.job = job

    def __init__(self, *, sample: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.slug = ""
        self.payload: InboundPayload | None = None
        self._initial_sample = sample
        self._timer: Timer | None = None
        self._job_sample: JobSample | None = None  # the newest job's body, while it is the sample
        self.showing_document = False  # the parsed body instead of the records (ctrl+o)
        self._last: PreviewPane.Updated | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-sample"):
            yield Static("Sample body · paste, or a file (enter) · ctrl+l: newest job's · ctrl+o: as parsed",
                         classes="table-title")
            yield Input(placeholder="path of a sample file", id="preview-path", compact=True)
            yield TextArea(self._initial_sample, id="preview-body", soft_wrap=False, show_line_numbers=False,
                           compact=True, classes="initial-focus")
        with Vertical(id="preview-result"):
            yield Static("Records the dry run would write", id="preview-status", classes="table-title")
            with VerticalScroll(id="preview-records-scroll"):
                yield Static("", id="preview-records")

    @property
    def sample(self) -> str:
        return self.query_one("#preview-body", TextArea).text

    def set_sample(self, text: str) -> None:
        # A logged body's ESC sequences would reach the terminal from the text area: shown as ␛ instead.
        self.query_one("#preview-body", TextArea).load_text(printable(text))
        self.schedule()

    def set_payload(self, slug: str, payload: InboundPayload) -> None:
        """Preview `payload` (an unsaved model is fine) of integration `slug`."""
        self.slug, self.payload = slug, payload
        self.schedule()

    # --- running the dry run -------------------------------------------------------------

    def schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._run_now)

    def _run_now(self) -> None:
        self._timer = None
        if self.payload is None:
            return
        if not self.sample.strip():
            self._show(Text("Paste or load a sample body to see what it would write.", style="dim"), None)
            return
        loaded = self._job_sample
        if loaded is not None and self.sample == loaded.shown:  # the job's bytes, in its charset
            self.dry_run(self.slug, self.payload, loaded.body, loaded.content_type, loaded.context)
        else:  # typed or edited: UTF-8; an edited job's body keeps that job's context
            self.dry_run(self.slug, self.payload, self.sample.encode("utf-8"), None,
                         loaded.context if loaded is not None else None)

    @work(exclusive=True, group="preview", thread=True)
    def dry_run(self, slug: str, payload: InboundPayload, body: bytes, content_type: str | None,
                context: dict[str, Any] | None) -> None:
        try:
            problem = save_problem(self.app.workspace.integration(slug), payload)  # type: ignore[attr-defined]
            if problem is not None:
                self.post_message(self.Updated(None, f"saving would refuse this payload: {problem}"))
                return
            outcome = self.app.workspace.try_inbound(  # type: ignore[attr-defined]
                slug, payload, body, content_type=content_type, context=context)
        except PayloadsError as exc:
            self.post_message(self.Updated(None, str(exc)))
            return
        self.post_message(self.Updated(outcome))

    def on_preview_pane_updated(self, message: PreviewPane.Updated) -> None:
        self._last = message
        if message.outcome is None:
            self._show(Text(message.error or "the dry run failed", style="bold red"), None)
            return
        outcome = message.outcome
        status = describe_outcome(outcome)
        if self.showing_document:
            status.append("  · the parsed body (ctrl+o: records)", style="dim")
            self._show(status, render_document(outcome.document))
            return
        body: Any = render_results(outcome.results, failed=outcome.status == "Failed")
        if outcome.error:
            body = Group(Text(outcome.error, style="red"), body)
        elif outcome.note:
            body = Group(Text(outcome.note, style="yellow"), body)
        self._show(status, body)

    def action_toggle_document(self) -> None:
        """Show what the body parsed into (what `items` and the expressions read), or the records again."""
        self.showing_document = not self.showing_document
        if self._last is not None:
            self.on_preview_pane_updated(self._last)

    def _show(self, status: Text, body: Any) -> None:
        self.query_one("#preview-status", Static).update(status)
        self.query_one("#preview-records", Static).update(body if body is not None else "")

    @on(TextArea.Changed, "#preview-body")
    def _sample_changed(self) -> None:
        self.schedule()

    # --- loading samples -----------------------------------------------------------------

    @on(Input.Submitted, "#preview-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.load_file(Path(event.value.strip()).expanduser())

    @work(exclusive=True, group="sample", thread=True)
    def load_file(self, path: Path) -> None:
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            self.post_message(self.Updated(None, str(as_payloads_error(exc))))
            return
        self.post_message(self.SampleLoaded(text, str(path)))

    def action_load_latest(self) -> None:
        if self.payload is not None:
            self.load_latest(self.slug, self.payload.name)

    @work(exclusive=True, group="sample", thread=True)
    def load_latest(self, slug: str, name: str) -> None:
        workspace = self.app.workspace  # type: ignore[attr-defined]
        try:
            jobs = workspace.newest_jobs("inbound", integration=slug, payload=name, limit=1)
            body = workspace.job_body(jobs[0], "request") if jobs else None
        except PayloadsError as exc:
            self.post_message(self.Updated(None, str(exc)))
            return
        if body is None:
            self.post_message(self.Updated(None, f"no job of {name} has a logged body yet"))
            return
        job = jobs[0]
        content_type = (job.request.content_type if job.request is not None else None) or None
        text = readable_text(body, content_type)
        sample = JobSample(printable(text), body, content_type, job.mapping_context())
        self.post_message(self.SampleLoaded(text, job.number, sample))

    def on_preview_pane_sample_loaded(self, message: PreviewPane.SampleLoaded) -> None:
        self.set_sample(message.text)
        # compared with what the text area holds (it may have made the line breaks its own)
        self._job_sample = replace(message.job, shown=self.sample) if message.job is not None else None
        self.notify(f"Sample loaded from {message.origin}.", timeout=3, markup=False)
