"""`IntegrationForm`: create an integration, or edit its name, description and variables."""

from __future__ import annotations

import re

from msgspec import structs

from textual.app import ComposeResult
from textual.widgets import Input

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import Integration
from payloads_tui.tui.screens.form_screen import SavingForm
from payloads_tui.tui.widgets.form import FieldRow


def slug_of(name: str) -> str:
    """A slug from a name: `Stripe Billing` → `stripe-billing`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]


#: A comma that starts the next `name=` (a comma inside a value, as in `q=1,2`, does not).
_NEXT_VARIABLE = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_.\-]*\s*=)")


def parse_variables(text: str) -> dict[str, str]:
    """`a=1, b=two, url=http://x/?q=1,2` → {"a": "1", "b": "two", "url": "http://x/?q=1,2"}."""
    variables: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in _NEXT_VARIABLE.split(text.strip().rstrip(",")))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValidationError(f"{part!r} is not name=value", "variables")
        if name in variables:
            raise ValidationError(f"variable {name!r} is given twice; give each variable one value", "variables")
        variables[name] = value.strip()
    return variables


class IntegrationForm(SavingForm[Integration]):
    """Dismisses with the saved integration."""

    def __init__(self, integration: Integration | None = None) -> None:
        super().__init__(title=f"Edit {integration.name}" if integration else "New integration")
        self.original = integration
        self._slug_edited = integration is not None

    def fields(self) -> ComposeResult:
        current = self.original
        yield FieldRow("Name", Input(current.name if current else "", id="f-name", compact=True,
                                     placeholder="e.g. Stripe"), name="name")
        yield FieldRow("Slug", Input(current.slug if current else "", id="f-slug", compact=True,
                                     disabled=current is not None, placeholder="used in URLs: stripe"),
                       name="slug", hint="" if current is None else "the slug names the integration in URLs; it cannot change")
        yield FieldRow("Description", Input(current.description if current else "", id="f-description",
                                            compact=True), name="description")
        variables = ", ".join(f"{k}={v}" for k, v in (current.variables if current else {}).items())
        yield FieldRow("Variables", Input(variables, id="f-variables", compact=True,
                                          placeholder="base_url=https://api.stripe.com, api_version=2024-06-20"),
                       name="variables", hint="name=value pairs, used as {name} in endpoints and mappings")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "f-name" and not self._slug_edited:
            self.query_one("#f-slug", Input).value = slug_of(event.value)
        elif event.input.id == "f-slug" and event.input.has_focus:
            self._slug_edited = True

    def submit(self) -> Integration:
        variables = parse_variables(self.value("f-variables"))
        if self.original is None:
            created = Integration(slug=self.value("f-slug"), name=self.value("f-name"),
                                  description=self.value("f-description"), variables=variables)
            return self.workspace.create_integration(created)
        changed = structs.replace(self.original, name=self.value("f-name"),
                                  description=self.value("f-description"), variables=variables)
        return self.workspace.save_integration(changed)
