"""The data directory's writer lock, across real processes: refusal names the holder, a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from payloads_tui.domain.errors import LockedError
from payloads_tui.store.lock import DataDirLock

HOLD_SCRIPT = """
import sys, time
from pathlib import Path
from payloads_tui.store.lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(30)
"""

TRY_SCRIPT = """
import sys
from pathlib import Path
from payloads_tui.domain.errors import LockedError
from payloads_tui.store.lock import DataDirLock
try:
    DataDirLock(Path(sys.argv[1])).acquire()
except LockedError as exc:
    print(exc.pid, flush=True)
    sys.exit(3)
print("acquired", flush=True)
"""

REPO = Path(__file__).resolve().parents[2]


def _python(script: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


@pytest.fixture
def holder(tmp_path: Path):
    """A separate process holding the lock of `tmp_path / 'home'` until killed."""
    data_dir = tmp_path / "home"
    proc = _python(HOLD_SCRIPT, data_dir)
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        assert line == "locked", proc.stderr.read() if proc.stderr else ""
        yield data_dir, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_second_process_is_refused_with_the_holders_pid(holder) -> None:
    data_dir, proc = holder
    lock = DataDirLock(data_dir)
    with pytest.raises(LockedError) as caught:
        lock.acquire()
    assert caught.value.pid == proc.pid
    assert f"process {proc.pid}" in str(caught.value)
    assert "such as `payloads run`; wait for it to finish or stop it" in str(caught.value)  # not only a service
    assert str(data_dir) in str(caught.value)
    assert not lock.held
    assert lock.holder_pid() == proc.pid


def test_killed_holder_does_not_block_the_next_acquire(holder) -> None:
    data_dir, proc = holder
    lock = DataDirLock(data_dir)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # the dead holder's pid is still in the file, but the lock is free
    assert (data_dir / "lock").read_text().strip() == str(proc.pid)
    assert lock.holder_pid() is None
    lock.acquire()
    try:
        assert lock.held
        assert (data_dir / "lock").read_text().strip() == str(os.getpid())
        assert DataDirLock(data_dir).holder_pid() == os.getpid()
    finally:
        lock.release()


def test_holder_in_this_process_refuses_another_process(tmp_path: Path) -> None:
    with DataDirLock(tmp_path) as lock:
        assert lock.held
        proc = _python(TRY_SCRIPT, tmp_path)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, err
        assert out.strip() == str(os.getpid())
    assert not lock.held
    proc = _python(TRY_SCRIPT, tmp_path)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "acquired"


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first, second = DataDirLock(tmp_path), DataDirLock(tmp_path)
    first.acquire()
    first.acquire()  # taking a held lock again is a no-op
    with pytest.raises(LockedError):
        second.acquire()
    first.release()
    first.release()  # releasing a free lock is a no-op
    second.acquire()
    assert second.held and not first.held
    second.release()


def test_lock_file_and_directory_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "home"
    with DataDirLock(data_dir):
        assert (data_dir / "lock").stat().st_mode & 0o777 == 0o600
        assert data_dir.stat().st_mode & 0o777 == 0o700


def test_holder_pid_is_none_when_free_or_never_created(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path / "home")
    assert lock.holder_pid() is None  # no lock file yet
    lock.acquire()
    assert lock.holder_pid() == os.getpid()
    lock.release()
    assert lock.holder_pid() is None
    assert (tmp_path / "home" / "lock").read_text() == ""
