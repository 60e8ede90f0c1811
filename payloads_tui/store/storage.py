"""Atomic file writes and the TinyDB `Storage` built on them.

Every write goes to a temporary file in the same directory, is fsynced, renamed over
the target, and the directory is fsynced: a crash at any instant leaves either the old
file or the new one, never a torn one. Files are created 0600; directories 0700.
JSON is encoded with msgspec (about 3x the stdlib codec).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from tinydb.storages import Storage

from payloads_tui.domain.errors import StoreError

FILE_MODE = 0o600
DIR_MODE = 0o700

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed, with mode 0700 on the leaf."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename, fsync dir)."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(directory)


def encode_json(data: Any) -> bytes:
    return _encoder.encode(data)


def decode_json(data: bytes | str, where: str = "") -> Any:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StoreError(f"{where or 'file'} is not valid JSON ({exc}); restore it from a backup") from None


def read_json_file(path: Path, default: Any = None) -> Any:
    """Decode a JSON file, or return `default` if it does not exist or is empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    if not raw.strip():
        return default
    return decode_json(raw, str(path))


class AtomicJSONStorage(Storage):
    """TinyDB storage: msgspec JSON, atomic replace on every write, files 0600.

    Reads are served from the last written state, so TinyDB's read-modify-write cycle
    costs one encode and one atomic write, never a re-read of the file.
    """

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        ensure_private_dir(self.path.parent)
        self._cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self._cache is None:
            data = read_json_file(self.path)
            if data is None:
                return None
            if not isinstance(data, dict):
                raise StoreError(f"{self.path} does not hold a TinyDB database")
            self._cache = data
        return self._cache

    def write(self, data: dict[str, Any]) -> None:
        try:
            atomic_write(self.path, _encoder.encode(data), durable=self.durable)
        except BaseException:
            self._cache = None  # TinyDB changed `data` in place; reload the last good file
            raise
        self._cache = data

    def close(self) -> None:
        self._cache = None
