"""`KeysScreen`: every key that works where `?` was pressed, grouped by where it comes from.

It lists `screen.active_bindings`, so the keys a read-only console hides (their
`check_action` says no, see `readonly.py`) are not listed; a first line says why.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, OptionList, Select, Static, Switch, Tabs, TextArea

from payloads_tui.tui.readonly import read_only_reason
from payloads_tui.tui.widgets.scrolling import KeyScroll

GENERAL_KEYS: list[tuple[str, str]] = [
    ("tab / shift+tab", "move between tables and fields"),
    ("↑ ↓ j k", "move the cursor; g / G: top / bottom"),
    ("enter", "open what the cursor is on"),
    ("esc", "back (asks first if there are unsaved changes)"),
    ("ctrl+p", "command palette: every action by name"),
    ("ctrl+q", "quit"),
]


#: Actions the General section already covers (moving focus, copying a selection).
GENERIC_ACTIONS = ("focus_next", "focus_previous", "copy_text")
#: Widgets whose own keys (moving, typing) the General section already covers.
GENERIC_WIDGETS = (DataTable, Input, TextArea, Select, Tabs, OptionList, Switch)


def _where(node: object, screen: Screen[object]) -> str | None:
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        return "This screen"
    if isinstance(node, GENERIC_WIDGETS):
        return None
    if isinstance(node, Widget):
        return "Here: " + (node.id or type(node).__name__).replace("-", " ").removesuffix(" pane")
    return None


def key_table(screen: Screen[object]) -> Table:
    """A two-column table (key, what it does) of the bindings active on `screen`."""
    groups: dict[str, list[tuple[str, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        if not binding.description or binding.system or binding.action.endswith(GENERIC_ACTIONS):
            continue
        display = screen.app.get_key_display(binding)
        entry = (display, binding.description + ("" if active.enabled else " (not here)"))
        where = _where(active.node, screen)
        if where is None or entry in seen:
            continue
        seen.add(entry)
        groups.setdefault(where, []).append(entry)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    if (reason := read_only_reason(screen.app)) is not None:
        table.add_row(Text("Read-only", style="bold yellow"),
                      Text(f"keys that change things are hidden: {reason}", style="yellow"))
        table.add_row("", "")
    order = sorted(groups, key=lambda g: (g == "Everywhere", g == "This screen", g))  # nearest first
    for name in order:
        table.add_row(Text(name, style="underline"), "")
        for display, description in groups[name]:
            table.add_row(display, description)
        table.add_row("", "")
    table.add_row(Text("General", style="underline"), "")
    for display, description in GENERAL_KEYS:
        table.add_row(display, description)
    return table


class KeysScreen(ModalScreen[None]):
    """Shows `key_table` of the screen below; any of esc, ?, q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, below: Screen[object]) -> None:
        super().__init__(classes="dialog")
        self.below = below

    def compose(self) -> ComposeResult:
        with Vertical(id="keys-box", classes="dialog-box"):
            yield Static("Keys", classes="dialog-title")
            with KeyScroll(id="keys-scroll"):
                yield Static(key_table(self.below), id="keys-table")
            yield Static("esc or ? to close", classes="dialog-detail")

    def action_close(self) -> None:
        self.dismiss(None)
