"""`Pane`: a tab's content; its keys post `ItemRequested` and the integration screen decides.

Keys whose request changes things are `@changes_data` actions: hidden and refused in a
read-only console (see `readonly.py`).
"""

from __future__ import annotations

from typing import Literal

from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.widgets.keyed_table import KeyedTable

ItemKind = Literal["inbound", "outbound", "api", "email", "credential", "job", "history"]
ItemAction = Literal[
    "open", "new", "delete", "run", "try", "copy_url", "copy_command", "send_test", "reveal", "retry", "replay"
]
#: Requests that change things (or reveal a secret, which writes history): refused in a read-only console.
CHANGING_ITEM_ACTIONS: frozenset[ItemAction] = frozenset(
    {"new", "delete", "run", "send_test", "reveal", "retry", "replay"}
)


class ItemRequested(Message):
    """The operator asked for `action` on the item `key` (None: no item, e.g. `new`) of `kind`."""

    def __init__(self, action: ItemAction, kind: ItemKind, key: str | None) -> None:
        super().__init__()
        self.action = action
        self.kind = kind
        self.key = key


class Pane(ReadOnlyGuard, Vertical):
    """Base of the integration screen's tabs: tables whose rows are items of a kind."""

    #: Table id → item kind, for the tables of this pane.
    TABLE_KINDS: dict[str, ItemKind] = {}

    def focused_table(self) -> KeyedTable | None:
        focused = self.screen.focused
        if isinstance(focused, KeyedTable) and focused.id in self.TABLE_KINDS:
            return focused
        tables = [t for t in self.query(KeyedTable) if t.id in self.TABLE_KINDS]
        return tables[0] if tables else None

    def request(self, action: ItemAction, *, need_item: bool = True, kind: ItemKind | None = None) -> None:
        table = self.focused_table()
        if table is None:
            return
        key = table.item_key() if need_item else None
        if need_item and key is None:
            self.notify("Nothing selected here.", severity="warning")
            return
        self.post_message(ItemRequested(action, kind or self.TABLE_KINDS[table.id or ""], key))

    def add_hint(self, hint: str) -> str:
        """`hint` (how to add an item, shown under an empty table), or nothing in a read-only console."""
        return "" if read_only_reason(self.app) else hint

    # Panes that bind n / e / d share these; each names its own keys in BINDINGS.
    @changes_data
    def action_new(self) -> None:
        self.request("new", need_item=False)

    @changes_data
    def action_edit(self) -> None:
        self.request("open")

    @changes_data
    def action_delete(self) -> None:
        self.request("delete")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        key = table.item_key() if isinstance(table, KeyedTable) else None
        if table.id in self.TABLE_KINDS and key is not None:
            event.stop()
            self.post_message(ItemRequested("open", self.TABLE_KINDS[table.id or ""], key))
