"""Atomic writes and the TinyDB storage: round trips, private modes, and surviving SIGKILL at any instant."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from tinydb import TinyDB

from payloads_tui.domain.errors import StoreError
from payloads_tui.store.storage import AtomicJSONStorage, atomic_write, ensure_private_dir, read_json_file


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_atomic_write_replaces_content_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    atomic_write(target, b"first")
    atomic_write(target, b"second, longer than the first")
    assert target.read_bytes() == b"second, longer than the first"
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]  # no temp file left


def test_atomic_write_fixes_a_loose_mode(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    atomic_write(target, b"new", durable=False)
    assert _mode(target) == 0o600


def test_ensure_private_dir_creates_and_tightens_0700(tmp_path: Path) -> None:
    created = ensure_private_dir(tmp_path / "a" / "b")
    assert _mode(created) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert _mode(ensure_private_dir(loose)) == 0o700


def test_tinydb_round_trip_through_atomic_storage(tmp_path: Path) -> None:
    path = tmp_path / "home" / "db.json"
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.table("things").insert_multiple([{"n": 1, "name": "é ✓"}, {"n": 2, "nested": {"a": [1, 2.5, None]}}])
    db.close()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    again = TinyDB(path, storage=AtomicJSONStorage)
    assert again.table("things").all() == [{"n": 1, "name": "é ✓"}, {"n": 2, "nested": {"a": [1, 2.5, None]}}]
    again.close()


def test_failed_write_keeps_the_last_good_state(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.table("t").insert({"n": 1})
    before = path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        db.table("t").insert({"n": 2, "bad": object()})  # cannot be encoded
    assert path.read_bytes() == before
    # the storage dropped the half-changed state and serves the file again
    assert db.table("t").all() == [{"n": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


@pytest.mark.parametrize(("content", "message"), [(b'{"t": {', "not valid JSON"), (b"[1, 2]", "TinyDB")])
def test_unreadable_file_is_a_store_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "db.json"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        AtomicJSONStorage(path).read()


def test_missing_or_empty_file_reads_as_nothing(tmp_path: Path) -> None:
    assert AtomicJSONStorage(tmp_path / "absent.json").read() is None
    (tmp_path / "empty.json").write_bytes(b"")
    assert AtomicJSONStorage(tmp_path / "empty.json").read() is None


# --- crash safety ---------------------------------------------------------------------

KILLS = 30
PAD = 40  # record n carries n % 17 * PAD characters, so a torn record would show


def _pad(n: int) -> str:
    return "x" * (n % 17 * PAD)


def _write_forever(path: Path) -> None:
    """Child process: append records n+1, n+2, ... one durable write each (bounded)."""
    db = TinyDB(path, storage=AtomicJSONStorage)
    table = db.table("t")
    n = len(table)
    deadline = time.monotonic() + 5
    for _ in range(100_000):
        if time.monotonic() > deadline:
            break
        n += 1
        table.insert({"n": n, "pad": _pad(n)})


def _saved_count(path: Path) -> int:
    """How many records the file holds; fails unless they are exactly 1..k, each complete."""
    data = read_json_file(path)
    if data is None:
        return 0
    docs = data["t"]
    numbers = sorted(doc["n"] for doc in docs.values())
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(doc["pad"] == _pad(doc["n"]) for doc in docs.values())
    return len(numbers)


def test_sigkill_at_random_moments_always_leaves_a_complete_earlier_state(tmp_path: Path) -> None:
    path = tmp_path / "home" / "db.json"
    rng = random.Random(20261127)
    counts = [0]
    started = time.monotonic()
    for _ in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            code = 1
            try:
                _write_forever(path)
                code = 0
            finally:
                os._exit(code)
        time.sleep(rng.uniform(0.005, 0.06))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "writer ended before the kill"
        count = _saved_count(path)
        assert count >= counts[-1], "a kill lost writes that had completed"
        counts.append(count)
    assert time.monotonic() - started < 20
    assert counts[-1] > KILLS, f"the writer made too little progress to test anything: {counts}"
    # Temp files a kill left behind are never read as data: the file keeps loading
    # whole, and a new writer continues from its content.
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert all(name.startswith(".db.json.") and name.endswith(".tmp") for name in leftovers)
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.table("t").insert({"n": counts[-1] + 1, "pad": _pad(counts[-1] + 1)})
    db.close()
    assert _saved_count(path) == counts[-1] + 1
