"""Tab 4, Credentials: what outbound payloads authenticate with; secrets stay masked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from payloads_tui.domain.models import Integration
from payloads_tui.tui.formatting import format_ago
from payloads_tui.tui.readonly import changes_data
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable
from payloads_tui.tui.widgets.pane import ItemKind, Pane

KIND_LABELS = {"basic": "Basic", "bearer": "Bearer token", "api_key": "API key", "oauth2": "OAuth 2.0"}

CREDENTIAL_COLUMNS = [
    Col("name", "Name", min_width=18),
    Col("kind", "Type", width=12),
    Col("used_by", "Used by", min_width=18, drop=2),
    Col("last_used", "Last used", width=10, drop=3),
    Col("secrets", "Secrets", min_width=16, drop=1),
]


class CredentialsPane(Pane):
    """One table of credentials; `v` reveals a secret after a confirmation (and writes history)."""

    TABLE_KINDS: dict[str, ItemKind] = {"credentials-table": "credential"}
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit", show=False),
        Binding("d", "delete", "Delete"),
        Binding("v", "reveal", "Reveal secret"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Credentials", id="credentials-title", classes="table-title")
        yield KeyedTable(CREDENTIAL_COLUMNS, id="credentials-table")

    def show(self, integration: Integration, now: float) -> None:
        rows = []
        for cred in integration.credentials:
            users = [p.name for p in integration.outbound if p.credential == cred.name]
            users += [
                p.name for p in integration.inbound
                if any(m.credential == cred.name for t in p.targets for m in t.mappings)
            ]
            secrets = Text(", ".join(f"{name} ••••••••" for name in cred.secrets) or "—", style="dim")
            rows.append((cred.name, {
                "name": cred.name,
                "kind": KIND_LABELS.get(cred.kind, cred.kind),
                "used_by": ", ".join(users) or Text("unused", style="dim"),
                "last_used": format_ago(cred.last_used, now),
                "secrets": secrets,
            }))
        self.query_one("#credentials-table", KeyedTable).set_rows(rows)
        self.query_one("#credentials-title", Static).update(
            f"Credentials · {len(rows)}" + ("" if rows else self.add_hint(" — press n to add one")))

    @changes_data
    def action_reveal(self) -> None:
        self.request("reveal")
