"""The writer lock of a data directory: one process at a time may write its files.

The lock is `flock(LOCK_EX | LOCK_NB)` on `<data_dir>/lock` (mode 0600), with the
holder's pid written inside so that a refused process can name it. The kernel drops
the lock when its holder exits for any reason (even `kill -9`), so a crashed holder
never blocks the next one; a stale pid left in the file is simply overwritten.

The file is never unlinked: removing it while another process has it open would let
two processes lock two different inodes of the same name.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from payloads_tui.domain.errors import LockedError
from payloads_tui.store.storage import FILE_MODE, ensure_private_dir

LOCK_FILE = "lock"

# A holder writes its pid just after it takes the lock; a process that looks in
# between finds the file empty, so it waits a moment for the pid to appear.
_PID_WAIT_SECONDS = 0.05
_PID_POLL_SECONDS = 0.005


def _read_pid(fd: int) -> int | None:
    raw = os.pread(fd, 32, 0).strip()
    return int(raw) if raw.isdigit() else None


def _wait_for_pid(fd: int) -> int | None:
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while (pid := _read_pid(fd)) is None and time.monotonic() < deadline:
        time.sleep(_PID_POLL_SECONDS)
    return pid


class DataDirLock:
    """Exclusive writer lock on a data directory; also a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise `LockedError` naming the pid of the process holding it."""
        if self._fd is not None:
            return
        ensure_private_dir(self.data_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _wait_for_pid(fd)
            os.close(fd)
            raise LockedError(str(self.data_dir), pid) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.fchmod(fd, FILE_MODE)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)  # closing drops the flock too
            raise
        self._fd = fd

    def release(self) -> None:
        """Give the lock up; does nothing if it is not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def holder_pid(self) -> int | None:
        """The pid of the live process holding the lock, or None if the lock is free.

        Found by trying the lock (shared, for an instant); the pid in the file alone
        proves nothing, since a killed holder leaves it behind.
        """
        if self._fd is not None:
            return os.getpid()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _wait_for_pid(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"DataDirLock({str(self.data_dir)!r}, held={self.held})"
