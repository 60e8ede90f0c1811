"""Read-only consoles: actions that change things are hidden from the footer, `?` and the palette, and refused.

A console is read-only when its workspace is: `payloads --no-service`, or a console
that found another process's service holding the data directory and could not attach
to it. An action method that changes the data directory is marked `@changes_data`;
a screen or pane that binds such actions inherits `ReadOnlyGuard`, whose
`check_action` hides them (Textual then leaves them out of the footer and of
`screen.active_bindings`, which the `?` help reads). A hidden key pressed anyway
reaches `PayloadsApp.run_action`, which refuses it through `refuses_action`; a marked
method called any other way refuses itself. Either way nothing changes and one
notification says why. Whether a console is read-only never changes while it runs,
so bindings need no refresh.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual import actions
from textual.dom import DOMNode

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute that marks an action method as one that changes the data directory.
CHANGES_DATA = "changes_data"
#: Seconds the "read-only" notification stays on screen.
NOTICE_TIMEOUT = 6.0


def read_only_reason(app: object) -> str | None:
    """Why the console `app` may not change anything, in the operator's words; None when it may."""
    workspace = getattr(app, "workspace", None)
    if workspace is None or not getattr(workspace, "read_only", False):
        return None
    pid = getattr(app, "attached_pid", None)
    if pid is None:
        return "opened with --no-service; start `payloads` without it to change things"
    holder = f"the service in pid {pid}" if pid else "a running service"
    if getattr(app, "service_gone", False):
        return (f"read-only: {holder} stopped; the console attaches again when a service starts on this "
                "data directory (or quit and open it again to run the service here)")
    return (f"read-only: {holder} owns this data directory; "
            "make changes through that service, or stop it and open the console again")


def refuse(node: DOMNode) -> bool:
    """When the console of `node` is read-only, say why (one notification) and return True."""
    reason = read_only_reason(node.app)
    if reason is None:
        return False
    node.app.notify(reason, title="Read-only console", severity="warning", markup=False, timeout=NOTICE_TIMEOUT)
    return True


def changes_data(method: F) -> F:
    """Mark the action `method` as changing the data directory: hidden, and refused when read-only."""

    @functools.wraps(method)
    def guarded(node: DOMNode, *args: Any, **kwargs: Any) -> Any:
        if refuse(node):
            return None
        return method(node, *args, **kwargs)

    setattr(guarded, CHANGES_DATA, True)
    return guarded  # type: ignore[return-value]


def is_changing(node: object, action_name: str) -> bool:
    """Whether `node`'s action `action_name` is marked `@changes_data`."""
    return bool(getattr(getattr(type(node), f"action_{action_name}", None), CHANGES_DATA, False))


def refuses_action(action: str, node: DOMNode) -> bool:
    """Refuse (see `refuse`) the binding action string `action` whose default namespace is `node`.

    True when it is a `@changes_data` action and the console is read-only: the caller
    then runs nothing else for that key.
    """
    try:
        namespace, name, _parameters = actions.parse(action)
    except actions.ActionError:
        return False
    target: object = {"": node, "screen": getattr(node, "screen", None), "app": node.app}.get(namespace)
    if target is None or not is_changing(target, name):
        return False
    return refuse(node)


class ReadOnlyGuard:
    """Mixin (before the Textual base) for screens and widgets: hides their `@changes_data` actions when read-only."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if is_changing(self, action) and read_only_reason(self.app) is not None:  # type: ignore[attr-defined]
            return False
        return super().check_action(action, parameters)  # type: ignore[misc, no-any-return]
