"""Shared record stores: several processes on one data directory see each other's writes, whole."""

from __future__ import annotations

import errno
import fcntl
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from payloads_tui.store.records import RecordStore, RecordWrite

# The concurrency test's bounds: batches the child writes, and how long anything may take.
BATCHES = 200
DEADLINE_SECONDS = 60.0


@pytest.fixture
def pair(tmp_path: Path):
    first = RecordStore(tmp_path, durable=False, shared=True)
    second = RecordStore(tmp_path, durable=False, shared=True)
    yield first, second
    first.close()
    second.close()


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def _count_loads(store: RecordStore, obj: str) -> list[int]:
    """Count rereads of `obj`'s file by wrapping `load` on that one table."""
    table = store._tables[obj]
    calls = [0]
    original = table.load

    def counting() -> None:
        calls[0] += 1
        original()

    table.load = counting  # type: ignore[method-assign]
    return calls


def _lock_state(records_dir: Path) -> str:
    """How `records/.lock` is held by others, tried from a descriptor of our own."""
    fd = os.open(records_dir / ".lock", os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return "exclusive"
            return "shared"
        return "free"
    finally:
        os.close(fd)


# --- two stores in one process ---------------------------------------------------------


def test_a_write_through_one_store_is_seen_by_the_other(pair: tuple[RecordStore, RecordStore]) -> None:
    a, b = pair
    a.insert("Account", {"id": "a1", "status": "open"})
    assert b.find("Account", {"status": "open"})[0]["id"] == "a1"  # b builds its index on status

    a.insert("Account", {"id": "a2", "status": "open"})
    a.update("Account", "a1", {"status": "closed"})
    assert b.get("Account", "a2") == a.get("Account", "a2")
    assert b.get("Account", "a1")["status"] == "closed"
    assert _ids(b.find("Account", {"status": "open"})) == ["a2"]  # the index was rebuilt, not kept
    assert _ids(b.find("Account", {"status": "closed"})) == ["a1"]
    assert b.count("Account") == 2
    assert _ids(b.query("Account", sort="id", descending=True)) == ["a2", "a1"]
    assert _ids(b.all("Account")) == ["a1", "a2"]

    b.insert("Account", {"id": "b1", "status": "open"})  # on top of a's writes, none lost
    assert _ids(b.all("Account")) == ["a1", "a2", "b1"]
    assert _ids(a.find("Account", {"status": "open"})) == ["a2", "b1"]
    assert a.count("Account") == 3
    assert _ids(RecordStore(a.data_dir, durable=False).all("Account")) == ["a1", "a2", "b1"]


def test_a_table_created_by_the_other_store_is_seen(pair: tuple[RecordStore, RecordStore]) -> None:
    a, b = pair
    assert b.count("Order") == 0  # b loads the table while there is no file
    a.insert("Order", {"id": "o1"})
    assert _ids(b.all("Order")) == ["o1"]


def test_own_writes_cause_no_reread(pair: tuple[RecordStore, RecordStore]) -> None:
    a, b = pair
    a.insert("Account", {"id": "a1", "status": "open"})
    loads = _count_loads(a, "Account")
    for n in range(20):
        a.apply([RecordWrite("insert", "Account", {"id": f"x{n}", "status": "open"})])
        a.update("Account", "a1", {"n": n})
        assert a.find("Account", {"status": "open"})[-1]["id"] == f"x{n}"
    assert a.count("Account") == 21
    assert loads[0] == 0

    b.insert("Account", {"id": "b1"})  # another store's write: exactly one reread
    assert a.get("Account", "b1") is not None
    assert a.count("Account") == 22
    assert loads[0] == 1


def test_each_write_gives_the_file_a_later_mtime(tmp_path: Path) -> None:
    # Inodes are reused and the file clock may not move between two quick writes (or may
    # lag another writer's): a new file must still get a later mtime than the one it
    # replaces, or a file could come back to an identity a reader remembers.
    store = RecordStore(tmp_path, durable=False, shared=True)
    path = tmp_path / "records" / "Account.json"
    store.insert("Account", {"id": "a0", "n": 0})
    ahead = path.stat().st_mtime_ns + 10**10  # as if written 10 s from now
    os.utime(path, ns=(ahead, ahead))
    store.update("Account", "a0", {"n": 1})
    assert path.stat().st_mtime_ns == ahead + 1
    last = ahead + 1
    for n in range(2, 20):
        store.update("Account", "a0", {"n": n})
        mtime = path.stat().st_mtime_ns
        assert mtime > last
        last = mtime
    store.close()


def test_a_plain_store_does_not_see_other_writes_until_close(tmp_path: Path) -> None:
    # Expected: without `shared`, a store reads a file once and trusts its memory after.
    a = RecordStore(tmp_path, durable=False)
    b = RecordStore(tmp_path, durable=False)
    a.insert("Account", {"id": "a1"})
    assert b.count("Account") == 1
    a.insert("Account", {"id": "a2"})
    assert b.get("Account", "a2") is None and b.count("Account") == 1
    b.close()
    assert _ids(b.all("Account")) == ["a1", "a2"]
    assert not (tmp_path / "records" / ".lock").exists()  # and it takes no lock
    a.close()


# --- the lock file ---------------------------------------------------------------------


def test_lock_file_is_private_and_held_around_each_operation(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=False, shared=True)
    records_dir = tmp_path / "records"
    assert (records_dir / ".lock").stat().st_mode & 0o777 == 0o600
    store.insert("Account", {"id": "a1"})
    assert _lock_state(records_dir) == "free"

    during: list[str] = []

    def predicate(record: dict) -> bool:
        during.append(_lock_state(records_dir))
        assert store.get("Account", "a1") is not None  # a nested read does not lock again
        return True

    assert len(store.query("Account", predicate)) == 1
    assert during == ["shared"]

    original = store._write_temp

    def writing(final: str, data: bytes) -> str:
        during.append(_lock_state(records_dir))
        return original(final, data)

    store._write_temp = writing  # type: ignore[method-assign]
    store.insert("Account", {"id": "a2"})
    assert during[-1] == "exclusive"
    assert _lock_state(records_dir) == "free"
    store.close()


def test_close_keeps_a_shared_store_usable(tmp_path: Path) -> None:
    a = RecordStore(tmp_path, durable=False, shared=True)
    b = RecordStore(tmp_path, durable=False, shared=True)
    a.insert("Account", {"id": "a1"})
    a.close()
    assert a._lock_file is not None and a._lock_file.fd is None
    b.insert("Account", {"id": "b1"})
    assert _ids(a.all("Account")) == ["a1", "b1"]  # the lock file is opened again
    a.insert("Account", {"id": "a2"})
    assert _ids(b.all("Account")) == ["a1", "b1", "a2"]
    a.close()
    b.close()


# --- another process -------------------------------------------------------------------


def _apply_pair(home: str) -> None:
    store = RecordStore(Path(home), durable=False, shared=True)
    store.apply(
        [
            RecordWrite("insert", "Account", {"id": "acc", "name": "Acme"}),
            RecordWrite("update", "Order", {"account": "acc", "status": "paid"}, "o1"),
            RecordWrite("insert", "Order", {"id": "o2", "account": "acc", "status": "paid"}),
        ]
    )
    store.close()


def _apply_many(home: str, batches: int, ready: Any, go: Any) -> None:
    store = RecordStore(Path(home), durable=False, shared=True)
    ready.set()
    go.wait(DEADLINE_SECONDS)
    for n in range(batches):
        store.apply(
            [
                RecordWrite("insert", "Account", {"id": f"acc{n}"}),
                RecordWrite("insert", "Order", {"id": f"ord{n}", "account": f"acc{n}"}),
            ]
        )
        time.sleep(0.001)  # leave the reader room to look between batches
    store.close()


def _run(process: Any) -> None:
    process.join(DEADLINE_SECONDS)
    if process.is_alive():
        process.kill()
        pytest.fail("the writing process did not finish in time")
    assert process.exitcode == 0


def test_a_batch_from_another_process_is_seen_whole(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=False, shared=True)
    store.insert("Order", {"id": "o1", "status": "open"})
    assert _ids(store.find("Order", {"status": "open"})) == ["o1"]

    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_apply_pair, args=(str(tmp_path),))
    child.start()
    _run(child)

    assert store.get("Account", "acc")["name"] == "Acme"
    assert store.find("Order", {"status": "open"}) == []
    assert _ids(store.find("Order", {"status": "paid", "account": "acc"})) == ["o1", "o2"]
    assert store.count("Order") == 2
    store.close()


def test_reads_during_another_process_writing_see_whole_batches(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, durable=False, shared=True)
    context = multiprocessing.get_context("spawn")
    ready, go = context.Event(), context.Event()
    child = context.Process(target=_apply_many, args=(str(tmp_path), BATCHES, ready, go))
    child.start()
    try:
        assert ready.wait(DEADLINE_SECONDS), "the writing process did not start"
        go.set()
        seen: set[int] = set()
        deadline = time.monotonic() + DEADLINE_SECONDS
        for _ in range(1_000_000):
            if not child.is_alive() or time.monotonic() > deadline:
                break
            # Two operations under one read lock (nested calls do not lock again): one state.
            with store._reading:
                accounts, orders = store.count("Account"), store.count("Order")
            assert accounts == orders
            seen.add(accounts)
            # One operation at a time: Account is renamed first, so a half batch would show
            # up as more accounts than the orders read after them.
            accounts = store.count("Account")
            assert store.count("Order") >= accounts
            last = store.find("Order", {"account": f"acc{accounts - 1}"}) if accounts else []
            assert len(last) == (1 if accounts else 0)
    finally:
        _run(child)
    assert any(0 < n < BATCHES for n in seen)  # the reads did overlap the writes
    assert store.count("Account") == store.count("Order") == BATCHES
    assert _ids(store.all("Order")) == [f"ord{n}" for n in range(BATCHES)]
    store.close()


def _read_only_lock_file(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Opening `.lock` for writing fails as on a read-only mount (tests run as root, which
    permissions cannot stop); returns the flags of the opens that were let through."""
    real_open = os.open
    let_through: list[int] = []

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("/.lock"):
            if flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            let_through.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    return let_through


def test_a_read_only_directory_without_a_lock_file_is_still_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = RecordStore(tmp_path, durable=False)
    plain.insert("Account", {"id": "a1", "name": "Acme"})
    plain.close()
    _read_only_lock_file(monkeypatch)
    store = RecordStore(tmp_path, durable=False, shared=True)
    assert store.get("Account", "a1")["name"] == "Acme"
    assert store.count("Account") == 1 and store.find("Account", {"name": "Acme"})
    assert not (tmp_path / "records" / ".lock").exists()


def test_an_existing_lock_file_is_locked_read_only_when_it_cannot_be_opened_for_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = RecordStore(tmp_path, durable=False, shared=True)
    writer.insert("Account", {"id": "a1", "name": "Acme"})
    let_through = _read_only_lock_file(monkeypatch)
    reader = RecordStore(tmp_path, durable=False, shared=True)
    with reader._reading:
        assert _lock_state(tmp_path / "records") == "shared"  # the reader holds it, opened read-only
        assert reader.count("Account") == 1
    assert let_through and all(not flags & os.O_RDWR for flags in let_through)
    writer.close()
    reader.close()
