"""`NestedElementsEditor`: an outbound payload's elements, and the fields of array elements, to any depth.

An element with *Array of* (`each`) set is an array at its path with one item per
record of that child source or source; each item is an object built from the
element's own nested elements, read against that record (no nested elements: the
records as they are). Nested elements may be arrays again. The editor shows one level
at a time, like folders: `enter` on an array element (or its *Item fields* button)
opens its fields, with a breadcrumb (`Elements › orders[] › lines[] ›`) above the
table; `esc` (or backspace on the table) goes up a level to the same element. The
lists are the payload's own, changed in place, so moving between levels loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Static

from payloads_tui.domain.models import Element, Source
from payloads_tui.tui.checks import expression_problem
from payloads_tui.tui.widgets.form import FieldRow
from payloads_tui.tui.widgets.keyed_table import Col
from payloads_tui.tui.widgets.list_editor import Choices, ItemField, ListEditor

PLACEMENTS = [("body", "body"), ("header", "header"), ("query", "query"), ("URL merge field", "url")]
ELEMENT_SOURCES = [("record (JMESPath)", "record"), ("context (JMESPath)", "context"), ("static value", "static"),
                   ("now", "now"), ("variable", "variable"), ("credential field", "credential")]
ELEMENT_COLUMNS = [
    Col("path", "Path", min_width=14),
    Col("placement", "In", width=6),
    Col("source", "Source", width=8, drop=2),
    Col("expression", "Expression / value", min_width=16),
    Col("each", "Each", width=10, drop=1),
]
TOP_TITLE = "Elements placed in the request (a add · d delete · ⏎ opens an array)"


def each_choices(sources: Sequence[Source]) -> list[tuple[str, str]]:
    """(label, name) of every source and child source of a payload: what *Array of* can name."""
    choices = [(f"{s.name} — records of source {s.name}", s.name) for s in sources]
    for source in sources:
        choices += [(f"{c.name} — child records of each {source.name}", c.name) for c in source.children]
    return choices


def element_cells(element: Element, *, nested: bool = False) -> dict[str, Any]:
    """The table row of an element; `nested` elements are fields of an array item, whatever their placement."""
    if element.each:
        count = len(element.elements)
        what = f"{count} field{'s' if count != 1 else ''}" if count else "the record itself"
        shown: Any = Text(f"per {element.each} record: {what} ›", style="cyan")
    elif element.source == "static":
        shown = Text(repr(element.value), style="green")
    elif element.source == "now":
        shown = Text("(the current time)", style="dim")
    else:
        problem = expression_problem(element.expression) if element.source in ("record", "context") else None
        shown = Text(element.expression, style="red" if problem else "")
    return {"path": f"{element.path}[]" if element.each else element.path,
            "placement": "item" if nested else element.placement,
            "source": "" if element.each else element.source, "expression": shown, "each": element.each}


def new_element(elements: list[Element]) -> Element:
    return Element(path=f"field{len(elements) + 1}", expression="")


def open_label(element: Element) -> str:
    count = len(element.elements)
    if not count:
        return "none: each item is the whole record · open to add ›"
    return f"{count} field{'s' if count != 1 else ''} of each item · open ›"


class NestedElementsEditor(Vertical):
    """See the module docstring; `choices` lists what *Array of* may name (see `each_choices`)."""

    BINDINGS = [
        Binding("enter", "open", "Open array", priority=True),
        Binding("escape", "up", "Up a level"),
        Binding("backspace", "up('table')", "Up a level", show=False),
    ]

    def __init__(self, *, choices: Choices, id: str | None = None) -> None:
        super().__init__(id=id, classes="nested-elements")
        self.choices = choices
        self.root: list[Element] = []
        self.trail: list[int] = []  # index of each opened element, from the top level down

    def compose(self) -> ComposeResult:
        yield Static("", id="elements-path", classes="nested-path")
        yield ListEditor(
            title=TOP_TITLE, columns=ELEMENT_COLUMNS, id="elements-editor",
            cells=lambda e: element_cells(e, nested=self.depth > 0), new_item=new_element, fields=self._fields(),
        )
        yield FieldRow("Item fields", Button("", id="elements-open", compact=True), name="item_fields")

    def _fields(self) -> list[ItemField]:
        plain = lambda e: not e.each  # noqa: E731
        return [
            ItemField("path", "Path", placeholder="metadata.order_id"),
            ItemField("placement", "Placed in", "select", choices=lambda: PLACEMENTS, required=True,
                      applies=lambda _e: self.depth == 0),
            ItemField("each", "Array of", "select", choices=self.choices, prompt="— (one value, not an array)",
                      blank="", check=self._each_problem),
            ItemField("source", "Source", "select", choices=lambda: ELEMENT_SOURCES, applies=plain, required=True),
            ItemField("expression", "Expression", "expression", placeholder="email",
                      applies=lambda e: plain(e) and e.source in ("record", "context"),
                      check=lambda _e, text: expression_problem(text)),
            ItemField("expression", "Name", key="name_of",
                      applies=lambda e: plain(e) and e.source in ("variable", "credential")),
            ItemField("value", "Value", "value", placeholder="JSON or text",
                      applies=lambda e: plain(e) and e.source == "static"),
        ]

    def _each_problem(self, _element: Any, text: str) -> str | None:
        if not text or any(name == text for _, name in self.choices()):
            return None
        return f"no source or child source is named {text!r}: pick one, or rename it on tab 2"

    # --- levels --------------------------------------------------------------------------

    @property
    def editor(self) -> ListEditor:
        return self.query_one("#elements-editor", ListEditor)

    @property
    def depth(self) -> int:
        return len(self.trail)

    def opened(self) -> list[Element]:
        """The array elements opened, from the top level down."""
        found: list[Element] = []
        items = self.root
        for index in self.trail:
            found.append(items[index])
            items = items[index].elements
        return found

    def level(self) -> list[Element]:
        """The elements shown: the top level, or the fields of the innermost opened array."""
        opened = self.opened()
        return opened[-1].elements if opened else self.root

    def edit(self, elements: list[Element]) -> None:
        """Edit `elements` (the payload's own list, changed in place), from the top level."""
        self.root = elements
        self.trail = []
        self._show_level(select=0)

    def go_to(self, trail: Sequence[int], *, select: int = 0) -> bool:
        """Show the fields of the array at `trail` (indices from the top level); False if there is none."""
        items = self.root
        for index in trail:
            if not 0 <= index < len(items) or not items[index].each:
                return False
            items = items[index].elements
        self.trail = list(trail)
        self._show_level(select=select)
        return True

    def _show_level(self, *, select: int) -> None:
        opened = self.opened()
        path = self.query_one("#elements-path", Static)
        path.display = bool(opened)
        editor = self.editor
        if opened:
            crumbs = " › ".join(["Elements", *(f"{e.path}[]" for e in opened)]) + " ›"
            path.update(Text.assemble((crumbs, "bold"), ("  esc: up", "dim")))
            inner = opened[-1]
            editor.set_title(f"Fields of each {inner.path}[] item, one item per record of {inner.each or '?'}")
        else:
            editor.set_title(TOP_TITLE)
        editor.refresh_choices()
        editor.edit(self.level(), select=select)
        self._show_open_row()
        self.refresh_bindings()

    def _show_open_row(self) -> None:
        """Show the *Item fields* button for an array element; the footer's `enter` follows it."""
        row = next(r for r in self.query(FieldRow) if r.name == "item_fields")
        element = self.editor.current
        can_open = element is not None and bool(element.each)
        if can_open:
            button = self.query_one("#elements-open", Button)
            label = open_label(element)
            if str(button.label) != label:  # called on every key typed: relayout only on a change
                button.label = label
                button.refresh(layout=True)  # its width follows the label
        if can_open != row.display:
            row.display = can_open
            self.refresh_bindings()

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            element = self.editor.current
            return self.editor.table.has_focus and element is not None and bool(element.each)
        if action == "up":
            return self.depth > 0 and (parameters != ("table",) or self.editor.table.has_focus)
        return True

    def action_open(self) -> None:
        index = self.editor.index
        if self.go_to([*self.trail, index]):
            self.editor.table.focus()

    def action_up(self, _where: str = "") -> None:
        if not self.trail:
            return
        index = self.trail[-1]
        self.go_to(self.trail[:-1], select=index)
        self.editor.table.focus()

    @on(Button.Pressed, "#elements-open")
    def _open_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_open()

    def on_list_editor_highlighted(self, _event: ListEditor.Highlighted) -> None:
        self._show_open_row()

    def on_list_editor_changed(self, _event: ListEditor.Changed) -> None:
        self._show_open_row()

    # --- errors --------------------------------------------------------------------------

    def show_error(self, path: Sequence[int], field: str, message: str) -> bool:
        """Point at `field` of the element at `path` (indices from the top level down) and say `message`."""
        if not path:
            return False
        *parents, index = path
        if not self.go_to(parents, select=index):
            return False
        return self.editor.show_error(index, field or "path", message)
