"""`OutboundEditorScreen`: an outbound payload's request, sources, elements, headers and query.

Tab 1 the request (endpoint with `{merge}` fields checked as typed, method, content
type, credential, response handler, success codes, paging, timeout, attempts); tab 2
the sources (records queried) and, with `c`, the child records of a source
(`SourcesEditor`); tab 3 the elements (values placed in the body, headers, query or
URL), where an array element opens into the fields of its items, to any depth
(`NestedElementsEditor`); tab 4 extra headers and query parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from payloads_tui.domain.models import OutboundPayload
from payloads_tui.domain.words import counted
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.checks import template_problem
from payloads_tui.tui.screens.editor_base import PayloadEditorScreen, tab_bindings
from payloads_tui.tui.widgets.form import FieldRow
from payloads_tui.tui.widgets.keyed_table import Col
from payloads_tui.tui.widgets.list_editor import ItemField, ListEditor
from payloads_tui.tui.widgets.nested_elements import NestedElementsEditor, each_choices
from payloads_tui.tui.widgets.outbound_sources import SourcesEditor
from payloads_tui.tui.widgets.topbar import TopBar

METHODS = [(m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]
CONTENT_TYPES = [("JSON", "json"), ("Form URL-encoded", "form"), ("XML", "xml"), ("Plain text", "text")]
INITIATED = [("Locally Initiated", "local"), ("API Initiated", "api")]
PAGINATION = [("none", "none"), ("Stripe (starting_after)", "stripe")]
#: The editor's sections: tab id → label.
SECTIONS = {"request": "Request", "sources": "Sources", "elements": "Elements", "extras": "Headers & query"}
TABS = tuple(SECTIONS)
NESTED = re.compile(r"^elements\[(\d+)\]\.?(.*)$")
CHILD = re.compile(r"^children\[(\d+)\]\.?(.*)$")

EXTRA_COLUMNS = [
    Col("where", "In", width=6),
    Col("name", "Name", min_width=14),
    Col("value", "Value (may hold {merge} fields)", min_width=20),
]


@dataclass
class Extra:
    """One header or query parameter as edited (the payload keeps two dicts)."""

    where: str
    name: str
    value: str


def extra_cells(extra: Extra) -> dict[str, Any]:
    return {"where": extra.where, "name": extra.name,
            "value": Text(extra.value, style="red" if template_problem(extra.value) else "")}


class OutboundEditorScreen(PayloadEditorScreen[OutboundPayload]):
    """See the module docstring."""

    KIND = "outbound"
    TABS = TABS
    BINDINGS = tab_bindings(SECTIONS)

    def __init__(self, slug: str, name: str | None) -> None:
        super().__init__(slug, name)
        self._objects: list[tuple[str, str]] | None = None
        self._each_names: tuple[str, ...] = ()
        self.extras = [Extra("header", k, v) for k, v in self.model.headers.items()]
        self.extras += [Extra("query", k, v) for k, v in self.model.query.items()]

    def new_model(self) -> OutboundPayload:
        return OutboundPayload(name="New outbound payload", method="POST", content_type="json",
                               endpoint="{base_url}/")

    def header_fields(self) -> dict[str, tuple[str, str]]:
        return {
            "name": ("h-name", "text"), "description": ("h-description", "text"),
            "initiated": ("h-initiated", "select"), "method": ("h-method", "select"),
            "endpoint": ("h-endpoint", "text"), "content_type": ("h-content-type", "select"),
            "credential": ("h-credential", "select"), "response_handler": ("h-handler", "select"),
            "success_codes": ("h-success", "text"), "request_per_record": ("h-per-record", "switch"),
            "pagination": ("h-pagination", "select"), "timeout": ("h-timeout", "float"),
            "max_attempts": ("h-attempts", "int"),
        }

    def list_editors(self) -> dict[str, ListEditor]:
        return {"sources": self.query_one("#sources-editor", ListEditor),
                "elements": self.query_one("#elements-editor", ListEditor)}

    @property
    def sources_editor(self) -> SourcesEditor:
        return self.query_one(SourcesEditor)

    @property
    def elements_editor(self) -> NestedElementsEditor:
        return self.query_one(NestedElementsEditor)

    def check_header(self, attribute: str, value: Any) -> str | None:
        if attribute == "endpoint":
            if not str(value).strip() and self.model.initiated == "local":
                return "a locally initiated payload needs an endpoint"
            return template_problem(str(value))
        return super().check_header(attribute, value)

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = self.original.name if self.original else "new outbound payload"
        integration = self.integration
        credentials = [(c.name, c.name) for c in integration.credentials]
        handlers = [(p.name, p.name) for p in integration.inbound]
        yield TopBar(f"{self.console.location} › {integration.name} › {title}")
        with TabbedContent(initial="request", id="editor-tabs"):
            with TabPane("1 Request", id="request"):
                with VerticalScroll(classes="editor-header"):
                    yield FieldRow("Name", self.header_input("name", "h-name"), name="name")
                    yield FieldRow("Description", self.header_input("description", "h-description"),
                                   name="description")
                    yield FieldRow("Record type", self.header_select("initiated", "h-initiated", INITIATED,
                                                                     allow_blank=False), name="initiated")
                    yield FieldRow("Method", self.header_select("method", "h-method", METHODS, allow_blank=False),
                                   name="method")
                    yield FieldRow("Endpoint", self.header_input("endpoint", "h-endpoint",
                                                                 placeholder="{base_url}/v1/customers/{stripe_id}"),
                                   name="endpoint")
                    yield FieldRow("Content type", self.header_select("content_type", "h-content-type", CONTENT_TYPES,
                                                                      allow_blank=False), name="content_type")
                    yield FieldRow("Credential", self.header_select("credential", "h-credential", credentials,
                                                                    prompt="none"), name="credential")
                    yield FieldRow("Response handler", self.header_select("response_handler", "h-handler", handlers,
                                                                          prompt="none"), name="response_handler")
                    yield FieldRow("Success codes", self.header_input("success_codes", "h-success", placeholder="2xx"),
                                   name="success_codes")
                    yield FieldRow("Per record", self.header_switch("request_per_record", "h-per-record"),
                                   name="request_per_record")
                    yield FieldRow("Paging", self.header_select("pagination", "h-pagination", PAGINATION,
                                                                allow_blank=False), name="pagination")
                    yield FieldRow("Timeout (s)", self.header_input("timeout", "h-timeout", type="number"),
                                   name="timeout")
                    yield FieldRow("Max attempts", self.header_input("max_attempts", "h-attempts", type="integer"),
                                   name="max_attempts")
            with TabPane("2 Sources", id="sources"):
                yield SourcesEditor(objects=self._object_names, id="sources-and-children")
            with TabPane("3 Elements", id="elements"):
                yield NestedElementsEditor(choices=lambda: each_choices(self.model.sources), id="nested-elements")
            with TabPane("4 Headers & query", id="extras"):
                yield ListEditor(
                    title="Headers and query parameters (a add · d delete)", columns=EXTRA_COLUMNS,
                    id="extras-editor", cells=extra_cells,
                    new_item=lambda items: Extra("header", f"X-Header-{len(items) + 1}", ""),
                    fields=[
                        ItemField("where", "In", "select", choices=lambda: [("header", "header"), ("query", "query")], required=True),
                        ItemField("name", "Name"),
                        ItemField("value", "Value", "template", placeholder="{api_version}",
                                  check=lambda _x, text: template_problem(text)),
                    ],
                )
        with Horizontal(id="editor-status"):
            yield Static("", id="editor-status-preview")
            yield Static("saved", id="editor-status-dirty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sources_editor.edit(self.model.sources)
        self.elements_editor.edit(self.model.elements)
        self.query_one("#extras-editor", ListEditor).edit(self.extras, select=0)
        self.changed()
        self.query_one("#h-name", Input).focus()

    def _object_names(self) -> list[tuple[str, str]]:
        """Object names to suggest; read once (both object fields ask while the editor is composed)."""
        if self._objects is None:
            schemas = attempt(self, "read the object schemas", self.workspace.schemas) or []
            self._objects = [(schema.name, schema.name) for schema in schemas]
        return self._objects

    def on_list_editor_changed(self, event: ListEditor.Changed) -> None:
        if event.editor.id in ("sources-editor", "children-editor"):
            # Every key typed in a source changes it; the *Array of* choices only when a name does.
            names = tuple(name for _, name in each_choices(self.model.sources))
            if names != self._each_names:
                self._each_names = names
                self.elements_editor.editor.refresh_choices()
            return
        if event.editor.id == "extras-editor":
            self.model.headers = {x.name: x.value for x in self.extras if x.where == "header" and x.name}
            self.model.query = {x.name: x.value for x in self.extras if x.where == "query" and x.name}

    def on_list_editor_highlighted(self, event: ListEditor.Highlighted) -> None:
        event.stop()

    def after_change(self) -> None:
        model = self.model
        target = f"{model.method} {model.endpoint or '(answers its External API)'}"
        children = sum(len(s.children) for s in model.sources)
        counts = f" · {counted(len(model.sources), 'source')}" + (
            f" · {counted(children, 'child source')}" if children else "")
        summary = Text.assemble((target, "bold"), (f"{counts} · {counted(len(model.elements), 'element')}", "dim"))
        if model.response_handler:
            summary.append(f" · response → {model.response_handler}", style="dim")
        self.query_one("#editor-status-preview", Static).update(summary)

    def show_list_error(self, attribute: str, index: int, rest: str, reason: str) -> bool:
        """Errors of child sources and nested elements open the level they are on."""
        if attribute == "sources":
            self.switch_tab("sources")
            child = CHILD.match(rest)
            if child:
                return self.sources_editor.show_error(index, int(child.group(1)), child.group(2).split(".")[0],
                                                      reason)
            return self.sources_editor.show_error(index, None, rest.split(".")[0], reason)
        if attribute == "elements":
            path = [index]
            while nested := NESTED.match(rest):
                path.append(int(nested.group(1)))
                rest = nested.group(2)
            self.switch_tab("elements")
            return self.elements_editor.show_error(path, rest.split(".")[0], reason)
        return super().show_list_error(attribute, index, rest, reason)

    def show_header_error(self, field: str, reason: str) -> bool:
        if field.startswith(("headers.", "query.")):
            where, _, name = field.partition(".")
            editor = self.query_one("#extras-editor", ListEditor)
            index = next((i for i, x in enumerate(self.extras) if x.where == where.rstrip("s") and x.name == name), -1)
            self.switch_tab("extras")
            return editor.show_error(index, "value", reason)
        return super().show_header_error(field, reason)
