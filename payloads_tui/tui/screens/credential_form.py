"""`CredentialForm`: a credential's plain fields and its secrets (typed once, stored encrypted).

On edit, a secret left empty keeps the stored one; the stored value is never shown.
"""

from __future__ import annotations

from msgspec import structs
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Select

from payloads_tui.domain.models import PLAIN_FIELDS, SECRET_FIELDS, Credential, Integration
from payloads_tui.tui.screens.endpoint_forms import replace_item
from payloads_tui.tui.screens.form_screen import SavingForm
from payloads_tui.tui.widgets.credentials_pane import KIND_LABELS
from payloads_tui.tui.widgets.form import FieldRow

CHOICE_FIELDS: dict[str, list[tuple[str, str]]] = {
    "placement": [("header", "header"), ("query parameter", "query")],
    "grant": [("client credentials", "client_credentials"), ("refresh token", "refresh_token")],
}
FIELD_LABELS = {
    "username": "Username", "password": "Password", "token": "Token", "placement": "Placement", "name": "Name",
    "value": "Value", "grant": "Grant", "client_id": "Client id", "client_secret": "Client secret",
    "token_url": "Token URL", "scope": "Scope", "expires_at": "Expires at", "access_token": "Access token",
    "refresh_token": "Refresh token",
}

SECRET_HINTS = {
    ("basic", "password"): "stored encrypted, shown masked; may stay empty (a key sent as the user name)",
}


class CredentialForm(SavingForm[Integration]):
    """Add or edit a credential; the fields follow the chosen type."""

    def __init__(self, integration: Integration, credential: Credential | None = None) -> None:
        super().__init__(title=f"Credential {credential.name}" if credential else "New credential")
        self.integration = integration
        self.credential = credential

    def fields(self) -> ComposeResult:
        cred = self.credential
        yield FieldRow("Name", Input(cred.name if cred else "", id="f-name", compact=True), name="name")
        yield FieldRow("Type", Select([(label, kind) for kind, label in KIND_LABELS.items()],
                                      value=cred.kind if cred else "bearer", allow_blank=False, id="f-kind",
                                      compact=True), name="kind")
        yield Vertical(id="kind-fields")

    def on_mount(self) -> None:
        self._show_kind_fields(self.credential.kind if self.credential else "bearer")

    @on(Select.Changed, "#f-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self._show_kind_fields(str(event.value))

    def _show_kind_fields(self, kind: str) -> None:
        box = self.query_one("#kind-fields", Vertical)
        box.remove_children()
        cred = self.credential if self.credential and self.credential.kind == kind else None
        rows = []
        for field in PLAIN_FIELDS[kind]:
            current = cred.fields.get(field, "") if cred else ""
            if field in CHOICE_FIELDS:
                choices = CHOICE_FIELDS[field]
                control = Select(choices, value=current or choices[0][1], allow_blank=False, id=f"p-{field}",
                                 compact=True)
            else:
                control = Input(current, id=f"p-{field}", compact=True)
            rows.append(FieldRow(FIELD_LABELS.get(field, field), control, name=field))
        for field in SECRET_FIELDS[kind]:
            stored = cred is not None and field in cred.secrets
            rows.append(FieldRow(FIELD_LABELS.get(field, field),
                                 Input("", id=f"s-{field}", password=True, compact=True,
                                       placeholder="•••• unchanged — type to replace" if stored else ""),
                                 name=field, hint=SECRET_HINTS.get((kind, field), "stored encrypted, shown masked")))
        box.mount_all(rows)

    def submit(self) -> Integration:
        kind = self.choice("f-kind") or "bearer"
        fields: dict[str, str] = {}
        for field in PLAIN_FIELDS[kind]:
            value = self.choice(f"p-{field}") if field in CHOICE_FIELDS else self.value(f"p-{field}")
            if value:
                fields[field] = str(value)
        old = self.credential.secrets if self.credential and self.credential.kind == kind else {}
        secrets: dict[str, str] = {}
        for field in SECRET_FIELDS[kind]:
            typed = self.query_one(f"#s-{field}", Input).value
            if typed:
                secrets[field] = self.workspace.encrypt(typed)
            elif field in old:
                secrets[field] = old[field]
        name = self.value("f-name")
        if self.credential is not None:
            credential = structs.replace(self.credential, name=name, kind=kind, fields=fields, secrets=secrets)
        else:
            credential = Credential(name=name, kind=kind, fields=fields, secrets=secrets)  # type: ignore[arg-type]
        changed = structs.replace(self.integration,
                                  credentials=replace_item(self.integration.credentials, self.credential, credential))
        return self.workspace.save_integration(changed)
