"""`RefusalsScreen`: the requests and recipients the running service refused, newest first.

Refusals are notifications while they happen; this list is where an operator who
looked away sees them afterwards (the service keeps the newest few hundred while it
runs). Opened with `!` on an integration (its refusals) or from the palette.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from payloads_tui.domain.terminaltext import printable
from payloads_tui.service.refusals import KEPT
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.formatting import format_moment
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable

COLUMNS = [
    Col("at", "When", width=12),
    Col("where", "Request", min_width=18, drop=1),
    Col("peer", "From", width=21, drop=2),
    Col("reason", "Why", min_width=24),
]


class RefusalsScreen(ModalScreen[None]):
    """The newest refusals of `integration` (None: of every integration, and of unknown SMTP recipients)."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, integration: str | None = None) -> None:
        super().__init__(classes="dialog")
        self.integration = integration
        self.refusals: list[Any] = []

    def compose(self) -> ComposeResult:
        whose = f" · {self.integration}" if self.integration else ""
        with Vertical(id="refusals-box", classes="dialog-box"):
            yield Static(f"Refused requests{whose}", classes="dialog-title")
            yield KeyedTable(COLUMNS, id="refusals-table")
            yield Static("", id="refusals-detail")
            yield Static("", id="refusals-note", classes="dialog-detail")

    def on_mount(self) -> None:
        app: Any = self.app
        refusals = attempt(self, "list the refused requests", app.workspace.recent_refusals,
                           integration=self.integration, limit=None) or []
        self.refusals = refusals
        now = app.clock()
        table = self.query_one(KeyedTable)
        table.set_rows([(str(i), {"at": format_moment(r.at, now), "where": printable(r.where), "peer": r.peer or "—",
                                  "reason": Text(printable(r.reason), style="yellow")})
                        for i, r in enumerate(refusals)])
        service = app.service_status()
        if not refusals:
            note = ("None since the service started." if service.get("running")
                    else "This console runs no service and is attached to none: nothing to show.")
        else:
            note = (f"{len(refusals)} shown, newest first; the service keeps its newest {KEPT} refusals (of every "
                    "integration) while it runs.")
        self.query_one("#refusals-note", Static).update(note)
        table.focus()

    def on_data_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        """The whole of the refusal under the cursor (the table cuts long reasons)."""
        key = self.query_one(KeyedTable).cursor_key
        if key is None or not key.isdigit() or int(key) >= len(self.refusals):
            return
        refusal = self.refusals[int(key)]
        peer = f" from {refusal.peer}" if refusal.peer else ""
        self.query_one("#refusals-detail", Static).update(
            Text.assemble((printable(f"{refusal.where}{peer}\n"), "bold"), (printable(refusal.reason), "yellow")))

    def action_close(self) -> None:
        self.dismiss(None)
