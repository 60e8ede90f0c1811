"""The command palette (ctrl+p): every action by name, from the app and the screen in front.

Screens offer their actions through `palette_commands()`; the app adds the global ones
(open an integration, import a bundle, switch theme). One `Provider` serves both, so
what the palette lists always matches what the screen can do: in a read-only console
the commands that change things are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from payloads_tui.tui.readonly import read_only_reason


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: what the user reads, a line of help, what it runs, and whether that changes things."""

    title: str
    help: str
    run: Callable[[], Any]
    changes: bool = False


def commands_for(app: Any, screen: Any) -> list[PaletteCommand]:
    """The screen's commands, then the app's; without those that change things when read-only."""
    read_only = read_only_reason(app) is not None
    found: list[PaletteCommand] = []
    for source in (screen, app):
        offer: Callable[[], Iterable[PaletteCommand]] | None = getattr(source, "palette_commands", None)
        if offer is not None:
            found.extend(command for command in offer() if not (read_only and command.changes))
    return found


class ConsoleCommands(Provider):
    """Palette entries of the screen the palette was opened on, then the app's."""

    async def discover(self) -> Hits:
        for command in commands_for(self.app, self.screen):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in commands_for(self.app, self.screen):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
