"""`TryInboundScreen`: dry-run a saved inbound payload on a sample, and run it for real if wanted."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from payloads_tui.domain.models import InboundPayload
from payloads_tui.tui.calls import start_call
from payloads_tui.tui.messages import JobsStarted
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data
from payloads_tui.tui.screens.base import ConsoleScreen
from payloads_tui.tui.widgets.preview import PreviewPane
from payloads_tui.tui.widgets.topbar import TopBar


class TryInboundScreen(ReadOnlyGuard, ConsoleScreen):
    """Sample on the left, planned records on the right; ctrl+r runs the payload on the sample."""

    BINDINGS = [Binding("ctrl+r", "run", "Run for real")]

    def __init__(self, slug: str, payload: InboundPayload) -> None:
        super().__init__(classes="try-screen")
        self.slug = slug
        self.payload = payload

    def compose(self) -> ComposeResult:
        yield TopBar(f"{self.console.location} › {self.slug} › try")
        yield Static(f"Try {self.payload.name} — a dry run: nothing is written", classes="section-title")
        yield PreviewPane(id="preview")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        preview = self.query_one(PreviewPane)
        preview.set_payload(self.slug, self.payload)
        preview.query_one("#preview-body").focus()

    @changes_data
    def action_run(self) -> None:
        body = self.query_one(PreviewPane).sample.encode("utf-8")
        if not body.strip():
            self.notify("Paste or load a sample first.", severity="warning")
            return
        slug, name = self.slug, self.payload.name
        start_call(self, f"run {name}",
                   lambda: self.workspace.run_inbound(slug, name, body, source="Console"),
                   group="jobs", then=lambda job: JobsStarted([job], f"Ran {name} on the sample"))
