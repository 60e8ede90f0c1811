"""Inbound processing in a worker process of its own: parse, map and write records on another core.

Why a process: parsing, mapping and writing records is pure Python, and in a thread it
competes with the receivers for the one GIL; every receive then also waits for the
GIL the processing thread holds (the convoy effect), so the more jobs arrive, the
slower each is accepted. In a child process it runs on another core and the service's
loop keeps the GIL to itself (`bench/http_ingest.py` measured this; see the README).

The worker is the records' writer while it runs. It opens the data directory's
records, blobs and vault itself (`RecordStore(shared=True)`, so the service process,
which keeps reading records, sees each write: the store checks a file's identity
before each use and a file lock orders writers). The executor sends it a batch at a
time, over a socket pair, pickled: the bodies with their integration and payload
(`BodyRun`s, without the receiver's parse), and the schemas of the objects their
payloads write. It answers with `process_batch()`'s results and what it logged,
which the service logs again under the same logger names.

Life cycle: started on the first batch (~0.4 s: a Python start and the imports), so
an idle service costs nothing; stopped by `close()`, or when the service process goes
away (its end of the socket closes). It is in a session of its own, so the terminal's
Ctrl-C reaches the service only, which then stops the worker in order. If the worker
dies during a batch, it is started again and the batch is sent once more (records of
a batch land whole or not at all; a batch applied just before a crash is applied again,
the same at-least-once as a crash of the whole service); if it dies again, the batch
fails with `ServiceError`, and one more worker is started at once, because opening the
records rolls forward a batch a death left half renamed (`RecordStore` recovery).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import payloads_tui
from payloads_tui.domain.errors import ServiceError
from payloads_tui.domain.models import ObjectSchema
from payloads_tui.engine.inboundrun import Attachments, BodyRun, process_batch
from payloads_tui.engine.inbound import InboundOutcome, InboundProcessor

log = logging.getLogger(__name__)

#: How long a worker may take to start (seconds) before the batch fails.
START_TIMEOUT = 60.0
#: How long `close()` waits for the worker to exit before killing it (seconds).
CLOSE_TIMEOUT = 5.0

Results = list[tuple[InboundOutcome, Attachments]]
#: What the worker logged during a batch: (logger name, level, message with traceback).
Logged = list[tuple[str, int, str]]


class InboundWorker:
    """The service's handle on the worker process; `process()` is called from worker threads."""

    def __init__(self, home: Path, *, durable: bool = True, env_key: str | None = None) -> None:
        self.home = Path(home)
        self.durable = durable
        self._env_key = env_key
        self._lock = threading.Lock()  # one batch at a time over the socket
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._stderr: IO[bytes] | None = None
        self.starts = 0  # how many worker processes were started (a restart shows here)

    @property
    def pid(self) -> int | None:
        """The running worker's process id, None before the first batch or after `close()`."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def process(
        self,
        runs: Sequence[BodyRun],
        schemas: Mapping[str, ObjectSchema | None],
        turn: contextlib.AbstractContextManager[Any] | None = None,
    ) -> Results:
        """`process_batch(runs)` in the worker; blocks (call it from a thread). `turn` is held throughout."""
        # The receiver's parse stays here: pickling a document costs about what parsing it does.
        sent = [run if run.parsed is None else dataclasses.replace(run, parsed=None, parse_seconds=0.0) for run in runs]
        message = ("batch", sent, dict(schemas))
        with turn if turn is not None else contextlib.nullcontext(), self._lock:
            for attempt in (1, 2):
                conn = self._started()
                try:
                    conn.send(message)
                    answer = conn.recv()
                except (EOFError, OSError) as exc:
                    status = self._reap()
                    if attempt == 2:
                        # A worker that died between a batch's renames left a journal: a new one
                        # rolls it forward on open, so nobody reads half a batch meanwhile.
                        with contextlib.suppress(ServiceError):
                            self._started()
                        raise ServiceError(
                            f"the inbound worker process stopped ({status}) twice while processing this "
                            "batch; its bodies are in the log: retry the jobs"
                        ) from exc
                    log.warning("the inbound worker process stopped (%s) during a batch; starting it again", status)
                    continue
                kind, results, logged = answer
                for name, level, text in logged:
                    logging.getLogger(name).log(level, "%s", text)
                if kind == "error":
                    raise ServiceError(f"the inbound worker could not process the batch: {results}")
                return results  # type: ignore[no-any-return]
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the worker (after the batch it is on, if any); it starts again on the next batch."""
        with self._lock:
            conn, process = self._conn, self._process
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.send(None)
            if process is not None:
                try:
                    process.wait(timeout=CLOSE_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self._forget()

    # --- internals ---------------------------------------------------------------------

    def _started(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.poll() is None:
            return self._conn
        self._forget()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        package_root = str(Path(payloads_tui.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        stderr = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "payloads_tui.engine.inboundworker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr, env=env, start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            ours.close()
            stderr.close()
            raise ServiceError(f"the inbound worker process could not be started ({exc})") from exc
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self._process, self._conn, self._stderr = process, conn, stderr
        self.starts += 1
        try:
            conn.send(("open", str(self.home), self.durable, self._env_key))
            if not conn.poll(START_TIMEOUT):
                raise ServiceError(f"the inbound worker process did not start within {START_TIMEOUT:.0f} s")
            kind, detail = conn.recv()
        except (EOFError, OSError):
            status = self._reap()
            raise ServiceError(f"the inbound worker process could not start ({status})") from None
        if kind != "ready":
            self._reap()
            raise ServiceError(f"the inbound worker process could not open {self.home}: {detail}")
        return conn

    def _reap(self) -> str:
        """Wait for a worker that went away; what it said on its way out, for the message."""
        process, stderr = self._process, self._stderr
        status = "it was not running"
        if process is not None:
            try:
                code = process.wait(timeout=CLOSE_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            status = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        if stderr is not None:
            with contextlib.suppress(OSError):
                stderr.seek(0)
                said = stderr.read()[-2000:].decode("utf-8", "replace").strip()
                if said:
                    log.error("the inbound worker process said before it stopped:\n%s", said)
        self._forget()
        return status

    def _forget(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._stderr is not None:
            self._stderr.close()
        self._process = self._conn = self._stderr = None


# --- the worker process ------------------------------------------------------------------


class _Collect(logging.Handler):
    """Keeps what the worker logs during a batch, to send it back with the results."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.logged: Logged = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.logged.append((record.name, record.levelno, text))


def serve(conn: Connection) -> None:
    """The worker's loop: open the stores, then process batches until told to stop or the service goes away."""
    from payloads_tui.store.blobs import BlobStore
    from payloads_tui.store.records import RecordStore
    from payloads_tui.store.vault import Vault

    _, home, durable, env_key = conn.recv()
    try:
        records = RecordStore(Path(home), durable=durable, shared=True)
        blobs = BlobStore(Path(home), durable=durable)
        vault = Vault(Path(home), env_key=env_key)
    except Exception as exc:  # noqa: BLE001 - said to the service, which names it in its error
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    conn.send(("ready", os.getpid()))
    schemas: dict[str, ObjectSchema | None] = {}
    processor = InboundProcessor(records, lambda name: schemas.get(name))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the service went away
        if message is None:
            return
        _, runs, batch_schemas = message
        schemas.clear()
        schemas.update(batch_schemas)
        collect.logged = []
        try:
            answer: tuple[str, Any, Logged] = ("done", process_batch(processor, blobs, vault, runs), collect.logged)
        except Exception as exc:  # noqa: BLE001 - the batch fails, the worker stays
            logging.getLogger(__name__).exception("processing a batch of %d inbound jobs failed", len(runs))
            answer = ("error", f"{type(exc).__name__}: {exc}", collect.logged)
        try:
            conn.send(answer)
        except OSError:
            return


def main() -> None:
    # The service stops the worker through the socket; signals meant for the service's
    # process group (a terminal's Ctrl-C, systemd's SIGTERM) must not cut a batch short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with Connection(int(sys.argv[1])) as conn:
        serve(conn)


if __name__ == "__main__":
    main()
