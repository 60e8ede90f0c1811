"""Forms for an External API and an Email Service of an integration.

Both save the whole integration through the workspace, so its validation names the bad
field. A token API gets a fresh token on creation (or when asked): it is stored hashed
and shown once, by the caller, from `ApiSaved.token`.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgspec import structs
from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Select, Switch

from payloads_tui.domain.models import EmailService, ExternalApi, Integration
from payloads_tui.tui.screens.form_screen import SavingForm
from payloads_tui.tui.widgets.endpoints_pane import AUTH_LABELS
from payloads_tui.tui.widgets.form import FieldRow, set_options_keeping

METHOD_CHOICES = [("POST → runs an inbound payload", "POST"), ("GET → answers from an outbound payload", "GET")]


@dataclass(frozen=True)
class ApiSaved:
    """The saved integration, and the new token to show once (None if unchanged)."""

    integration: Integration
    path: str
    token: str | None


def replace_item(items: list, old: object | None, new: object) -> list:  # type: ignore[type-arg]
    """`items` with `old` swapped for `new` (or `new` appended when `old` is None)."""
    if old is None:
        return [*items, new]
    return [new if item is old else item for item in items]


class ApiForm(SavingForm[ApiSaved]):
    """Add or edit an External API."""

    def __init__(self, integration: Integration, api: ExternalApi | None = None) -> None:
        super().__init__(title=f"External API {api.method} {api.path}" if api else "New External API")
        self.integration = integration
        self.api = api

    def fields(self) -> ComposeResult:
        api = self.api
        method = api.method if api else "POST"
        yield FieldRow("Path", Input(api.path if api else "", id="f-path", compact=True, placeholder="customers"),
                       name="path", hint=f"served at /api/{self.integration.slug}/<path>")
        yield FieldRow("Method", Select(METHOD_CHOICES, value=method, allow_blank=False, id="f-method", compact=True),
                       name="method")
        yield FieldRow("Payload", Select(self._payload_choices(method), value=api.payload if api else Select.NULL,
                                         id="f-payload", compact=True), name="payload")
        yield FieldRow("Auth", Select([(label, key) for key, label in AUTH_LABELS.items()],
                                      value=api.auth if api else "token", allow_blank=False, id="f-auth", compact=True),
                       name="auth")
        yield FieldRow("Signing secret", Input("", id="f-secret", password=True, compact=True,
                                               placeholder="•••• unchanged" if api and api.secret else "whsec_…"),
                       name="secret", hint="kept encrypted; leave empty to keep the current one" if api and api.secret
                       else "kept encrypted; the sender signs with the same secret")
        yield FieldRow("HMAC header", Input(api.hmac_header if api else "X-Signature", id="f-hmac-header",
                                            compact=True), name="hmac_header")
        yield FieldRow("New token", Switch(value=api is None or not api.token_hash, id="f-new-token"),
                       name="token_hash", hint="a new token is shown once after saving")
        yield FieldRow("Active", Switch(value=api.active if api else True, id="f-active"), name="active",
                       hint="on: requests are taken; off: answered 403")
        yield FieldRow("Description", Input(api.description if api else "", id="f-description", compact=True),
                       name="description")

    def on_mount(self) -> None:
        self._show_auth_fields()

    def _payload_choices(self, method: str) -> list[tuple[str, str]]:
        if method == "POST":
            return [(p.name, p.name) for p in self.integration.inbound]
        return [(p.name, p.name) for p in self.integration.outbound if p.initiated == "api"]

    @on(Select.Changed, "#f-method")
    def _method_changed(self, event: Select.Changed) -> None:
        """Offer the payloads of the chosen method, keeping the chosen one if it still fits.

        Select posts Changed for its initial value too: without keeping the value, an
        edited API would lose its payload before the user touched anything.
        """
        set_options_keeping(self.query_one("#f-payload", Select), self._payload_choices(str(event.value)))

    @on(Select.Changed, "#f-auth")
    def _auth_changed(self) -> None:
        self._show_auth_fields()

    def _show_auth_fields(self) -> None:
        auth = self.choice("f-auth")
        rows = {row.name: row for row in self.query(FieldRow)}
        rows["secret"].display = auth in ("stripe", "hmac")
        rows["hmac_header"].display = auth == "hmac"
        rows["token_hash"].display = auth == "token"

    def submit(self) -> ApiSaved:
        auth = self.choice("f-auth") or "token"
        token_hash = self.api.token_hash if self.api else ""
        token = None
        if auth == "token" and (self.switch("f-new-token") or not token_hash):
            token, token_hash = self.workspace.new_api_token()
        secret = self.api.secret if self.api else ""
        if typed := self.value("f-secret"):
            secret = self.workspace.encrypt(typed)
        fields = dict(
            path=self.value("f-path").strip("/"), method=self.choice("f-method") or "POST",
            payload=self.choice("f-payload") or "", auth=auth, token_hash=token_hash if auth == "token" else "",
            secret=secret if auth in ("stripe", "hmac") else "", hmac_header=self.value("f-hmac-header") or "X-Signature",
            active=self.switch("f-active"), description=self.value("f-description"),
        )
        api = structs.replace(self.api, **fields) if self.api else ExternalApi(**fields)  # type: ignore[arg-type]
        changed = structs.replace(self.integration, apis=replace_item(self.integration.apis, self.api, api))
        saved = self.workspace.save_integration(changed)
        return ApiSaved(saved, api.path, token)


class EmailForm(SavingForm[Integration]):
    """Add or edit an Email Service (an address routed to an email inbound payload)."""

    def __init__(self, integration: Integration, email: EmailService | None = None) -> None:
        super().__init__(title=f"Email Service {email.address}" if email else "New Email Service")
        self.integration = integration
        self.email = email

    def fields(self) -> ComposeResult:
        email = self.email
        choices = [(p.name, p.name) for p in self.integration.inbound if p.content_type == "email"]
        yield FieldRow("Address", Input(email.address if email else "", id="f-address", compact=True,
                                        placeholder="e.g. support@payloads.localhost"), name="address")
        yield FieldRow("Payload", Select(choices, value=email.payload if email else Select.NULL, id="f-payload",
                                         compact=True, prompt="an inbound payload of content type Email"),
                       name="payload")
        yield FieldRow("Active", Switch(value=email.active if email else True, id="f-active"), name="active",
                       hint="on: mail to it is taken; off: refused with 550")
        yield FieldRow("Description", Input(email.description if email else "", id="f-description", compact=True),
                       name="description")

    def submit(self) -> Integration:
        fields = dict(address=self.value("f-address"), payload=self.choice("f-payload") or "",
                      active=self.switch("f-active"), description=self.value("f-description"))
        email = structs.replace(self.email, **fields) if self.email else EmailService(**fields)  # type: ignore[arg-type]
        changed = structs.replace(self.integration, emails=replace_item(self.integration.emails, self.email, email))
        return self.workspace.save_integration(changed)
