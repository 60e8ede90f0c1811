"""`TopBar`: one line naming the console, the data directory, and the service's state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from payloads_tui.domain.terminaltext import printable
from payloads_tui.tui.widgets.quiet import update_if_changed


class TopBar(Horizontal):
    """`Payloads › <where>`, then the service line on the right (set by the screen)."""

    def __init__(self, where: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._where = printable(where)  # names an integration or a payload: shown as stand-ins, if any

    def compose(self) -> ComposeResult:
        yield Static("Payloads", id="topbar-brand")
        yield Static(self._where, id="topbar-where")
        yield Static("", id="topbar-service")

    def show_where(self, where: str) -> None:
        update_if_changed(self.query_one("#topbar-where", Static), printable(where))

    def show_service(self, line: str, *, state: str) -> None:
        """`state` is one of running, off, attached, failed, starting (a CSS class)."""
        service = self.query_one("#topbar-service", Static)
        update_if_changed(service, line, layout=True)
        service.set_classes(f"-{state}")
