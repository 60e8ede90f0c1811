"""Keys in the order they were typed, when they arrive in one burst (Textualize/textual#6605).

Over SSH, from `tmux send-keys` or a fast typist, several keys reach the console in one
read. Textual forwards each to the focused widget's queue at once. An `Input` handles a
printable key where it lands, but a *bound* key (backspace, the arrows, ctrl+k) bubbles
up to the app before its action runs, so a letter typed after it may be inserted first:
ten backspaces then `IN-546` gave `zzIN-5`. `install()` makes `Input` and `TextArea` run
their own bindings when the key reaches them, in order, as textual PR #6631 proposes
upstream.

A focus move has the same race one level up: the keys after a Tab were forwarded to
the field it leaves (`Acme CRM`, Tab, Tab, `DESC` typed `Acme CRMDESC` into the name).
`PayloadsApp` binds tab and shift+tab as priority keys, which the app handles as it
reads them, before it forwards the next key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import events
from textual.widget import Widget
from textual.widgets import Input, TextArea

KeyHandler = Callable[[Any, events.Key], Awaitable[None]]


async def run_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run `widget`'s own (non-priority) binding of the key now; whether one ran."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if binding.priority:
            continue  # the app ran those before it forwarded the key
        if await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False


def _in_order(original: KeyHandler) -> KeyHandler:
    async def _on_key(self: Any, event: events.Key) -> None:
        if not event.is_printable and await run_own_binding(self, event):
            return
        await original(self, event)

    _on_key.__wrapped__ = original  # type: ignore[attr-defined]
    return _on_key


def install() -> None:
    """Make `Input` and `TextArea` apply bound keys in the order typed (once per process)."""
    for widget in (Input, TextArea):
        if not hasattr(widget._on_key, "__wrapped__"):
            widget._on_key = _in_order(widget._on_key)  # type: ignore[method-assign]
