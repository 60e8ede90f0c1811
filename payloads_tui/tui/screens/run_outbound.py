"""`RunOutboundScreen`: choose the records an outbound payload runs for, then run it.

It lists the newest records of the payload's first source object; with none ticked
the payload runs on whatever its sources select (their filter, sort and limit).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static
from textual.widgets.selection_list import Selection

from payloads_tui.domain.models import OutboundPayload
from payloads_tui.domain.terminaltext import printable
from payloads_tui.tui.calls import attempt

#: Records listed to choose from.
RECORDS_LISTED = 200
LABEL_FIELDS = ("name", "number", "subject", "email", "title")


def record_label(record: dict[str, Any]) -> str:
    """`Acme Corp  (acc_acme)`: the first telling field of a record, then its id."""
    title = next((str(record[f]) for f in LABEL_FIELDS if record.get(f)), "")
    return printable(f"{title}  ({record.get('id')})" if title else str(record.get("id")))


class RunOutboundScreen(ModalScreen[list[str] | None]):
    """Dismisses with the ticked record ids ([] = as the sources select), or None if cancelled."""

    BINDINGS = [
        Binding("ctrl+r,ctrl+s", "run", "Run"),
        Binding("escape", "cancel", "Cancel"),
        Binding("a", "toggle_all", "All / none"),
    ]

    def __init__(self, slug: str, payload: OutboundPayload) -> None:
        super().__init__(classes="dialog")
        self.slug = slug
        self.payload = payload

    def compose(self) -> ComposeResult:
        source = self.payload.sources[0] if self.payload.sources else None
        with Vertical(classes="dialog-box form-box"):
            yield Static(f"Run {self.payload.name}", classes="dialog-title")
            target = f"{self.payload.method} {self.payload.endpoint}"
            if source is None:
                yield Static(f"{target}\nThis payload queries no records: it sends one request.",
                             classes="dialog-detail", markup=False)
            else:
                where = f" where {source.filter}" if source.filter else ""
                yield Static(f"{target}\nThe {source.object} records{where}: tick the ones to run for (space, "
                             "a: all/none), or none to run on all of them.", classes="dialog-detail", markup=False,
                             id="run-detail")
                yield SelectionList[str](id="run-records")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run (ctrl+r)", id="run-go", variant="primary")
                yield Button("Cancel (esc)", id="run-cancel")

    def on_mount(self) -> None:
        if not self.payload.sources:
            self.query_one("#run-go", Button).focus()
            return
        source = self.payload.sources[0]
        # filtered by the store before the limit: a matching record older than the newest 200 is still listed
        records = attempt(self, f"list {source.object} records", self.app.workspace.list_records,  # type: ignore[attr-defined]
                          source.object, limit=RECORDS_LISTED, where=source.filter) or []
        selection = self.query_one("#run-records", SelectionList)
        if not records:
            where = f" matches {source.filter}" if source.filter.strip() else " exists"
            self.query_one("#run-detail", Static).update(
                f"{self.payload.method} {self.payload.endpoint}\nNo {source.object} record{where}: running it "
                "sends nothing.")
        selection.add_options([Selection(record_label(r), str(r.get("id")), False) for r in records])
        if records:
            selection.highlighted = 0
        selection.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "run-go":
            self.action_run()
        else:
            self.action_cancel()

    def action_toggle_all(self) -> None:
        if not self.payload.sources:
            return
        selection = self.query_one("#run-records", SelectionList)
        if selection.selected:
            selection.deselect_all()
        else:
            selection.select_all()

    def action_run(self) -> None:
        if not self.payload.sources:
            self.dismiss([])
            return
        self.dismiss(list(self.query_one("#run-records", SelectionList).selected))

    def action_cancel(self) -> None:
        self.dismiss(None)
