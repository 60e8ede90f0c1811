"""Benchmark: durable webhooks/s of our HTTP receiver against a bare Starlette endpoint, same run.

Both servers run in child processes (uvicorn, httptools, asyncio loop) on 127.0.0.1;
`wrk -t1 -cN` posts a ~1 KB JSON body (a Lua script makes each body unique):

- bare: a Starlette route that reads the body, parses the JSON and answers 202;
- bare durable: the same route, answering only once the body is appended to a file
  and fdatasync'd, with the least group commit there is (`GroupCommit`: a writer
  thread, one write and one fdatasync for all the bodies queued meanwhile; a body alone,
  with no commit in flight, written by the loop itself, as `payloads serve` does). The floor
  of any durable answer on this machine: where ours is below 0.5 of bare, this says
  how much of that is the disk (1 connection: every answer waits for an fdatasync)
  and how much is our own work per request;
- ours: `Service` of a workspace with a `load` integration: `POST /api/load/ping`
  (auth none, so signing cost is not measured) answers 202 once the job is durable
  in the job log (group commit); processing upserts a `Ping` record on `key`;
- ours + Stripe signature: the same payload behind `auth: stripe` (one signed body,
  its signature checked on every request, the secret decrypted from the vault).
  With `--hold`, jobs are logged but not processed: the receiver alone, without the
  processing that competes with it for the CPU, the GIL and the disk.

For each connection count (medians of `--rounds` interleaved rounds): requests/s, p50
and p99 from wrk, ours / bare (target >= 0.5), ours / bare durable, and the end-to-end
rate of ours: accepted jobs / time from the start of the run until every job is
finished (records written). Keys cycle over `--keys` distinct values (like a set of
customers being updated); the Ping table stays that size.

    .venv/bin/python bench/http_ingest.py [--duration 5] [--connections 1,16,64] [--keys 1000] [--rounds 2] [--hold]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servicebench import fsync_latency, wait_drained  # noqa: E402

BENCH_SECRET = "whsec_bench"

LUA_UNIQUE = """
local counter = 0
local pad = string.rep("x", 900)
local keys = tonumber(os.getenv("BENCH_KEYS") or "1000")
local run = os.getenv("BENCH_RUN") or "r"
request = function()
  counter = counter + 1
  local body = string.format('{"key":"k%d","n":%d,"run":"%s","pad":"%s"}', counter % keys, counter, run, pad)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""

LUA_SIGNED = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Stripe-Signature"] = os.getenv("BENCH_SIGNATURE")
"""


# --- the servers (child processes) ------------------------------------------------------


class GroupCommit:
    """The least a durable answer needs: lines appended by a writer thread, one write and one
    fdatasync for all the lines queued meanwhile; each caller's future resolves once its line is on disk.
    The file is preallocated with zeros, 1 MiB ahead, as the job log's active file is: an fdatasync
    that only overwrites skips the file system's journal. As `payloads serve` does
    (`JobLog.commit_on_loop`), a line that is alone when its loop iteration ends, with no commit
    in flight, is written by the loop itself, sparing two thread hand-overs."""

    AHEAD = 1 << 20

    def __init__(self, path: Path) -> None:
        import threading

        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        self.size = self.allocated = 0
        self.pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self.busy = False  # a commit is in flight
        self.changed = threading.Condition()
        self.loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self.run, daemon=True).start()

    def append(self, line: bytes) -> asyncio.Future[None]:
        self.loop = asyncio.get_running_loop()
        future = self.loop.create_future()
        with self.changed:
            self.pending.append((line, future))
            if len(self.pending) == 1:
                self.loop.call_soon(self.kick)
        return future

    def kick(self) -> None:
        with self.changed:
            if not self.pending:
                return
            if len(self.pending) > 1 or self.busy:
                self.changed.notify()
                return
            batch, self.pending, self.busy = self.pending, [], True
        self.commit(batch)
        with self.changed:
            self.busy = False
            if self.pending:
                self.changed.notify()
        self.resolve([future for _, future in batch])

    def run(self) -> None:
        while True:
            with self.changed:
                while not self.pending or self.busy:
                    self.changed.wait()
                batch, self.pending, self.busy = self.pending, [], True
            self.commit(batch)
            with self.changed:
                self.busy = False
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self.resolve, [future for _, future in batch])

    def commit(self, batch: list[tuple[bytes, asyncio.Future[None]]]) -> None:
        data = b"".join(line for line, _ in batch)
        end = self.size + len(data)
        if end > self.allocated:
            os.pwrite(self.fd, bytes(self.AHEAD), end)
            self.allocated = end + self.AHEAD
        os.pwrite(self.fd, data, self.size)
        self.size = end
        os.fdatasync(self.fd)

    @staticmethod
    def resolve(futures: list[asyncio.Future[None]]) -> None:
        for future in futures:
            if not future.done():
                future.set_result(None)


def serve_bare(durable_dir: Path | None = None) -> None:
    """The bare endpoint: parse the JSON, answer 202; with `durable_dir`, only once the body is
    appended to a file there and fdatasync'd (`GroupCommit`)."""
    import json as stdjson
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    log = GroupCommit(durable_dir / "bodies.jsonl") if durable_dir is not None else None

    async def ingest(request: Request) -> Response:
        body = await request.body()
        stdjson.loads(body)
        if log is not None:
            await log.append(body + b"\n")
        return Response(b'{"job":"IN-0"}', status_code=202, media_type="application/json")

    app = Starlette(routes=[Route("/ingest", ingest, methods=["POST"])])
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(f"READY {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, http="httptools", lifespan="off", log_config=None, access_log=False, ws="none")
    uvicorn.Server(config).run(sockets=[sock])


def bench_integration(encrypt: object) -> object:
    from payloads_tui.domain.models import ExternalApi, FieldMapping, InboundPayload, Integration, Target

    mappings = [FieldMapping(field="key", expression="key"), FieldMapping(field="n", expression="n")]
    return Integration(
        slug="load",
        name="Load",
        inbound=[
            InboundPayload(
                name="Ping",
                content_type="json",
                targets=[Target(name="Ping", object="Ping", operation="upsert", match_key=["key"], mappings=mappings)],
            )
        ],
        apis=[
            ExternalApi(path="ping", payload="Ping", auth="none"),
            ExternalApi(path="ping-signed", payload="Ping", auth="stripe", secret=encrypt(BENCH_SECRET)),  # type: ignore[operator]
        ],
    )


def serve_ours(home: Path, hold: bool = False) -> None:
    from payloads_tui.service.service import Service
    from payloads_tui.service.workspace import Workspace
    from payloads_tui.settings import Limits, Settings

    async def main() -> None:
        workspace = Workspace(Settings(home=home, limits=Limits(outbound_concurrency=1)))
        if not workspace.integrations():
            workspace.create_integration(bench_integration(workspace.encrypt))  # type: ignore[arg-type]
        service = Service(workspace, http=("127.0.0.1", 0), smtp=False, commit_on_loop=True)
        await service.start()
        if hold:  # measure the receiver alone: jobs are logged durably but not processed
            service.executor.submit = lambda job: None  # type: ignore[method-assign]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(f"READY {service.http_url.rsplit(':', 1)[1]}", flush=True)  # type: ignore[union-attr]
        await stop.wait()
        await service.stop()
        workspace.close()

    asyncio.run(main())


def start_server(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", *args], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(b"READY "):
        process.kill()
        raise SystemExit(f"server {args[0]} did not start: {line!r}")
    return process, int(line.split()[1])


# --- measuring ----------------------------------------------------------------------------


def seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise SystemExit(f"cannot read wrk's latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def run_wrk(url: str, connections: int, duration: int, script: Path, env: dict[str, str]) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, timeout=duration + 30, env={**os.environ, **env}, check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50": seconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        "p99": seconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        "requests": requests,
        "errors": int(errors.group(1)) if errors else 0,
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-metric medians of several wrk runs."""
    return {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50", "p99", "requests", "errors")}


def fmt_ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="runs per level; medians are reported")
    parser.add_argument("--hold", action="store_true", help="log jobs but do not process them (receiver alone)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.serve[0] == "bare":
            serve_bare()
        elif args.serve[0] == "bare-durable":
            serve_bare(Path(args.serve[1]))
        else:
            serve_ours(Path(args.serve[1]), hold=args.serve[0] == "held")
        return 0

    from payloads_tui.domain.signatures import stripe_signature_header
    from payloads_tui.store.jobs import JobLog
    from payloads_tui.store.records import RecordStore

    levels = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory(prefix="payloads-bench-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        unique_lua = tmp_path / "unique.lua"
        unique_lua.write_text(LUA_UNIQUE)
        signed_lua = tmp_path / "signed.lua"
        signed_lua.write_text(LUA_SIGNED)
        fsync_p50, fsync_p90 = fsync_latency(tmp_path)
        bare, bare_port = start_server("bare")
        (tmp_path / "durable").mkdir()
        floor, floor_port = start_server("bare-durable", str(tmp_path / "durable"))
        ours, ours_port = start_server("held" if args.hold else "ours", str(home))
        rows = []
        errors = 0
        try:
            warm = {"BENCH_RUN": "warm", "BENCH_KEYS": str(args.keys)}
            run_wrk(f"http://127.0.0.1:{bare_port}/ingest", 4, 1, unique_lua, warm)
            run_wrk(f"http://127.0.0.1:{floor_port}/ingest", 4, 1, unique_lua, warm)
            run_wrk(f"http://127.0.0.1:{ours_port}/api/load/ping", 4, 1, unique_lua, warm)
            if not args.hold:
                wait_drained(ours_port)
            for connections in levels:
                runs: list[tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float], float]] = []
                for round_ in range(args.rounds):  # interleaved, so load from elsewhere hits all alike
                    env = {"BENCH_RUN": f"c{connections}r{round_}", "BENCH_KEYS": str(args.keys)}
                    base = run_wrk(f"http://127.0.0.1:{bare_port}/ingest", connections, args.duration, unique_lua, env)
                    durable = run_wrk(
                        f"http://127.0.0.1:{floor_port}/ingest", connections, args.duration, unique_lua, env
                    )
                    started = time.monotonic()
                    plain = run_wrk(
                        f"http://127.0.0.1:{ours_port}/api/load/ping", connections, args.duration, unique_lua, env
                    )
                    finished = time.monotonic() if args.hold else wait_drained(ours_port)
                    e2e = 0.0 if args.hold else (plain["requests"] - plain["errors"]) / (finished - started)
                    body = json.dumps({"key": "signed", "n": 0, "pad": "x" * 950}).encode()
                    signature = stripe_signature_header(BENCH_SECRET, body, int(time.time()))
                    signed_env = {"BENCH_BODY": body.decode(), "BENCH_SIGNATURE": signature}
                    signed = run_wrk(
                        f"http://127.0.0.1:{ours_port}/api/load/ping-signed", connections, args.duration,
                        signed_lua, signed_env,
                    )
                    if not args.hold:
                        wait_drained(ours_port)
                    runs.append((base, durable, plain, signed, e2e))
                errors += sum(r[i]["errors"] for r in runs for i in range(4))  # type: ignore[index]
                rows.append((connections, *(median_run([r[i] for r in runs]) for i in range(4)),
                             statistics.median(r[4] for r in runs)))
        finally:
            bare.kill()
            floor.kill()
            ours.send_signal(signal.SIGTERM)
            ours.wait(timeout=60)
            bare.wait(timeout=10)
            floor.wait(timeout=10)

        with JobLog(home) as jobs:
            counts = jobs.counts(integration="load", kind="inbound")
        records = RecordStore(home)
        ping_records = records.count("Ping")
        records.close()

    print(f"wrk -t1, {args.duration} s per run, medians of {args.rounds} interleaved rounds, ~1 KB JSON body; "
          "p50/p99 in ms\n")
    print("| conns | bare rps | bare p50/p99 | bare durable rps | its p50/p99 | ours rps | ours p50/p99 "
          "| ours/bare | ours/bare durable | ours+stripe rps | stripe p50/p99 | end-to-end jobs/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for connections, base, durable, plain, signed, e2e in rows:
        print(
            f"| {connections} | {base['rps']:,.0f} | {fmt_ms(base['p50'])} / {fmt_ms(base['p99'])} "
            f"| {durable['rps']:,.0f} | {fmt_ms(durable['p50'])} / {fmt_ms(durable['p99'])} "
            f"| {plain['rps']:,.0f} | {fmt_ms(plain['p50'])} / {fmt_ms(plain['p99'])} "
            f"| {plain['rps'] / base['rps']:.2f} | {plain['rps'] / durable['rps']:.2f} "
            f"| {signed['rps']:,.0f} | {fmt_ms(signed['p50'])} / {fmt_ms(signed['p99'])} "
            f"| {'held' if args.hold else f'{e2e:,.0f}'} |"
        )
    print(f"\nfdatasync of 1 KB here: p50 {fmt_ms(fsync_p50)} ms, p90 {fmt_ms(fsync_p90)} ms "
          "(one group commit per batch of concurrent requests)")
    print(f"non-2xx answers: {errors}; ours' job statuses (load): {counts}; Ping records: {ping_records}")
    bad = {k: v for k, v in counts.items() if k != ("Queued" if args.hold else "Completed") and v}
    if errors or bad:
        print("FAILED: some requests were refused or some jobs did not complete")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
