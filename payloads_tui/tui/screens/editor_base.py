"""`PayloadEditorScreen`: what the inbound and outbound editors share.

A working copy of the payload is edited in place; `ctrl+s` saves the integration with
the payload replaced (or added), and a `ValidationError` is shown next to its field;
leaving with unsaved changes asks first. In a read-only console (`--no-service`, or
the data directory of another process's service opened read-only) the editors still
edit, but saving is not offered: `ctrl+s` leaves the footer and only says why
(`readonly.py`).
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import msgspec
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Select, Static, Switch, TabbedContent

from payloads_tui.domain.errors import PayloadsError, ValidationError
from payloads_tui.domain.models import InboundPayload, Integration, OutboundPayload, from_data
from payloads_tui.tui.calls import attempt
from payloads_tui.tui.messages import ConfigUpdated
from payloads_tui.tui.readonly import ReadOnlyGuard, changes_data, read_only_reason
from payloads_tui.tui.screens.base import ConsoleScreen
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.widgets.form import FieldRow, clear_field_errors
from payloads_tui.tui.widgets.list_editor import ListEditor
from payloads_tui.tui.widgets.topbar import TopBar

P = TypeVar("P", InboundPayload, OutboundPayload)
INDEXED = re.compile(r"^(\w+)\[(\d+)\]\.?(.*)$")


#: What Textual makes of Alt+1…Alt+8 in terminals that send ESC and the digit (tmux, xterm, most SSH
#: clients): the characters macOS types for Option+digit. In an editor the app reads them as Alt+digit
#: (`PayloadsApp.on_event`), so there those characters are pasted, not typed, into fields.
ALT_DIGIT_KEYS = {key: f"alt+{n}" for n, key in enumerate(
    ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign", "infinity", "section_sign",
     "pilcrow_sign", "bullet"), start=1)}


def tab_bindings(sections: dict[str, str]) -> list[Binding]:
    """Keys of the editor's sections (tab id → label), in order: `alt+N` works inside fields, `N` elsewhere."""
    bindings: list[Binding] = []
    for number, (tab, label) in enumerate(sections.items(), start=1):
        action = f"show_tab('{tab}')"
        bindings += [Binding(f"alt+{number}", action, label, show=False, priority=True),
                     Binding(str(number), action, label, show=False)]
    return bindings


def copy_of(model: P) -> P:
    """A deep copy of a model (the editor's working copy); `ValidationError` naming a field that holds
    what its type cannot (a number field's text kept as typed, to be refused here, not saved as empty)."""
    return from_data(type(model), msgspec.to_builtins(model))


class PayloadSaved(Message):
    """A payload was saved from an editor."""

    def __init__(self, slug: str, kind: str, name: str) -> None:
        super().__init__()
        self.slug = slug
        self.kind = kind
        self.name = name


class PayloadEditorScreen(ReadOnlyGuard, ConsoleScreen, Generic[P]):
    """Base of the payload editors; subclasses define `KIND`, `TABS`, compose and the field plumbing."""

    #: the app reads ESC+digit (`ALT_DIGIT_KEYS`) as Alt+digit while this screen is active
    TAKES_ALT_DIGITS = True

    KIND = "inbound"
    TABS: tuple[str, ...] = ()
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
    ]

    #: The name the payload was last saved under (None until saved): the page puts its cursor there.
    saved_name: str | None = None

    def __init__(self, slug: str, name: str | None) -> None:
        super().__init__(classes="editor-screen")
        self.slug = slug
        self.name_at_open = name
        self.integration: Integration = self.console.workspace.integration(slug)
        original = self._find(self.integration, name) if name else None
        self.original: P | None = original
        self.model: P = copy_of(original) if original is not None else self.new_model()
        self._saved_state = self._state()
        self._unparsed: dict[str, str] = {}  # header attribute → why its text is not a value of its type

    # --- to define -----------------------------------------------------------------------

    def new_model(self) -> P:
        raise NotImplementedError

    def _payloads(self, integration: Integration) -> list[P]:
        return integration.inbound if self.KIND == "inbound" else integration.outbound  # type: ignore[return-value]

    def _find(self, integration: Integration, name: str) -> P | None:
        return next((p for p in self._payloads(integration) if p.name == name), None)

    def header_fields(self) -> dict[str, tuple[str, str]]:
        """Model attribute → (widget id, kind) of the header form."""
        return {}

    def list_editors(self) -> dict[str, ListEditor]:
        """Model list attribute → its `ListEditor` (its items are the model's own list)."""
        return {}

    def after_change(self) -> None:
        """Called after every edit (e.g. to refresh a preview)."""

    def breadcrumb(self) -> str:
        """Where the top bar says the editor is: the integration and the payload as saved (or a new one)."""
        title = self.original.name if self.original is not None else f"new {self.KIND} payload"
        return f"{self.console.location} › {self.integration.name} › {title}"

    def show_breadcrumb(self) -> None:
        for bar in self.query(TopBar):
            bar.show_where(self.breadcrumb())

    # --- state ---------------------------------------------------------------------------

    def _state(self) -> bytes:
        return msgspec.json.encode(self.model)

    def has_unsaved_changes(self) -> bool:
        return self._state() != self._saved_state

    @property
    def read_only(self) -> bool:
        """Whether this console may not change anything (then saving is not offered)."""
        return read_only_reason(self.app) is not None

    def changed(self) -> None:
        dirty = self.has_unsaved_changes()
        if self.read_only:
            status = "● read-only: not saved" if dirty else "read-only"
        else:
            status = "● unsaved · ctrl+s" if dirty else "saved"
        self.query_one("#editor-status-dirty", Static).update(status)
        self.query_one("#editor-status-dirty").set_class(dirty, "-dirty")
        self.after_change()

    # --- header form ---------------------------------------------------------------------

    def header_input(self, attribute: str, widget_id: str, **options: Any) -> Input:
        value = getattr(self.model, attribute)
        return Input("" if value is None else str(value), id=widget_id, compact=True, **options)

    def header_select(self, attribute: str, widget_id: str, choices: list[tuple[str, str]], **options: Any) -> Select:
        value = getattr(self.model, attribute)
        legal = {v for _, v in choices}
        return Select(choices, value=value if value in legal else Select.NULL, id=widget_id, compact=True, **options)

    def header_switch(self, attribute: str, widget_id: str) -> Switch:
        return Switch(value=bool(getattr(self.model, attribute)), id=widget_id)

    def _header_attribute(self, widget_id: str | None) -> tuple[str, str] | None:
        for attribute, (wid, kind) in self.header_fields().items():
            if wid == widget_id:
                return attribute, kind
        return None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._header_changed(event.control.id, event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._header_changed(event.control.id, None if event.value is Select.NULL else event.value)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self._header_changed(event.control.id, event.value)

    def _header_changed(self, widget_id: str | None, value: Any) -> None:
        found = self._header_attribute(widget_id)
        if found is None:
            return
        attribute, kind = found
        if kind == "float":
            try:
                value = float(value)
            except (TypeError, ValueError):
                self._unparsed[attribute] = "a number is needed"
                self._row_error(attribute, self._unparsed[attribute])
                return
        elif kind == "int":
            try:
                value = int(value)
            except (TypeError, ValueError):
                self._unparsed[attribute] = "a whole number is needed"
                self._row_error(attribute, self._unparsed[attribute])
                return
        self._unparsed.pop(attribute, None)
        self._row_error(attribute, self.check_header(attribute, value))
        if value == getattr(self.model, attribute):
            return
        setattr(self.model, attribute, value)
        self.changed()

    def check_header(self, attribute: str, value: Any) -> str | None:
        """A live problem with a header field, or None."""
        if attribute == "name" and not str(value).strip():
            return "a payload needs a name"
        return None

    def _row_error(self, name: str, message: str | None) -> None:
        for row in self.query(FieldRow):
            if row.name == name:
                row.show_error(message)

    def on_list_editor_changed(self, event: ListEditor.Changed) -> None:
        event.stop()
        self.changed()

    # --- saving --------------------------------------------------------------------------

    @changes_data
    def action_save(self) -> None:
        clear_field_errors(self)
        if self._unparsed:  # the model still holds the last good value: saving would store that instead
            for attribute, problem in self._unparsed.items():
                self._row_error(attribute, problem)
            self.notify("Correct the fields marked before saving.", title="Not saved", severity="error")
            return
        integration = attempt(self, "read the integration", self.workspace.integration, self.slug)
        if integration is None:
            return
        payloads = list(self._payloads(integration))
        index = next((i for i, p in enumerate(payloads) if p.id == self.model.id), None)
        try:
            copied = copy_of(self.model)
        except ValidationError as exc:
            at = len(payloads) if index is None else index
            reason = "a whole number, or empty" if "`int" in exc.reason else exc.reason
            self.show_validation(ValidationError(reason, f"{self.KIND}[{at}].{exc.field}"), at)
            return
        if index is None:
            payloads.append(copied)
            index = len(payloads) - 1
        else:
            payloads[index] = copied
        changed = msgspec.structs.replace(integration, **{self.KIND: payloads})
        try:
            saved = self.workspace.save_integration(changed)
        except ValidationError as exc:
            self.show_validation(exc, index)
            return
        except PayloadsError as exc:
            self.notify(str(exc), title="Could not save", severity="error", markup=False)
            return
        self.integration = saved
        self.original = self._find(saved, self.model.name)
        self.saved_name = self.model.name
        self._saved_state = self._state()
        self.changed()
        self.show_breadcrumb()
        self.notify(f"Saved {self.model.name}.", markup=False)
        self.post_message(PayloadSaved(self.slug, self.KIND, self.model.name))

    def show_validation(self, exc: ValidationError, index: int) -> None:
        """Put a save-time `ValidationError` next to its field (switching tab and row as needed)."""
        field = exc.field or ""
        prefix = f"{self.KIND}[{index}]."
        if field.startswith(prefix):
            field = field[len(prefix):]
        match = INDEXED.match(field)
        editors = self.list_editors()
        if match and match.group(1) in editors:
            shown = self.show_list_error(match.group(1), int(match.group(2)), match.group(3), exc.reason)
        else:
            shown = self.show_header_error(field, exc.reason)
        if not shown:
            self.notify(str(exc), title="Could not save", severity="error", markup=False)

    def show_header_error(self, field: str, reason: str) -> bool:
        attribute = field.split(".")[0]
        for row in self.query(FieldRow):
            if row.name == attribute and not any(isinstance(a, ListEditor) for a in row.ancestors):
                self.switch_tab(self.TABS[0])
                row.show_error(reason)
                row.control.focus()
                return True
        return False

    def show_list_error(self, attribute: str, index: int, rest: str, reason: str) -> bool:
        editor = self.list_editors()[attribute]
        self.switch_tab_of(editor)
        return editor.show_error(index, rest.split(".")[0] or "name", reason)

    # --- tabs and leaving ----------------------------------------------------------------

    def switch_tab(self, tab: str) -> None:
        tabs = self.query_one("#editor-tabs", TabbedContent)
        tabs.active = tab
        self.call_after_refresh(self._focus_in_tab)

    def _focus_in_tab(self, tries: int = 5) -> None:
        pane = self.query_one("#editor-tabs", TabbedContent).active_pane
        if pane is None or (self.focused is not None and pane in self.focused.ancestors):
            return
        preferred = list(pane.query(".initial-focus"))
        for widget in preferred + list(pane.query("*")):
            if widget.focusable and widget.display and widget.is_on_screen:
                widget.focus()
                return
        if tries > 1:  # the tab's widgets are laid out on a later refresh (a busy machine): try then
            self.call_after_refresh(self._focus_in_tab, tries - 1)

    def switch_tab_of(self, widget: Any) -> None:
        for ancestor in widget.ancestors:
            if ancestor.id in self.TABS:
                self.switch_tab(ancestor.id)
                return

    def action_show_tab(self, tab: str) -> None:
        self.switch_tab(tab)

    def action_back(self) -> None:
        if not self.has_unsaved_changes():
            self.dismiss()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        detail = "This console is read-only: they cannot be saved here." if self.read_only else (
            "ctrl+s saves them instead.")
        self.app.push_screen(ConfirmScreen(f"Discard the unsaved changes to {self.model.name or 'this payload'}?",
                                           detail=detail, confirm="Discard"), answered)

    def on_config_updated(self, message: ConfigUpdated) -> None:
        if message.integration == self.slug and message.action != "delete":
            latest = attempt(self, "read the integration", self.workspace.integration, self.slug)
            if latest is not None:
                self.integration = latest
                self.show_breadcrumb()
