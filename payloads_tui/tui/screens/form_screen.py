"""`FormScreen`: a modal form with field rows, ctrl+s to submit and esc to cancel; `SavingForm` for changes.

Subclasses compose their `FieldRow`s in `fields()` and turn the values into a result in
`submit()`, which raises `ValidationError` (naming the field) to keep the form open with
the message next to the field; any other `PayloadsError` is shown at the foot of the form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static, Switch

from payloads_tui.domain.errors import PayloadsError, ValidationError
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.widgets.form import FieldRow, clear_field_errors, show_field_error

if TYPE_CHECKING:
    from payloads_tui.service.workspace import Workspace

T = TypeVar("T")


class FormScreen(ModalScreen[T], Generic[T]):
    """A titled modal form; dismisses with `submit()`'s result, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]
    TITLE_TEXT = ""
    SUBMIT_LABEL = "Save"

    def __init__(self, *, title: str | None = None) -> None:
        super().__init__(classes="dialog")
        self.title_text = title or self.TITLE_TEXT

    @property
    def workspace(self) -> Workspace:
        return self.app.workspace  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box form-box"):
            yield Static(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="form-fields", can_focus=False):
                yield from self.fields()
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                if self.may_submit():
                    yield Button(f"{self.SUBMIT_LABEL} (ctrl+s)", id="form-submit", variant="primary")
                    yield Button("Cancel (esc)", id="form-cancel")
                else:
                    yield Button("Close (esc)", id="form-cancel")

    def fields(self) -> ComposeResult:
        yield from ()

    def may_submit(self) -> bool:
        """Whether the form offers its submit button."""
        return True

    def on_mount(self) -> None:
        self.call_after_refresh(self.focus_first_field)

    def focus_first_field(self) -> None:
        for row in self.query(FieldRow):
            if row.display and row.control.focusable:
                row.control.focus()
                return

    def submit(self) -> T:
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------------

    def value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def choice(self, widget_id: str) -> Any:
        value = self.query_one(f"#{widget_id}", Select).value
        return None if value is Select.NULL else value

    def switch(self, widget_id: str) -> bool:
        return self.query_one(f"#{widget_id}", Switch).value

    def show_form_error(self, message: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(message)
        error.set_class(bool(message), "-shown")

    # --- actions -------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "form-submit":
            self.action_submit()
        elif event.button.id == "form-cancel":
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def action_submit(self) -> None:
        clear_field_errors(self)
        self.show_form_error("")
        try:
            result = self.submit()
        except ValidationError as exc:
            if not show_field_error(self, exc.field, exc.reason):
                self.show_form_error(str(exc))
            return
        except PayloadsError as exc:
            self.show_form_error(str(exc))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SavingForm(ReadOnlyGuard, FormScreen[T]):
    """A form whose submit changes the data directory: in a read-only console it shows, but does not save."""

    def may_submit(self) -> bool:
        return read_only_reason(self.app) is None

    @changes_data
    def action_submit(self) -> None:
        super().action_submit()
