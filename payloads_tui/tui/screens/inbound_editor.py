"""`InboundEditorScreen`: an inbound payload's header, targets and mappings, with a live preview.

Tab 1 holds the header (name, description, content type, partial success) and the
targets; tab 2 the field mappings of the target chosen in tab 1; tab 3 the preview: a
sample body and the records a dry run of the *unsaved* payload would write, refreshed
as you edit. The status line under the tabs says what the preview would do from
anywhere in the editor.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from payloads_tui.domain.models import CONTENT_TYPE_LABELS, FieldMapping, InboundPayload, Target
from payloads_tui.tui.checks import expression_problem
from payloads_tui.tui.screens.editor_base import PayloadEditorScreen, tab_bindings
from payloads_tui.tui.widgets.form import FieldRow
from payloads_tui.tui.widgets.keyed_table import Col
from payloads_tui.tui.widgets.list_editor import ItemField, ListEditor
from payloads_tui.tui.widgets.preview import PreviewPane, describe_outcome
from payloads_tui.tui.widgets.topbar import TopBar

EXPRESSION_SOURCES = ("item", "document", "context")
SOURCE_CHOICES = [
    ("item: JMESPath over the item", "item"),
    ("document: JMESPath over the body", "document"),
    ("static value", "static"),
    ("now (ISO 8601, UTC)", "now"),
    ("target: a field of an earlier target's record", "target"),
    ("credential field", "credential"),
    ("context (JMESPath)", "context"),
    ("variable of the integration", "variable"),
]
OPERATION_CHOICES = [("upsert", "upsert"), ("insert", "insert"), ("update", "update")]
#: The editor's sections: tab id → label.
SECTIONS = {"payload": "Payload", "mappings": "Mappings", "preview": "Preview"}
TABS = tuple(SECTIONS)

TARGET_COLUMNS = [
    Col("name", "Target", min_width=10),
    Col("object", "Object", width=12),
    Col("items", "Items", min_width=10, drop=2),
    Col("operation", "Operation", width=9),
    Col("match_key", "Match key", min_width=10, drop=1),
    Col("mappings", "Maps", width=4, justify="right", drop=3),
]
MAPPING_COLUMNS = [
    Col("field", "Field", width=16),
    Col("source", "Source", width=10),
    Col("expression", "Expression / value", min_width=20),
]


def target_cells(target: Target) -> dict[str, Any]:
    return {
        "name": target.name, "object": target.object, "items": target.items, "operation": target.operation,
        "match_key": ", ".join(target.match_key), "mappings": str(len(target.mappings)),
    }


def mapping_cells(mapping: FieldMapping) -> dict[str, Any]:
    if mapping.source == "static":
        shown: Any = Text(repr(mapping.value), style="green")
    elif mapping.source == "target":
        shown = f"{mapping.target}.{mapping.expression}"
    elif mapping.source == "credential":
        shown = f"{mapping.credential}.{mapping.expression}"
    elif mapping.source == "now":
        shown = Text("(the current time)", style="dim")
    else:
        problem = expression_problem(mapping.expression)
        shown = Text(mapping.expression, style="red" if problem else "")
    return {"field": mapping.field, "source": mapping.source, "expression": shown}


def new_target(targets: list[Target]) -> Target:
    return Target(name=f"Target {len(targets) + 1}", object="Account", items="@", operation="upsert")


def new_mapping(mappings: list[FieldMapping]) -> FieldMapping:
    return FieldMapping(field=f"field_{len(mappings) + 1}", source="item", expression="")


class InboundEditorScreen(PayloadEditorScreen[InboundPayload]):
    """See the module docstring."""

    KIND = "inbound"
    TABS = TABS
    BINDINGS = tab_bindings(SECTIONS)

    def new_model(self) -> InboundPayload:
        return InboundPayload(name="New inbound payload", content_type="json",
                              targets=[Target(name="Record", object="Account", items="@", operation="insert")])

    def header_fields(self) -> dict[str, tuple[str, str]]:
        return {
            "name": ("h-name", "text"), "description": ("h-description", "text"),
            "content_type": ("h-content-type", "select"), "allow_partial_success": ("h-partial", "switch"),
        }

    def list_editors(self) -> dict[str, ListEditor]:
        return {"targets": self.query_one("#targets", ListEditor), "mappings": self.query_one("#mappings", ListEditor)}

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = self.original.name if self.original else "new inbound payload"
        yield TopBar(f"{self.console.location} › {self.integration.name} › {title}")
        with TabbedContent(initial="payload", id="editor-tabs"):
            with TabPane("1 Payload", id="payload"):
                with Vertical(classes="editor-header"):
                    yield FieldRow("Name", self.header_input("name", "h-name"), name="name")
                    yield FieldRow("Description", self.header_input("description", "h-description"),
                                   name="description")
                    yield FieldRow("Content type", self.header_select(
                        "content_type", "h-content-type", [(v, k) for k, v in CONTENT_TYPE_LABELS.items()],
                        allow_blank=False), name="content_type")
                    yield FieldRow("Partial success", self.header_switch("allow_partial_success", "h-partial"),
                                   name="allow_partial_success")
                yield ListEditor(
                    title="Targets (a add · d delete · enter edit)", columns=TARGET_COLUMNS, id="targets",
                    cells=target_cells, new_item=new_target,
                    fields=[
                        ItemField("name", "Name"),
                        ItemField("object", "Object", placeholder="Account"),
                        ItemField("items", "Items", "expression", placeholder="@ (the whole body), data.object",
                                  check=lambda _t, text: expression_problem(text or "@")),
                        ItemField("operation", "Operation", "select", choices=lambda: OPERATION_CHOICES, required=True),
                        ItemField("match_key", "Match key", "list", placeholder="stripe_id",
                                  applies=lambda t: t.operation != "insert"),
                    ],
                )
            with TabPane("2 Mappings", id="mappings-tab"):
                yield Static("", id="mappings-of", classes="section-title")
                yield ListEditor(
                    title="Field mappings (a add · d delete · enter edit)", columns=MAPPING_COLUMNS, id="mappings",
                    cells=mapping_cells, new_item=new_mapping,
                    fields=[
                        ItemField("field", "Field"),
                        ItemField("source", "Source", "select", choices=lambda: SOURCE_CHOICES, required=True),
                        ItemField("expression", "Expression", "expression", placeholder="email, upper(currency)",
                                  applies=lambda m: m.source in EXPRESSION_SOURCES,
                                  check=lambda _m, text: expression_problem(text)),
                        ItemField("value", "Value", "value", placeholder="JSON or text",
                                  applies=lambda m: m.source == "static"),
                        ItemField("target", "Earlier target", "select", choices=self._earlier_targets,
                                  applies=lambda m: m.source == "target"),
                        ItemField("credential", "Credential", "select", choices=self._credentials,
                                  applies=lambda m: m.source == "credential"),
                        ItemField("expression", "Field of it", "text", placeholder="id", key="field_of",
                                  applies=lambda m: m.source in ("target", "credential")),
                    ],
                )
            with TabPane("3 Preview", id="preview"):
                yield PreviewPane(id="editor-preview")
        with Horizontal(id="editor-status"):
            yield Static("Preview: paste a sample body on tab 3 (alt+3) to see the records it would write",
                         id="editor-status-preview")
            yield Static("saved", id="editor-status-dirty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#targets", ListEditor).edit(self.model.targets, select=0)
        self._show_mappings()
        self.changed()
        self.query_one("#h-name", Input).focus()

    # --- targets ↔ mappings --------------------------------------------------------------

    @property
    def target_index(self) -> int:
        return self.query_one("#targets", ListEditor).index

    def _show_mappings(self) -> None:
        index = self.target_index
        mappings = self.query_one("#mappings", ListEditor)
        label = self.query_one("#mappings-of", Static)
        if index < 0:
            label.update("Add a target on tab 1 first.")
            mappings.edit([])
            return
        target = self.model.targets[index]
        label.update(f"Target {target.name} → {target.object} (pick another on tab 1)")
        mappings.refresh_choices()
        mappings.edit(target.mappings, select=0)

    def on_list_editor_highlighted(self, event: ListEditor.Highlighted) -> None:
        event.stop()
        if event.editor.id == "targets":
            self._show_mappings()

    def on_list_editor_changed(self, event: ListEditor.Changed) -> None:
        if event.editor.id == "mappings":  # the targets table counts them ("Maps")
            self.query_one("#targets", ListEditor).refresh_rows()
        super().on_list_editor_changed(event)

    def _earlier_targets(self) -> list[tuple[str, str]]:
        index = self.target_index
        return [(t.name, t.name) for t in self.model.targets[: max(index, 0)]]

    def _credentials(self) -> list[tuple[str, str]]:
        return [(c.name, c.name) for c in self.integration.credentials]

    def show_list_error(self, attribute: str, index: int, rest: str, reason: str) -> bool:
        if attribute == "targets" and rest.startswith("mappings["):
            targets = self.query_one("#targets", ListEditor)
            targets.table.select_key(str(index))
            self._show_mappings()
            inner = rest.removeprefix("mappings[")
            number, _, field = inner.partition("].")
            self.switch_tab("mappings-tab")
            return self.query_one("#mappings", ListEditor).show_error(int(number), field or "field", reason)
        return super().show_list_error(attribute, index, rest, reason)

    def switch_tab(self, tab: str) -> None:
        super().switch_tab("mappings-tab" if tab == "mappings" else tab)

    def switch_tab_of(self, widget: Any) -> None:
        for ancestor in widget.ancestors:
            if ancestor.id in ("payload", "mappings-tab", "preview"):
                super().switch_tab(ancestor.id)
                return

    # --- preview -------------------------------------------------------------------------

    def after_change(self) -> None:
        self.query_one(PreviewPane).set_payload(self.slug, self.model)
        targets = self.query_one("#targets", ListEditor)
        if targets.index >= 0:
            self.query_one("#mappings-of", Static).update(
                f"Target {self.model.targets[targets.index].name} → {self.model.targets[targets.index].object}")

    def on_preview_pane_updated(self, message: PreviewPane.Updated) -> None:
        status = self.query_one("#editor-status-preview", Static)
        if message.outcome is None:
            status.update(Text.assemble(("Preview: ", "dim"), (message.error or "", "red")))
        else:
            status.update(Text.assemble(("Preview: ", "dim"), describe_outcome(message.outcome),
                                        (" · alt+3 shows them", "dim")))
