"""`ConsoleScreen`: what every full screen shares — top bar, footer, back, keys help, events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.screen import Screen

from payloads_tui.tui.messages import ServiceUpdated, WorkspaceSwitched
from payloads_tui.tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from payloads_tui.service.workspace import Workspace
    from payloads_tui.tui.app import PayloadsApp


class ConsoleScreen(Screen[Any]):
    """A full screen of the console; subclasses compose a `TopBar` first and a `Footer` last."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("question_mark", "app.keys", "Keys", key_display="?"),
    ]

    @property
    def console(self) -> PayloadsApp:
        return self.app  # type: ignore[return-value]

    @property
    def workspace(self) -> Workspace:
        return self.console.workspace

    def now(self) -> float:
        return self.console.clock()

    def on_mount(self) -> None:
        self.show_service_line()

    def on_screen_resume(self) -> None:
        self.show_service_line()

    def on_service_updated(self, _message: ServiceUpdated) -> None:
        self.show_service_line()

    def on_workspace_switched(self, _message: WorkspaceSwitched) -> None:
        self.show_service_line()
        self.refresh_bindings()

    #: Whether the top bar names the service's addresses (only where nothing else does).
    SERVICE_ADDRESSES = False

    def show_service_line(self) -> None:
        line, state = self.console.service_line(short=not self.SERVICE_ADDRESSES)
        for bar in self.query(TopBar):
            bar.show_service(line, state=state)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss()
