"""`Service`: starts and stops the executor and the network edges inside the running loop.

Start order: bind the listening sockets first (so a port in use fails at once, before
anything else starts), then the executor (which resumes jobs left unfinished), then
the HTTP receiver, the SMTP receiver, if asked the demo sandbox, and retention (the
job log pruned now and then by the retention settings, `retention.py`). Stop runs in
reverse: the edges stop accepting, then the executor finishes or parks its work.

Addresses: `None` takes the address from the workspace's settings, `False` leaves
that listener off, a `(host, port)` tuple binds there (port 0: any free port).

The interpreter's GIL switch interval is left at its default (5 ms): lowering it to
1-2 ms while the service runs was measured with bench/http_ingest.py (receiver alone
and with processing, 16 and 64 connections) and gave no clear gain (-15% to +8%,
within the noise of the machine), so `start()` does not change it. The garbage
collector is tuned while the service runs (`gctune.py`).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from payloads_tui.domain.errors import NotFoundError, PayloadsError, ServiceError
from payloads_tui.domain.models import Integration
from payloads_tui.engine.events import AuthRejected, ServiceChanged
from payloads_tui.engine.executor import Executor
from payloads_tui.engine.inboundworker import InboundWorker
from payloads_tui.service.gctune import GcTuning
from payloads_tui.service.http import HttpServer, make_http_app
from payloads_tui.service.retention import Retention
from payloads_tui.service.sandbox import Sandbox
from payloads_tui.service.smtp import MailHandler, SmtpServer
from payloads_tui.store.demo import DEMO_SANDBOX_URL, DEMO_SLUG

if TYPE_CHECKING:
    from payloads_tui.service.workspace import Workspace

log = logging.getLogger(__name__)

Address = tuple[str, int]
AddressChoice = Address | None | Literal[False]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_listener(address: Address, setting: str) -> socket.socket:
    """A listening-ready TCP socket bound to `address`; `ServiceError` naming the setting to change."""
    host, port = address
    shown = format_address(host, port)
    hint = f"set PAYLOADS_{setting.upper()} or --{setting} to another address"
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ServiceError(f"cannot resolve {host!r} for {shown} ({exc.strerror}); {hint}") from None
    # proto from getaddrinfo is IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only
    # when it is (with proto 0 every answer written in two parts waits ~40 ms for a delayed ACK)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServiceError(f"{shown} is in use; {hint}") from None
        raise ServiceError(f"cannot listen on {shown} ({exc.strerror}); {hint}") from None
    sock.setblocking(False)
    return sock


def is_loopback(host: str) -> bool:
    """Whether a listener on `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_warnings(http: Address | None, smtp: Address | None, integrations: Iterable[Integration]) -> list[str]:
    """What an operator must know when a receiver listens beyond this machine (empty on loopback)."""
    warnings: list[str] = []
    if http is not None and not is_loopback(http[0]):
        where = format_address(*http)
        unauthenticated = [f"/api/{i.slug}/{a.path}" for i in integrations for a in i.apis
                           if a.active and a.auth == "none"]
        if unauthenticated:
            warnings.append(f"the HTTP receiver listens on {where}, beyond this machine, and these External APIs "
                            f"take requests without any credential: {', '.join(unauthenticated)}")
        else:
            warnings.append(f"the HTTP receiver listens on {where}, beyond this machine "
                            "(every External API checks its token or signature)")
    if smtp is not None and not is_loopback(smtp[0]):
        warnings.append(f"the SMTP receiver listens on {format_address(*smtp)}, beyond this machine: anyone who "
                        "reaches it can send mail to the active Email Service addresses (SMTP has no sign-in here)")
    return warnings


def port_is_free(host: str, port: int) -> bool:
    try:
        bind_listener((host, port), "sandbox").close()
    except ServiceError:
        return False
    return True


class Service:
    """The background service of one workspace: executor, HTTP and SMTP receivers, sandbox.

    `inbound_worker` overrides `limits.inbound_worker` (the CLI's one-shot commands turn
    it off: a thread processes their few jobs sooner than a new process starts).
    `commit_on_loop` lets a lone webhook's job be committed by the loop's own thread
    (`JobLog.commit_on_loop`): `payloads serve` turns it on; under the console it stays
    off, so the UI's loop never waits for the disk. `recover` off (one-shot commands)
    leaves the jobs a crash or a stop left unfinished to the next service that starts:
    a command sends only the jobs it makes.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        http: AddressChoice = None,
        smtp: AddressChoice = None,
        sandbox: bool = False,
        transport: Any = None,
        inbound_worker: bool | None = None,
        retention: bool = True,
        commit_on_loop: bool = False,
        recover: bool = True,
    ) -> None:
        self.workspace = workspace
        self._recover = recover
        #: Headless (`payloads serve`): a webhook alone commits its job on the loop (`JobLog.commit_on_loop`).
        self._commit_on_loop = commit_on_loop
        settings = workspace.settings
        self._http_address: Address | None = settings.http_address if http is None else (http or None)
        self._smtp_address: Address | None = settings.smtp_address if smtp is None else (smtp or None)
        self._want_sandbox = sandbox
        self.executor = Executor(
            jobs=workspace.jobs,
            records=workspace.records,
            config=workspace.config,
            vault=workspace.vault,
            events=workspace.events,
            inbound=workspace.inbound,
            limits=settings.limits,
            transport=transport,
            worker=InboundWorker(workspace.home, durable=workspace.records.durable)
            if (settings.limits.inbound_worker if inbound_worker is None else inbound_worker) else None,
        )
        self.running = False
        self.started_at: float | None = None
        self._executor_started = False
        self._gc = GcTuning()
        self._http: HttpServer | None = None
        self._http_bound: Address | None = None
        self._smtp: SmtpServer | None = None
        self._smtp_bound: Address | None = None
        self._sandbox: Sandbox | None = None
        #: Prunes the job log by the retention settings while running (off for one-shot commands).
        self.retention = Retention(workspace) if retention else None
        workspace.service = self  # type: ignore[attr-defined]

    # --- addresses ---------------------------------------------------------------------

    @property
    def http_url(self) -> str | None:
        """Base URL of the HTTP receiver (`http://127.0.0.1:8787`), None when it is off."""
        address = self._http_bound or self._http_address
        return f"http://{format_address(*address)}" if address else None

    @property
    def smtp_address(self) -> str | None:
        """`host:port` of the SMTP receiver, None when it is off."""
        address = self._smtp_bound or self._smtp_address
        return format_address(*address) if address else None

    @property
    def smtp_host_port(self) -> Address | None:
        return self._smtp_bound or self._smtp_address

    @property
    def sandbox_url(self) -> str | None:
        """URL of the running demo sandbox; differs from the demo's `base_url` if its port was taken."""
        return self._sandbox.url if self._sandbox is not None else None

    def api_url(self, integration_slug: str, path: str) -> str:
        """Full URL of an External API, e.g. `http://127.0.0.1:8787/api/stripe/customers`."""
        base = self.http_url or f"http://{format_address(*self.workspace.settings.http_address)}"
        return f"{base}/api/{integration_slug}/{path.lstrip('/')}"

    def exposure_warnings(self) -> list[str]:
        """`exposure_warnings()` for the listeners as bound (empty before `start()`)."""
        if not self.running:
            return []
        return exposure_warnings(self._http_bound, self._smtp_bound, self.workspace.integrations())

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "started_at": self.started_at,
            "http": self.http_url if self._http else None,
            "smtp": self.smtp_address if self._smtp else None,
            "sandbox": self.sandbox_url,
            "jobs": self.executor.stats() if self._executor_started else {"queued": 0, "running": 0, "retrying": 0},
        }

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; on any failure stop what started and raise `ServiceError`."""
        if self.running:
            return
        http_sock = smtp_sock = None
        try:
            if self._http_address:
                http_sock = bind_listener(self._http_address, "http")
            if self._smtp_address:
                smtp_sock = bind_listener(self._smtp_address, "smtp")
            if self._want_sandbox:  # before the executor, so recovered demo jobs find it up
                await self._start_sandbox()
            await self.executor.start(recover=self._recover)
            self._executor_started = True
            self.workspace.jobs.commit_on_loop = self._commit_on_loop
            settings = self.workspace.settings
            if http_sock is not None:
                self._http_bound = self._bound(http_sock)
                app = make_http_app(self.workspace, self.executor, settings.limits)
                self._http = HttpServer(app, http_sock, on_refused=self._refused_request)
                http_sock = None  # the server owns it now
                await self._http.start()
            if smtp_sock is not None:
                self._smtp_bound = self._bound(smtp_sock)
                handler = MailHandler(self.workspace, self.executor, settings.smtp_hostname)
                self._smtp = SmtpServer(handler, smtp_sock, settings.limits)
                smtp_sock = None
                await self._smtp.start()
            if self.retention is not None:
                self.retention.start()
            self._gc.apply()
        except BaseException as exc:
            for sock in (http_sock, smtp_sock):
                if sock is not None:
                    sock.close()
            await self._stop_parts()
            if isinstance(exc, PayloadsError):
                self.workspace.events.publish(ServiceChanged(False, error=str(exc)))
                raise
            if isinstance(exc, Exception):
                log.exception("the service failed to start")
                error = ServiceError(f"the service failed to start: {exc}")
                self.workspace.events.publish(ServiceChanged(False, error=str(error)))
                raise error from exc
            raise
        self.running = True
        self.started_at = time.time()
        status = self.status()
        self.workspace.events.publish(ServiceChanged(True, http=status["http"], smtp=status["smtp"]))

    async def stop(self) -> None:
        """Stop accepting, then stop the executor. Safe to call twice."""
        was_running = self.running
        self.running = False
        await self._stop_parts()
        if was_running:
            self.workspace.events.publish(ServiceChanged(False))

    def _refused_request(self, where: str, reason: str, peer: str) -> None:
        """A request the HTTP server refused before it reached an integration (not HTTP, headers too large)."""
        self.workspace.events.publish(AuthRejected("", where, reason, peer))

    @staticmethod
    def _bound(sock: socket.socket) -> Address:
        host, port = sock.getsockname()[:2]
        return host, port

    async def _start_sandbox(self) -> None:
        host, port = self._sandbox_address()
        if port and not port_is_free(host, port):
            # uvicorn ends a failed bind with SystemExit, which would escape the loop: look first
            log.info("sandbox port %s is taken; using a free port", format_address(host, port))
            port = 0
        sandbox = Sandbox()
        await sandbox.start(host, port)
        self._sandbox = sandbox

    def _sandbox_address(self) -> Address:
        """Where the demo expects the sandbox (its `base_url`), if that is a loopback address."""
        try:
            url = self.workspace.integration(DEMO_SLUG).variables.get("base_url", DEMO_SANDBOX_URL)
        except NotFoundError:
            url = DEMO_SANDBOX_URL
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname in LOOPBACK_HOSTS and port:
            return parts.hostname, port
        return "127.0.0.1", 0

    async def _stop_parts(self) -> None:
        self.workspace.jobs.commit_on_loop = False
        if self.retention is not None:
            await self._quietly(self.retention.stop(), "retention")
        if self._http is not None:
            server, self._http = self._http, None
            await self._quietly(server.stop(), "HTTP receiver")
            server.app.state.receiver.close()
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            await self._quietly(smtp.stop(), "SMTP receiver")
            smtp.handler.close()
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await self._quietly(sandbox.stop(), "sandbox")
        if self._executor_started:
            self._executor_started = False
            await self._quietly(self.executor.stop(), "executor")
        self._gc.restore()

    @staticmethod
    async def _quietly(stopping: Any, what: str) -> None:
        try:
            await stopping
        except Exception:  # noqa: BLE001 - one part failing to stop must not keep the others running
            log.exception("the %s failed to stop cleanly", what)
