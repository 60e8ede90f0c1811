"""Benchmark: emails/s through our SMTP receiver (jobs durably logged) against a bare aiosmtpd, same run.

Both servers run in child processes on 127.0.0.1, each on an asyncio loop with
aiosmtpd's `SMTP` protocol created by `loop.create_server`:

- bare: a handler whose `handle_DATA` drops the message and answers 250;
- ours: `Service` of a demo workspace (SMTP + HTTP for /healthz): RCPT checks the
  Email Services, DATA answers `250 OK: queued as IN-n` once the job is durable;
  processing turns each message into a `Task` record (upsert on Message-ID, cycling
  over `--keys` ids so the table stays that size).

Clients: `smtplib` in threads of this process, one connection each, reused for
every message (RSET-free MAIL/RCPT/DATA), ~2 KB messages, for `--duration` seconds.
Each message is a template built once with `EmailMessage`, its number put in by a
bytes replace: building one with `EmailMessage` per send cost the client ~1.4 ms of
CPU, held the clients' GIL and capped the bare server at the client's pace (~300/s
here), which made ours/bare read higher than it is. `--build-each` restores that.
Reports messages/s, ours / bare (target >= 0.6), and the end-to-end rate of ours:
accepted messages / time until every job is finished. The two servers are measured
in alternating slices (`--slices`), ours drained after each, so that a shared
machine's changing load falls on both alike. With `--hold`, jobs are logged but not
processed: the receiver alone.

    .venv/bin/python bench/smtp_ingest.py [--duration 5] [--slices 5] [--clients 1,8] [--keys 1000] [--hold]
                                          [--build-each]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servicebench import fsync_latency, wait_drained  # noqa: E402

RECIPIENT = "billing@payloads.localhost"


# --- the servers (child processes) ------------------------------------------------------


def serve_bare() -> None:
    from aiosmtpd.smtp import SMTP

    class Drop:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
            return "250 OK"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Drop(), hostname="bare.localhost", data_size_limit=25 * 1024 * 1024, loop=loop),
            "127.0.0.1", 0,
        )
        print(f"READY {server.sockets[0].getsockname()[1]} 0", flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(main())


def serve_ours(home: Path, hold: bool = False) -> None:
    from payloads_tui.service.service import Service
    from payloads_tui.service.workspace import Workspace
    from payloads_tui.settings import Limits, Settings

    async def main() -> None:
        workspace = Workspace(Settings(home=home, limits=Limits(outbound_concurrency=1)))
        workspace.seed_demo()
        service = Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", 0), commit_on_loop=True)
        await service.start()
        if hold:  # measure the receiver alone: jobs are logged durably but not processed
            service.executor.submit = lambda job: None  # type: ignore[method-assign]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        smtp_port = service.smtp_host_port[1]  # type: ignore[index]
        http_port = service.http_url.rsplit(":", 1)[1]  # type: ignore[union-attr]
        print(f"READY {smtp_port} {http_port}", flush=True)
        await stop.wait()
        await service.stop()
        workspace.close()

    asyncio.run(main())


def start_server(*args: str) -> tuple[subprocess.Popen[bytes], int, int]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", *args], stdout=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(b"READY "):
        process.kill()
        raise SystemExit(f"server {args[0]} did not start: {line!r}")
    _, smtp_port, http_port = line.split()
    return process, int(smtp_port), int(http_port)


# --- measuring ----------------------------------------------------------------------------


def message(n: int, keys: int) -> bytes:
    """Message `n`, built with `EmailMessage` (~1.4 ms)."""
    msg = EmailMessage()
    msg["From"] = "bench@example.com"
    msg["To"] = RECIPIENT
    msg["Subject"] = f"Invoice {n} is overdue"
    msg["Message-ID"] = f"<bench-{n % keys}@example.com>"
    msg.set_content(("Please pay the invoice attached to this reminder. " * 40)[:1800])
    return msg.as_bytes(policy=SMTP_POLICY)


_TEMPLATE = message(999_999_999, 1_000_000_000_000).replace(b"999999999", b"{n}")


def quick_message(n: int, keys: int) -> bytes:
    """The same bytes as `message(n, keys)`, from a template (~1 µs)."""
    return _TEMPLATE.replace(b"Invoice {n}", b"Invoice %d" % n).replace(b"bench-{n}@", b"bench-%d@" % (n % keys))


MAKE_MESSAGE = quick_message


def send_for(port: int, seconds: float, keys: int, offset: int, sent: list[int], failures: list[str]) -> None:
    count = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                client.sendmail("bench@example.com", [RECIPIENT], MAKE_MESSAGE(offset + count, keys))
                count += 1
    except (smtplib.SMTPException, OSError) as exc:
        failures.append(repr(exc))
    sent.append(count)


def measure(port: int, clients: int, seconds: float, keys: int, offset: int) -> tuple[int, float, list[str]]:
    """Messages sent by `clients` for `seconds`, the time it took, and the clients' failures."""
    sent: list[int] = []
    failures: list[str] = []
    threads = [
        threading.Thread(target=send_for, args=(port, seconds, keys, offset + i * 1_000_000, sent, failures))
        for i in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.monotonic() - started
    return sum(sent), elapsed, failures


def compare(
    ports: tuple[int, int, int], clients: int, args: argparse.Namespace, offset: int
) -> tuple[float, float, float, list[str]]:
    """bare msg/s, ours msg/s, ours end-to-end msg/s: the two measured in alternating slices.

    On a shared machine the load changes from second to second; alternating short
    slices (ours drained after each, off the clock) exposes both to the same load.
    """
    bare_port, ours_port, http_port = ports
    seconds = args.duration / args.slices
    bare_sent = ours_sent = 0
    bare_time = ours_time = ours_until_done = 0.0
    failures: list[str] = []
    for number in range(args.slices):
        sent, elapsed, failed = measure(bare_port, clients, seconds, args.keys, offset + number * 100_000)
        bare_sent, bare_time, failures = bare_sent + sent, bare_time + elapsed, failures + failed
        started = time.monotonic()
        sent, elapsed, failed = measure(ours_port, clients, seconds, args.keys, offset + number * 100_000)
        ours_sent, ours_time, failures = ours_sent + sent, ours_time + elapsed, failures + failed
        if not args.hold:
            ours_until_done += wait_drained(http_port) - started
    e2e = ours_sent / ours_until_done if ours_until_done else 0.0
    return bare_sent / bare_time, ours_sent / ours_time, e2e, failures






def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds of sending to each server, per row")
    parser.add_argument("--slices", type=int, default=5, help="alternate bare and ours this many times per row")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--hold", action="store_true", help="log jobs but do not process them (receiver alone)")
    parser.add_argument("--build-each", action="store_true", help="build every message with EmailMessage (slow client)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global MAKE_MESSAGE
    if args.build_each:
        MAKE_MESSAGE = message
    if args.serve:
        if args.serve[0] == "bare":
            serve_bare()
        else:
            serve_ours(Path(args.serve[1]), hold=args.serve[0] == "held")
        return 0

    from payloads_tui.store.jobs import JobLog

    rows = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="payloads-bench-") as tmp:
        home = Path(tmp) / "home"
        fsync_p50, fsync_p90 = fsync_latency(Path(tmp))
        bare, bare_port, _ = start_server("bare")
        ours, ours_port, http_port = start_server("held" if args.hold else "ours", str(home))
        offset = 0
        try:
            measure(bare_port, 2, 1, args.keys, offset)  # warm up both
            measure(ours_port, 2, 1, args.keys, offset)
            if not args.hold:
                wait_drained(http_port)
            for clients in [int(c) for c in args.clients.split(",")]:
                offset += 10_000_000
                base_rate, ours_rate, e2e, failed = compare((bare_port, ours_port, http_port), clients, args, offset)
                failures += failed
                rows.append((clients, base_rate, ours_rate, e2e))
        finally:
            bare.send_signal(signal.SIGTERM)
            ours.send_signal(signal.SIGTERM)
            ours.wait(timeout=60)
            bare.wait(timeout=10)
        with JobLog(home) as jobs:
            counts = jobs.counts(kind="inbound")

    built = "built with EmailMessage per send" if args.build_each else "from a template"
    print(f"smtplib in threads, one reused connection each, ~2 KB messages ({built}), {args.duration:g} s per server "
          f"per row in {args.slices} alternating slices\n")
    print("| clients | bare msg/s | ours msg/s | ours/bare | end-to-end msg/s |")
    print("|---|---|---|---|---|")
    for clients, base_rate, ours_rate, e2e in rows:
        shown = "held" if args.hold else f"{e2e:,.0f}"
        print(f"| {clients} | {base_rate:,.0f} | {ours_rate:,.0f} | {ours_rate / base_rate:.2f} | {shown} |")
    print(f"\nfdatasync of 1 KB here: p50 {fsync_p50 * 1000:.2f} ms, p90 {fsync_p90 * 1000:.2f} ms "
          "(each DATA waits for one group commit)")
    print(f"client failures: {len(failures)} {failures[:3]}; ours' job statuses: {counts}")
    bad = {k: v for k, v in counts.items() if k != ("Queued" if args.hold else "Completed") and v}
    return 1 if failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())
