"""The local system of record: one TinyDB file of records per object, with match-key indexes.

Each object (`Account`, `Order`, ...) lives in `<data_dir>/records/<Object>.json`, a
TinyDB file whose table `records` maps TinyDB doc ids to records. A record is a dict
with `id` (a string), `created_at` and `updated_at` (ISO 8601 UTC, e.g.
`2026-11-27T07:13:00.123Z`) and the caller's values. The store owns those three
fields: `created_at` / `updated_at` given in values are overwritten, and an update may
not change `id`.

How it stays fast: a file is read once (through `AtomicJSONStorage`) when its object
is first used; from then on the store serves every read from memory, with an
id → doc id map and, for `find`, one index per set of match keys, built on its first
use and maintained by every write, so no lookup scans a table. Writes bypass TinyDB's
`Table` (whose first insert reads every document to find the next id): the store
builds the file's new content itself and writes it once per object per batch.

How it stays whole: `apply()` validates a whole batch before writing anything. A batch
touching one object replaces its file atomically (temp file, fsync, rename). A batch
touching several writes each new file to a temp file, then a journal naming the
renames, then renames; a crash after the journal is written is rolled forward the
next time the store is opened, so a batch lands entirely or not at all. Temp files
left without a journal are deleted on open. Memory changes only after the files did.

Within a process, every operation holds one lock, so the asyncio loop and worker
threads may share a store. By default one process uses a data directory's records
(`DataDirLock`), and a store never looks at its files again after reading them: a
write by another process is seen only after `close()`.

Shared mode (`RecordStore(..., shared=True)`) lets several processes hold a store on
the same directory (the inbound worker writes records, the service reads them and
sometimes writes). Each table remembers the identity of its file, `(inode, mtime,
size)`, as it last read or wrote it; every write renames a new file into place, so
before a table is used the store stats its file and rereads it if it changed (dropping
its indexes, rebuilt on the next `find`). Its own writes never cause a reread. A
`flock` on `records/.lock` orders the processes: exclusive for a whole `apply()` (and
the recovery on open), shared around each read, so no read lands between the renames
of a batch (two reads may still fall either side of one). A writer also makes each new
file's mtime later than the one it replaces: inodes are reused and mtimes tick
coarsely, so otherwise two quick writes could bring back an identity a reader
remembers. The cost: a stat and two flock calls per operation (about 6 µs on a `find`
of ~4 µs; a write also stats each file it writes, twice), a reread after another
process's write, and a read may wait for a write in progress. Every store on a shared
directory must be shared (a plain one neither takes the lock nor sees the others'
writes), and each process opens its own store (one inherited through `fork` shares its
parent's lock).
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import msgspec

from payloads_tui.domain.errors import ConflictError, NotFoundError, StoreError, ValidationError
from payloads_tui.domain.models import OBJECT_NAME_RE, new_id
from payloads_tui.store.storage import (
    FILE_MODE,
    AtomicJSONStorage,
    atomic_write,
    encode_json,
    ensure_private_dir,
    fsync_dir,
    read_json_file,
)

RECORDS_DIR = "records"
TABLE = "records"
JOURNAL = ".journal"
LOCK_FILE = ".lock"
STORE_FIELDS = ("id", "created_at", "updated_at")

_copier_encoder = msgspec.json.Encoder()
_copier_decoder = msgspec.json.Decoder()
_key_encoder = msgspec.json.Encoder(order="sorted")

# A value of an index key: the JSON form of the field's value, or None when the
# record lacks the field (such records never match and are left out of the index).
IndexKey = tuple[bytes | None, ...]

# What tells one version of a file from another in shared mode: (st_ino, st_mtime_ns,
# st_size), or None when the file does not exist.
FileIdentity = tuple[int, int, int] | None


@dataclass(frozen=True)
class RecordWrite:
    """One write of a batch given to `RecordStore.apply()`."""

    op: Literal["insert", "update", "delete"]
    object: str
    values: dict[str, Any] = field(default_factory=dict)
    record_id: str | None = None  # required for update/delete


def utc_timestamp() -> str:
    """Now as ISO 8601 UTC with milliseconds and `Z`, the form of `created_at` / `updated_at`."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _copy(data: Any) -> Any:
    """A deep copy of JSON data (msgspec round trip: faster than `copy.deepcopy`)."""
    return _copier_decoder.decode(_copier_encoder.encode(data))


def _normalized_values(values: Any, obj: str) -> dict[str, Any]:
    """A private, JSON-normal deep copy of a write's values (tuples become lists, ...)."""
    if not isinstance(values, dict):
        raise ValidationError(f"values of a {obj} record must be a dict, not {type(values).__name__}", "values")
    try:
        copied = _copier_decoder.decode(_copier_encoder.encode(values))
    except (msgspec.EncodeError, TypeError, OverflowError) as exc:
        raise ValidationError(f"values of a {obj} record cannot be stored as JSON ({exc})", "values") from None
    if not all(isinstance(key, str) for key in copied):
        raise ValidationError(f"field names of a {obj} record must be strings", "values")
    return copied


def _check_object_name(obj: str) -> None:
    if not isinstance(obj, str) or not OBJECT_NAME_RE.fullmatch(obj):
        raise ValidationError(
            f"{obj!r} is not an object name; use a capital letter, then letters, digits or _ (e.g. Account)",
            "object",
        )


def _index_key(record: dict[str, Any], keys: tuple[str, ...]) -> IndexKey:
    return tuple(_key_encoder.encode(record[k]) if k in record else None for k in keys)


def _file_identity(path: Path) -> FileIdentity:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def sort_value(record: dict[str, Any], path: str) -> tuple[int, Any]:
    """Sort key of `record` by a dotted field path: missing/None first, then numbers, text, the rest."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return (0, 0)
        value = value[part]
    if value is None:
        return (0, 0)
    if isinstance(value, (bool, int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, _key_encoder.encode(value))


class _Table:
    """The in-memory state of one object's file."""

    def __init__(self, name: str, path: Path, durable: bool, *, tracked: bool = False) -> None:
        self.name = name
        self.path = path
        self.tracked = tracked  # shared stores: remember the file's identity
        self.identity: FileIdentity = None
        self.storage = AtomicJSONStorage(path, durable=durable)
        self.data: dict[str, Any] = {}
        self.by_id: dict[str, str] = {}
        self.next_doc = 1
        self.indexes: dict[tuple[str, ...], dict[IndexKey, dict[str, None]]] = {}
        self.load()

    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        """TinyDB doc id (as the string key of the file) → record, in doc id order."""
        return self.data[TABLE]

    def load(self) -> None:
        """(Re)read the file: the only time the store reads it."""
        # Stat before reading: a change in between makes the next check reread, never miss it.
        identity = _file_identity(self.path) if self.tracked else None
        self.storage.close()  # drop the storage's cache so the read comes from disk
        data = self.storage.read() or {}
        docs = data.setdefault(TABLE, {})
        if not isinstance(docs, dict):
            raise StoreError(f"{self.path} has no table of records; restore it from a backup")
        by_id: dict[str, str] = {}
        last = 0
        in_order = True
        for doc_key, record in docs.items():
            if not doc_key.isdigit() or not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise StoreError(f"{self.path}: document {doc_key} is not a record with an id; fix or remove it")
            if record["id"] in by_id:
                raise StoreError(f"{self.path}: id {record['id']!r} is used by two records; fix or remove one")
            by_id[record["id"]] = doc_key
            in_order = in_order and int(doc_key) > last
            last = max(last, int(doc_key))
        if not in_order:  # edited by hand: restore doc id order, which is insertion order
            data[TABLE] = dict(sorted(docs.items(), key=lambda item: int(item[0])))
        self.storage.close()  # the store keeps the state itself from here on
        self.data = data
        self.by_id = by_id
        self.next_doc = last + 1
        self.indexes = {}
        self.identity = identity

    def refresh(self) -> None:
        """Reread the file if it is no longer the one this table last read or wrote."""
        if _file_identity(self.path) != self.identity:
            self.load()

    def index(self, keys: tuple[str, ...]) -> dict[IndexKey, dict[str, None]]:
        """The index on `keys`: built on first use (the one scan), maintained by writes."""
        index = self.indexes.get(keys)
        if index is None:
            index = {}
            for doc_key, record in self.docs.items():
                key = _index_key(record, keys)
                if None not in key:
                    index.setdefault(key, {})[doc_key] = None
            self.indexes[keys] = index
        return index

    def adopt(self, data: dict[str, Any], changes: dict[str, tuple[dict | None, dict | None]], next_doc: int) -> None:
        """Take the state a successful write put on disk, updating the id map and indexes."""
        # Removals first: a batch may delete a record and insert a new one with its id.
        for before, after in changes.values():
            if before is not None and after is None:
                self.by_id.pop(before["id"], None)
        for doc_key, (before, after) in changes.items():
            if after is not None:
                self.by_id[after["id"]] = doc_key
            for keys, index in self.indexes.items():
                if before is not None:
                    old = _index_key(before, keys)
                    bucket = index.get(old)
                    if bucket is not None:
                        bucket.pop(doc_key, None)
                        if not bucket:
                            del index[old]
                if after is not None:
                    new = _index_key(after, keys)
                    if None not in new:
                        index.setdefault(new, {})[doc_key] = None
        self.data = data
        self.next_doc = next_doc


class _Staged:
    """The pending changes of a batch to one table, checked against the table as it will be."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.changes: dict[str, tuple[dict | None, dict | None]] = {}  # doc key → (on disk, new)
        self.ids: dict[str, str | None] = {}  # record id → doc key (None: deleted by this batch)
        self.next_doc = table.next_doc

    def doc_key(self, record_id: str) -> str | None:
        if record_id in self.ids:
            return self.ids[record_id]
        return self.table.by_id.get(record_id)

    def current(self, doc_key: str) -> dict[str, Any]:
        if doc_key in self.changes:
            record = self.changes[doc_key][1]
            assert record is not None  # a deleted record has no doc key in `ids`
            return record
        return self.table.docs[doc_key]

    def put(self, doc_key: str, record: dict[str, Any] | None) -> None:
        before = self.changes[doc_key][0] if doc_key in self.changes else self.table.docs.get(doc_key)
        self.changes[doc_key] = (before, record)

    def new_data(self) -> dict[str, Any]:
        docs = dict(self.table.docs)
        for doc_key, (_, record) in self.changes.items():
            if record is None:
                docs.pop(doc_key, None)
            else:
                docs[doc_key] = record
        return {**self.table.data, TABLE: docs}


@dataclass
class _Plan:
    """A validated batch: per object, its staged changes; and the records to return."""

    staged: dict[str, _Staged]
    results: list[dict[str, Any]]


class _LockFile:
    """`flock` on `records/.lock` for one shared store, taken after the store's thread lock.

    Only the outermost operation of a store locks and unlocks the file; nested ones
    (under the same thread lock) just count, so `depth` and `mode` change only under it.
    """

    def __init__(self, path: Path, thread_lock: threading.RLock) -> None:
        self.path = path
        self.thread_lock = thread_lock
        self.fd: int | None = None
        self.depth = 0
        self.mode = 0

    def acquire(self, mode: int) -> None:
        self.thread_lock.acquire()
        try:
            if self.depth == 0:
                if (fd := self._open()) is not None:
                    fcntl.flock(fd, mode)
                self.mode = mode
            elif mode == fcntl.LOCK_EX and self.mode == fcntl.LOCK_SH:
                # A write inside a read (a query predicate that writes): flock converts the
                # lock, not atomically; the write still checks its tables under it.
                if (fd := self._open()) is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                self.mode = fcntl.LOCK_EX
        except BaseException:
            self.thread_lock.release()
            raise
        self.depth += 1

    def release(self) -> None:
        try:
            self.depth -= 1
            if self.depth == 0:
                self.mode = 0
                if self.fd is not None:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    def close(self) -> None:
        """Close the file unless an operation holds it; the next `acquire()` opens it again."""
        with self.thread_lock:
            if self.depth == 0 and self.fd is not None:
                fd, self.fd = self.fd, None
                os.close(fd)  # drops no lock: none is held at depth 0

    def _open(self) -> int | None:
        """The lock file's descriptor; None where it cannot exist (a read-only directory
        without one: nobody can write there, so reads need no lock)."""
        if self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
                try:  # a read-only data directory (a backup, a read-only mount): flock needs no write access
                    fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    return None
            else:
                try:
                    os.fchmod(fd, FILE_MODE)
                except BaseException:
                    os.close(fd)
                    raise
            self.fd = fd
        return self.fd


class _Locked:
    """`with` it: the store's thread lock, then the lock file in `mode`."""

    def __init__(self, lock_file: _LockFile, mode: int) -> None:
        self.lock_file = lock_file
        self.mode = mode

    def __enter__(self) -> None:
        self.lock_file.acquire(self.mode)

    def __exit__(self, *exc_info: object) -> None:
        self.lock_file.release()


class RecordStore:
    """Records of every object of a data directory; see the module docstring.

    `shared=True`: other processes may hold a shared store on the same directory; each
    operation then checks its files and takes `records/.lock` (see the module docstring).
    """

    def __init__(self, data_dir: Path, *, durable: bool = True, shared: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.durable = durable
        self.shared = shared
        ensure_private_dir(self.data_dir)
        self.records_dir = ensure_private_dir(self.data_dir / RECORDS_DIR)
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        # Not shared: both are the thread lock itself, so a plain store costs what it always did.
        self._reading: AbstractContextManager[object]
        self._writing: AbstractContextManager[object]
        self._lock_file: _LockFile | None = None
        if shared:
            self._lock_file = _LockFile(self.records_dir / LOCK_FILE, self._lock)
            self._reading = _Locked(self._lock_file, fcntl.LOCK_SH)
            self._writing = _Locked(self._lock_file, fcntl.LOCK_EX)
        else:
            self._reading = self._writing = self._lock
        with self._writing:
            self._recover()

    # --- reading -----------------------------------------------------------------------

    def objects(self) -> list[str]:
        """Names of the objects that have a file, sorted."""
        with self._lock:
            names = {
                path.stem
                for path in self.records_dir.glob("*.json")
                if OBJECT_NAME_RE.fullmatch(path.stem) and path.is_file()
            }
            return sorted(names)

    def get(self, obj: str, record_id: str) -> dict | None:
        """The record `record_id` of `obj`, or None."""
        with self._reading:
            table = self._table(obj)
            doc_key = table.by_id.get(record_id)
            return None if doc_key is None else _copy(table.docs[doc_key])

    def find(self, obj: str, match: dict[str, Any]) -> list[dict]:
        """Records of `obj` whose fields equal every value of `match` (compared as JSON), in insertion order."""
        with self._reading:
            table = self._table(obj)
            if not match:
                return _copy(list(table.docs.values()))
            keys = tuple(sorted(match))
            try:
                wanted = tuple(_key_encoder.encode(match[k]) for k in keys)
            except (msgspec.EncodeError, TypeError, OverflowError) as exc:
                raise ValidationError(f"a match value cannot be compared as JSON ({exc})", "match") from None
            bucket = table.index(keys).get(wanted)
            if not bucket:
                return []
            docs = table.docs
            return _copy([docs[k] for k in sorted(bucket, key=int)])

    def all(self, obj: str) -> list[dict]:
        """Every record of `obj`, in insertion order."""
        with self._reading:
            return _copy(list(self._table(obj).docs.values()))

    def count(self, obj: str) -> int:
        """How many records `obj` has."""
        with self._reading:
            return len(self._table(obj).docs)

    def query(
        self,
        obj: str,
        predicate: Callable[[dict], bool] | None = None,
        *,
        sort: str = "",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Records of `obj` passing `predicate`, sorted by the dotted field `sort`, then sliced.

        `predicate` sees the stored records and must not change them. Sorting puts
        missing/None first, then numbers, then text, then anything else.
        """
        if offset < 0 or (limit is not None and limit < 0):
            raise ValidationError("limit and offset must not be negative", "limit")
        with self._reading:
            records: Iterable[dict] = self._table(obj).docs.values()
            if predicate is not None:
                records = [r for r in records if predicate(r)]
            if sort:
                records = sorted(records, key=lambda r: sort_value(r, sort), reverse=descending)
            elif descending:
                records = list(records)[::-1]
            selected = list(records)
            end = None if limit is None else offset + limit
            return _copy(selected[offset:end])

    # --- writing -----------------------------------------------------------------------

    def insert(self, obj: str, values: dict) -> dict:
        """Insert a record (its id from `values["id"]` if given and unused); returns it."""
        return self.apply([RecordWrite("insert", obj, values)])[0]

    def update(self, obj: str, record_id: str, values: dict) -> dict:
        """Merge `values` into record `record_id` (top-level fields); returns the new record."""
        return self.apply([RecordWrite("update", obj, values, record_id)])[0]

    def delete(self, obj: str, record_id: str) -> None:
        """Delete record `record_id` of `obj`."""
        self.apply([RecordWrite("delete", obj, {}, record_id)])

    def apply(self, writes: Sequence[RecordWrite]) -> list[dict]:
        """Apply a batch all-or-nothing; returns the written records in order (deleted ones as they were)."""
        with self._writing:
            plan = self._plan(writes)
            contents = {obj: staged.new_data() for obj, staged in plan.staged.items() if staged.changes}
            if contents:
                try:
                    self._write_files(contents)
                except BaseException as exc:
                    self._recover_after_failed_write(list(contents))
                    if isinstance(exc, OSError):
                        raise StoreError(
                            f"records could not be written to {self.records_dir} ({exc}); "
                            "check free space and permissions, then try again"
                        ) from exc
                    raise
                for obj, data in contents.items():
                    staged = plan.staged[obj]
                    staged.table.adopt(data, staged.changes, staged.next_doc)
                    if self.shared:  # our own write: no reread for it
                        staged.table.identity = _file_identity(staged.table.path)
            return _copy(plan.results)

    def close(self) -> None:
        """Forget the in-memory state; the next use reads the files again.

        A shared store also closes its lock file (unless called inside one of its own
        operations); the store stays usable, and the next operation opens it again.
        """
        with self._lock:
            for table in self._tables.values():
                table.storage.close()
            self._tables.clear()
            if self._lock_file is not None:
                self._lock_file.close()

    # --- internals ---------------------------------------------------------------------

    def _table(self, obj: str) -> _Table:
        """The table of `obj`, loaded on first use; in shared mode, reread if its file changed."""
        table = self._tables.get(obj)
        if table is None:
            _check_object_name(obj)
            table = _Table(obj, self.records_dir / f"{obj}.json", self.durable, tracked=self.shared)
            self._tables[obj] = table
        elif self.shared:
            table.refresh()
        return table

    def _plan(self, writes: Sequence[RecordWrite]) -> _Plan:
        """Check every write of a batch against the state it will meet; changes nothing."""
        staged: dict[str, _Staged] = {}
        results: list[dict[str, Any]] = []
        stamp = utc_timestamp()
        for position, write in enumerate(writes):
            try:
                if write.op not in ("insert", "update", "delete"):
                    raise ValidationError(f"unknown operation {write.op!r}; use insert, update or delete", "op")
                stage = staged.get(write.object)
                if stage is None:  # one look at each table per batch
                    stage = staged[write.object] = _Staged(self._table(write.object))
                if write.op == "insert":
                    results.append(self._plan_insert(stage, write, stamp))
                elif write.op == "update":
                    results.append(self._plan_update(stage, write, stamp))
                else:
                    results.append(self._plan_delete(stage, write))
            except ValidationError as exc:
                if len(writes) > 1:
                    raise ValidationError(exc.reason, f"writes[{position}].{exc.field or 'values'}") from None
                raise
        return _Plan(staged, results)

    def _plan_insert(self, stage: _Staged, write: RecordWrite, stamp: str) -> dict[str, Any]:
        values = _normalized_values(write.values, write.object)
        record_id = values.get("id")
        if record_id is None:
            record_id = new_id()
            while stage.doc_key(record_id) is not None:
                record_id = new_id()
        elif not isinstance(record_id, str) or not record_id:
            raise ValidationError(f"a record id must be non-empty text, not {record_id!r}", "id")
        elif stage.doc_key(record_id) is not None:
            raise ConflictError(
                f"a {write.object} record with id {record_id!r} already exists; update it, or insert without an id"
            )
        record = {"id": record_id, "created_at": stamp, "updated_at": stamp}
        record.update((k, v) for k, v in values.items() if k not in STORE_FIELDS)
        doc_key = str(stage.next_doc)
        stage.next_doc += 1
        stage.put(doc_key, record)
        stage.ids[record_id] = doc_key
        return record

    def _existing(self, stage: _Staged, write: RecordWrite) -> tuple[str, dict[str, Any]]:
        if not isinstance(write.record_id, str) or not write.record_id:
            raise ValidationError(f"a {write.op} of a {write.object} record needs its record id", "record_id")
        doc_key = stage.doc_key(write.record_id)
        if doc_key is None:
            raise NotFoundError(
                f"there is no {write.object} record with id {write.record_id!r}; it may have been deleted"
            )
        return doc_key, stage.current(doc_key)

    def _plan_update(self, stage: _Staged, write: RecordWrite, stamp: str) -> dict[str, Any]:
        doc_key, current = self._existing(stage, write)
        values = _normalized_values(write.values, write.object)
        if "id" in values and values["id"] != write.record_id:
            raise ValidationError(
                f"the id of a record cannot change ({write.record_id!r} → {values['id']!r}); "
                "insert a new record instead",
                "id",
            )
        record = dict(current)
        record.update((k, v) for k, v in values.items() if k not in STORE_FIELDS)
        record["updated_at"] = stamp
        stage.put(doc_key, record)
        return record

    def _plan_delete(self, stage: _Staged, write: RecordWrite) -> dict[str, Any]:
        doc_key, current = self._existing(stage, write)
        stage.put(doc_key, None)
        assert write.record_id is not None
        stage.ids[write.record_id] = None
        return current

    def _write_files(self, contents: dict[str, dict[str, Any]]) -> None:
        """Put new file contents on disk, all of them or (after a crash and reopen) none."""
        renames = self._stage_files(contents)
        self._finish_renames(renames, journaled=len(renames) > 1)

    def _stage_files(self, contents: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        """Write each content to a fsynced temp file, then (for several) the journal of renames.

        Returns (temp name, final name) pairs inside `records/`. If this raises,
        nothing is left behind and nothing changed.
        """
        renames: list[tuple[str, str]] = []
        try:
            for obj, data in contents.items():
                final = f"{obj}.json"
                renames.append((self._write_temp(final, encode_json(data)), final))
                if self.shared:
                    self._keep_mtime_rising(renames[-1][0], self._tables[obj].identity)
            if len(renames) > 1:
                journal = encode_json({"renames": renames})
                atomic_write(self.records_dir / JOURNAL, journal, durable=self.durable)
        except BaseException:
            for temp, _ in renames:
                (self.records_dir / temp).unlink(missing_ok=True)
            raise
        return renames

    def _write_temp(self, final: str, data: bytes) -> str:
        fd, temp = tempfile.mkstemp(prefix=f".{final}.", suffix=".tmp", dir=self.records_dir)
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        return Path(temp).name

    def _keep_mtime_rising(self, temp: str, replaced: FileIdentity) -> None:
        """Give a new file a later mtime than the file it replaces (shared mode).

        Inodes of replaced files are reused and mtimes come from a coarse clock, so two
        quick writes could otherwise bring back the (inode, mtime, size) a reader
        remembers, and it would miss both.
        """
        if replaced is None:
            return
        path = self.records_dir / temp
        st = os.stat(path)
        if st.st_mtime_ns <= replaced[1]:
            os.utime(path, ns=(st.st_atime_ns, replaced[1] + 1))

    def _finish_renames(self, renames: list[tuple[str, str]], *, journaled: bool) -> None:
        """Rename temp files over their targets (those not renamed yet), then drop the journal."""
        for temp, final in renames:
            source = self.records_dir / temp
            if source.exists():
                os.replace(source, self.records_dir / final)
        if self.durable:
            fsync_dir(self.records_dir)
        if journaled:
            (self.records_dir / JOURNAL).unlink(missing_ok=True)
            if self.durable:
                fsync_dir(self.records_dir)

    def _recover(self) -> None:
        """Roll a journaled batch forward, then delete temp files no journal names."""
        journal = self.records_dir / JOURNAL
        data = read_json_file(journal)
        if data is not None:
            renames = self._journal_renames(data, journal)
            self._finish_renames(renames, journaled=True)
        elif journal.exists():
            journal.unlink()  # empty: written by nothing we know
        for leftover in self.records_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)

    def _journal_renames(self, data: Any, journal: Path) -> list[tuple[str, str]]:
        renames = data.get("renames") if isinstance(data, dict) else None
        if not isinstance(renames, list):
            raise StoreError(f"{journal} is not a journal of renames; move it away to open the store")
        pairs: list[tuple[str, str]] = []
        for pair in renames:
            valid = (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(name, str) and name and "/" not in name and name not in (".", "..") for name in pair)
            )
            if not valid:
                raise StoreError(f"{journal} names a file outside records/; move it away to open the store")
            pairs.append((pair[0], pair[1]))
        return pairs

    def _recover_after_failed_write(self, objects: list[str]) -> None:
        """After a write raised: finish or undo it on disk, and reload what it touched."""
        try:
            self._recover()
        finally:
            for obj in objects:
                table = self._tables.pop(obj, None)
                if table is not None:
                    table.storage.close()
                    # reopened (from disk) on next use; a file that cannot be read then says so
