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
reads them, before it forwards the next key. A table whose key moves the focus (`a`
adds a row and focuses its first field) runs that key's binding where it lands too
(`in_order_on_table`), and hands the keys queued behind it to the field now focused:
`a` then `name` added three more rows.
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


async def in_order_on_table(table: Widget, event: events.Key) -> bool:
    """For a table's `_on_key`: whether the key was dealt with here, in order with the keys around it.

    A printable key that reached the table after the focus left it (typed after the key
    that moved it) goes on to the widget now focused; a key while the table has the focus
    runs its binding now (the table's, its ancestors', the app's), not after bubbling."""
    focused = table.app.focused
    if focused is not table:
        if focused is not None and event.is_printable:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
            return True
        return False
    if await table.app._check_bindings(event.key):
        event.stop()
        event.prevent_default()
        return True
    return False


def install() -> None:
    """Make `Input` and `TextArea` apply bound keys in the order typed (once per process)."""
    for widget in (Input, TextArea):
        if not hasattr(widget._on_key, "__wrapped__"):
            widget._on_key = _in_order(widget._on_key)  # type: ignore[method-assign]
