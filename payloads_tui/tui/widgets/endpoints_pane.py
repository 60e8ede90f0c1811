"""Tab 3, APIs & Emails: the External APIs the service exposes and the email addresses it accepts."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from payloads_tui.domain.models import ExternalApi, Integration
from payloads_tui.tui.formatting import yes_no
from payloads_tui.tui.readonly import changes_data
from payloads_tui.tui.widgets.keyed_table import Col, KeyedTable
from payloads_tui.tui.widgets.pane import ItemKind, ItemRequested, Pane

AUTH_LABELS = {"token": "Token", "stripe": "Stripe signature", "hmac": "HMAC signature", "none": "None"}

API_COLUMNS = [
    Col("path", "Path", width=14, drop=3),  # the URL ends with it: the first to give way
    Col("method", "Method", width=6),
    Col("payload", "Payload", min_width=16, drop=2),
    Col("auth", "Auth", width=16, drop=1),
    Col("url", "Full URL", min_width=40),
]
EMAIL_COLUMNS = [
    Col("address", "Address", min_width=24),
    Col("payload", "Payload", min_width=18, drop=2),
    Col("active", "Active", width=6, drop=1),
]


def api_key(api: ExternalApi) -> str:
    return f"{api.method} {api.path}"


class EndpointsPane(Pane):
    """External APIs on top, Email Services below."""

    TABLE_KINDS: dict[str, ItemKind] = {"apis-table": "api", "emails-table": "email"}
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit", show=False),
        Binding("d", "delete", "Delete"),
        Binding("c", "copy_url", "Copy URL", key_display="c"),
        Binding("C", "copy_command", "curl/swaks", key_display="C"),
        Binding("s", "send_test", "Test email"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("External APIs", id="apis-title", classes="table-title")
        yield KeyedTable(API_COLUMNS, id="apis-table")
        yield Static("Email Services", id="emails-title", classes="table-title")
        yield KeyedTable(EMAIL_COLUMNS, id="emails-table")

    def show(self, integration: Integration, url_of: Callable[[str], str]) -> None:
        apis = []
        for api in integration.apis:
            auth = Text(AUTH_LABELS.get(api.auth, api.auth), style="yellow" if api.auth == "none" else "")
            url = Text(url_of(api.path), style="" if api.active else "dim strike")
            apis.append((api_key(api), {
                "path": api.path, "method": api.method, "payload": api.payload, "auth": auth, "url": url,
            }))
        emails = [
            (email.address, {
                "address": Text(email.address, style="" if email.active else "dim"),
                "payload": email.payload,
                "active": yes_no(email.active),
            })
            for email in integration.emails
        ]
        self.query_one("#apis-table", KeyedTable).set_rows(apis)
        self.query_one("#emails-table", KeyedTable).set_rows(emails)
        self.query_one("#apis-title", Static).update(
            f"External APIs · {len(apis)}" + ("" if apis else self.add_hint(" — press n to expose a payload")))
        self.query_one("#emails-title", Static).update(
            f"Email Services · {len(emails)}"
            + ("" if emails else self.add_hint(" — tab here, then n to add an address")))

    def action_copy_url(self) -> None:
        self.request("copy_url")

    def action_copy_command(self) -> None:
        self.request("copy_command")

    @changes_data
    def action_send_test(self) -> None:
        table = self.focused_table()
        key = table.cursor_key if table is not None and table.id == "emails-table" else None
        self.post_message(ItemRequested("send_test", "email", key))
