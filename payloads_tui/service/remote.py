"""`RemoteWorkspace`: the `Workspace` of a service running in another process.

When the data directory's lock is held, the console and the CLI attach to the running
service through its control socket instead of opening the files themselves: every
call is sent over the socket (arguments and results typed by `Workspace`'s own type
hints) and the service's events stream into a local `EventBus`. So an operator over
SSH sees the daemon's jobs live, and nothing ever writes behind the service's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from payloads_tui.domain.errors import ServiceError
from payloads_tui.engine.events import EventBus
from payloads_tui.service.control import REMOTE_METHODS, ControlClient, method_hints
from payloads_tui.settings import Settings
from payloads_tui.store.bundles import ImportResult, read_bundle, write_bundle

if TYPE_CHECKING:
    from payloads_tui.service.workspace import ConflictPolicy


class RemoteWorkspace:
    """Workspace-shaped proxy to the running service's workspace."""

    read_only = False
    service = None

    def __init__(self, settings: Settings, client: ControlClient | None = None) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.client = client or ControlClient(self.home)
        self.events = EventBus()
        self.pid: int | None = self.client.call("pid")
        self._stream: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        if name not in REMOTE_METHODS:
            raise AttributeError(f"{name!r} is not available on a console attached to a running service")
        from payloads_tui.service.workspace import Workspace

        returns = method_hints(name).get("return", Any)
        if inspect.iscoroutinefunction(getattr(Workspace, name)):

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                kwargs = _bind(name, args, kwargs)
                raw = await self.client.acall("call", method=name, kwargs=kwargs)
                return _decode_as(raw, returns)

            return call_async

        def call(*args: Any, **kwargs: Any) -> Any:
            kwargs = _bind(name, args, kwargs)
            return _decode_as(self.client.call("call", method=name, kwargs=kwargs), returns)

        return call

    def export(self, slug: str, path: Path, *, passphrase: str | None = None) -> Path:
        """Write the bundle of `slug` to `path` here (the service only builds it)."""
        write_bundle(path, self.export_data(slug, passphrase=passphrase))
        return path

    def import_(self, path: Path, *, on_conflict: ConflictPolicy = "skip", passphrase: str | None = None) -> ImportResult:
        """Import the bundle in `path`, read here, through the service."""
        return self.import_data(read_bundle(path), on_conflict=on_conflict, passphrase=passphrase)

    async def start_events(self, on_end: Callable[[], None] | None = None) -> None:
        """Stream the service's events into `self.events` (call inside the running loop).

        `on_end` is called in the loop if the stream ends other than by `close()`: the service
        stopped, or its socket went away.
        """
        if self._stream is None:
            self._stream = asyncio.ensure_future(self._follow(on_end))

    async def _follow(self, on_end: Callable[[], None] | None) -> None:
        try:
            await self.client.events(self.events.publish)
        except (OSError, ServiceError):
            pass
        if on_end is not None:
            on_end()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stream
            self._stream = None

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.cache
def _signature(name: str) -> inspect.Signature:
    from payloads_tui.service.workspace import Workspace

    return inspect.signature(getattr(Workspace, name))


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = _signature(name).bind(None, *args, **kwargs)  # None stands for self
    return {k: v for k, v in list(bound.arguments.items())[1:]}


def _decode_as(raw: Any, returns: Any) -> Any:
    if returns is Any or returns is None or returns is type(None):
        return raw
    return msgspec.json.decode(msgspec.json.encode(raw, enc_hook=str), type=returns)


def running_service_pid(home: Path) -> int | None:
    """The pid of the service answering on the data directory's socket, else None."""
    client = ControlClient(home)
    try:
        return int(client.call("pid", timeout=2.0)) if client.available() else None
    except (ServiceError, TypeError, ValueError):
        return None


def attach(settings: Settings) -> RemoteWorkspace | None:
    """A RemoteWorkspace if a service answers on the data directory's socket, else None."""
    client = ControlClient(settings.home)
    return RemoteWorkspace(settings, client) if client.available() else None


__all__ = ["RemoteWorkspace", "attach", "running_service_pid"]
