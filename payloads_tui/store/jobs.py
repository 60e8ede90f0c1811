"""The durable job log: segments of bounded size, group-committed appends, a small manifest.

Why this shape: a job must be durable before a webhook is answered, and writing one
must cost the same with a thousand jobs stored or a million (BASELINES.md: rewriting a
TinyDB file costs linear time; one fsync per request caps ingest near 2 k/s).

Files, in `<data_dir>/jobs/`:
- `active-<id>.jsonl` - the active log, append-only. Every save appends the job's full
  new version as one JSON line (formats in `jobformat.py`). A writer thread takes all
  versions queued since its last write and commits them with one `write` and one
  `fdatasync` (group commit, `jobbatch.py`), then wakes every waiter. A line torn by a
  crash is cut off at the next open; it was never acknowledged.
  With `commit_on_loop` (the headless service), a batch that one caller alone waits
  for, with no other commit in flight, is committed by its loop's thread at the end of
  the loop iteration instead: the hand-over to the writer thread and back costs about
  as much as the commit itself in this VM (a webhook at a time: ~800 -> ~1,070/s).
  Under load, batches have many waiters and the writer thread takes them, so the loop
  reads the next requests while a commit runs. It stays off while commits are slow
  (`INLINE_COMMIT_SECONDS`), so a stalling disk does not stall the loop again.
  The file is *preallocated*: zeros are written ahead of the lines, `PREALLOCATE` bytes
  at a time, and lines overwrite them. An `fdatasync` that changes the file's size must
  also commit the file system's journal; one that only overwrites does not. Measured on
  this machine's ext4: 0.5-0.6 ms per commit instead of 0.7-1.2 ms, under load. So the
  lines end at the first NUL byte (JSON lines never hold one); whatever lies after it
  was never acknowledged, and the writer cuts it off at open. A clean close trims the
  zeros. When the zeros do not fit (a nearly full disk), lines are written without them.
- `seg-<id>-<gen>.json` + `.idx` - sealed segments (`jobsegments.py`): TinyDB files
  holding the latest version of each job they own, plus an index of job heads with
  byte offsets. Immutable; a rewrite is a new generation.
- `manifest.json` - written atomically at each seal and prune: the sealed segments with
  the numbers each owns (per kind, contiguous ranges), created-time range and counts
  per (integration, kind, status); the active log's id; the next job numbers.

Sealing: once the active log holds `segment_jobs` jobs (or 64 MiB), the writer
*freezes* it - new versions go to `active-<id+1>.jsonl` from then on - and a sealer
thread writes the frozen jobs as segment `<id>`, then the manifest; until it is done
the frozen jobs are served from memory (`jobstate.py`, `jobsealer.py`). Measured: an
inline seal (write + fsync of a ~7 MB segment every 4,096 webhook-sized jobs) stalled
every group commit behind it (ingest fell from ~8 k/s to ~4.5 k/s in one run); in the
background it overlaps with commits. A segment thus holds `segment_jobs` jobs plus
what arrives while the previous one is still being written (at most as many again).
A crash while sealing leaves two active logs; the next open replays the older, seals
it, then replays the newer.

A segment owns every number up to the highest it holds, so a job's home segment is
found from its number alone (bisect over the manifest). A job whose home is sealed can
still change (its status moves on, a retry links to it): its new version is appended
to the active log as an *overlay* line and served from memory; the next seal merges
overlays into their home segments (each touched segment rewritten once per seal,
never once per update). Each overlay line carries the count key of the version it
replaces, so counts stay exact across a crash without reading sealed segments.

In memory: the manifest, the active log's jobs (head + encoded line each), overlays,
and an LRU of sealed-segment indexes bounded by a number of heads. Opening reads the
manifest and the active log only. `counts()`/`total()` come from per-segment live
counts; `newest()` walks segments newest first, skips any whose counts cannot match,
and stops once it has `limit` matches. Full jobs are decoded only for rows returned.

Bodies larger than `blob_threshold` (or not UTF-8) go to content-addressed blobs
(`externalize`). `prune()` drops whole sealed segments (never the active log) by age or
count, and the blobs that only dropped jobs referred to: a job refers to the blobs of
its request/response bodies, of its data queried (`keep_data`: an API answer of a few
hundred records would otherwise sit inline in every version of its job, in memory and on
disk) and to any sha listed in `job.context["blobs"]`.

Numbers: `new_number()` reserves numbers in blocks of 100 by queuing a reservation line
ahead of any job that could mention them; after a crash numbers resume past the last
reservation (a gap, never a reuse). `close()` records the exact next number, so a clean
restart leaves no gap.

Threads: reads may come from any thread while the writer commits; `_lock` guards the
in-memory state (held briefly, never across I/O); `_write_mutex` serialises commits,
freezes and `prune()`; the sealer touches only frozen (immutable) data until it swaps
the state under `_lock`. Reads see a saved version at once; `counts()`/`total()` count
committed versions (a `save_soon` is counted once its group commit is done). One
process writes a data directory at a time (the service's `DataDirLock`).

Other processes read it with `read_only=True` (`payloads jobs` while a service runs): a
snapshot of what was committed when it opened, changing no file - no crash clean-up, no
torn line cut off (it is the writer's line still being written), no seal finished, no
writer thread. The writer may seal meanwhile, so the snapshot reads the manifest again
after the active logs and starts over if it changed; a segment file that vanishes later
(rewritten or pruned) makes the reader load a new snapshot and read again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from payloads_tui.domain.errors import StoreError, ValidationError
from payloads_tui.domain.models import UNFINISHED_STATUSES, HttpExchange, Job, JobKind, JobSource
from payloads_tui.store.blobs import BlobStore
from payloads_tui.store.jobbatch import Batch
from payloads_tui.store.jobformat import (
    FORMAT_VERSION,
    KINDS,
    MANIFEST_FILE,
    CountKey,
    JobHead,
    Manifest,
    SegmentMeta,
    decode_job,
    decode_manifest,
    decode_overlay,
    decode_reserve,
    encode_job,
    encode_manifest,
    format_number,
    head_of,
    head_of_line,
    overlay_line,
    parse_number,
    reserve_line,
)
from payloads_tui.store.jobquery import JobFilter, OrderKey, order_key
from payloads_tui.store.jobreader import select, source_heads
from payloads_tui.store.jobsealer import seal
from payloads_tui.store.jobsegments import (
    SegmentView,
    SegmentViews,
    active_file,
    index_file,
    remove_segment_files,
    segment_file,
)
from payloads_tui.store.jobstate import LogState, Segment, Source
from payloads_tui.store.storage import atomic_write, ensure_private_dir, fsync_dir

log = logging.getLogger(__name__)
#: records are JSON documents; anything else a computed value might hold is written as its text
_data_encoder = msgspec.json.Encoder(enc_hook=str)
T = TypeVar("T")
_ACTIVE_NAME = re.compile(r"active-(\d+)\.jsonl")
_SEGMENT_ID = re.compile(r"seg-(\d+)-\d+\.json")
_SEGMENT_NAME = re.compile(r"seg-\d+-\d+\.(?:json|idx)")
_TEMP_NAME = re.compile(r"\.(?:seg-\d+-\d+\.(?:json|idx)|manifest\.json)\..*\.tmp")

JOBS_DIR = "jobs"
DEFAULT_SEGMENT_JOBS = 4096
ACTIVE_BYTES_LIMIT = 64 * 1024 * 1024
#: Zeros written ahead of the active log's lines at a time (see the module docstring).
PREALLOCATE = 1024 * 1024
_ZEROS = bytes(PREALLOCATE)
RESERVE_BLOCK = 100
VIEW_CACHE_HEADS = 32_768
SEAL_RETRY_SECONDS = 5.0
KICK_TIMEOUT = 0.05
#: With `commit_on_loop`, a loop commits a batch itself only while the last commit took less (seconds).
INLINE_COMMIT_SECONDS = 0.002
READ_ATTEMPTS = 3
#: Seconds a blob put again stays when the jobs pruned were its only users: a job about to
#: be logged (a body stored, an email's attachments being processed) may refer to it.
BLOB_PRUNE_GRACE = 3600.0


class JobLog:
    """The segmented, group-committed job log of one data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        blob_threshold: int = 16384,
        durable: bool = True,
        segment_jobs: int = DEFAULT_SEGMENT_JOBS,
        read_only: bool = False,
    ) -> None:
        if segment_jobs < 1:
            raise ValidationError("must be 1 or more", "segment_jobs")
        self.data_dir = Path(data_dir)
        self.read_only = read_only
        self.jobs_dir = self.data_dir / JOBS_DIR if read_only else ensure_private_dir(self.data_dir / JOBS_DIR)
        self.blob_threshold = blob_threshold
        self.durable = durable
        self.segment_jobs = segment_jobs
        self.blobs = BlobStore(self.data_dir, durable=durable)
        #: fdatasyncs of the active log (one per group commit); for tests and benchmarks.
        self.fsyncs = 0
        #: Segments sealed since open.
        self.seals = 0
        #: Complete lines of an active log that could not be decoded at open (skipped).
        self.skipped_lines = 0
        #: Let a loop commit a batch only it waits for itself (see the module docstring). Only
        #: where blocking the loop for one fdatasync is acceptable: not under a UI.
        self.commit_on_loop = False
        #: Group commits made by a loop's thread; for tests and benchmarks.
        self.loop_commits = 0
        self._commit_seconds = 0.0
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._write_mutex = threading.Lock()
        self._views = SegmentViews(VIEW_CACHE_HEADS)
        self._open_batch = Batch()
        self._inflight: Batch | None = None
        self._closing = False
        self._closed = False
        self._sealer: threading.Thread | None = None
        self._seal_after = 0.0
        if read_only:
            self._open_snapshot()
            self._writer: threading.Thread | None = None
            return
        self._open_files()
        self._writer = threading.Thread(target=self._run_writer, name="joblog-writer", daemon=True)
        self._writer.start()

    # --- opening ---------------------------------------------------------------------

    def _open_files(self) -> None:
        raw, manifest = self._read_manifest()
        first = max(manifest.active, LogState.first_active_id(manifest.segments))
        active_ids = self._remove_stray_files(first, manifest.segments)
        end = self._load(manifest, active_ids, seal=True)
        if self.skipped_lines:
            log.warning("job log %s: skipped %d damaged lines", self.jobs_dir, self.skipped_lines)
        state = self._state
        self._fd = os.open(active_file(self.jobs_dir, state.active_id), os.O_WRONLY | os.O_CREAT, 0o600)
        self._active_size = self._allocated = end
        if self.durable and end == 0:
            fsync_dir(self.jobs_dir)

    def _open_snapshot(self) -> None:
        """Read-only: load what the writing process has committed, changing no file.

        The writer may seal meanwhile (it writes the segment, then the manifest, then
        removes the sealed active log), so the manifest is read again at the end: if it
        changed, the files read may not fit together, and the load starts over.
        """
        for _ in range(READ_ATTEMPTS):
            raw, manifest = self._read_manifest()
            first = max(manifest.active, LogState.first_active_id(manifest.segments))
            try:
                names = os.listdir(self.jobs_dir)
            except FileNotFoundError:
                names = []
            active_ids = sorted(
                int(match[1]) for name in names if (match := _ACTIVE_NAME.fullmatch(name)) and int(match[1]) >= first
            )
            if len(active_ids) <= 2:  # the active log, and the one being sealed
                self.skipped_lines = 0
                self._load(manifest, active_ids, seal=False)
                if self._read_manifest()[0] == raw:
                    self._views = SegmentViews(VIEW_CACHE_HEADS)
                    return
        raise StoreError(f"the job log in {self.jobs_dir} kept changing while it was read; try again")

    def _read_manifest(self) -> tuple[bytes, Manifest]:
        path = self.jobs_dir / MANIFEST_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        try:
            manifest = decode_manifest(raw) if raw.strip() else Manifest()
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StoreError(f"{path} is damaged ({exc}); restore it from a backup") from None
        if not raw.strip() and self._segments_without_manifest():
            raise StoreError(
                f"{path} is missing but {self.jobs_dir} holds job segments; restore the manifest from a backup "
                "(or move the jobs folder away to start an empty job log)"
            )
        if manifest.format != FORMAT_VERSION:
            raise StoreError(f"{path} has format {manifest.format}; this version reads format {FORMAT_VERSION}")
        return raw, manifest

    def _segments_without_manifest(self) -> bool:
        """Whether segment files lie here with no manifest: it is lost.

        A reader may look during the writer's first seal (the segment written, the manifest
        not yet: its active log is still there) or just after it (the manifest written since
        the reader looked for it; `_open_snapshot` then reads again): neither is a loss.
        """
        try:
            names = os.listdir(self.jobs_dir)
        except FileNotFoundError:
            return False
        segments = {int(match[1]) for name in names if (match := _SEGMENT_ID.fullmatch(name))}
        if not self.read_only:
            return bool(segments)
        actives = {int(match[1]) for name in names if (match := _ACTIVE_NAME.fullmatch(name))}
        return not segments <= actives and not (self.jobs_dir / MANIFEST_FILE).exists()

    def _load(self, manifest: Manifest, active_ids: list[int], *, seal: bool) -> int:
        """Build the state from the manifest and the active logs (oldest first); return the last one's size.

        Two active logs mean a seal was under way: with `seal`, the older is sealed now
        (a crash interrupted it); without, it stays frozen in memory, as while sealing.
        """
        state = self._state = LogState(manifest.segments, manifest.sealed, manifest.next)
        state.active_id = max(state.active_id, manifest.active)
        reserved: dict[str, int] = {}
        seen = {k: 0 for k in KINDS}
        end = 0
        for i, active_id in enumerate(active_ids or [state.active_id]):
            state.active_id = active_id
            end = self._replay(active_id, reserved, seen)
            for kind, upto in reserved.items():  # so the manifest written by a seal below keeps them
                state.reserved[kind] = max(state.reserved[kind], upto)
            if i + 1 < len(active_ids):
                state.freeze(active_ids[i + 1])
                if seal:  # a crash interrupted a seal: finish it now
                    self._seal_frozen(self.durable)
        for kind in KINDS:
            state.next[kind] = max(reserved.get(kind, state.next[kind]), seen[kind] + 1, state.sealed_upto[kind] + 1)
        state.reserved = dict(state.next)
        return end

    def _remove_stray_files(self, active_id: int, segments: list[SegmentMeta]) -> list[int]:
        """Delete what a crash left behind; return the ids of active logs to replay, oldest first."""
        keep = {segment_file(self.jobs_dir, s.id, s.gen).name for s in segments}
        keep |= {index_file(self.jobs_dir, s.id, s.gen).name for s in segments}
        active_ids: list[int] = []
        for entry in os.scandir(self.jobs_dir):
            name = entry.name
            if match := _ACTIVE_NAME.fullmatch(name):
                if int(match[1]) >= active_id:
                    active_ids.append(int(match[1]))
                    continue
            elif not (_TEMP_NAME.fullmatch(name) or (_SEGMENT_NAME.fullmatch(name) and name not in keep)):
                continue  # not ours: leave it alone
            if entry.is_file():
                os.unlink(entry.path)
        return sorted(active_ids)

    def _replay(self, active_id: int, reserved: dict[str, int], seen: dict[str, int]) -> int:
        """Load one active log into memory; cut a torn last line; return the size kept."""
        state = self._state
        path = active_file(self.jobs_dir, active_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0
        zero = data.find(b"\0")  # the end of the lines in a preallocated log
        end = data.rfind(b"\n", 0, len(data) if zero < 0 else zero) + 1
        if end < len(data) and not self.read_only:  # a torn last line, zeros: never acknowledged
            with open(path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
        for line in data[:end].split(b"\n")[:-1]:
            recorded_prev: CountKey | None = None
            try:
                if line.startswith(b'{"reserve"'):
                    reserve = decode_reserve(line)
                    if reserve.reserve in KINDS:
                        reserved[reserve.reserve] = reserve.upto
                    continue
                if line.startswith(b'{"overlay"'):
                    overlay = decode_overlay(line)
                    line = bytes(overlay.job)
                    recorded_prev = overlay.overlay.prev
                head = head_of_line(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                head = None
            if head is None:
                self.skipped_lines += 1
                continue
            seen[head.kind] = max(seen[head.kind], head.seq)
            home = state.home_of(head.kind, head.seq)
            if home is None:
                continue  # its segment was pruned
            known = state.committed_entry(home, head.number)
            if known is not None:
                prev: CountKey | None = known[0].count_key
            else:
                prev = None if state.in_memory_home(home) else recorded_prev
            state.apply(home, head, line, prev)
        return end

    # --- numbering and saving --------------------------------------------------------

    def new_number(self, kind: JobKind) -> str:
        """A fresh job number (`IN-12`, `OUT-28`): monotonic per kind, never reused."""
        if kind not in KINDS:
            raise ValidationError(f"{kind!r} is not a job kind (inbound or outbound)", "kind")
        with self._lock:
            self._check_open()
            state = self._state
            seq = state.next[kind]
            state.next[kind] = seq + 1
            if seq >= state.reserved[kind]:
                # Rides with the next job saved, written before any job that can mention the number.
                state.reserved[kind] = seq + RESERVE_BLOCK
                self._open_batch.items.append(("reserve", kind, state.reserved[kind]))
        return format_number(kind, seq)

    def create(self, kind: JobKind, integration: str, payload: str, source: JobSource, **fields: Any) -> Job:
        """A new job with a fresh number, status Queued; not saved yet."""
        return Job(
            number=self.new_number(kind), kind=kind, integration=integration, payload=payload, source=source, **fields
        )

    def save(self, job: Job) -> None:
        """Save a version of `job`; durable on return."""
        self._enqueue(job, None, wait=False).wait()

    async def save_durable(self, job: Job) -> None:
        """Save a version of `job`; returns once it is durable, sharing the fsync with concurrent callers."""
        await self._enqueue(job, asyncio.get_running_loop(), wait=True)

    def save_soon(self, job: Job) -> None:
        """Queue a version of `job` into the next group commit; reads see it at once."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._enqueue(job, loop, wait=False)

    async def flush(self) -> None:
        """Wait until everything queued so far is durable."""
        loop = asyncio.get_running_loop()
        with self._lock:
            batch = self._last_batch()
            if batch is None:
                return
            future = batch.add_waiter(loop)
        await future

    def flush_sync(self) -> None:
        """Block until everything queued so far is durable."""
        with self._lock:
            batch = self._last_batch()
        if batch is not None:
            batch.wait()

    def settle(self) -> None:
        """Flush, then wait for a seal in progress to finish (tests, benchmarks, maintenance)."""
        if self.read_only:
            return
        self.flush_sync()
        with self._write_mutex:
            self._maybe_seal(wait=True)  # the writer may not have got to it yet
            self._finish_sealing()

    def close(self) -> None:
        """Flush, record the exact next numbers, finish sealing, stop the threads. Idempotent."""
        if self.read_only:
            self._closing = self._closed = True
            return
        with self._lock:
            if self._closing:
                return
            state = self._state
            for kind in KINDS:
                if state.reserved[kind] > state.next[kind]:
                    state.reserved[kind] = state.next[kind]
                    self._queue(("reserve", kind, state.next[kind]))
            batch = self._last_batch()
            self._closing = True
            self._work.notify()
        assert self._writer is not None
        self._writer.join()
        with self._write_mutex:
            self._finish_sealing()
            self._trim()
            os.close(self._fd)
        self._closed = True
        if batch is not None and batch.error is not None:
            raise StoreError(str(batch.error))

    def __enter__(self) -> JobLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        """Raise unless versions may be saved now."""
        if self.read_only:
            raise StoreError(
                f"the job log in {self.jobs_dir} is open read-only (beside the service that writes it); "
                "change jobs through that service"
            )
        if self._closing:
            raise StoreError("the job log is closed; open the data directory again")

    def _last_batch(self) -> Batch | None:
        """The newest batch not yet durable, made ready (caller holds `_lock`)."""
        if self._open_batch.items:
            if not self._open_batch.ready:
                self._open_batch.ready = True
                self._work.notify()
            return self._open_batch
        return self._inflight

    def _queue(self, item: tuple[Any, ...], loop: asyncio.AbstractEventLoop | None = None) -> Batch:
        """Add `item` to the open batch (caller holds `_lock`) and make sure it gets written.

        Without a loop the batch is ready now; from a loop it becomes ready at the end of
        the loop's current iteration (see `jobbatch.py`).
        """
        batch = self._open_batch
        batch.items.append(item)
        if loop is None:
            if not batch.ready:
                batch.ready = True
                self._work.notify()
        elif loop not in batch.kicks:
            batch.kicks.add(loop)
            loop.call_soon(self._kick, batch)
        return batch

    def _kick(self, batch: Batch) -> None:
        with self._lock:
            if batch.ready:
                return
            batch.ready = True
            if not self._commit_here(batch):
                self._work.notify()
                return
            self._open_batch = Batch()
            self._inflight = batch
        batch.error = self._commit_batch(batch)
        self.loop_commits += 1
        with self._lock:
            self._retire(batch, asyncio.get_running_loop())

    def _retire(self, batch: Batch, here: asyncio.AbstractEventLoop | None = None) -> None:
        """A committed batch is done (caller holds `_lock`): wake its waiters, those of `here` (the caller's loop) at once."""
        batch.done.set()
        if self._inflight is batch:
            self._inflight = None
        batch.wake(here)

    def _commit_here(self, batch: Batch) -> bool:
        """Whether the kicking loop commits `batch` itself (caller holds `_lock`): only one caller
        waits for it, nothing else is being committed, commits are fast, and the commit can
        neither fill the active log (freezing it fsyncs the directory) nor retry a failed seal."""
        if not self.commit_on_loop or self._inflight is not None or batch is not self._open_batch:
            return False
        if len(batch.waiters) != 1 or len(next(iter(batch.waiters.values()))) != 1:
            return False
        state = self._state
        return (
            self._commit_seconds < INLINE_COMMIT_SECONDS
            and len(state.active) + len(batch.items) < self.segment_jobs
            and self._active_size < ACTIVE_BYTES_LIMIT // 2
            and (state.frozen is None or self._sealing())
        )

    def _enqueue(self, job: Job, loop: asyncio.AbstractEventLoop | None, *, wait: bool) -> Any:
        """Queue a version of `job`; return a future of its commit (`wait`) or its batch."""
        parsed = parse_number(job.number)
        if parsed is None or parsed[0] != job.kind:
            example = format_number(job.kind, 1) if job.kind in KINDS else "IN-1"
            raise ValidationError(
                f"{job.number!r} is not a number of a {job.kind} job (such as {example}); use JobLog.create()",
                "number",
            )
        entry = (head_of(job, parsed[1]), encode_job(job))
        with self._lock:
            self._check_open()
            self._state.pending[job.number] = entry
            batch = self._queue(("job", entry), loop)
            if wait:
                assert loop is not None
                return batch.add_waiter(loop)
        return batch

    # --- the writer thread -----------------------------------------------------------

    def _run_writer(self) -> None:
        finished: Batch | None = None
        while True:
            with self._lock:
                if finished is not None:
                    # Woken while we hold `_lock`, a caller's next save blocks on it (not on the
                    # GIL) until `wait()` below lets go: the hand-over costs microseconds.
                    self._retire(finished)
                    finished = None
                while not (self._open_batch.ready or self._closing):
                    if self._open_batch.items:
                        # Items without a kick: their loop may have stopped; take them soon anyway.
                        if not self._work.wait(timeout=KICK_TIMEOUT):
                            break
                    else:
                        self._work.wait()
                if not self._open_batch.items:
                    if self._closing:
                        return
                    continue
                batch = self._open_batch
                self._open_batch = Batch()
                self._inflight = batch
            batch.error = self._commit_batch(batch)
            with self._write_mutex:
                self._maybe_seal()
            finished = batch

    def _commit_batch(self, batch: Batch) -> StoreError | None:
        """Commit a batch; freeze the active log in between if the batch would overfill it."""
        items = batch.items
        start = 0
        began = time.perf_counter()
        try:
            with self._write_mutex:
                while start < len(items):
                    room = max(1, self.segment_jobs - len(self._state.active))
                    if self._state.frozen is not None and not self._sealing():
                        room = len(items)  # sealing failed and waits for a retry: don't split further
                    chunk = items[start : start + room]
                    try:
                        self._commit(chunk)
                    except Exception as exc:
                        if not isinstance(exc, StoreError):  # a bug; never leave waiters hanging
                            log.exception("job log commit failed")
                            exc = StoreError(f"the job log could not be written ({exc!r})")
                        self._forget_pending(items[start:])
                        return exc
                    start += len(chunk)
                    if start < len(items):
                        self._maybe_seal(wait=True)
        finally:  # how long the caller waited, failed or not: `_commit_here` reads it
            self._commit_seconds = time.perf_counter() - began
        return None

    def _commit(self, items: list[tuple[Any, ...]]) -> None:
        """Append `items` to the active log with one write and one fdatasync, then apply them."""
        state = self._state
        homes: list[int | None] = []
        known: dict[str, JobHead | None] = {}
        lookups: list[tuple[int, JobHead]] = []
        with self._lock:
            for item in items:
                if item[0] != "job":
                    homes.append(None)
                    continue
                head = item[1][0]
                home = state.home_of(head.kind, head.seq)
                homes.append(home)
                if home is None or head.number in known:
                    continue
                entry = state.committed_entry(home, head.number)
                known[head.number] = entry[0] if entry is not None else None
                if entry is None and not state.in_memory_home(home):
                    lookups.append((home, head))
        for home, head in lookups:  # the version in a sealed file, read outside the lock
            known[head.number] = self._sealed_head(home, head)
        chunks: list[bytes] = []
        applied: list[tuple[int, JobHead, bytes, CountKey | None]] = []
        for item, home in zip(items, homes, strict=True):
            if item[0] == "reserve":
                chunks.append(reserve_line(item[1], item[2]))
                continue
            head, line = item[1]
            if home is None:
                log.warning("job %s belongs to a pruned segment; this update of it is dropped", head.number)
                continue
            before = known[head.number]
            prev = before.count_key if before is not None else None
            if home == state.active_id:
                chunks.append(line)
                chunks.append(b"\n")
            else:
                chunks.append(overlay_line(line, prev))
            known[head.number] = head
            applied.append((home, head, line, prev))
        data = b"".join(chunks)
        self._append(data)
        with self._lock:
            for home, head, line, prev in applied:
                state.apply(home, head, line, prev)
            self._forget_pending(items, locked=True)

    def _append(self, data: bytes) -> None:
        """Write `data` after the active log's lines, over its zeros (more zeros first if they run out)."""
        if not data:
            return
        size = self._active_size
        end = size + len(data)
        try:
            if end > self._allocated:
                try:
                    _write_at(self._fd, _ZEROS, end)
                    self._allocated = end + PREALLOCATE
                except OSError:  # no room for zeros ahead (a nearly full disk): the lines alone may fit
                    self._allocated = end
            _write_at(self._fd, data, size)
            if self.durable:
                _sync_data(self._fd)
                self.fsyncs += 1
        except OSError as exc:
            try:  # nothing written after the lines may stay: a later, shorter write would not cover it
                os.ftruncate(self._fd, size)
                self._allocated = size
            except OSError:
                pass
            raise StoreError(
                f"could not write the job log in {self.jobs_dir} ({exc.strerror}); free disk space or fix permissions"
            ) from None
        self._active_size = end

    def _trim(self) -> None:
        """Cut the active log's unused zeros (at close; caller holds `_write_mutex`)."""
        if self._allocated > self._active_size:
            try:
                os.ftruncate(self._fd, self._active_size)
                if self.durable:
                    os.fsync(self._fd)
            except OSError as exc:
                log.warning("could not trim the job log's active file (%s); the next open does", exc.strerror)
                return
            self._allocated = self._active_size

    def _forget_pending(self, items: list[tuple[Any, ...]], *, locked: bool = False) -> None:
        """Drop these versions from the pending map (committed now, or failed)."""
        if not locked:
            with self._lock:
                self._forget_pending(items, locked=True)
            return
        pending = self._state.pending
        for item in items:
            if item[0] == "job":
                number = item[1][0].number
                if pending.get(number) is item[1]:
                    del pending[number]

    # --- sealing ---------------------------------------------------------------------

    def _maybe_seal(self, *, wait: bool = False) -> None:
        """Freeze a full active log and start its sealer (caller holds `_write_mutex`).

        If the previous seal is still running, wait for it only when asked (a batch that
        overfills the active log) or when the active log has grown to twice its size.
        """
        state = self._state
        if self._sealing():
            if not wait and len(state.active) < 2 * self.segment_jobs:
                return
            assert self._sealer is not None
            self._sealer.join()
        if state.frozen is not None:  # the last seal failed: retry after a pause
            if time.monotonic() >= self._seal_after:
                self._start_sealer()
            return
        if len(state.active) < self.segment_jobs and self._active_size < ACTIVE_BYTES_LIMIT:
            return
        self._freeze()
        self._start_sealer()

    def _freeze(self) -> None:
        new_id = self._state.active_id + 1
        fd = os.open(active_file(self.jobs_dir, new_id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if self.durable:
            fsync_dir(self.jobs_dir)
        with self._lock:
            self._state.freeze(new_id)
            old_fd, self._fd, self._active_size, self._allocated = self._fd, fd, 0, 0
        os.close(old_fd)

    def _sealing(self) -> bool:
        return self._sealer is not None and self._sealer.is_alive()

    def _start_sealer(self) -> None:
        self._sealer = threading.Thread(target=self._run_sealer, name="joblog-sealer", daemon=True)
        self._sealer.start()

    def _run_sealer(self) -> None:
        try:
            self._seal_frozen(self.durable)
        except Exception:
            log.exception("sealing a job log segment failed; retrying in %.0f s", SEAL_RETRY_SECONDS)
            self._seal_after = time.monotonic() + SEAL_RETRY_SECONDS

    def _finish_sealing(self) -> None:
        """Wait for a running sealer; seal a frozen log left by a failed one (caller holds `_write_mutex`)."""
        if self._sealer is not None:
            self._sealer.join()
        if self._state.frozen is not None:
            try:
                self._seal_frozen(self.durable)
            except Exception:
                log.exception("sealing a job log segment failed; it is sealed at the next open")

    def _seal_frozen(self, durable: bool) -> None:
        """Write the frozen log as a segment, merge its overlays, write the manifest, switch state."""
        state = self._state
        frozen = state.frozen
        assert frozen is not None
        with self._lock:
            segments = dict(state.by_id)
        result = seal(self.jobs_dir, frozen, segments, self._view, durable=durable)
        for view in result.views:
            self._views.put(view)
        with self._lock:
            metas = [result.merged.get(s.id, s.meta) for s in state.segments]
            if result.new_meta is not None:
                metas.append(result.new_meta)
        self._write_manifest(metas, state.active_id, frozen.upto, durable)
        with self._lock:
            state.finish_seal(result.new_meta, result.merged)
        try:
            os.unlink(active_file(self.jobs_dir, frozen.id))
        except FileNotFoundError:
            pass
        for seg_id, gen in result.retired:
            self._views.drop_generation(seg_id, gen)
            remove_segment_files(self.jobs_dir, seg_id, gen)
        self.seals += 1

    def _write_manifest(
        self, metas: list[SegmentMeta], active_id: int, sealed_upto: dict[str, int], durable: bool
    ) -> None:
        with self._lock:
            state = self._state
            next_numbers = {k: max(state.next[k], state.reserved[k]) for k in KINDS}
        manifest = Manifest(next=next_numbers, sealed=dict(sealed_upto), active=active_id, segments=metas)
        atomic_write(self.jobs_dir / MANIFEST_FILE, encode_manifest(manifest), durable=durable)

    def _sealed_head(self, home: int, head: JobHead) -> JobHead | None:
        """The head of the version of `head`'s job in sealed segment `home` (None: not there)."""
        for _ in range(READ_ATTEMPTS):
            with self._lock:
                segment = self._state.by_id.get(home)
            if segment is None:
                return None
            try:
                return self._view(segment).find(head.kind, head.seq)
            except FileNotFoundError:
                continue  # rewritten by the sealer meanwhile; the new generation has the same version
        raise StoreError(f"segment {home} of the job log kept changing while it was read")

    def _view(self, segment: Segment) -> SegmentView:
        meta = segment.meta
        return self._views.get(meta.id, meta.gen, lambda: SegmentView.load(self.jobs_dir, meta.id, meta.gen))

    # --- reading ---------------------------------------------------------------------

    def get(self, number: str) -> Job | None:
        """The latest version of job `number`, or None."""
        parsed = parse_number(number)
        if parsed is None:
            return None
        kind, seq = parsed
        for _ in range(READ_ATTEMPTS):
            state = self._state
            segment: Segment | None = None
            with self._lock:
                entry = state.pending.get(number)
                if entry is None:
                    home = state.home_of(kind, seq)
                    if home is None:
                        return None
                    entry = state.committed_entry(home, number)
                    if entry is None:
                        if state.in_memory_home(home):
                            return None
                        segment = state.by_id[home]
            if entry is not None:
                return decode_job(entry[1])
            assert segment is not None
            try:
                view = self._view(segment)
                head = view.find(kind, seq)
                return decode_job(view.read_lines([head])[0]) if head is not None else None
            except FileNotFoundError:  # the segment was rewritten or pruned meanwhile; look again
                self._reread()
        raise StoreError(f"job {number} could not be read: its segment kept changing; try again")

    def newest(
        self,
        kind: JobKind | None = None,
        *,
        integration: str | None = None,
        statuses: Collection[str] | None = None,
        payload: str | None = None,
        text: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Job]:
        """Matching jobs, newest first (by number within a kind, by created across kinds).

        `before` pages on: only jobs older than that job. If it was pruned, nothing older
        is left and the result is empty.
        """
        if limit <= 0:
            return []
        flt = JobFilter.of(kind, integration, statuses, payload, text)
        by_number = kind is not None
        bound: OrderKey | None = None
        if before is not None:
            parsed = parse_number(before)
            if parsed is None:
                raise ValidationError(f"{before!r} is not a job number such as IN-12", "before")
            if by_number:
                if parsed[0] != kind:
                    raise ValidationError(
                        f"{before} is not a {kind} job; page with a number of the same kind", "before"
                    )
                bound = parsed[1]
            else:
                before_job = self.get(before)
                if before_job is None:
                    return []
                bound = order_key(head_of(before_job, parsed[1]), False)
        return self._retrying(lambda: self._select(flt, by_number, bound, limit))

    def unfinished(self) -> list[Job]:
        """Jobs still Queued, Processing or Retrying (for recovery at start), oldest first."""
        flt = JobFilter.of(statuses=UNFINISHED_STATUSES)
        return list(reversed(self._retrying(lambda: self._select(flt, False, None, None))))

    def counts(
        self, *, integration: str | None = None, kind: JobKind | None = None, since: float | None = None
    ) -> dict[str, int]:
        """Jobs per status (statuses with none are left out); `since`: only jobs created since then.

        Without `since`, from live counts only. With it, segments wholly after `since`
        count from their counts and the one or two straddling it from their heads.
        """
        flt = JobFilter.of(kind, integration)
        result: dict[str, int] = {}
        if since is None:
            with self._lock:
                for key, n in self._state.total.items():
                    if n and flt.counts_match(key):
                        result[key[2]] = result.get(key[2], 0) + n
            return result
        return self._retrying(lambda: self._counts_since(flt, since))

    def _counts_since(self, flt: JobFilter, since: float) -> dict[str, int]:
        """Counts of jobs created since `since`: whole segments from their counts, the one
        (or few) straddling `since` from their heads."""
        result: dict[str, int] = {}
        straddling: list[Source] = []
        with self._lock:
            for source in self._state.sources():
                if source.created_max < since or not source.may_match(flt):
                    continue
                if source.created_min < since:
                    straddling.append(source)
                    continue
                for key, n in source.counts.items():
                    if n and flt.counts_match(key):
                        result[key[2]] = result.get(key[2], 0) + n
        for source in straddling:
            if source.segment is not None and not source.overrides:
                for head in self._view(source.segment).newest_by_created():
                    if head.created < since:
                        break
                    if flt.matches(head):
                        result[head.status] = result.get(head.status, 0) + 1
                continue
            for head, _ in source_heads(source, self._view):
                if head.created >= since and flt.matches(head):
                    result[head.status] = result.get(head.status, 0) + 1
        return result

    def total(self, kind: JobKind | None = None) -> int:
        """Number of jobs stored (of one kind, or all)."""
        with self._lock:
            return sum(n for key, n in self._state.total.items() if kind is None or key[1] == kind)

    def _retrying(self, read: Callable[[], T]) -> T:
        for _ in range(READ_ATTEMPTS):
            try:
                return read()
            except FileNotFoundError:  # a segment was rewritten or pruned while we read; read again
                self._reread()
        raise StoreError("the job log kept changing while it was read; try again")

    def refresh(self) -> None:
        """Read-only: load a new snapshot, with what the writer committed since (no-op when writing)."""
        self._reread()

    def _reread(self) -> None:
        """After a segment file vanished: the writer's state has moved on; read-only, load it again.

        (In the writing process the state already points at the files that replaced it.)
        Read-only, no commit ever waits on `_lock`, so it may be held across this reload:
        other reading threads wait for the new state instead of reading a half-built one.
        """
        if self.read_only:
            with self._lock:
                self._open_snapshot()

    def _select(self, flt: JobFilter, by_number: bool, bound: OrderKey | None, limit: int | None) -> list[Job]:
        with self._lock:
            sources = self._state.sources()
        return select(sources, flt, by_number, bound, limit, self._view, lambda source: self._may_match(source, flt))

    def _may_match(self, source: Source, flt: JobFilter) -> bool:
        with self._lock:
            return source.may_match(flt)

    # --- retention -------------------------------------------------------------------

    def prune(self, *, max_age_days: float | None = None, max_jobs: int | None = None) -> int:
        """Drop whole sealed segments older than `max_age_days` or beyond `max_jobs`; return jobs dropped.

        Blobs referenced only by dropped jobs are deleted, unless put again within the last
        `BLOB_PRUNE_GRACE` seconds (a job about to be logged needs it). The active log (and a segment
        being sealed) is never dropped, so up to a segment more than `max_jobs` may remain.
        """
        self._check_open()
        if not self._prune_plan(max_age_days, max_jobs):
            return 0  # the usual case of a periodic prune: no commit waits for it
        with self._write_mutex:
            self._finish_sealing()
            state = self._state
            drop = self._prune_plan(max_age_days, max_jobs)
            if not drop:
                return 0
            dropped_ids = {s.id for s in drop}
            candidates: set[str] = set()
            for segment in drop:
                if segment.meta.blobs:
                    candidates.update(sha for head in self._view(segment).heads for sha in head.blobs)
                with self._lock:
                    overlaid = state.overlay.get(segment.id, {}).values()
                    candidates.update(sha for head, _ in overlaid for sha in head.blobs)
            with self._lock:
                kept = [s.meta for s in state.segments if s.id not in dropped_ids]
            # A frozen log that failed to seal is still the manifest's active log.
            active_id = state.frozen.id if state.frozen is not None else state.active_id
            self._write_manifest(kept, active_id, state.sealed_upto, self.durable)
            dropped_jobs = sum(s.jobs for s in drop)
            with self._lock:
                state.drop(dropped_ids)
            for segment in drop:
                self._views.drop(segment.id)
                remove_segment_files(self.jobs_dir, segment.id, segment.meta.gen)
            if candidates:
                for sha in candidates - self._referenced_blobs():
                    self.blobs.delete(sha, unused_for=BLOB_PRUNE_GRACE)
            return dropped_jobs

    def _prune_plan(self, max_age_days: float | None, max_jobs: int | None) -> list[Segment]:
        """The sealed segments `prune()` would drop now, oldest first."""
        with self._lock:
            segments = list(self._state.segments)
            total = sum(self._state.total.values())
        drop: list[Segment] = []
        if max_age_days is not None:
            cutoff = time.time() - max_age_days * 86400
            drop = [s for s in segments if s.created_max < cutoff]
        if max_jobs is not None:
            remaining = total - sum(s.jobs for s in drop)
            for segment in segments:
                if remaining <= max_jobs:
                    break
                if segment not in drop:
                    drop.append(segment)
                    remaining -= segment.jobs
        return drop

    def _referenced_blobs(self) -> set[str]:
        """Blob shas any kept job refers to (reads the indexes of segments that have blobs)."""
        with self._lock:
            segments = [s for s in self._state.segments if s.meta.blobs]
            referenced = self._state.referenced_blobs()
        for segment in segments:
            heads = SegmentView.load(self.jobs_dir, segment.id, segment.meta.gen).heads
            referenced.update(sha for head in heads for sha in head.blobs)
        return referenced

    # --- bodies ----------------------------------------------------------------------

    def body_of(self, exchange: HttpExchange) -> bytes | None:
        """The body of a logged request/response, from its inline text or its blob."""
        if exchange.body is not None:
            return exchange.body.encode("utf-8")
        if exchange.body_blob:
            return self.blobs.get(exchange.body_blob)
        return None

    def externalize(self, exchange: HttpExchange, body: bytes, content_type: str) -> None:
        """Set the body of `exchange`: inline text if small and UTF-8, else a blob (durable on return)."""
        self._check_open()
        exchange.content_type = content_type
        exchange.body_size = len(body)
        text: str | None = None
        if len(body) <= self.blob_threshold:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is not None:
            exchange.body = text
            exchange.body_blob = None
        else:
            exchange.body = None
            exchange.body_blob = self.blobs.put(body)

    def keep_data(self, job: Job, records: list[dict[str, Any]]) -> None:
        """Set the data queried of `job`: inline if small, else a blob (durable on return)."""
        self._check_open()
        encoded = _data_encoder.encode(records)
        if len(encoded) <= self.blob_threshold:
            job.data_queried, job.data_blob = records, None
        else:
            job.data_queried, job.data_blob = [], self.blobs.put(encoded)

    def data_of(self, job: Job) -> list[dict[str, Any]]:
        """The data queried of `job`, from its blob if it has one."""
        if job.data_blob:
            return msgspec.json.decode(self.blobs.get(job.data_blob))  # type: ignore[no-any-return]
        return job.data_queried

    # --- benchmark support -----------------------------------------------------------

    def _bulk_seal(self, jobs: Iterable[Job], *, durable: bool = False) -> int:
        """Write `jobs` straight into sealed segments, bypassing the active log (benchmark prefill).

        Each `segment_jobs` jobs are applied in memory and sealed like a full active log;
        numbers must be new. Not fsynced unless `durable`.
        """
        self._check_open()
        with self._write_mutex:
            self._finish_sealing()
            state = self._state
            if state.active or state.pending or state.overlay:
                raise StoreError("_bulk_seal needs an empty active log")
            written = 0
            for job in jobs:
                parsed = parse_number(job.number)
                if parsed is None or state.home_of(job.kind, parsed[1]) != state.active_id:
                    raise ValidationError(f"{job.number} is not a new job number", "number")
                with self._lock:
                    state.apply(state.active_id, head_of(job, parsed[1]), encode_job(job), None)
                written += 1
                if len(state.active) >= self.segment_jobs:
                    self._freeze()
                    self._seal_frozen(durable)
            if state.active:
                self._freeze()
                self._seal_frozen(durable)
            return written


def _sync_data(fd: int) -> None:
    """`fdatasync` where the platform has it (Linux); `fsync` elsewhere (macOS has none)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
