"""Form rows: a label, a control, and the validation message shown right under it.

`FieldRow(name=...)` names the field the way `ValidationError.field` does (its last
part, or a path), so `show_field_error()` can put a store's complaint next to the
field that caused it. `set_options_keeping()` refills a select without losing its choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Select, Static


class FieldRow(Vertical):
    """`label  [control]` with an error line below that is hidden while empty."""

    def __init__(self, label: str, control: Widget, *, name: str, hint: str = "") -> None:
        super().__init__(classes="field", name=name)
        self.label = label
        self.control = control
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(self.label, classes="field-label")
            yield self.control
        yield Static(self.hint, classes="field-hint" if self.hint else "field-hint -empty")
        yield Static("", classes="field-error")

    def on_descendant_focus(self, _event: events.DescendantFocus) -> None:
        self.add_class("-focused")  # its label stands out: compact fields barely change colour themselves

    def on_descendant_blur(self, _event: events.DescendantBlur) -> None:
        self.remove_class("-focused")

    def show_error(self, message: str | None) -> None:
        error = self.query_one(".field-error", Static)
        error.update(message or "")
        self.set_class(bool(message), "-invalid")


def field_rows(root: Widget) -> dict[str, FieldRow]:
    return {row.name or "": row for row in root.query(FieldRow)}


def clear_field_errors(root: Widget) -> None:
    for row in root.query(FieldRow):
        row.show_error(None)


def show_field_error(root: Widget, field: str | None, message: str) -> bool:
    """Show `message` at the row named by `field` (or its nearest named parent path); False if none."""
    if not field:
        return False
    rows = field_rows(root)
    candidates = [field]
    parts = field.replace("[", ".[").split(".")
    for cut in range(len(parts) - 1, 0, -1):
        candidates.append(".".join(parts[:cut]).replace(".[", "["))
    candidates.append(parts[-1])
    for name in candidates:
        if name in rows:
            rows[name].show_error(message)
            rows[name].control.focus()
            return True
    return False


def set_options_keeping(select: Select[Any], choices: Sequence[tuple[str, Any]]) -> None:
    """Offer `choices` in `select`, keeping the chosen value when it is still one of them."""
    chosen = select.value
    select.set_options(choices)
    if chosen is not Select.NULL and any(value == chosen for _, value in choices):
        select.value = chosen
