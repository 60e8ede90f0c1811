"""`FormScreen`: a modal form with field rows, ctrl+s to submit and esc to cancel; `SavingForm` for changes.

Subclasses compose their `FieldRow`s in `fields()` and turn the values into a result in
`submit()`, which raises `ValidationError` (naming the field) to keep the form open with
the message next to the field; any other `PayloadsError` is shown at the foot of the form.
A valid result goes to `submitted()`, which dismisses with it (a form whose work may still
fail overrides it, and dismisses once the work is done).

Esc (or the Cancel button) asks before throwing away unsaved changes, as the payload
editors do: the form remembers what its fields held once it had settled on opening, and
asks only when a field now holds something else. A form that cannot submit (a read-only
console's, opened to look at) closes at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Select, Static, Switch, TextArea

from payloads_tui.domain.errors import PayloadsError, ValidationError
from payloads_tui.tui.messages import CallFailed
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.screens.confirm import ConfirmScreen
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
        self._opened_with: dict[str, Any] | None = None

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
        self.call_after_refresh(self._remember_opening)

    def focus_first_field(self) -> None:
        for row in self.query(FieldRow):
            if row.display and row.control.focusable:
                row.control.focus()
                return

    def submit(self) -> T:
        raise NotImplementedError

    def submitted(self, result: T) -> None:
        """What a valid submit does with `submit()`'s result: dismiss with it."""
        self.dismiss(result)

    # --- unsaved changes -----------------------------------------------------------------

    def field_values(self) -> dict[str, Any]:
        """What every field's control holds now, by the control's id."""
        values: dict[str, Any] = {}
        for row in self.query(FieldRow):
            control = row.control
            if control.id is not None:
                values[control.id] = control.text if isinstance(control, TextArea) else getattr(control, "value", None)
        return values

    def _remember_opening(self) -> None:
        """Remember what the fields hold once every one is mounted (rows a form adds on mount included)."""
        if not all(row.control.is_mounted for row in self.query(FieldRow)):
            self.call_after_refresh(self._remember_opening)
            return
        self._opened_with = self.field_values()

    def has_unsaved_changes(self) -> bool:
        """Whether a field holds something other than what it opened with."""
        return self._opened_with is not None and self.field_values() != self._opened_with

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
        self.submitted(result)

    def action_cancel(self) -> None:
        if not self.may_submit() or not self.has_unsaved_changes():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen(
            "Discard the unsaved changes?",
            detail=f"{self.title_text} — press ctrl+s to {self.SUBMIT_LABEL.lower()} instead.",
            confirm="Discard"), answered)


class SavingForm(ReadOnlyGuard, FormScreen[T]):
    """A form whose submit changes the data directory: in a read-only console it shows, but does not save."""

    def may_submit(self) -> bool:
        return read_only_reason(self.app) is None

    @changes_data
    def action_submit(self) -> None:
        super().action_submit()


class WorksBeforeClosing:
    """Mixin (before the form class) for a form that runs its request in a worker and closes when it is done.

    The subclass's worker posts its outcome message to the form, or `CallFailed`; the
    form's handler of the outcome calls `done()`, which closes the form and hands the
    outcome to the screen beneath it. A failure stays in the form, as its error.
    """

    busy = False
    _opener: Screen[Any] | None = None

    def submitted(self, request: Any) -> None:
        if self.busy:
            return
        self.busy = True
        stack = self.app.screen_stack  # type: ignore[attr-defined]
        self._opener = stack[stack.index(self) - 1] if self in stack[1:] else None
        self.run_request(request)

    def run_request(self, request: Any) -> None:
        """Start the worker that carries out `request`."""
        raise NotImplementedError

    def done(self, outcome: Message) -> None:
        """The work succeeded: close, and hand `outcome` to the screen that opened the form."""
        self.busy = False
        if self._opener is not None:
            self._opener.post_message(outcome)
        self.dismiss(None)  # type: ignore[attr-defined]

    def on_call_failed(self, message: CallFailed) -> None:
        message.stop()
        self.busy = False
        self.show_form_error(f"Could not {message.doing}: {message.error}")  # type: ignore[attr-defined]

    def has_unsaved_changes(self) -> bool:
        """While the work runs there is nothing to discard: esc closes (the work goes on)."""
        return not self.busy and super().has_unsaved_changes()  # type: ignore[misc, no-any-return]
