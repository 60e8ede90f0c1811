"""Export and import forms: where the bundle goes or comes from, and how conflicts resolve.

They only collect what to do (`ExportRequest`, `ImportRequest`); the screen runs the
export or import in a worker thread, since both read or write files. Screens that
export mix in `ExportsBundles`, which does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.widgets import Input, Select

from payloads_tui.domain.errors import ValidationError
from payloads_tui.tui.calls import workspace_work
from payloads_tui.tui.messages import BundleExported
from payloads_tui.tui.screens.form_screen import FormScreen, SavingForm
from payloads_tui.tui.widgets.form import FieldRow

CONFLICT_CHOICES = [
    ("skip: keep what is here", "skip"),
    ("replace: overwrite the integration here", "replace"),
    ("rename: import beside it under a new slug", "rename"),
]


@dataclass(frozen=True)
class ExportRequest:
    slug: str
    path: Path
    passphrase: str | None


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    on_conflict: str
    passphrase: str | None


def _path(text: str, field: str) -> Path:
    if not text:
        raise ValidationError("type a file path", field)
    return Path(text).expanduser()


class ExportForm(FormScreen[ExportRequest]):
    """Where to write the bundle of `slug`; a passphrase includes the secrets."""

    SUBMIT_LABEL = "Export"

    def __init__(self, slug: str, name: str) -> None:
        super().__init__(title=f"Export {name}")
        self.slug = slug

    def fields(self) -> ComposeResult:
        yield FieldRow("File", Input(f"{self.slug}.json", id="f-path", compact=True), name="path")
        yield FieldRow("Passphrase", Input("", id="f-passphrase", password=True, compact=True,
                                           placeholder="leave empty to leave secrets out"),
                       name="passphrase", hint="with a passphrase, secrets are exported encrypted under it")

    def submit(self) -> ExportRequest:
        return ExportRequest(self.slug, _path(self.value("f-path"), "path"), self.value("f-passphrase") or None)


class ImportForm(SavingForm[ImportRequest]):
    """Which bundle to import and what to do if its integration exists here."""

    SUBMIT_LABEL = "Import"
    TITLE_TEXT = "Import a bundle"

    def fields(self) -> ComposeResult:
        yield FieldRow("File", Input("", id="f-path", compact=True, placeholder="stripe.json"), name="path")
        yield FieldRow("If it exists", Select(CONFLICT_CHOICES, value="skip", allow_blank=False, id="f-conflict",
                                              compact=True), name="on_conflict")
        yield FieldRow("Passphrase", Input("", id="f-passphrase", password=True, compact=True,
                                           placeholder="only for bundles exported with secrets"),
                       name="passphrase")

    def submit(self) -> ImportRequest:
        path = _path(self.value("f-path"), "path")
        if not path.is_file():
            raise ValidationError(f"no file at {path}", "path")
        return ImportRequest(path, self.choice("f-conflict") or "skip", self.value("f-passphrase") or None)


class ExportsBundles:
    """Mixin for screens that export an integration: the form, the export in a worker thread, a notification."""

    def export_integration(self, slug: str, name: str) -> None:
        self.app.push_screen(ExportForm(slug, name), self._export)  # type: ignore[attr-defined]

    def _export(self, request: ExportRequest | None) -> None:
        if request is not None:
            self.export_bundle(request)

    @workspace_work("export the bundle", group="bundle", thread=True)
    def export_bundle(self, request: ExportRequest) -> None:
        path = self.workspace.export(request.slug, request.path, passphrase=request.passphrase)  # type: ignore[attr-defined]
        self.post_message(BundleExported(request.slug, path, request.passphrase is not None))  # type: ignore[attr-defined]

    def on_bundle_exported(self, message: BundleExported) -> None:
        secrets = "with secrets (under the passphrase)" if message.with_secrets else "without secrets"
        self.notify(f"Exported {message.slug} to {message.path} {secrets}.", markup=False)  # type: ignore[attr-defined]
