"""The console app: `make_app()` (shared by the CLI and the tests) and `run_console()`.

The app holds the workspace (and the service, when this console runs it), turns service
events into messages for every open screen (through `EventBridge`, at most ~10 job
batches a second), shows workspace errors as notifications (`CallFailed`, one place),
and raises a notification for every job that fails. In a read-only console it refuses
the keys of actions that change things (see `readonly.py`).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.actions import ActionParseResult
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.events import Event
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.timer import Timer

from payloads_tui.domain.errors import LockedError, PayloadsError
from payloads_tui.domain.models import Job
from payloads_tui.domain.terminaltext import printable
from payloads_tui.service.control import ControlServer
from payloads_tui.service.refusals import RefusalDigest, RefusalNotice
from payloads_tui.service.remote import RemoteWorkspace, attach, running_service_pid
from payloads_tui.settings import Settings
from payloads_tui.tui.bridge import (
    AuthRefused,
    ConfigEventArrived,
    EventBridge,
    JobsPending,
    JobsPrunedArrived,
    ServiceEventArrived,
)
from payloads_tui.tui import keyorder
from payloads_tui.tui.calls import as_payloads_error
from payloads_tui.tui.commands import ConsoleCommands, PaletteCommand
from payloads_tui.tui.formatting import MIN_DELAY, Clock
from payloads_tui.tui.messages import (
    CallFailed,
    ConfigUpdated,
    EmailSent,
    JobsChanged,
    JobsDropped,
    JobsStarted,
    RequestRefused,
    ServiceUpdated,
    WorkspaceSwitched,
)
from payloads_tui.tui.readonly import refuses_action
from payloads_tui.tui.screens.editor_base import ALT_DIGIT_KEYS
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.integrations import IntegrationsScreen
from payloads_tui.tui.screens.keys import KeysScreen
from payloads_tui.tui.screens.refusals import RefusalsScreen

if TYPE_CHECKING:
    from payloads_tui.service.service import Service
    from payloads_tui.service.workspace import Workspace

#: Failed jobs notified one by one per batch; more become one summary notification.
FAILURES_NOTIFIED_SINGLY = 3
#: Seconds between checks, in a console that does not run the service, of the service that does.
WATCH_INTERVAL = 2.0
#: Seconds after attaching again at which every screen reads once more.
REREAD_AFTER_ATTACH = 1.5
#: What the highlights show of a service that is not answering.
NO_SERVICE: dict[str, Any] = {"running": False, "started_at": None, "http": None, "smtp": None, "sandbox": None,
                              "jobs": {"queued": 0, "running": 0, "retrying": 0}}
#: Every this many jobs in a batch add one base interval before the next batch...
JOBS_PER_BATCH_STEP = 25
#: ...up to this many seconds between batches.
MAX_FLUSH_INTERVAL = 0.5


def styles_dir() -> Path:
    """The folder of `*.tcss` files: inside the installed package, else beside it in the source tree."""
    packaged = Path(__file__).resolve().parent.parent / "styles"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent.parent / "styles"


def display_path(path: Path) -> str:
    """`path` with the home directory written as `~`."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


class ServiceLost(Message):
    """The service this console is attached to stopped answering."""


class ServiceFound(Message):
    """A service answers on the data directory again (`remote` is attached to it, not yet used)."""

    def __init__(self, remote: RemoteWorkspace) -> None:
        super().__init__()
        self.remote = remote


class ServiceSeen(Message):
    """Which service, if any, runs the data directory of a console opened with --no-service."""

    def __init__(self, pid: int | None) -> None:
        super().__init__()
        self.pid = pid


class PayloadsApp(App[None]):
    """The Payloads console over one `Workspace`."""

    TITLE = "Payloads"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("question_mark", "keys", "Keys", show=False, key_display="?"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        # Priority: a focus move takes effect before the keys typed after it are forwarded (keyorder.py).
        Binding("tab", "focus_next", "Focus next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Focus previous", show=False, priority=True),
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        service: Service | None = None,
        clock: Clock | None = None,
        attached_pid: int | None = None,
        elsewhere_pid: int | None = None,
    ) -> None:
        super().__init__(css_path=sorted(styles_dir().glob("*.tcss")))
        keyorder.install()  # keys typed in one burst apply in order
        # An operator's console over SSH: every frame costs bandwidth, and nothing here needs to slide.
        self.animation_level = "none"
        self.workspace = workspace
        self.service = service
        self.clock: Clock = clock or time.time
        #: set when another process's service owns the data directory (the console attaches to it)
        self.attached_pid = attached_pid
        #: the attached service stopped: the console reads the files until one answers again
        self.service_gone = False
        #: the service running the data directory of a console opened with --no-service
        self.elsewhere_pid = elsewhere_pid
        self.service_error: str | None = None
        self.control: ControlServer | None = None
        self.bridge = EventBridge(self)
        self._last_flush = 0.0
        self._flush_interval = self.bridge.interval
        self._notified_failures: deque[str] = deque(maxlen=2000)
        self._refusals = RefusalDigest()
        self._refusals_flush: Timer | None = None
        self._refusal_toast: Notification | None = None  # the one refusal notice on screen
        self._signals: list[signal.Signals] = []

    async def on_event(self, event: Event) -> None:
        # Alt+digit from a terminal that sends ESC and the digit reaches us as the character macOS
        # types for Option+digit (a printable key, which a focused field would take as text).
        if isinstance(event, events.Key) and event.key in ALT_DIGIT_KEYS and getattr(self.screen, "TAKES_ALT_DIGITS", False):
            alt = events.Key(ALT_DIGIT_KEYS[event.key], None)
            alt.set_sender(event._sender)
            event = alt
        await super().on_event(event)

    # --- life cycle ----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return IntegrationsScreen()

    def on_mount(self) -> None:
        self._stop_on_signals()
        self.bridge.attach(self.workspace.events.subscribe)
        if isinstance(self.workspace, RemoteWorkspace):
            self._follow(self.workspace)
        if self.service is not None:
            self.run_worker(self._start_service(), group="service", exclusive=True, exit_on_error=False)
        else:
            self.set_interval(WATCH_INTERVAL, self._watch_service)

    async def _start_service(self) -> None:
        assert self.service is not None
        try:
            await self.service.start()
            # Other processes (the CLI, a console over SSH) change things through us.
            self.control = ControlServer(self.workspace)
            await self.control.start()
        except (PayloadsError, OSError) as exc:
            self.service_error = str(as_payloads_error(exc))
            self.notify(f"The service did not start: {self.service_error}", severity="error", timeout=15)
        else:
            for warning in self.service.exposure_warnings():
                self.notify(warning[0].upper() + warning[1:] + ".", title="Reachable from other machines",
                            severity="warning", timeout=20, markup=False)
        self._broadcast(ServiceUpdated(self.service_status(), self.service_error))

    def _stop_on_signals(self) -> None:
        """SIGTERM and SIGHUP (the SSH session dropped) quit as `q` does, so the service stops in order.

        Textual handles neither, and Python's default for both ends the process on the spot.
        A SIGHUP already ignored (`nohup`) stays ignored.
        """
        loop = asyncio.get_running_loop()
        wanted = [signal.SIGTERM]
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            wanted.append(signal.SIGHUP)
        for sig in wanted:
            try:
                loop.add_signal_handler(sig, self.exit)
            except (ValueError, RuntimeError):  # not the main thread: the embedder's signals
                return
            self._signals.append(sig)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()
        self.bridge.detach()
        if self.control is not None:
            await self.control.stop()
        if isinstance(self.workspace, RemoteWorkspace):
            await self.workspace.aclose()
        if self.service is not None and self.service_error is None:
            try:
                await self.service.stop()
            except PayloadsError as exc:  # shutting down: say it, do not raise
                self.log.error(f"service stop failed: {exc}")

    # --- the service of another process ----------------------------------------------------

    def _follow(self, remote: RemoteWorkspace) -> None:
        self.run_worker(remote.start_events(on_end=lambda: self.post_message(ServiceLost())),
                        group="attach", exit_on_error=False)

    @work(thread=True, group="watch", exclusive=True, exit_on_error=False)
    def _watch_service(self) -> None:
        """Is the attached service still there; has one come back; which one runs (--no-service)?"""
        workspace = self.workspace
        if isinstance(workspace, RemoteWorkspace):
            if not workspace.client.available():
                self.post_message(ServiceLost())
        elif self.attached_pid is not None:
            remote = attach(workspace.settings)
            if remote is not None:
                self.post_message(ServiceFound(remote))
        else:
            pid = running_service_pid(workspace.home)
            if pid != self.elsewhere_pid:
                self.post_message(ServiceSeen(pid))

    def on_service_lost(self, _message: ServiceLost) -> None:
        remote = self.workspace
        if not isinstance(remote, RemoteWorkspace):
            return
        from payloads_tui.service.workspace import Workspace

        try:
            local = Workspace(remote.settings, read_only=True)
        except PayloadsError as exc:
            self.notify(f"The service stopped, and the data directory cannot be read: {exc}",
                        title="Service stopped", severity="error", markup=False, timeout=20)
            return
        self.service_gone = True
        self._use(local)
        remote.close()
        self.notify(f"The service (pid {self.attached_pid}) stopped. This console now reads the data directory, "
                    "read-only, and attaches again when a service starts on it.",
                    title="Service stopped", severity="warning", markup=False, timeout=20)

    def on_service_found(self, message: ServiceFound) -> None:
        old = self.workspace
        if isinstance(old, RemoteWorkspace):
            message.remote.close()
            return
        self.service_gone = False
        self.attached_pid = message.remote.pid or 0
        self._follow(message.remote)
        self._use(message.remote)
        old.close()
        # Jobs that arrive while the event stream connects are in neither the reload nor the stream:
        # read once more when it surely is connected.
        self.set_timer(REREAD_AFTER_ATTACH, lambda: self._broadcast(WorkspaceSwitched))
        self.clear_notifications()  # "the service stopped" no longer holds
        self.notify(f"Attached to the service (pid {self.attached_pid}).", title="Service", markup=False)

    def on_service_seen(self, message: ServiceSeen) -> None:
        self.elsewhere_pid = message.pid
        self._broadcast(lambda: ServiceUpdated(self.service_status()))

    def _use(self, workspace: Any) -> None:
        """Read and change things through `workspace` from now on; every screen shows it afresh."""
        self.bridge.detach()
        self.workspace = workspace
        self.bridge.attach(workspace.events.subscribe)
        self._broadcast(WorkspaceSwitched)
        self._broadcast(lambda: ServiceUpdated(self.service_status()))

    def service_status(self) -> dict[str, Any]:
        """`Workspace.service_status()`; a stopped one if the attached service no longer answers."""
        try:
            return self.workspace.service_status()
        except PayloadsError:
            if isinstance(self.workspace, RemoteWorkspace):
                self.post_message(ServiceLost())
            return dict(NO_SERVICE)

    # --- what the top bar says -----------------------------------------------------------

    @property
    def location(self) -> str:
        return display_path(self.workspace.home)

    def service_line(self, *, short: bool = False) -> tuple[str, str]:
        """(text, state) of the service for the top bar; `short` leaves the addresses out."""
        if self.attached_pid is not None:
            holder = f"a service (pid {self.attached_pid})" if self.attached_pid else "a service"
            if self.service_gone:
                return f"read-only: {holder} stopped; attaches again when one starts", "off"
            if isinstance(self.workspace, RemoteWorkspace):
                return f"attached to {holder}", "attached"
            return f"attached read-only: {holder} owns this data directory", "attached"
        if self.service_error:
            return f"service failed: {self.service_error}", "failed"
        status = self.service_status()
        if status.get("running") and short:
            return "● service running", "running"
        if status.get("running"):
            http = str(status.get("http") or "off").removeprefix("http://")
            return f"● HTTP {http} · SMTP {status.get('smtp') or 'off'}", "running"
        if self.service is not None:
            return "◌ service starting…", "starting"
        if self.workspace.read_only and self.elsewhere_pid is not None:
            return f"read-only (--no-service) · a service (pid {self.elsewhere_pid}) runs this data directory", "attached"
        if self.workspace.read_only:
            return "read-only · service off", "off"
        return "service off", "off"

    # --- events from the service ---------------------------------------------------------

    def _broadcast(self, message_factory: Any) -> None:
        for screen in self.screen_stack:
            message = message_factory() if callable(message_factory) else message_factory
            screen.post_message(message)

    def on_jobs_pending(self, _message: JobsPending) -> None:
        delay = max(0.0, self._last_flush + self._flush_interval - time.monotonic())
        self.set_timer(max(delay, MIN_DELAY), self._flush_jobs)

    def _flush_jobs(self) -> None:
        now = time.monotonic()
        self._last_flush = now
        jobs = self.bridge.take()
        # A busy service sends big batches: then batch more, so the screen repaints less often
        # (a DataTable repaint costs tens of ms) and the loop stays free for the service and keys.
        self._flush_interval = min(MAX_FLUSH_INTERVAL,
                                   self.bridge.interval * (1 + len(jobs) / JOBS_PER_BATCH_STEP))
        if not jobs:
            return
        self._notify_failures(jobs)
        for screen in self.screen_stack:
            screen.post_message(JobsChanged(jobs))

    def _notify_failures(self, jobs: tuple[Job, ...]) -> None:
        relinked = self.bridge.relinked
        failed = [j for j in jobs if j.status == "Failed" and j.number not in self._notified_failures
                  and j.number not in relinked]
        self._notified_failures.extend(j.number for j in failed)
        if len(failed) <= FAILURES_NOTIFIED_SINGLY:
            for job in failed:
                reason = f": {printable(job.error)}" if job.error else ""
                self.notify(f"{job.payload}{reason}", title=f"{job.number} failed", severity="error",
                            markup=False, timeout=8)
            return
        numbers = ", ".join(j.number for j in failed[:5]) + (", …" if len(failed) > 5 else "")
        self.notify(f"{numbers} — press f on the Jobs tab to see failures only",
                    title=f"{len(failed)} jobs failed", severity="error", markup=False, timeout=8)

    def on_jobs_pruned_arrived(self, message: JobsPrunedArrived) -> None:
        self._broadcast(lambda: JobsDropped(message.event.dropped))

    def on_config_event_arrived(self, message: ConfigEventArrived) -> None:
        event = message.event
        self._broadcast(lambda: ConfigUpdated(event.integration, event.action))

    def on_service_event_arrived(self, message: ServiceEventArrived) -> None:
        if message.event.error:
            self.service_error = message.event.error
            self.notify(message.event.error, title="Service", severity="error", markup=False, timeout=15)
        status = self.service_status()
        self._broadcast(lambda: ServiceUpdated(status, message.event.error))

    def on_auth_refused(self, message: AuthRefused) -> None:
        integration = message.event.integration
        self._broadcast(lambda: RequestRefused(integration))
        notice = self._refusals.offer(message.event)
        if notice is not None:
            self._notify_refusal(notice)
        elif self._refusals_flush is None:
            self._refusals_flush = self.set_timer(self._refusals.interval, self._flush_refusals)

    def _flush_refusals(self) -> None:
        self._refusals_flush = None
        if (notice := self._refusals.flush()) is not None:
            self._notify_refusal(notice)

    def _notify_refusal(self, notice: RefusalNotice) -> None:
        """Show `notice` in place of the refusal notice before it: a scanner's steady stream of
        refusals stacked toasts over most of the jobs table at 80×24 (the highlights count them)."""
        title = f"{notice.integration}: refused" if notice.integration else "Refused"
        previous = self._refusal_toast
        self._refusal_toast = Notification(notice.text, title, "warning", self.NOTIFICATION_TIMEOUT, markup=False)
        if previous is not None and previous in self._notifications:
            self._unnotify(previous, refresh=False)
        self.post_message(Notify(self._refusal_toast))

    # --- errors: the one place they become notifications ---------------------------------

    def on_call_failed(self, message: CallFailed) -> None:
        self.notify(str(message.error), title=f"Could not {message.doing}", severity="error", markup=False,
                    timeout=10)

    def on_jobs_started(self, message: JobsStarted) -> None:
        numbers = ", ".join(job.number for job in message.jobs[:5]) + (", …" if len(message.jobs) > 5 else "")
        if not message.jobs:
            self.notify(f"{message.what}: no records to send.", severity="warning", markup=False)
            return
        self.notify(f"{message.what}: {numbers}. Watch it on the Jobs tab (2).", markup=False)

    def on_email_sent(self, message: EmailSent) -> None:
        self.notify(f"Sent to {', '.join(message.to)} — {message.reply}. Its job appears on the Jobs tab.",
                    title="Test email", markup=False)

    # --- actions -------------------------------------------------------------------------

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        # A key bound to an action that changes things, pressed in a read-only console: `check_action` hid
        # it, so Textual would drop it silently; say why instead, once, and let no other binding have it.
        if isinstance(action, str) and default_namespace is not None and refuses_action(action, default_namespace):
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def open_integration(self, slug: str, *, tab: str = "payloads") -> None:
        """Show integration `slug` on top of the home screen."""
        blocking = [s for s in self.screen_stack[1:] if getattr(s, "has_unsaved_changes", lambda: False)()]
        if blocking:
            self.notify("Save or discard the payload you are editing first.", severity="warning")
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(IntegrationScreen(slug, tab=tab))

    def palette_commands(self) -> list[PaletteCommand]:
        commands = [
            PaletteCommand(f"Open {integration.name}", f"Integration {integration.slug}",
                           lambda slug=integration.slug: self.open_integration(slug))
            for integration in self.workspace.integrations()
        ]
        commands += [
            PaletteCommand("Switch theme", "Pick another colour theme", self.action_change_theme),
            PaletteCommand("Keys", "Every key that works here", self.action_keys),
            PaletteCommand("Refused requests", "What the service refused lately, for every integration",
                           lambda: self.push_screen(RefusalsScreen())),
            PaletteCommand("Home", "The list of integrations", self.action_home),
        ]
        return commands

    def action_home(self) -> None:
        self.open_integration_list()

    def open_integration_list(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_keys(self) -> None:
        if isinstance(self.screen, KeysScreen):
            return
        self.push_screen(KeysScreen(self.screen))

    def copy_and_show(self, text: str, what: str) -> None:
        """Copy `text` to the clipboard and show it (the clipboard may not reach a terminal over SSH)."""
        self.copy_to_clipboard(text)
        self.notify(text, title=f"Copied {what}", markup=False, timeout=12)


def make_app(
    workspace: Workspace,
    *,
    service: Service | None = None,
    clock: Clock | None = None,
    attached_pid: int | None = None,
    elsewhere_pid: int | None = None,
) -> PayloadsApp:
    """The console over `workspace`; `service` runs in the app's loop when given."""
    return PayloadsApp(workspace, service=service, clock=clock, attached_pid=attached_pid, elsewhere_pid=elsewhere_pid)


def run_console(settings: Settings, *, service: bool, sandbox: bool = False) -> None:
    """Open the data directory, run the console (with the service unless told not to), close.

    When another process's service holds the data directory, the console attaches to
    it through its control socket (live jobs, changes made by that service); if no
    service answers there, it opens the files read-only and says who owns them.
    """
    from payloads_tui.service.workspace import Workspace

    attached_pid: int | None = None
    workspace: Workspace | RemoteWorkspace
    try:
        workspace = Workspace(settings, read_only=not service)
    except LockedError as exc:
        workspace = attach(settings) or Workspace(settings, read_only=True)
        attached_pid = exc.pid or 0
    app: PayloadsApp | None = None
    try:
        runner = None
        if service and attached_pid is None:
            from payloads_tui.service.service import Service

            runner = Service(workspace, http=settings.http_address, smtp=settings.smtp_address, sandbox=sandbox)
        elsewhere = running_service_pid(settings.home) if not service else None
        app = make_app(workspace, service=runner, attached_pid=attached_pid, elsewhere_pid=elsewhere)
        app.run()
    finally:
        workspace.close()
        if app is not None and app.workspace is not workspace:
            app.workspace.close()  # the one it ended on, when a service stopped or came back meanwhile
    if app is not None and app.return_code:
        raise SystemExit(app.return_code)  # a crash (Textual printed it) is not a clean exit
