"""`JobsTable`: a live window on the newest jobs of one kind, newest first.

It holds a bounded window (the newest `window` jobs; more are paged in from the
workspace when the cursor reaches the bottom), never every job. New jobs go on top
while the operator is at the top; once they scroll down the table is *paused*: new
jobs are counted, not inserted, so what they read stays put, and status changes of
the jobs shown still update in place. Back at the top (g), it catches up.

The cursor stays on the job it is on, and on the first row it follows the newest job;
new jobs that would push the job under the cursor out of sight are held (paused) too,
until the cursor is back on the first row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.message import Message

from payloads_tui.domain.models import Job, JobKind
from payloads_tui.domain.terminaltext import printable
from payloads_tui.tui.formatting import Clock, clock_time, format_moment, status_text
from payloads_tui.tui.widgets.keyed_table import Cell, Col, KeyedTable

#: Jobs held while live; paging adds `PAGE` at a time below them.
WINDOW = 200
PAGE = 200

INBOUND_JOB_COLUMNS = [
    Col("number", "Job Number", width=10),
    Col("payload", "Inbound Payload", min_width=14),
    Col("status", "Status", width=19),
    Col("modified", "Last Modified", width=13, drop=1),
    Col("records", "# Records Processed", width=19, justify="right", drop=2),
    Col("source", "Source", width=17, drop=3),
]
OUTBOUND_JOB_COLUMNS = [
    Col("number", "Job Number", width=10),
    Col("payload", "Outbound Payload", min_width=14),
    Col("status", "Status", width=19),
    Col("modified", "Modified", width=12, drop=1),  # one cell less than inbound's: the message keeps its room at 80
    Col("code", "Response Code", width=13, justify="right", drop=3),
    Col("message", "Response Message", min_width=14, drop=2, standing_in=("code", "code_message")),
]

Fetch = Callable[[str | None, int], list[Job]]


def job_seq(number: object) -> int:
    text = str(number)
    try:
        return int(text.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def job_cells(job: Job, now: float) -> dict[str, Cell]:
    cells: dict[str, Cell] = {
        "number": Text(job.number, style="bold"),
        "payload": job.payload,
        "status": status_text(job.status),
        "modified": format_moment(job.modified, now),
    }
    if job.status == "Retrying" and job.next_attempt_at:  # when it tries again, local time
        cells["status"] = Text.assemble(status_text(job.status), (f" · {clock_time(job.next_attempt_at)}", "dim"))
    if job.kind == "inbound":
        failed = f" · {job.records_failed} failed" if job.records_failed else ""
        cells["records"] = Text(f"{job.records_processed}{failed}", style="red" if job.records_failed else "")
        cells["source"] = job.source
    else:
        response = job.response
        code = response.code if response is not None else None
        cells["code"] = Text(str(code) if code else "—", style="red" if code and code >= 400 else "")
        message = response.message if response is not None else ""
        if code and message.startswith(f"{code} "):
            message = message[len(str(code)) + 1:]
        style = "red" if job.status == "Failed" else ""
        error = printable(job.error or "")
        cells["message"] = Text(message or error, style=style)  # beside the code column
        cells["code_message"] = Text(f"{code} {message}".strip() if code else error, style=style)
    return cells


class JobsTable(KeyedTable):
    """Newest-first jobs of one kind; see the module docstring.

    Rows are slots (`"0"`, `"1"`, …) holding the jobs of `numbers` in order, so a batch of
    new jobs rewrites the cells of a table whose shape does not change: no rows are
    added or removed once the window is full, and the screen is not laid out again.
    """

    class Paused(Message):
        """The table paused (the operator scrolled away from the top) or caught up (`pending` 0)."""

        def __init__(self, table: JobsTable, paused: bool, pending: int) -> None:
            super().__init__()
            self.table = table
            self.paused = paused
            self.pending = pending

    def __init__(self, kind: JobKind, *, clock: Clock, id: str | None = None, window: int = WINDOW) -> None:
        super().__init__(INBOUND_JOB_COLUMNS if kind == "inbound" else OUTBOUND_JOB_COLUMNS, id=id)
        self.kind = kind
        self.clock = clock
        self.window = window
        self.fetch: Fetch | None = None
        self.has_more = False
        self.pending = 0
        self._paused = False
        self.numbers: list[str] = []  # the jobs shown, newest first
        self._cells_of: dict[str, dict[str, Cell]] = {}
        self._held: dict[str, Job] = {}  # new jobs counted while paused, newest state of each

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._scrolled, init=False)

    # --- which job is where ----------------------------------------------------------------

    def item_key(self) -> str | None:
        """The number of the job under the cursor."""
        row = self.cursor_row
        return self.numbers[row] if self.numbers and 0 <= row < len(self.numbers) else None

    def select_job(self, number: str) -> bool:
        if number not in self.numbers:
            return False
        self.move_cursor(row=self.numbers.index(number))
        return True

    def job_cells(self, number: str) -> dict[str, Cell] | None:
        return self._cells_of.get(number)

    def _show(self, *, pin: str | None, follow: bool) -> None:
        """Put `numbers` into the rows; keep the cursor on `pin` (or on the newest when following)."""
        self._cells_of = {n: self._cells_of[n] for n in self.numbers}
        self.set_rows([(str(i), self._cells_of[n]) for i, n in enumerate(self.numbers)])
        if not self.numbers:
            return
        if follow:
            self.move_cursor(row=0, scroll=False)
        elif pin is not None and pin in self._cells_of:
            self.move_cursor(row=self.numbers.index(pin), scroll=False)

    # --- loading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Show the newest `window` jobs (from `fetch`), catching up on anything held."""
        if self.fetch is None:
            return
        self._held.clear()
        pin, follow = self.item_key(), self.cursor_row == 0
        jobs = self.fetch(None, self.window)
        self.has_more = len(jobs) >= self.window
        now = self.clock()
        self.numbers = [job.number for job in jobs]
        self._cells_of = {job.number: job_cells(job, now) for job in jobs}
        self._show(pin=pin, follow=follow)
        self._set_paused(self.scroll_y > 0, 0)

    def load_more(self) -> None:
        """Append the next page of older jobs below the window."""
        if self.fetch is None or not self.has_more or not self.numbers:
            return
        jobs = [job for job in self.fetch(self.numbers[-1], PAGE) if job.number not in self._cells_of]
        self.has_more = len(jobs) >= PAGE
        now = self.clock()
        self.numbers += [job.number for job in jobs]
        self._cells_of.update((job.number, job_cells(job, now)) for job in jobs)
        self._show(pin=self.item_key(), follow=False)

    def on_data_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        if event.cursor_row >= self.row_count - 1 and self.has_more:
            self.load_more()
        elif event.cursor_row == 0:
            self._back_at_top()

    # --- live ----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def _viewport_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - (1 if self.show_header else 0))

    def _scrolled(self, scroll_y: float) -> None:
        if scroll_y <= 0 and self._paused and self.cursor_row == 0:
            self._release()
        elif scroll_y > 0 and not self._paused:
            self._set_paused(True, self.pending)

    def _back_at_top(self) -> None:
        """Back on the first row at the top: catch up on what was held."""
        if self._paused and self.cursor_row == 0 and self.scroll_y <= 0:
            self._release()

    def _release(self) -> None:
        held, self._held = self._held, {}
        self._set_paused(False, 0)
        if len(held) >= self.window:
            self.reload()
        elif held:
            self._insert(list(held.values()), self.clock())

    def _set_paused(self, paused: bool, pending: int) -> None:
        if (paused, pending) != (self._paused, self.pending):
            self._paused, self.pending = paused, pending
            self.post_message(self.Paused(self, paused, pending))

    def _hold(self, fresh: list[Job]) -> None:
        if len(self._held) < self.window:
            self._held.update((job.number, job) for job in fresh)
        self._set_paused(True, self.pending + len(fresh))

    def apply(self, jobs: Iterable[Job], matches: Callable[[Job], bool]) -> None:
        """Take job changes: update the rows shown, put new matching jobs in (or count them).

        A job that comes to match later (it failed, under "failures only") goes in at its
        place by number, not only on top, as long as that place is inside the window."""
        now = self.clock()
        oldest = job_seq(self.numbers[-1]) if self.numbers and self.has_more else 0
        fresh: list[Job] = []
        changed = False
        for job in jobs:
            if job.kind != self.kind:
                continue
            if job.number in self._cells_of:
                self._cells_of[job.number] = job_cells(job, now)
                changed = True
            elif job.number in self._held:
                self._held[job.number] = job
            elif job.seq > oldest and matches(job):
                fresh.append(job)
        if fresh and self._paused:
            self._hold(fresh)
            fresh = []
        if not (fresh and self._insert(fresh, now)) and changed:
            self._show(pin=None, follow=False)

    def _insert(self, fresh: list[Job], now: float) -> bool:
        """Put `fresh` jobs in their places by number; False if they were held instead."""
        pin, follow = self.item_key(), self.cursor_row == 0 and self.scroll_y <= 0
        new = [job for job in fresh if job.number not in self._cells_of]
        if not new:
            return False
        above = len(new) if pin is None else sum(1 for job in new if job.seq > job_seq(pin))
        if not follow and pin is not None and self.cursor_row + above >= self.scroll_y + self._viewport_rows:
            # the job under the cursor would be pushed out of sight: keep still, count the new ones
            self._hold(new)
            return False
        self._cells_of.update((job.number, job_cells(job, now)) for job in new)
        numbers = sorted([*self.numbers, *(job.number for job in new)], key=job_seq, reverse=True)
        if len(numbers) > self.window:
            numbers, self.has_more = numbers[: self.window], True
        self.numbers = numbers
        self._show(pin=pin, follow=follow)
        return True
