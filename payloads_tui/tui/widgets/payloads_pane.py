"""Tab 1, Payloads: the inbound and the outbound payloads of an integration."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from payloads_tui.domain.models import Integration
from payloads_tui.tui.formatting import content_type_label, initiated_label, yes_no
from payloads_tui.tui.readonly import changes_data
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable
from payloads_tui.tui.widgets.pane import ItemKind, Pane

INBOUND_COLUMNS = [
    Col("name", "Name", min_width=20),
    Col("content_type", "Content Type", width=16, drop=2),
    Col("targets", "# Targets", width=9, justify="right", drop=3),
    Col("partial", "Allow Partial Success", width=21, drop=1),
]
OUTBOUND_COLUMNS = [
    Col("name", "Name", min_width=20),
    Col("initiated", "Record Type", width=17, drop=3),
    Col("content_type", "Content Type", width=16, drop=4),
    Col("sources", "# Sources", width=9, justify="right", drop=5),
    Col("endpoint", "Endpoint", min_width=16, drop=2),
    Col("method", "Method", width=6),
]


class PayloadsPane(Pane):
    """Two tables; keys act on the payload under the cursor of the focused table."""

    TABLE_KINDS: dict[str, ItemKind] = {"inbound-table": "inbound", "outbound-table": "outbound"}
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("d", "delete", "Delete"),
        Binding("r", "run", "Run"),
        Binding("t", "try", "Try sample"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Inbound payloads", id="inbound-title", classes="table-title")
        yield KeyedTable(INBOUND_COLUMNS, id="inbound-table")
        yield Static("Outbound payloads", id="outbound-title", classes="table-title")
        yield KeyedTable(OUTBOUND_COLUMNS, id="outbound-table")

    def show(self, integration: Integration) -> None:
        inbound = [
            (p.name, {
                "name": p.name,
                "content_type": content_type_label(p.content_type),
                "targets": str(len(p.targets)),
                "partial": yes_no(p.allow_partial_success),
            })
            for p in integration.inbound
        ]
        outbound = [
            (p.name, {
                "name": p.name,
                "initiated": initiated_label(p.initiated),
                "content_type": content_type_label(p.content_type),
                "sources": str(len(p.sources)),
                "endpoint": p.endpoint or Text("(answers its External API)", style="dim"),
                "method": p.method,
            })
            for p in integration.outbound
        ]
        self.query_one("#inbound-table", KeyedTable).set_rows(inbound)
        self.query_one("#outbound-table", KeyedTable).set_rows(outbound)
        self.query_one("#inbound-title", Static).update(
            f"Inbound payloads · {len(inbound)}" + ("" if inbound else self.add_hint(" — press n to add one")))
        self.query_one("#outbound-title", Static).update(
            f"Outbound payloads · {len(outbound)}"
            + ("" if outbound else self.add_hint(" — tab here, then n to add one")))

    @changes_data
    def action_run(self) -> None:
        table = self.focused_table()
        if table is not None and table.id == "inbound-table":
            self.notify("r runs an outbound payload; on an inbound payload, t tries it on a sample.",
                        severity="warning")
            return
        self.request("run")

    def action_try(self) -> None:
        table = self.focused_table()
        if table is not None and table.id == "outbound-table":
            self.notify("t tries an inbound payload on a sample; r runs an outbound payload.", severity="warning")
            return
        self.request("try")
