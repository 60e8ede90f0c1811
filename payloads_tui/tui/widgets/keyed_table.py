"""`KeyedTable`: a DataTable of rows named by keys, with columns that give way when narrow.

Rows are replaced as a whole (`set_rows`) and the cursor stays on the same key and the
scroll position where it was; unchanged rows only get their changed cells updated.
Columns have fixed widths or share what is left ("flex"); when the table is too narrow
the columns with the highest `drop` rank are hidden instead of wrapping or scrolling
sideways, and long text is cut with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist, RowKey

from payloads_tui.tui.formatting import clip

Cell = str | Text
Row = tuple[str, Mapping[str, Cell]]
#: Rows whose fitted cells are kept (per `values` mapping) before the cache starts over.
FIT_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Col:
    """One column: its key, label, width (None: share the room left) and when it gives way."""

    key: str
    label: str
    width: int | None = None
    min_width: int = 10
    drop: int = 0  # 0: always shown; otherwise hidden when narrow, highest rank first
    justify: Literal["left", "right"] = "left"
    #: (column, cell): while that column is hidden, show this row's `cell` here instead (what it would have said)
    standing_in: tuple[str, str] | None = None

    def cell_key(self, shown: Collection[str]) -> str:
        if self.standing_in is not None and self.standing_in[0] not in shown:
            return self.standing_in[1]
        return self.key


def _fit(cell: Cell, width: int, justify: str) -> Text:
    if isinstance(cell, Text):
        text = cell.copy()
        text.no_wrap = True
        if text.cell_len > width:
            text.truncate(width, overflow="ellipsis")
    else:
        text = Text(clip(cell, width), no_wrap=True, end="")
    if justify == "right" and text.cell_len < width:
        text.pad_left(width - text.cell_len)
    return text


def plan_columns(columns: Sequence[Col], width: int, padding: int = 1) -> list[tuple[Col, int]]:
    """Which columns fit in `width` cells, and how wide each is."""
    shown = list(columns)

    def needed(cols: list[Col]) -> int:
        return sum((c.width or c.min_width) + 2 * padding for c in cols)

    while needed(shown) > width:
        droppable = [c for c in shown if c.drop]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda c: c.drop))
    flex = [c for c in shown if c.width is None]
    room = width - sum(c.width + 2 * padding for c in shown if c.width is not None) - 2 * padding * len(flex)
    spare = max(room - sum(c.min_width for c in flex), 0)
    share, extra = divmod(spare, len(flex)) if flex else (0, 0)
    plan: list[tuple[Col, int]] = []
    for col in shown:
        if col.width is not None:
            plan.append((col, col.width))
        else:
            plan.append((col, col.min_width + share + (1 if extra > 0 else 0)))
            extra -= 1
    return plan


class KeyedTable(DataTable[Text]):
    """A row-cursor DataTable whose rows are named by keys; see the module docstring."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, columns: Sequence[Col], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.specs: tuple[Col, ...] = tuple(columns)
        self._rows: dict[str, Mapping[str, Cell]] = {}
        self._plan: list[tuple[Col, int]] = []
        self._laid_out_width = -1
        self._fitted: dict[int, tuple[Mapping[str, Cell], list[Text]]] = {}

    # --- columns -------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        usable = width - 1  # room for the vertical scrollbar, so rows never scroll sideways
        if usable == self._laid_out_width or usable <= 0:
            return
        plan = plan_columns(self.specs, usable, self.cell_padding)
        self._laid_out_width = usable
        if [(c.key, w) for c, w in plan] == [(c.key, w) for c, w in self._plan]:
            return
        self._plan = plan
        self._fitted.clear()
        self._rebuild(columns=True)

    @property
    def shown_columns(self) -> list[str]:
        return [col.key for col, _ in self._plan]

    # --- rows ----------------------------------------------------------------------------

    @property
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - the cursor may point past the rows while they change
            return None
        return key.value

    def item_key(self) -> str | None:
        """What the row under the cursor names (its key here; subclasses may map rows to items)."""
        return self.cursor_key

    @property
    def keys(self) -> list[str]:
        return list(self._rows)

    def row_values(self, key: str) -> Mapping[str, Cell] | None:
        return self._rows.get(key)

    def _cells(self, values: Mapping[str, Cell]) -> list[Text]:
        """The fitted cells of a row (cached by the identity of `values` until the columns change)."""
        cached = self._fitted.get(id(values))
        if cached is not None and cached[0] is values:
            return cached[1]
        shown = self.shown_columns
        cells = [_fit(values.get(col.cell_key(shown), ""), width, col.justify) for col, width in self._plan]
        if len(self._fitted) > FIT_CACHE_SIZE:
            self._fitted.clear()
        self._fitted[id(values)] = (values, cells)
        return cells

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Show `rows` (in this order); keep the cursor on its key and the scroll where it was."""
        new = dict(rows)
        if list(new) == list(self._rows) and self._plan:
            changed = [key for key, values in new.items() if values is not self._rows[key] and values != self._rows[key]]
            self._rows = new
            self._write_rows(changed)
            return
        self._rows = new
        self._rebuild()

    def update_row(self, key: str, values: Mapping[str, Cell]) -> bool:
        """Change one row in place; False if it is not shown."""
        if key not in self._rows:
            return False
        if self._rows[key] != values:
            self._rows[key] = values
            self._write_rows([key])
        return True

    def _write_rows(self, keys: list[str]) -> None:
        """Rewrite the cells of rows `keys` in place, then repaint once.

        `DataTable.update_cell` repaints per cell, which costs a millisecond a row at 200
        rows a batch; this writes the row data directly (DataTable keeps it in `_data`,
        keyed by row and column keys, in Textual 8) and bumps its render cache once.
        """
        if not self._plan or not keys:
            return
        data = self._data
        columns = [ColumnKey(col.key) for col, _ in self._plan]
        for key in keys:
            row_key = RowKey(key)
            if row_key not in data:
                continue
            data[row_key] = dict(zip(columns, self._cells(self._rows[key])))
        self._update_count += 1
        self.refresh()

    def _rebuild(self, *, columns: bool = False) -> None:
        if not self._plan:
            return
        key, row, scroll_y = self.cursor_key, self.cursor_row, self.scroll_y
        self.clear(columns=columns)
        if columns:
            for col, width in self._plan:
                self.add_column(Text(clip(col.label, width), justify=col.justify), width=width, key=col.key)
        for row_key, values in self._rows.items():
            self.add_row(*self._cells(values), key=row_key)
        self._restore(key, row, scroll_y)

    def _restore(self, key: str | None, row: int, scroll_y: float) -> None:
        if not self.row_count:
            return
        index = self._index_of(key)
        target = index if index is not None else min(row, self.row_count - 1)
        self.move_cursor(row=target, scroll=False)
        if scroll_y:
            self.call_after_refresh(self.scroll_to, y=scroll_y, animate=False)

    def _index_of(self, key: str | None) -> int | None:
        if key is None:
            return None
        try:
            return self.get_row_index(key)
        except RowDoesNotExist:
            return None

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row named `key` (scrolling it into view)."""
        index = self._index_of(key)
        if index is None:
            return False
        self.move_cursor(row=index)
        return True
