"""Content-addressed blob files: large bodies and attachments, named by their sha256.

A blob lives at `<data_dir>/blobs/<first two hex digits>/<sha256 hex>`, mode 0600. It is
written atomically (temp file, fsync, rename, fsync of the directory), so a blob that
exists is complete, and writing the same bytes twice is a no-op. Names are checked to
be 64 lowercase hex digits before any path is built, so a name can never walk out of
the blob directory. Putting bytes already stored refreshes the file's mtime, which is
how pruning tells a blob just taken into use again from one only old jobs refer to.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from payloads_tui.domain.errors import NotFoundError, ValidationError
from payloads_tui.store.storage import atomic_write, ensure_private_dir, fsync_dir

BLOB_DIR = "blobs"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def check_sha(sha: str) -> str:
    """`sha` if it is 64 lowercase hex digits; otherwise `ValidationError`."""
    if not isinstance(sha, str) or not _SHA_RE.match(sha):
        raise ValidationError("a blob name must be 64 lowercase hex digits (a sha256)", "blob")
    return sha


class BlobStore:
    """Blob files under `<data_dir>/blobs/`, by sha256 of their content."""

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        self.root = Path(data_dir) / BLOB_DIR
        self.durable = durable

    def path_of(self, sha: str) -> Path:
        check_sha(sha)
        return self.root / sha[:2] / sha

    def put(self, data: bytes) -> str:
        """Store `data`; return its sha256 hex. Durable on return (unless `durable=False`)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / sha[:2] / sha
        if path.exists():
            try:
                os.utime(path)  # in use again: `delete(unused_for=…)` leaves it alone
                return sha
            except FileNotFoundError:
                pass  # deleted just now: write it again
        if not path.parent.is_dir():
            root_existed = self.root.is_dir()
            ensure_private_dir(self.root)
            ensure_private_dir(path.parent)
            if self.durable:
                fsync_dir(self.root)
                if not root_existed:
                    fsync_dir(self.root.parent)
        atomic_write(path, data, durable=self.durable)
        return sha

    def get(self, sha: str) -> bytes:
        """The content of blob `sha`; `NotFoundError` if there is none."""
        try:
            return self.path_of(sha).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"blob {sha} is missing from {self.root}; it was pruned or the data directory is incomplete"
            ) from None

    def exists(self, sha: str) -> bool:
        return self.path_of(sha).is_file()

    def size(self, sha: str) -> int:
        """Size in bytes of blob `sha`; `NotFoundError` if there is none."""
        try:
            return self.path_of(sha).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"blob {sha} is missing from {self.root}") from None

    def delete(self, sha: str, *, unused_for: float = 0.0) -> bool:
        """Remove blob `sha`; return whether it was removed.

        With `unused_for`, a blob written or put again within that many seconds stays: a
        job that is about to refer to it (its body stored, the job not yet logged) keeps it.
        """
        path = self.path_of(sha)
        try:
            if unused_for > 0 and time.time() - path.stat().st_mtime < unused_for:
                return False
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
