"""Workers that call the workspace: the one place where its errors become messages.

`workspace_work(...)` wraps Textual's `@work`: the method runs as a worker (a thread
when it touches disk at length: bundles, dry runs), and a `PayloadsError` (or an
`OSError` from a path the user typed) becomes a `CallFailed` message that bubbles to
the app, which shows it as a notification. A screen that can do better (a validation
error shown next to its field) handles `CallFailed` itself and stops it. Workers only
post messages; they never touch widgets.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual import work
from textual.dom import DOMNode
from textual.message import Message

from payloads_tui.domain.errors import PayloadsError, StoreError
from payloads_tui.tui.messages import CallFailed

F = TypeVar("F", bound=Callable[..., Any])


def as_payloads_error(exc: BaseException) -> PayloadsError:
    """Our error for `exc`: itself, or an OSError told in the user's words."""
    if isinstance(exc, PayloadsError):
        return exc
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return StoreError(f"could not use{where}: {exc.strerror or exc}")
    raise exc


def workspace_work(doing: str, *, group: str, thread: bool = False, exclusive: bool = True) -> Callable[[F], F]:
    """Run the decorated method as a worker; its workspace errors post `CallFailed(doing)`."""

    def decorate(method: F) -> F:
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def guarded_async(node: DOMNode, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await method(node, *args, **kwargs)
                except (PayloadsError, OSError) as exc:
                    node.post_message(CallFailed(as_payloads_error(exc), doing))
                    return None

            runner: Callable[..., Any] = guarded_async
        else:

            @functools.wraps(method)
            def guarded_sync(node: DOMNode, *args: Any, **kwargs: Any) -> Any:
                try:
                    return method(node, *args, **kwargs)
                except (PayloadsError, OSError) as exc:
                    node.post_message(CallFailed(as_payloads_error(exc), doing))
                    return None

            runner = guarded_sync
        return work(runner, group=group, exclusive=exclusive, thread=thread)  # type: ignore[return-value]

    return decorate


def attempt(node: DOMNode, doing: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a quick workspace call on the UI loop; on failure post `CallFailed` and return None."""
    try:
        return call(*args, **kwargs)
    except (PayloadsError, OSError) as exc:
        node.post_message(CallFailed(as_payloads_error(exc), doing))
        return None


def start_call(
    node: DOMNode,
    doing: str,
    call: Callable[[], Awaitable[Any]],
    *,
    group: str,
    then: Callable[[Any], Message | None] | None = None,
) -> None:
    """Run the async workspace `call` in a worker; post `then(result)` after, or `CallFailed`."""

    async def guarded() -> None:
        try:
            result = await call()
        except (PayloadsError, OSError) as exc:
            node.post_message(CallFailed(as_payloads_error(exc), doing))
            return
        if then is not None and (message := then(result)) is not None:
            node.post_message(message)

    node.run_worker(guarded(), group=group, exclusive=False, exit_on_error=True)
