"""The integration page: highlights on top, then five tabs (Payloads, Jobs, APIs & Emails,
Credentials, History) switched with 1–5 or [ and ].

Panes show what they are given and post `ItemRequested`; this screen decides what each
request does (open an editor, ask for confirmation, run a job) and talks to the workspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane

from payloads_tui.domain.errors import NotFoundError, PayloadsError
from payloads_tui.domain.models import Integration, Job
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.commands import PaletteCommand
from payloads_tui.tui.formatting import MIN_DELAY, jobs_and_failures, start_of_day
from payloads_tui.tui.messages import (
    CallFailed,
    ConfigUpdated,
    JobsChanged,
    JobsDropped,
    RequestRefused,
    ServiceUpdated,
    WorkspaceSwitched,
)
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.screens.base import ConsoleScreen
from payloads_tui.tui.screens.bundle_forms import ExportsBundles
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.integration_actions import ItemActions
from payloads_tui.tui.screens.integration_form import IntegrationForm
from payloads_tui.tui.screens.refusals import RefusalsScreen
from payloads_tui.tui.widgets.credentials_pane import CredentialsPane
from payloads_tui.tui.widgets.endpoints_pane import EndpointsPane
from payloads_tui.tui.widgets.highlights import Highlights, JobFigures
from payloads_tui.tui.widgets.history_pane import HistoryPane
from payloads_tui.tui.widgets.jobs_pane import JobsPane
from payloads_tui.tui.widgets.keyed_table import KeyedTable
from payloads_tui.tui.widgets.pane import ItemAction, ItemKind, ItemRequested
from payloads_tui.tui.widgets.payloads_pane import PayloadsPane
from payloads_tui.tui.widgets.topbar import TopBar

TABS = ("payloads", "jobs", "endpoints", "credentials", "history")
TAB_LABELS = ("1 Payloads", "2 Jobs", "3 APIs & Emails", "4 Credentials", "5 History")
#: Seconds between refreshes of the figures and the service line.
FIGURES_INTERVAL = 1.0


class IntegrationScreen(ReadOnlyGuard, ExportsBundles, ConsoleScreen):
    """One integration; see the module docstring."""

    BINDINGS = [
        *(Binding(str(n), f"show_tab('{tab}')", f"{label[2:]} tab", show=False) for n, (tab, label) in
          enumerate(zip(TABS, TAB_LABELS), start=1)),
        Binding("left_square_bracket", "cycle_tab(-1)", "Previous tab", key_display="[", show=False),
        Binding("right_square_bracket", "cycle_tab(1)", "Next tab", key_display="]", show=False),
        Binding("E", "edit_integration", "Edit integration", show=False),
        Binding("x", "export", "Export", show=False),
        Binding("D", "delete_integration", "Delete integration", show=False),
        Binding("exclamation_mark", "refusals", "Refused requests", key_display="!", show=False),
    ]

    def __init__(self, slug: str, *, tab: str = "payloads") -> None:
        super().__init__(classes="integration-screen")
        self.slug = slug
        self.initial_tab = tab
        self._wanted_tab = tab
        self._last_table: dict[str, KeyedTable] = {}
        self.integration: Integration | None = None
        self.actions = ItemActions(self)
        self._figures_timer: Timer | None = None
        self._figures_due = 0.0
        self._figures: JobFigures | None = None  # the last read, shown again each tick ("5 s ago" moves on)

    def compose(self) -> ComposeResult:
        yield TopBar(self.console.location)
        yield Highlights(id="highlights")
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane(TAB_LABELS[0], id="payloads"):
                yield PayloadsPane(id="payloads-pane")
            with TabPane(TAB_LABELS[1], id="jobs"):
                yield JobsPane(clock=self.console.clock, id="jobs-pane")
            with TabPane(TAB_LABELS[2], id="endpoints"):
                yield EndpointsPane(id="endpoints-pane")
            with TabPane(TAB_LABELS[3], id="credentials"):
                yield CredentialsPane(id="credentials-pane")
            with TabPane(TAB_LABELS[4], id="history"):
                yield HistoryPane(id="history-pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.reload():
            self.set_interval(FIGURES_INTERVAL, self._tick)
            self.call_after_refresh(self._focus_tab_table)

    # --- data ----------------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the integration again and show it everywhere; False if it is gone."""
        try:
            integration = self.workspace.integration(self.slug)
        except NotFoundError:
            self.notify(f"The integration {self.slug} no longer exists.", severity="warning")
            self.dismiss()
            return False
        except PayloadsError as exc:  # e.g. the attached service stopped this instant: the app switches over
            self.post_message(CallFailed(exc, f"read {self.slug}"))
            if self.integration is None:
                self.dismiss()
            return self.integration is not None
        self.integration = integration
        self.query_one(TopBar).show_where(f"{self.console.location} › {integration.name}")
        now = self.now()
        self.query_one(PayloadsPane).show(integration)
        self.query_one(JobsPane).show(integration, self.workspace.newest_jobs)
        self.query_one(EndpointsPane).show(integration, lambda path: self.workspace.api_url(self.slug, path))
        self.query_one(CredentialsPane).show(integration, now)
        self.show_history()
        self.show_figures()
        return True

    def show_history(self) -> None:
        pane = self.query_one(HistoryPane)
        entries = attempt(self, "read the history", self.workspace.history, integration=self.slug,
                          text=pane.text or None) or []
        pane.show(entries, self.now())

    def figures(self) -> JobFigures:
        counts = self.workspace.job_counts(integration=self.slug, since=start_of_day(self.now()))
        total, failures = jobs_and_failures(counts)
        newest = self.workspace.newest_jobs(integration=self.slug, limit=1)
        refused = self.workspace.refusal_count(self.slug, start_of_day(self.now()))
        return JobFigures(total, failures, newest[0] if newest else None, refused)

    def show_figures(self) -> None:
        if self.integration is None:
            return
        self._figures_due = time.monotonic() + FIGURES_INTERVAL
        fresh = self.figures()
        known = self._figures.last_job if self._figures is not None else None
        read = fresh.last_job
        if known is not None and read is not None and known.number == read.number and known.modified > read.modified:
            fresh = JobFigures(fresh.jobs_today, fresh.failures_today, known, fresh.refused_today)  # newer than read
        self._figures = fresh
        self.query_one(Highlights).show(self.integration, self._figures, self.now())
        self.show_service_line()

    def show_service_line(self) -> None:
        super().show_service_line()
        line, state = self.console.service_line()
        self.query_one(Highlights).show_service(self.console.service_status(), line=line, state=state)

    def _tick(self) -> None:
        if self.app.screen is self:
            if self.integration is not None and self._figures is not None:
                self.query_one(Highlights).show(self.integration, self._figures, self.now())
            self.show_service_line()

    # --- events --------------------------------------------------------------------------

    def on_jobs_changed(self, message: JobsChanged) -> None:
        mine = [job for job in message.jobs if job.integration == self.slug]
        if not mine:
            return
        self.query_one(JobsPane).apply(mine)
        last = self._figures.last_job if self._figures is not None else None
        newer = next((job for job in reversed(mine) if last is not None and job.number == last.number), None)
        if newer is not None and self._figures is not None and self.integration is not None:
            # the newest job's own news, at once: the query below may still read its previous version
            self._figures = JobFigures(self._figures.jobs_today, self._figures.failures_today, newer,
                                       self._figures.refused_today)
            self.query_one(Highlights).show(self.integration, self._figures, self.now())
        if self._figures_timer is None:
            delay = max(0.0, self._figures_due - time.monotonic())
            self._figures_timer = self.set_timer(max(delay, MIN_DELAY), self._refresh_figures)

    def _refresh_figures(self) -> None:
        self._figures_timer = None
        self.show_figures()

    def on_workspace_switched(self, message: WorkspaceSwitched) -> None:
        super().on_workspace_switched(message)
        if self.reload():
            self.query_one(JobsPane).reload()  # what arrived meanwhile, and whether it is live

    def on_jobs_dropped(self, _message: JobsDropped) -> None:
        if self.reload():
            self.query_one(JobsPane).reload()

    def on_request_refused(self, message: RequestRefused) -> None:
        if message.integration == self.slug and self._figures_timer is None:
            delay = max(0.0, self._figures_due - time.monotonic())
            self._figures_timer = self.set_timer(max(delay, MIN_DELAY), self._refresh_figures)

    def action_refusals(self) -> None:
        self.app.push_screen(RefusalsScreen(self.slug))

    def on_config_updated(self, message: ConfigUpdated) -> None:
        if message.integration in (self.slug, None):
            if message.action == "delete" and message.integration == self.slug:
                self.notify(f"The integration {self.slug} was deleted.", severity="warning")
                self.dismiss()
                return
            self.reload()

    def on_service_updated(self, message: ServiceUpdated) -> None:
        if self.integration is not None:
            self.query_one(EndpointsPane).show(self.integration, lambda path: self.workspace.api_url(self.slug, path))

    def on_item_requested(self, message: ItemRequested) -> None:
        message.stop()
        if self.integration is not None:
            self.actions.handle(message, self.integration)

    @on(HistoryPane.FilterChanged)
    def _history_filter(self) -> None:
        self.show_history()

    # --- tabs ----------------------------------------------------------------------------

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    def action_show_tab(self, tab: str) -> None:
        self._remember_table()
        self._wanted_tab = tab
        self.tabs.active = tab
        self.call_after_refresh(self._focus_tab_table)

    def action_cycle_tab(self, step: int) -> None:
        index = TABS.index(self.tabs.active) if self.tabs.active in TABS else 0
        self.action_show_tab(TABS[(index + step) % len(TABS)])

    def _focus_tab_table(self) -> None:
        """Focus the table last used in the active tab (the first one the first time)."""
        pane = self.tabs.active_pane
        if pane is None:
            return
        remembered = self._last_table.get(pane.id or "")
        tables = [table for table in pane.query(KeyedTable) if table.display]
        target = remembered if remembered in tables else (tables[0] if tables else None)
        if target is not None and self.focused is not target:
            target.focus()

    def _remember_table(self) -> None:
        """Note the table the operator is on in the tab being left, to come back to it."""
        pane, focused = self.tabs.active_pane, self.focused
        if isinstance(focused, KeyedTable) and pane is not None and pane in focused.ancestors:
            self._last_table[pane.id or ""] = focused

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        if self.tabs.active != self._wanted_tab:
            # a key pressed while the tabs were still mounting: their start-up activation must not undo it
            self.tabs.active = self._wanted_tab
        self.call_after_refresh(self._focus_tab_table)

    def action_back(self) -> None:
        active = self.tabs.active
        if active == "jobs" and self.query_one(JobsPane).clear_filter():
            return
        if active == "history" and self.query_one(HistoryPane).clear_filter():
            return
        self.dismiss()

    # --- integration actions -------------------------------------------------------------

    @changes_data
    def action_edit_integration(self) -> None:
        if self.integration is not None:
            self.app.push_screen(IntegrationForm(self.integration), lambda saved: saved and self.reload())

    def action_export(self) -> None:
        if self.integration is not None:
            self.export_integration(self.slug, self.integration.name)

    @changes_data
    def action_delete_integration(self) -> None:
        integration = self.integration
        if integration is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and attempt(self, f"delete {integration.name}", self.workspace.delete_integration,
                               self.slug) is not None:
                self.notify(f"Deleted {integration.name}.", markup=False)

        self.app.push_screen(ConfirmScreen(f"Delete the integration {integration.name}?",
                                           detail="Everything it holds goes with it. Jobs and records stay."),
                             answered)

    def save(self, changed: Integration, done: str) -> Integration | None:
        """Save `changed`; on success say `done` and show it."""
        saved = attempt(self, "save the integration", self.workspace.save_integration, changed)
        if saved is not None:
            self.notify(done, markup=False)
            self.reload()
        return saved

    def open_job(self, job: Job | str) -> None:
        from payloads_tui.tui.screens.job_detail import JobDetailScreen

        number = job if isinstance(job, str) else job.number
        self.app.push_screen(JobDetailScreen(number))

    # --- palette ---------------------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        integration = self.integration
        if integration is None:
            return []

        def request(action: ItemAction, kind: ItemKind, key: str | None = None) -> Callable[[], None]:
            return lambda: self.actions.handle(ItemRequested(action, kind, key), integration)

        commands = [
            PaletteCommand(f"Show {label[2:]}", f"Tab {label[0]}", lambda tab=tab: self.action_show_tab(tab))
            for tab, label in zip(TABS, TAB_LABELS)
        ]
        commands += [
            PaletteCommand("Toggle the failures filter", "Jobs tab: failures only, or everything",
                           self._toggle_failures),
            PaletteCommand(f"Refused requests of {integration.name}", "What the service refused lately (!)",
                           self.action_refusals),
            PaletteCommand("Send a test email", "Compose an email to one of the Email Services",
                           request("send_test", "email"), changes=True),
            PaletteCommand(f"Export {integration.name}", "Write its bundle to a file", self.action_export),
            PaletteCommand(f"Edit {integration.name}", "Name, description, variables", self.action_edit_integration,
                           changes=True),
            PaletteCommand("New inbound payload", "Open the inbound payload editor", request("new", "inbound"),
                           changes=True),
            PaletteCommand("New outbound payload", "Open the outbound payload editor", request("new", "outbound"),
                           changes=True),
        ]
        for payload in integration.outbound:
            if payload.initiated == "local":
                commands.append(PaletteCommand(f"Run {payload.name}", "Run this outbound payload now",
                                               request("run", "outbound", payload.name), changes=True))
        # Opening an editor changes nothing by itself: a read-only console offers it, to look.
        verb, note = ("View", " (read-only: nothing can be saved)") if read_only_reason(self.app) else ("Edit", "")
        for payload in integration.inbound:
            commands.append(PaletteCommand(f"Try {payload.name}", "Dry-run this inbound payload on a sample",
                                           request("try", "inbound", payload.name)))
            commands.append(PaletteCommand(f"{verb} {payload.name}", f"Open the inbound payload editor{note}",
                                           request("open", "inbound", payload.name)))
        for payload in integration.outbound:
            commands.append(PaletteCommand(f"{verb} {payload.name}", f"Open the outbound payload editor{note}",
                                           request("open", "outbound", payload.name)))
        return commands

    def _toggle_failures(self) -> None:
        self.action_show_tab("jobs")
        self.query_one(JobsPane).action_failures()


