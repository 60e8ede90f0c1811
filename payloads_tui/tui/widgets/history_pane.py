"""Tab 5, History: the audit trail of an integration, one row per changed field."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static

from payloads_tui.domain.models import HistoryEntry
from payloads_tui.domain.terminaltext import printable
from payloads_tui.tui.formatting import clip, format_moment
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable, Row
from payloads_tui.tui.widgets.pane import ItemKind, Pane

HISTORY_COLUMNS = [
    Col("at", "Time", width=13),
    Col("user", "User", width=10, drop=3),
    Col("action", "Action", width=7),
    Col("object", "Object", min_width=16),
    Col("field", "Field", min_width=12, drop=2),
    Col("change", "Old → New", min_width=20, drop=1),
]
ACTION_STYLES = {"create": "green", "update": "cyan", "delete": "red", "reveal": "yellow", "sign": "yellow"}


def history_details(entries: list[HistoryEntry]) -> dict[str, str]:
    """Per row key, the whole of what the row cuts: who, when, which field, old → new in full."""
    details: dict[str, str] = {}
    for entry in entries:
        head = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(entry.at))} · {entry.user} · {entry.action} " \
               f"{entry.kind}: {entry.name}"
        if not entry.changes or entry.action in ("create", "delete"):
            details[entry.id] = head
            continue
        for index, change in enumerate(entry.changes):
            old = "∅" if change.old is None else change.old
            new = "∅" if change.new is None else change.new
            details[f"{entry.id}:{index}"] = f"{head} · {change.field}: {old} → {new}"
    return details


def history_rows(entries: list[HistoryEntry], now: float) -> list[Row]:
    rows: list[Row] = []
    for entry in entries:
        base = {
            "at": format_moment(entry.at, now),
            "user": entry.user,
            "action": Text(entry.action, style=ACTION_STYLES.get(entry.action, "")),
            "object": f"{entry.kind}: {entry.name}",
        }
        if not entry.changes or entry.action in ("create", "delete"):
            fields = f"{len(entry.changes)} fields" if entry.changes else ""
            change = {"create": "∅ → created", "delete": "deleted → ∅", "reveal": "secret shown",
                      "sign": "a request signed (for a curl)"}.get(entry.action, "")
            rows.append((entry.id, {**base, "field": fields, "change": change}))
            continue
        for index, change in enumerate(entry.changes):
            old, new = clip(change.old, 40) if change.old is not None else "∅", clip(change.new, 40) if change.new is not None else "∅"
            rows.append((f"{entry.id}:{index}", {**base, "field": change.field, "change": f"{old} → {new}"}))
    return rows


class HistoryPane(Pane):
    """The newest entries first; `/` filters by any text in them."""

    class FilterChanged(Message):
        """The history filter text changed; the screen reloads the entries."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    TABLE_KINDS: dict[str, ItemKind] = {"history-table": "history"}
    BINDINGS = [Binding("slash", "filter", "Filter", key_display="/")]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="text in user, object, field or values…", id="history-filter", compact=True)
        yield Static("History", id="history-title", classes="table-title")
        yield KeyedTable(HISTORY_COLUMNS, id="history-table")
        yield Static("", id="history-detail")

    def on_mount(self) -> None:
        self.query_one("#history-filter").display = False

    @property
    def text(self) -> str:
        return self.query_one("#history-filter", Input).value.strip()

    _details: dict[str, str] = {}

    def show(self, entries: list[HistoryEntry], now: float) -> None:
        rows = history_rows(entries, now)
        self._details = history_details(entries)
        self.query_one("#history-table", KeyedTable).set_rows(rows)
        self._show_detail()
        where = f" · filter: “{self.text}”" if self.text else ""
        self.query_one("#history-title", Static).update(f"History · {len(entries)} entries{where}")

    def action_filter(self) -> None:
        bar = self.query_one("#history-filter", Input)
        bar.display = True
        bar.focus()

    def clear_filter(self) -> bool:
        bar = self.query_one("#history-filter", Input)
        if not bar.display:
            return False
        bar.value = ""
        bar.display = False
        self.query_one("#history-table").focus()
        return True

    @on(KeyedTable.RowHighlighted, "#history-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The row under the cursor in full, below the table (its cells cut long values)."""
        key = self.query_one("#history-table", KeyedTable).cursor_key
        self.query_one("#history-detail", Static).update(printable(self._details.get(key or "", "")))

    @on(Input.Changed, "#history-filter")
    def _changed(self) -> None:
        self.post_message(self.FilterChanged(self.text))

    @on(Input.Submitted, "#history-filter")
    def _submitted(self) -> None:
        self.query_one("#history-table").focus()
