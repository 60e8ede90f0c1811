"""`ConfirmScreen`: the one yes/no modal every destructive key goes through."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask `question`; dismiss with True on `y`/Enter on the confirm button, False on `n`/Esc."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, detail: str = "", confirm: str = "Delete", danger: bool = True) -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.detail = detail
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog-box"):
            yield Static(self.question, id="confirm-question", classes="dialog-title")
            if self.detail:
                yield Static(self.detail, id="confirm-detail", classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm-yes", variant="error" if self.danger else "primary")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
