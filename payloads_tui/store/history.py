"""The audit trail: history entries kept in `<data_dir>/history.json` (TinyDB), read newest first.

Entries are appended, never changed. `record()` checks each entry reads back as a
`HistoryEntry` and writes the batch in one atomic file write; reads are served from a
parsed in-memory copy. Each entry names its integration by **slug** (`""` for global
things such as object schemas; after a slug change, newer entries carry the new slug,
and the change itself shows `slug: old → new`). An entry's user is the OS user unless
the caller set one. Entries hold no secrets: the diff that makes them masks every
secret (see `domain.diff`).
"""

from __future__ import annotations

import getpass
import threading
from collections.abc import Sequence
from pathlib import Path

import msgspec
from tinydb import TinyDB

from payloads_tui.domain.errors import StoreError, ValidationError
from payloads_tui.domain.models import HistoryEntry, from_data, to_data
from payloads_tui.store.storage import AtomicJSONStorage

HISTORY_FILE = "history.json"
HISTORY_TABLE = "history"
DEFAULT_LIMIT = 500


def current_user() -> str:
    """The OS user running the console, or "unknown" when it cannot be told."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


def _matches(entry: HistoryEntry, needle: str) -> bool:
    if needle in entry.kind.lower() or needle in entry.name.lower() or needle in entry.user.lower():
        return True
    return any(needle in change.field.lower() for change in entry.changes)


class HistoryLog:
    """Appends and reads the audit trail of one data directory."""

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.path = Path(data_dir) / HISTORY_FILE
        self._lock = threading.Lock()
        self._db = TinyDB(self.path, storage=AtomicJSONStorage, durable=durable)
        self._table = self._db.table(HISTORY_TABLE)
        self._entries: list[HistoryEntry] = []
        for document in self._table.all():
            try:
                self._entries.append(from_data(HistoryEntry, dict(document)))
            except ValidationError as exc:
                raise StoreError(
                    f"{self.path}: history entry {document.doc_id} is damaged ({exc}); "
                    "fix or remove that entry, or restore the file from a backup"
                ) from None

    def record(self, entries: Sequence[HistoryEntry]) -> None:
        """Append `entries` (in order) in one file write; an entry without a user gets the OS user."""
        if not entries:
            return
        user = current_user()
        stamped = [entry if entry.user else msgspec.structs.replace(entry, user=user) for entry in entries]
        documents = [to_data(entry) for entry in stamped]
        for document in documents:
            from_data(HistoryEntry, document, "history entry")  # never write what could not be read back
        with self._lock:
            self._table.insert_multiple(documents)
            self._entries.extend(stamped)

    def entries(
        self, *, integration: str | None = None, text: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> list[HistoryEntry]:
        """Newest first: entries of one integration (by slug; `""` for global ones), matching `text`.

        `text` matches the kind, name, changed field or user, ignoring case.
        """
        needle = text.strip().lower() if text else ""
        found: list[HistoryEntry] = []
        with self._lock:
            for entry in reversed(self._entries):
                if len(found) >= limit:
                    break
                if integration is not None and entry.integration != integration:
                    continue
                if needle and not _matches(entry, needle):
                    continue
                found.append(msgspec.structs.replace(entry, changes=list(entry.changes)))
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()
