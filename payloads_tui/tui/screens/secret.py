"""Secrets on screen: `RevealForm` asks which one (and says it is logged), `SecretScreen` shows one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Select, Static

from payloads_tui.domain.models import Credential
from payloads_tui.tui.screens.form_screen import SavingForm
from payloads_tui.tui.widgets.form import FieldRow


class RevealForm(SavingForm[str]):
    """Pick the secret field of `credential` to reveal; dismisses with its name."""

    SUBMIT_LABEL = "Reveal"

    def __init__(self, credential: Credential) -> None:
        super().__init__(title=f"Reveal a secret of {credential.name}?")
        self.credential = credential

    def fields(self) -> ComposeResult:
        names = list(self.credential.secrets)
        yield FieldRow("Secret", Select([(n, n) for n in names], value=names[0], allow_blank=False, id="f-field",
                                        compact=True), name="field",
                       hint="the reveal is written to the integration's history, with your user name")

    def submit(self) -> str:
        return str(self.choice("f-field"))


class SecretScreen(ModalScreen[None]):
    """Shows one secret in plain text until closed; `c` copies it."""

    BINDINGS = [Binding("escape,enter", "close", "Close"), Binding("c", "copy", "Copy")]

    def __init__(self, title: str, value: str, *, note: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.value, id="secret-value", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-detail")
            yield Static("c copy · esc close", classes="dialog-detail")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.value)
        self.notify("Copied.", timeout=2)

    def action_close(self) -> None:
        self.value = ""
        self.dismiss(None)
