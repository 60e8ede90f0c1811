"""`ListEditor`: a table of items (targets, mappings, sources, …) and a form for the one under the cursor.

The owner hands down a list of model objects (`edit(items)`); the editor changes them
in place as fields are typed, updates the table row, and posts `ListEditor.Changed`.
`a` adds an item, `d` deletes the one under the cursor. Expression fields are checked
as they are typed and say what is wrong under the field. A select whose item holds a
value that is not among its choices (e.g. a name that was renamed) shows it as
"… (not found)" rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import DataTable, Input, Select, Static, Switch
from textual.widgets.select import InvalidSelectValueError

from payloads_tui.tui.checks import parse_value, show_value
from payloads_tui.tui.keyorder import in_order_on_table
from payloads_tui.tui.widgets.form import FieldRow
from payloads_tui.tui.widgets.keyed_table import Cell, Col, KeyedTable

FieldKind = Literal["text", "expression", "template", "select", "switch", "int", "list", "value"]
Choices = Callable[[], Sequence[tuple[str, str]]]
Check = Callable[[Any, str], str | None]


@dataclass(frozen=True)
class ItemField:
    """One editable attribute of the items: how it is typed, checked and when it applies."""

    name: str
    label: str
    kind: FieldKind = "text"
    choices: Choices | None = None
    check: Check | None = None  # (item, text) -> problem or None
    applies: Callable[[Any], bool] | None = None
    placeholder: str = ""
    key: str = ""  # unique within the editor when two fields edit one attribute
    prompt: str = "—"  # what a select shows when nothing is chosen
    blank: Any = None  # the value stored when a select is set to nothing
    required: bool = False  # a select that offers no "nothing" (its choices are fixed and one must hold)
    suggest: Choices | None = None  # values a text field offers to complete (→ accepts)

    @property
    def ident(self) -> str:
        return self.key or self.name


def to_text(kind: FieldKind, value: Any) -> Any:
    if kind == "switch":
        return bool(value)
    if kind == "list":
        return ", ".join(value or [])
    if kind == "value":
        return show_value(value)
    if kind == "int":
        return "" if value is None else str(value)
    if kind == "select":
        return value
    return value or ""


def from_text(kind: FieldKind, value: Any) -> Any:
    if kind == "list":
        return [part.strip() for part in str(value).split(",") if part.strip()]
    if kind == "value":
        return parse_value(str(value))
    if kind == "int":  # not a number: kept as typed, for the field to say so and saving to refuse it
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else text or None
    return value


class EditorTable(KeyedTable):
    """The items' table: `a` moves the focus to the new row's first field, so the keys typed right
    after it must follow it there (`keyorder.in_order_on_table`)."""

    async def _on_key(self, event: events.Key) -> None:
        if not await in_order_on_table(self, event):
            await super()._on_key(event)


class ListEditor(Vertical):
    """See the module docstring; `columns` picks what the table shows of each item."""

    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("d", "delete", "Delete row"),
    ]

    class Changed(Message):
        """The items were changed (a field typed, an item added or removed)."""

        def __init__(self, editor: ListEditor) -> None:
            super().__init__()
            self.editor = editor

        @property
        def control(self) -> ListEditor:
            return self.editor

    class Highlighted(Message):
        """The cursor moved to item `index` (-1: none)."""

        def __init__(self, editor: ListEditor, index: int) -> None:
            super().__init__()
            self.editor = editor
            self.index = index

        @property
        def control(self) -> ListEditor:
            return self.editor

    def __init__(
        self,
        *,
        title: str,
        columns: Sequence[Col],
        fields: Sequence[ItemField],
        cells: Callable[[Any], dict[str, Cell]],
        new_item: Callable[[list[Any]], Any],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="list-editor")
        self.title = title
        self.columns = columns
        self.item_fields = tuple(fields)
        self.cells = cells
        self.new_item = new_item
        self.items: list[Any] = []
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="table-title list-title")
        yield EditorTable(self.columns, id=f"{self.id}-table", classes="list-table")
        with Vertical(classes="list-form"):
            for field in self.item_fields:
                yield FieldRow(field.label, self._control(field), name=field.ident)

    def _control(self, field: ItemField) -> Widget:
        widget_id = f"{self.id}-{field.ident}"
        if field.kind == "select":
            return Select(list(field.choices() if field.choices else []), id=widget_id, compact=True,
                          allow_blank=not field.required, prompt=field.prompt)
        if field.kind == "switch":
            return Switch(id=widget_id)
        suggester = None
        if field.suggest is not None:
            suggester = SuggestFromList([value for _, value in field.suggest()], case_sensitive=False)
        return Input(id=widget_id, compact=True, placeholder=field.placeholder, suggester=suggester)

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    @property
    def index(self) -> int:
        key = self.table.cursor_key
        return int(key) if key is not None and key.isdigit() and int(key) < len(self.items) else -1

    @property
    def current(self) -> Any:
        return self.items[self.index] if self.index >= 0 else None

    # --- from the owner ------------------------------------------------------------------

    def edit(self, items: list[Any], *, select: int | None = None) -> None:
        """Edit `items` (changed in place)."""
        self.items = items
        self.refresh_rows()
        if select is not None and 0 <= select < len(items):
            self.table.select_key(str(select))
        self.load_form()

    def set_title(self, title: str) -> None:
        """Change the line above the table (its item count is added after it)."""
        self.title = title
        if self.is_mounted:
            self._show_title()

    def refresh_rows(self) -> None:
        self.table.set_rows([(str(i), self.cells(item)) for i, item in enumerate(self.items)])
        self._show_title()

    def _show_title(self) -> None:
        count = len(self.items)
        self.query_one(".list-title", Static).update(
            f"{self.title} · {count}" + ("" if count else " — press a to add one"))

    def refresh_choices(self) -> None:
        """Re-read the choices of select fields (e.g. after a target was renamed)."""
        for field in self.item_fields:
            if field.kind == "select" and field.choices is not None:
                select = self.query_one(f"#{self.id}-{field.ident}", Select)
                with select.prevent(Select.Changed):
                    value = select.value
                    select.set_options(list(field.choices()))
                    if value is not Select.NULL:
                        self._choose(select, field, value)

    # --- form ----------------------------------------------------------------------------

    def load_form(self) -> None:
        item = self.current
        form = self.query_one(".list-form")
        form.display = item is not None
        if item is None:
            return
        self._loading = True
        try:
            for field in self.item_fields:
                widget = self.query_one(f"#{self.id}-{field.ident}")
                value = to_text(field.kind, getattr(item, field.name, None))
                if isinstance(widget, Select):
                    with widget.prevent(Select.Changed):
                        self._choose(widget, field, value)
                elif isinstance(widget, Switch):
                    with widget.prevent(Switch.Changed):
                        widget.value = bool(value)
                elif isinstance(widget, Input):
                    with widget.prevent(Input.Changed):
                        widget.value = str(value)
            self._show_applicable(item)
            self._check_all(item)
        finally:
            self._loading = False

    @staticmethod
    def _choose(select: Select[Any], field: ItemField, value: Any) -> None:
        """Show `value` in `select`; one its field does not offer (any more) is marked as not found."""
        if value in (None, ""):
            select.value = Select.NULL
            return
        try:
            select.value = value
        except InvalidSelectValueError:
            choices = list(field.choices() if field.choices else [])
            if not any(v == value for _, v in choices):
                choices.append((f"{value} (not found)", value))
            select.set_options(choices)
            select.value = value

    def _show_applicable(self, item: Any) -> None:
        for row in self.query(FieldRow):
            field = self._field(row.name or "")
            row.display = field.applies is None or field.applies(item)

    def _field(self, ident: str) -> ItemField:
        return next(f for f in self.item_fields if f.ident == ident)

    def _check_all(self, item: Any) -> None:
        for row in self.query(FieldRow):
            field = self._field(row.name or "")
            text = to_text(field.kind, getattr(item, field.name, None))
            problem = None
            if field.kind == "int" and text and not str(text).lstrip("-").isdigit():
                problem = "a whole number, or empty"
            elif field.check and row.display:
                problem = field.check(item, str(text))
            row.show_error(problem)

    def show_error(self, index: int, field: str, message: str) -> bool:
        """Point at item `index`, field `field` and say `message` there."""
        if not 0 <= index < len(self.items):
            return False
        self.table.select_key(str(index))
        self.load_form()
        for row in self.query(FieldRow):
            if self._field(row.name or "").name == field and row.display:
                row.show_error(message)
                row.control.focus()
                return True
        return False

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.load_form()
        self.post_message(self.Highlighted(self, self.index))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        rows = [row for row in self.query(FieldRow) if row.display]
        if rows:
            rows[0].control.focus()

    @on(Input.Submitted)
    def _field_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; after the last one, back to the table."""
        event.stop()
        controls = [row.control for row in self.query(FieldRow) if row.display]
        if event.control in controls and event.control is not controls[-1]:
            controls[controls.index(event.control) + 1].focus()
        else:
            self.table.focus()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        widget = event.control
        if self._loading or widget.id is None or not widget.id.startswith(f"{self.id}-"):
            return
        event.stop()
        item = self.current
        if item is None:
            return
        field = self._field(widget.id.removeprefix(f"{self.id}-"))
        value: Any = event.value
        if isinstance(event, Select.Changed) and value is Select.NULL:
            value = field.blank
        setattr(item, field.name, from_text(field.kind, value))
        self.table.update_row(str(self.index), self.cells(item))
        self._show_applicable(item)
        self._check_all(item)
        self.post_message(self.Changed(self))

    # --- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add", "delete"):
            return self.table.has_focus
        return True

    def action_add(self) -> None:
        self.items.append(self.new_item(self.items))
        self.refresh_rows()
        self.table.select_key(str(len(self.items) - 1))
        self.load_form()
        self.post_message(self.Changed(self))
        rows = [row for row in self.query(FieldRow) if row.display]
        if rows:  # at once, not after a refresh: the next keys typed are the new row's (keyorder.py)
            self.screen.set_focus(rows[0].control)

    def action_delete(self) -> None:
        index = self.index
        if index < 0:
            return
        del self.items[index]
        self.refresh_rows()
        if self.items:
            self.table.select_key(str(min(index, len(self.items) - 1)))
        self.load_form()
        self.table.focus()
        self.post_message(self.Changed(self))
