"""`SourcesEditor`: an outbound payload's sources, and the child sources of the one under the cursor.

Two views in one place, like a folder and its contents: the sources (records queried)
and, after `c` on a source, its child sources: for each record of the source, the
records of another object whose *parent field* holds that record's `id` (filtered,
sorted, limited), attached to the record under the child source's name — so elements
can place them as an array (`each`) or read them in expressions. `esc` (or backspace
on the table) goes back to the sources, on the same source. Both lists are the
payload's own, changed in place; every change posts `ListEditor.Changed`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import FIELD_NAME_RE, ChildSource, Source
from payloads_tui.domain.validation import validate_object_name
from payloads_tui.tui.checks import expression_problem
from payloads_tui.tui.widgets.keyed_table import Col
from payloads_tui.tui.widgets.list_editor import Choices, ItemField, ListEditor

SOURCE_COLUMNS = [
    Col("name", "Source", min_width=10),
    Col("object", "Object", width=12),
    Col("filter", "Filter", min_width=12, drop=2),
    Col("sort", "Sort", width=12, drop=3),
    Col("limit", "Limit", width=5, justify="right", drop=4),
    Col("children", "Children", width=8, justify="right", drop=1),
]
CHILD_COLUMNS = [
    Col("name", "Child source", min_width=12),
    Col("object", "Object", width=12),
    Col("parent_field", "Parent field", width=14),
    Col("filter", "Filter", min_width=10, drop=2),
    Col("sort", "Sort", width=10, drop=3),
    Col("limit", "Limit", width=5, justify="right", drop=1),
]
SOURCES_TITLE = "Sources: records queried (a add · d delete · c its child records)"


def _sort_text(sort: str, descending: bool) -> str:
    return f"{sort} ↓".lstrip() if descending else sort  # ↓ alone: the store's order, reversed


def source_cells(source: Source) -> dict[str, Any]:
    return {"name": source.name, "object": source.object, "filter": source.filter,
            "sort": _sort_text(source.sort, source.descending), "limit": str(source.limit or ""),
            "children": f"{len(source.children)} ›" if source.children else "0"}


def child_cells(child: ChildSource) -> dict[str, Any]:
    return {"name": child.name, "object": child.object, "parent_field": child.parent_field,
            "filter": child.filter, "sort": _sort_text(child.sort, child.descending),
            "limit": str(child.limit or "")}


def optional_expression(_item: Any, text: str) -> str | None:
    return expression_problem(text, required=False)


def object_problem(_item: Any, text: str) -> str | None:
    """Why `text` is not an object name, or None (the store's rule, said before saving)."""
    if not text.strip():
        return "an object is needed: the records of which table"
    try:
        validate_object_name(text, "object")
    except ValidationError as exc:
        return exc.reason
    return None


def name_problem(_item: Any, text: str) -> str | None:
    return None if text.strip() else "a name is needed: elements refer to it"


def parent_field_problem(_item: Any, text: str) -> str | None:
    if not text.strip():
        return "which field of the child record holds the parent record's id (e.g. order_id)"
    if not FIELD_NAME_RE.match(text):
        return "a field name: letters, digits and _ (e.g. order_id)"
    return None


def snake_case(name: str) -> str:
    """`OrderLine` → `order_line`: how a field naming a record of that object is usually spelt."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def new_source(sources: list[Source]) -> Source:
    return Source(name=f"source{len(sources) + 1}", object="Account")


class SourcesEditor(Vertical):
    """See the module docstring; `objects` offers object names to complete as they are typed."""

    BINDINGS = [
        Binding("c", "children", "Child records"),
        Binding("escape", "up", "Up to sources"),
        Binding("backspace", "up('table')", "Up to sources", show=False),
    ]

    def __init__(self, *, objects: Choices, id: str | None = None) -> None:
        super().__init__(id=id, classes="sources-editor")
        self.objects = objects
        self._source_index = -1

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="sources-view", id="sources-switcher"):
            with Vertical(id="sources-view"):
                yield ListEditor(
                    title=SOURCES_TITLE, columns=SOURCE_COLUMNS, id="sources-editor",
                    cells=source_cells, new_item=new_source, fields=self._source_fields(),
                )
            with Vertical(id="children-view"):
                yield Static("", id="children-path", classes="nested-path")
                yield ListEditor(
                    title="", columns=CHILD_COLUMNS, id="children-editor",
                    cells=child_cells, new_item=self._new_child, fields=self._child_fields(),
                )

    def _source_fields(self) -> Sequence[ItemField]:
        return [
            ItemField("name", "Name", check=name_problem),
            ItemField("object", "Object", placeholder="Account", check=object_problem, suggest=self.objects),
            ItemField("filter", "Filter", "expression", placeholder="!stripe_id (empty: every record)",
                      check=optional_expression),
            ItemField("sort", "Sort by", "expression", placeholder="name", check=optional_expression),
            ItemField("descending", "Descending", "switch"),
            ItemField("limit", "Limit", "int", placeholder="no limit"),
        ]

    def _child_fields(self) -> Sequence[ItemField]:
        return [
            ItemField("name", "Name", placeholder="lines (elements use this name)", check=name_problem),
            ItemField("object", "Object", placeholder="OrderLine", check=object_problem, suggest=self.objects),
            ItemField("parent_field", "Parent field", placeholder="order_id: holds the parent's id",
                      check=parent_field_problem),
            ItemField("filter", "Filter", "expression", placeholder="quantity > `0` (empty: every child)",
                      check=optional_expression),
            ItemField("sort", "Sort by", "expression", placeholder="description", check=optional_expression),
            ItemField("descending", "Descending", "switch"),
            ItemField("limit", "Limit", "int", placeholder="no limit (per parent record)"),
        ]

    # --- parts ---------------------------------------------------------------------------

    @property
    def source_list(self) -> ListEditor:
        return self.query_one("#sources-editor", ListEditor)

    @property
    def child_list(self) -> ListEditor:
        return self.query_one("#children-editor", ListEditor)

    @property
    def showing_children(self) -> bool:
        return self.query_one(ContentSwitcher).current == "children-view"

    @property
    def parent_source(self) -> Source | None:
        """The source whose children are shown (None while the sources are shown)."""
        items = self.source_list.items
        if not self.showing_children or not 0 <= self._source_index < len(items):
            return None
        return items[self._source_index]  # type: ignore[no-any-return]

    def edit(self, sources: list[Source]) -> None:
        """Edit `sources` (the payload's own list, changed in place), starting at the sources view."""
        self.source_list.edit(sources, select=0)
        self.show_sources()

    # --- moving between the views -------------------------------------------------------

    def show_children(self, index: int, *, select: int = 0, focus: bool = True) -> bool:
        """Show the child sources of source `index`; False if there is no such source."""
        items = self.source_list.items
        if not 0 <= index < len(items):
            return False
        self._source_index = index
        source: Source = items[index]
        self.query_one("#children-path", Static).update(
            Text.assemble((f"Sources › {source.name} › child records", "bold"), ("  esc: back", "dim")))
        self.child_list.set_title(f"Each {source.name} record gets the Object records whose Parent field = its id")
        self.query_one(ContentSwitcher).current = "children-view"
        self.child_list.edit(source.children, select=select)
        if focus:
            self.child_list.table.focus()
        self.refresh_bindings()
        return True

    def show_sources(self, *, focus: bool = False) -> None:
        self.query_one(ContentSwitcher).current = "sources-view"
        if 0 <= self._source_index < len(self.source_list.items):
            self.source_list.table.select_key(str(self._source_index))
        self.source_list.refresh_rows()
        if focus:
            self.source_list.table.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "children":
            return not self.showing_children and self.source_list.table.has_focus
        if action == "up":
            if not self.showing_children:
                return False
            return self.child_list.table.has_focus or parameters != ("table",)
        return True

    def action_children(self) -> None:
        if not self.show_children(self.source_list.index):
            self.notify("Add a source first (a), then c shows its child records.", markup=False)

    def action_up(self, _where: str = "") -> None:
        self.show_sources(focus=True)

    # --- errors --------------------------------------------------------------------------

    def show_error(self, source: int, child: int | None, field: str, message: str) -> bool:
        """Point at `field` of source `source` (or of its child source `child`) and say `message`."""
        if child is None:
            self.show_sources()
            return self.source_list.show_error(source, field or "name", message)
        if not self.show_children(source, select=child, focus=False):
            return False
        return self.child_list.show_error(child, field or "name", message)

    def _new_child(self, children: list[ChildSource]) -> ChildSource:
        parent = self.parent_source
        parent_field = f"{snake_case(parent.object)}_id" if parent is not None and parent.object else ""
        return ChildSource(name=f"child{len(children) + 1}", object="", parent_field=parent_field)
