"""The home screen: every integration with its payloads, recent jobs, failures and last activity."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from payloads_tui.domain.models import Integration
from payloads_tui.domain.terminaltext import printable
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.commands import PaletteCommand
from payloads_tui.tui.formatting import MIN_DELAY, format_ago, jobs_and_failures
from payloads_tui.tui.messages import BundleImported, ConfigUpdated, JobsChanged, JobsDropped, WorkspaceSwitched
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.screens.base import ConsoleScreen
from payloads_tui.tui.screens.bundle_forms import ExportsBundles, ImportForm
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.integration_form import IntegrationForm
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable, Row
from payloads_tui.tui.widgets.topbar import TopBar

COLUMNS = [
    Col("name", "Integration", min_width=16),
    Col("inbound", "Inbound", width=7, justify="right", drop=3),
    Col("outbound", "Outbound", width=8, justify="right", drop=4),
    Col("jobs", "Jobs 24 h", width=9, justify="right"),
    Col("failures", "Failures", width=8, justify="right"),
    Col("last", "Last activity", width=13, drop=2),
]
DAY = 86400.0
#: Job changes refresh the figures at most this often (seconds).
FIGURES_INTERVAL = 2.0


@dataclass(frozen=True)
class Figures:
    """Job figures of one integration over the last day."""

    jobs: int
    failures: int
    last_activity: float | None


class IntegrationsScreen(ReadOnlyGuard, ExportsBundles, ConsoleScreen):
    """Home: pick an integration, or create, edit, delete, import or export one."""

    BINDINGS = [
        Binding("escape", "back", "Clear filter", show=False),
        Binding("enter", "open", "Open", show=False),
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("i", "import_bundle", "Import"),
        Binding("x", "export", "Export"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("q", "app.quit", "Quit"),
    ]

    SERVICE_ADDRESSES = True

    def __init__(self) -> None:
        super().__init__(id="integrations-screen")
        self._integrations: list[Integration] = []
        self._figures: dict[str, Figures] = {}
        self._figures_due = 0.0
        self._figures_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(self.console.location)
        with Horizontal(id="home-head"):
            yield Static("Integrations", id="home-title", classes="section-title")
            yield Input(placeholder="filter by name or slug", id="home-filter", compact=True)
        yield KeyedTable(COLUMNS, id="integrations-table")
        yield Static("", id="home-empty", classes="empty-note")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#home-filter").display = False
        self.reload()
        self.query_one(KeyedTable).focus()
        self.set_interval(FIGURES_INTERVAL, self._tick)

    def _tick(self) -> None:
        """Times such as "last activity 5 s ago" move on without new jobs (the rows only, nothing read)."""
        if self.app.screen is self and self._integrations:
            self.show_rows()

    # --- data ----------------------------------------------------------------------------

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#integrations-table", KeyedTable)

    def reload(self) -> None:
        integrations = attempt(self, "list integrations", self.workspace.integrations)
        self._integrations = integrations or []
        self._figures = {i.slug: self._figures_for(i) for i in self._integrations}
        self._figures_due = time.monotonic() + FIGURES_INTERVAL
        self.show_rows()

    def _figures_for(self, integration: Integration) -> Figures:
        counts = self.workspace.job_counts(integration=integration.slug, since=self.now() - DAY)
        jobs, failures = jobs_and_failures(counts)
        newest = self.workspace.newest_jobs(integration=integration.slug, limit=1)
        last = max([integration.updated_at] + [j.modified for j in newest])
        return Figures(jobs, failures, last)

    def rows(self) -> list[Row]:
        needle = self.query_one("#home-filter", Input).value.strip().lower()
        rows: list[Row] = []
        now = self.now()
        for integration in self._integrations:
            if needle and needle not in integration.name.lower() and needle not in integration.slug:
                continue
            figures = self._figures.get(integration.slug, Figures(0, 0, None))
            name = Text(printable(integration.name), style="bold")  # stored before names were checked
            if integration.description:
                name.append(f"  {printable(integration.description)}", style="dim")
            rows.append((integration.slug, {
                "name": name,
                "inbound": str(len(integration.inbound)),
                "outbound": str(len(integration.outbound)),
                "jobs": str(figures.jobs),
                "failures": Text(str(figures.failures), style="bold red" if figures.failures else "dim"),
                "last": format_ago(figures.last_activity, now),
            }))
        return rows

    def show_rows(self) -> None:
        rows = self.rows()
        self.table.set_rows(rows)
        empty = self.query_one("#home-empty", Static)
        if not self._integrations and (reason := read_only_reason(self.app)) is not None:
            empty.update(f"No integrations yet, and this console cannot add any: {reason}.")
        elif not self._integrations:
            empty.update("No integrations yet. Press n to create one, or i to import a bundle "
                         "(payloads demo seeds the Stripe example).")
        elif not rows:
            empty.update("No integration matches the filter.")
        else:
            empty.update("")
        empty.display = not rows

    def selected(self) -> Integration | None:
        key = self.table.cursor_key
        return next((i for i in self._integrations if i.slug == key), None)

    # --- events --------------------------------------------------------------------------

    def on_config_updated(self, _message: ConfigUpdated) -> None:
        self.reload()

    def on_workspace_switched(self, message: WorkspaceSwitched) -> None:
        super().on_workspace_switched(message)
        self.reload()

    def on_jobs_dropped(self, _message: JobsDropped) -> None:
        self.reload()

    def on_jobs_changed(self, message: JobsChanged) -> None:
        if self.app.screen is not self or self._figures_timer is not None:
            return
        if {job.integration for job in message.jobs} & {i.slug for i in self._integrations}:
            delay = max(0.0, self._figures_due - time.monotonic())
            self._figures_timer = self.set_timer(max(delay, MIN_DELAY), self._refresh_figures)

    def _refresh_figures(self) -> None:
        self._figures_timer = None
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @on(DataTable.RowSelected, "#integrations-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    @on(Input.Changed, "#home-filter")
    def _filter_changed(self) -> None:
        self.show_rows()

    @on(Input.Submitted, "#home-filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    # --- actions -------------------------------------------------------------------------

    def action_back(self) -> None:
        filter_input = self.query_one("#home-filter", Input)
        if filter_input.display:
            filter_input.value = ""
            filter_input.display = False
            self.table.focus()

    def action_filter(self) -> None:
        filter_input = self.query_one("#home-filter", Input)
        filter_input.display = True
        filter_input.focus()

    def action_open(self) -> None:
        integration = self.selected()
        if integration is not None:
            self.console.open_integration(integration.slug)

    @changes_data
    def action_new(self) -> None:
        self.app.push_screen(IntegrationForm(), self._saved)

    @changes_data
    def action_edit(self) -> None:
        integration = self.selected()
        if integration is not None:
            self.app.push_screen(IntegrationForm(integration), self._saved)

    def _saved(self, integration: Integration | None) -> None:
        if integration is not None:
            self.notify(f"Saved {integration.name}.", markup=False)
            self.reload()
            self.table.select_key(integration.slug)

    @changes_data
    def action_delete(self) -> None:
        integration = self.selected()
        if integration is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and attempt(self, f"delete {integration.name}", self.workspace.delete_integration,
                               integration.slug) is not None:
                self.notify(f"Deleted {integration.name}.", markup=False)
                self.reload()

        self.app.push_screen(ConfirmScreen(
            f"Delete the integration {integration.name}?",
            detail=f"{len(integration.inbound)} inbound and {len(integration.outbound)} outbound payloads, "
                   f"{len(integration.apis)} APIs, {len(integration.emails)} email addresses and "
                   f"{len(integration.credentials)} credentials go with it. Jobs and records stay.",
        ), answered)

    def action_export(self) -> None:
        integration = self.selected()
        if integration is not None:
            self.export_integration(integration.slug, integration.name)

    @changes_data
    def action_import_bundle(self) -> None:
        self.app.push_screen(ImportForm())  # it imports, then hands us `BundleImported`

    def on_bundle_imported(self, message: BundleImported) -> None:
        self.notify(describe_import(message.result), markup=False, timeout=10)
        self.reload()

    # --- palette ---------------------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        commands = [
            PaletteCommand("New integration", "Create an empty integration", self.action_new, changes=True),
            PaletteCommand("Import a bundle", "Load an integration from a JSON bundle", self.action_import_bundle,
                           changes=True),
        ]
        for integration in self._integrations:
            commands.append(PaletteCommand(
                f"Export {integration.name}", "Write its bundle to a file",
                lambda slug=integration.slug: (self.table.select_key(slug), self.action_export())))
        return commands


def describe_import(result: object) -> str:
    """One line saying what an import did."""
    action = getattr(result, "action", "")
    integration = getattr(result, "integration", None)
    if action == "skipped" or integration is None:
        return "An integration with that slug exists here; skipped (import again with replace or rename)."
    renamed = getattr(result, "renamed_to", None)
    parts = [f"Imported {integration.name}" + (f" as {renamed}" if renamed else "") + f" ({action})."]
    if created := getattr(result, "schemas_created", None):
        parts.append(f"Object schemas created: {', '.join(created)}.")
    if kept := getattr(result, "schemas_kept", None):
        parts.append(f"Object schemas kept as they are here (the bundle's differ): {', '.join(kept)}.")
    if kept := getattr(result, "variables_kept", None):
        parts.append(f"Kept this data directory's values of variables: {', '.join(kept)}.")
    if kept := getattr(result, "secrets_kept", None):
        parts.append(f"Kept this data directory's secrets the bundle left out: {', '.join(kept)}.")
    if missing := getattr(result, "secrets_missing", None):
        parts.append(f"Set these secrets: {', '.join(missing)}.")
    if deactivated := getattr(result, "deactivated", None):
        parts.append(f"Inactive until given a token or secret: {', '.join(deactivated)}.")
    if emails := getattr(result, "emails_deactivated", None):
        parts.append(f"Inactive, as another integration receives their address: {', '.join(emails)}.")
    return " ".join(parts)
