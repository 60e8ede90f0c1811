"""Export and import forms: where the bundle goes or comes from, and how conflicts resolve.

Each form does its work itself, in a worker thread (both read or write files), and
closes only once it succeeded: a failure (a bundle protected by a passphrase imported
without it, a path that cannot be written) is shown in the form with everything typed
kept, to correct and try again. The outcome (`BundleExported`, `BundleImported`) goes
to the screen that opened the form, which tells the user. Screens that export mix in
`ExportsBundles`, which opens the export form and says where the bundle went.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.widgets import Input, Select

from payloads_tui.domain.errors import ValidationError
from payloads_tui.tui.calls import workspace_work
from payloads_tui.tui.messages import BundleExported, BundleImported
from payloads_tui.tui.screens.form_screen import FormScreen, SavingForm, WorksBeforeClosing
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


class ExportForm(WorksBeforeClosing, FormScreen[ExportRequest]):
    """Where to write the bundle of `slug`; a passphrase includes the secrets. Writes it, then closes."""

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

    @workspace_work("export the bundle", group="bundle", thread=True)
    def run_request(self, request: ExportRequest) -> None:
        path = self.workspace.export(request.slug, request.path, passphrase=request.passphrase)
        self.post_message(BundleExported(request.slug, path, request.passphrase is not None))

    def on_bundle_exported(self, message: BundleExported) -> None:
        message.stop()
        self.done(BundleExported(message.slug, message.path, message.with_secrets))


class ImportForm(WorksBeforeClosing, SavingForm[ImportRequest]):
    """Which bundle to import and what to do if its integration exists here. Imports it, then closes."""

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

    @workspace_work("import the bundle", group="bundle", thread=True)
    def run_request(self, request: ImportRequest) -> None:
        result = self.workspace.import_(request.path, on_conflict=request.on_conflict,  # type: ignore[arg-type]
                                        passphrase=request.passphrase)
        self.post_message(BundleImported(result))

    def on_bundle_imported(self, message: BundleImported) -> None:
        message.stop()
        self.done(BundleImported(message.result))


class ExportsBundles:
    """Mixin for screens that export an integration: the form (which writes the bundle), then a notification."""

    def export_integration(self, slug: str, name: str) -> None:
        self.app.push_screen(ExportForm(slug, name))  # type: ignore[attr-defined]

    def on_bundle_exported(self, message: BundleExported) -> None:
        secrets = "with secrets (under the passphrase)" if message.with_secrets else "without secrets"
        self.notify(f"Exported {message.slug} to {message.path} {secrets}.", markup=False)  # type: ignore[attr-defined]
