"""The control API: a Unix socket in the data directory through which other processes
(the CLI, a console attached over SSH) ask the running service to change things.

One writer per data directory: the service holds the lock, so every change made by
another process goes through here. Protocol: JSON lines. A request is
`{"op": "...", "args": {...}}`; the answer `{"ok": true, "result": ...}` or
`{"ok": false, "error": "...", "type": "NotFoundError"}`. The op `call` runs one of
the `Workspace` methods in `REMOTE_METHODS` (`{"method": "newest_jobs", "kwargs":
{...}}`), its arguments decoded by the method's type hints. The op `subscribe` turns the
connection into a stream of events (`{"event": "job", "job": {...}, "created": ...}`,
`{"event": "config", "integration": "..."}`) until the client hangs up.
The socket is created 0600 inside the 0700 data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import socket
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from payloads_tui.domain import errors
from payloads_tui.domain.errors import PayloadsError, ServiceError
from payloads_tui.domain.models import Job, from_data, to_data
from payloads_tui.engine.events import (
    AuthRejected,
    ConfigChanged,
    Event,
    JobChanged,
    JobsPruned,
    ServiceChanged,
)

if TYPE_CHECKING:
    from payloads_tui.service.workspace import Workspace

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_LINE = 64 * 1024 * 1024

def _enc_hook(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot send {type(value).__name__} over the control socket")


_encode = msgspec.json.Encoder(enc_hook=_enc_hook).encode
_decode = msgspec.json.Decoder().decode


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET_NAME


def event_to_data(event: Event) -> dict[str, Any]:
    if isinstance(event, JobChanged):
        return {"event": "job", "job": to_data(event.job), "created": event.created, "linked": event.linked}
    if isinstance(event, ConfigChanged):
        return {"event": "config", "integration": event.integration, "action": event.action}
    if isinstance(event, ServiceChanged):
        return {"event": "service", "running": event.running, "http": event.http, "smtp": event.smtp,
                "error": event.error}
    if isinstance(event, JobsPruned):
        return {"event": "pruned", "dropped": event.dropped}
    return {"event": "auth", "integration": event.integration, "where": event.where, "reason": event.reason,
            "peer": event.peer}


def event_from_data(data: dict[str, Any]) -> Event | None:
    kind = data.get("event")
    if kind == "job":
        return JobChanged(from_data(Job, data["job"]), created=bool(data.get("created")),
                          linked=bool(data.get("linked")))
    if kind == "config":
        return ConfigChanged(data.get("integration"), data.get("action", "update"))
    if kind == "service":
        return ServiceChanged(bool(data.get("running")), data.get("http"), data.get("smtp"), data.get("error"))
    if kind == "pruned":
        return JobsPruned(int(data.get("dropped") or 0))
    if kind == "auth":
        return AuthRejected(data.get("integration", ""), data.get("where", ""), data.get("reason", ""),
                            data.get("peer", ""))
    return None


class ControlServer:
    """Serves the control API of the workspace a running service owns."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = socket_path(workspace.home)
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[Any]] = set()  # one per open connection
        self._subscribers: set[asyncio.StreamWriter] = set()  # connections streaming events
    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # we hold the lock: any socket file left is stale
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Event streams never end by themselves: close them, and let every connection's
            # handler finish, rather than be cancelled later by the loop's shutdown (which
            # Python 3.11's streams report as an "Exception in callback").
            for writer in list(self._subscribers):
                writer.close()
            if self._handlers:
                await asyncio.wait(set(self._handlers), timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            while line := await reader.readline():
                try:
                    request = _decode(line)
                    op = request.get("op")
                    args = request.get("args") or {}
                except (msgspec.DecodeError, AttributeError):
                    await self._send(writer, {"ok": False, "error": "bad request: not a JSON object"})
                    continue
                if op == "subscribe":
                    await self._stream_events(reader, writer)
                    return
                try:
                    result = await self._handle(op, args)
                    await self._send(writer, {"ok": True, "result": result})
                except PayloadsError as exc:
                    await self._send(writer, {"ok": False, "error": str(exc), "type": type(exc).__name__})
                except (TypeError, msgspec.ValidationError, msgspec.DecodeError) as exc:
                    await self._send(writer, {"ok": False, "error": f"bad arguments for {op}: {exc}"})
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception:  # noqa: BLE001 - one broken client must not stop the service
            log.exception("control connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(_encode(message) + b"\n")
        await writer.drain()

    async def _stream_events(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=10_000)
        loop = asyncio.get_running_loop()

        def forward(event: Event) -> None:
            def put() -> None:
                with contextlib.suppress(asyncio.QueueFull):  # a slow client misses events, never blocks us
                    queue.put_nowait(event)

            loop.call_soon_threadsafe(put)

        unsubscribe = self.workspace.events.subscribe(forward)
        closed = asyncio.ensure_future(reader.read())
        self._subscribers.add(writer)
        try:
            await self._send(writer, {"ok": True, "result": "subscribed"})
            while not closed.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                await self._send(writer, event_to_data(getter.result()))
        finally:
            self._subscribers.discard(writer)
            unsubscribe()
            closed.cancel()

    # --- operations --------------------------------------------------------------------

    async def _handle(self, op: str, args: dict[str, Any]) -> Any:
        if op == "ping":
            return "pong"
        if op == "pid":
            return os.getpid()
        if op != "call":
            raise ServiceError(f"unknown operation {op!r}")
        name = args.get("method", "")
        if name not in REMOTE_METHODS:
            raise ServiceError(f"{name!r} cannot be called through the control socket")
        method = getattr(self.workspace, name)
        hints = method_hints(name)
        params = inspect.signature(getattr(type(self.workspace), name)).parameters
        kwargs = {}
        for key, raw in (args.get("kwargs") or {}).items():
            if key not in params:
                raise ServiceError(f"{name}() takes no argument {key!r}")
            kwargs[key] = msgspec.json.decode(_encode(raw), type=hints.get(key, Any))
        if inspect.iscoroutinefunction(method):
            result = await method(**kwargs)
        else:
            result = await asyncio.to_thread(method, **kwargs)
        return result


#: Workspace methods another process may call (everything but closing and key rotation,
#: which needs the data directory to itself). Bundles travel as data (`export_data`,
#: `import_data`): the caller reads and writes its files itself, with its own rights and
#: its own working directory (`RemoteWorkspace.export` / `import_`).
REMOTE_METHODS = frozenset({
    "integrations", "integration", "create_integration", "save_integration", "delete_integration",
    "schemas", "save_schema", "delete_schema", "history", "encrypt", "new_api_token", "reveal_secret", "sign_api_request",
    "export_data", "import_data", "seed_demo", "record_objects", "record_counts", "list_records",
    "inbound_payload", "try_inbound", "job", "newest_jobs", "prune_jobs", "job_counts", "job_body", "job_data", "recent_refusals", "refusal_count",
    "service_status", "api_url", "run_outbound", "run_inbound", "retry_job", "replay_job",
    "send_test_email",
})


@functools.cache
def method_hints(name: str) -> dict[str, Any]:
    from payloads_tui.service.workspace import Workspace

    return typing.get_type_hints(getattr(Workspace, name))


def _raise_remote(answer: dict[str, Any]) -> None:
    kind = getattr(errors, str(answer.get("type")), None)
    message = str(answer.get("error") or "the service refused the request")
    if isinstance(kind, type) and issubclass(kind, PayloadsError) and kind.__init__ is PayloadsError.__init__:
        raise kind(message)
    raise ServiceError(message)


#: When the service goes away mid-request (stopped, killed): what was done before stays done.
CLOSED_WITHOUT_ANSWER = ("the service closed the connection without answering (did it stop?); what it had done "
                         "stays done, and a job it had queued resumes when a service starts on this data directory")


class ControlClient:
    """Talks to the control socket of the service running on a data directory."""

    def __init__(self, home: Path, *, timeout: float = 120.0) -> None:
        self.path = socket_path(home)
        self.timeout = timeout

    def available(self) -> bool:
        try:
            return self.call("ping", timeout=2.0) == "pong"
        except ServiceError:
            return False

    def call(self, op: str, *, timeout: float | None = None, **args: Any) -> Any:
        """One request, answered synchronously (for the CLI)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout or self.timeout)
                sock.connect(str(self.path))
                sock.sendall(_encode({"op": op, "args": args}) + b"\n")
                buffer = b""
                while not buffer.endswith(b"\n"):
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        break
                    buffer += chunk
        except (FileNotFoundError, ConnectionRefusedError):
            raise ServiceError(f"no service is answering on {self.path}") from None
        except OSError as exc:
            raise ServiceError(f"the service on {self.path} did not answer ({exc})") from None
        if not buffer:
            raise ServiceError(CLOSED_WITHOUT_ANSWER)
        answer = _decode(buffer)
        if not answer.get("ok"):
            _raise_remote(answer)
        return answer.get("result")

    async def acall(self, op: str, **args: Any) -> Any:
        """One request from inside an event loop."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=MAX_LINE), 5)
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError):
            raise ServiceError(f"no service is answering on {self.path}") from None
        try:
            writer.write(_encode({"op": op, "args": args}) + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), self.timeout)
        finally:
            writer.close()
        if not line:
            raise ServiceError(CLOSED_WITHOUT_ANSWER)
        answer = _decode(line)
        if not answer.get("ok"):
            _raise_remote(answer)
        return answer.get("result")

    async def events(self, deliver: Callable[[Event], None]) -> None:
        """Stream the service's events into `deliver` until cancelled or disconnected."""
        reader, writer = await asyncio.open_unix_connection(str(self.path), limit=MAX_LINE)
        try:
            writer.write(_encode({"op": "subscribe"}) + b"\n")
            await writer.drain()
            await reader.readline()  # "subscribed"
            while line := await reader.readline():
                event = event_from_data(_decode(line))
                if event is not None:
                    deliver(event)
        finally:
            writer.close()
