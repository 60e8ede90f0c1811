"""The `payloads` command: the console by default, and the commands around it.

Every command takes `--data-dir` (also `PAYLOADS_HOME`). Errors of ours
(`PayloadsError`) print one line `error: …` and exit 1; nothing prints a traceback
for bad input.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from payloads_tui import __version__
from payloads_tui.domain.errors import LockedError, NotFoundError, PayloadsError
from payloads_tui.domain.terminaltext import json_text, printable
from payloads_tui.domain.words import counted
from payloads_tui.settings import Settings, default_demo_home, load_settings

F = TypeVar("F", bound=Callable[..., Any])

PASSPHRASE_ENV = "PAYLOADS_BUNDLE_PASSPHRASE"


def fail(message: str) -> None:
    click.echo(printable(f"error: {message}"), err=True)  # it may quote a name or a body from outside
    sys.exit(1)


def reports_errors(func: F) -> F:
    """Turn our errors into one clear line `error: …` and exit code 1 (a usage error stays
    click's: the usage, then the error, exit 2)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LockedError as exc:
            fail(locked_message(exc))
        except PayloadsError as exc:
            fail(str(exc))
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError):
                raise
            fail(exc.format_message())

    return wrapper  # type: ignore[return-value]


def locked_message(exc: LockedError) -> str:
    """Why the data directory is not this command's: a healthy service there is said plainly."""
    from payloads_tui.service.remote import running_service_pid

    pid = running_service_pid(Path(exc.path))
    if pid is None:
        return str(exc)
    names, ctx = [], click.get_current_context()
    while ctx.parent is not None:  # "key rotate", whatever the program is called (python -m payloads_tui)
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(["payloads", *names])
    return (f"a service runs the data directory {exc.path} (process {pid}), and `{command}` needs the directory "
            "to itself: stop that service first")


def _store_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        ctx.ensure_object(dict)["data_dir"] = value
    return value


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    expose_value=False,
    is_eager=True,
    callback=_store_data_dir,
    help="Data directory (default: PAYLOADS_HOME, else the user data directory).",
)


def checked_address(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A `--http`/`--smtp` value, checked as the settings check it: a wrong one is a usage error (exit 2)."""
    from payloads_tui.settings import parse_address

    if value is not None:
        try:
            parse_address(value, "address")
        except PayloadsError as exc:
            raise click.BadParameter(getattr(exc, "reason", str(exc))) from None
    return value


def settings_from(ctx: click.Context, *, demo: bool = False, **overrides: Any) -> Settings:
    """Settings for this invocation: file < environment < flags."""
    data_dir = (ctx.find_root().obj or {}).get("data_dir")
    if data_dir is None and demo and not os.environ.get("PAYLOADS_HOME"):
        data_dir = default_demo_home()
    return load_settings(home=data_dir, **overrides)


def open_workspace(ctx: click.Context, *, read_only: bool = False, demo: bool = False) -> Any:
    from payloads_tui.service.workspace import Workspace

    return Workspace(settings_from(ctx, demo=demo), read_only=read_only)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="payloads")
@data_dir_option
@click.option("--no-service", is_flag=True, help="Open the console read-only, without the service.")
@click.pass_context
def main(ctx: click.Context, no_service: bool) -> None:
    """Payloads console: run integrations between this machine and systems like Stripe.

    With no command, opens the console on the data directory with the service running.
    """
    ctx.ensure_object(dict)
    if ctx.invoked_subcommand is None:
        open_console(ctx, demo=False, service=not no_service)


def open_console(ctx: click.Context, *, demo: bool, service: bool) -> None:
    """Open the Textual console; until it exists, show what the workspace holds."""
    try:
        from payloads_tui.tui.app import run_console
    except ImportError:
        with open_workspace(ctx, demo=demo, read_only=not service) as ws:
            click.echo(f"Data directory: {ws.home}")
            print_integrations(ws)
        return
    run_console(settings_from(ctx, demo=demo), service=service, sandbox=demo)


def print_integrations(ws: Any) -> None:
    integrations = ws.integrations()
    if not integrations:
        click.echo("No integrations yet. 'payloads demo' seeds the Stripe example; 'payloads import' loads a bundle.")
        return
    rows = [("SLUG", "NAME", "INBOUND", "OUTBOUND", "APIS", "EMAILS")]
    for i in integrations:
        rows.append((i.slug, i.name, str(len(i.inbound)), str(len(i.outbound)), str(len(i.apis)), str(len(i.emails))))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip())


@main.command()
@data_dir_option
@click.option("--seed-only", is_flag=True, help="Seed the demo data directory and exit.")
@click.pass_context
@reports_errors
def demo(ctx: click.Context, seed_only: bool) -> None:
    """Seed the Stripe example (if empty) in the demo data directory, then open the console.

    The demo keeps its own data directory (--data-dir, else PAYLOADS_HOME when set, else one
    beside the default data directory), so it never mixes with real integrations.
    """
    from payloads_tui.domain.errors import LockedError

    try:
        with open_workspace(ctx, demo=True) as ws:
            seed = ws.seed_demo()
            home = ws.home
            if seed.seeded:
                click.echo(f"Seeded the Stripe demo in {home} ({seed.records} records).")
            else:
                click.echo(f"Demo data directory {home} already holds integrations; left as it is.")
            if seed_only:
                print_integrations(ws)
                return
    except LockedError as exc:
        if seed_only:
            raise
        # A second `make run` (another terminal, another SSH session): join the running demo.
        holder = f"process {exc.pid}" if exc.pid else "another process"
        click.echo(f"The demo already runs ({holder}); this console attaches to its service.")
    open_console(ctx, demo=True, service=True)


@main.command()
@data_dir_option
@click.pass_context
@reports_errors
def integrations(ctx: click.Context) -> None:
    """List integrations with their payload counts."""
    with open_workspace(ctx, read_only=True) as ws:
        print_integrations(ws)


def passphrase_for(action: str, *, confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"{action} needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal")
    return click.prompt("Bundle passphrase", hide_input=True, confirmation_prompt=confirm)


@main.command("export")
@data_dir_option
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Bundle file (default NAME.json; '-' for standard output).")
@click.option("--with-secrets", is_flag=True, help=f"Include secrets, encrypted under a passphrase ({PASSPHRASE_ENV} or a prompt).")
@click.pass_context
@reports_errors
def export_cmd(ctx: click.Context, name: str, output: Path | None, with_secrets: bool) -> None:
    """Export integration NAME (its slug) with all it holds to a JSON bundle."""
    from payloads_tui.store.bundles import bundle_text

    passphrase = passphrase_for("exporting secrets", confirm=True) if with_secrets else None
    note = "with secrets (passphrase-encrypted)" if with_secrets else "without secrets"
    with open_workspace(ctx, read_only=True) as ws:
        if output == Path("-"):
            click.echo(bundle_text(ws.export_data(name, passphrase=passphrase)), nl=False)
            click.echo(f"Exported {name} to standard output {note}.", err=True)
            return
        path = ws.export(name, output or Path(f"{name}.json"), passphrase=passphrase)
    click.echo(f"Exported {name} to {path} {note}.")


@main.command("import")
@data_dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--on-conflict", type=click.Choice(["skip", "replace", "rename"]), default="skip", show_default=True,
              help="What to do when an integration with the same slug exists.")
@click.pass_context
@reports_errors
def import_cmd(ctx: click.Context, file: Path, on_conflict: str) -> None:
    """Import an integration bundle into this data directory (FILE '-': from standard input)."""
    from payloads_tui.domain.errors import BundleError
    from payloads_tui.store.bundles import parse_bundle, read_bundle

    if file == Path("-"):
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError("standard input is not UTF-8 text; a bundle is a JSON file") from None
        bundle = parse_bundle(text, "standard input")
    else:
        bundle = read_bundle(file)
    passphrase = passphrase_for("this bundle holds secrets and", confirm=False) if bundle.get("secrets") else None
    with writable_workspace(ctx) as (ws, _attached):
        result = ws.import_data(bundle, on_conflict=on_conflict, passphrase=passphrase)
    if result.action == "skipped":
        click.echo("An integration with that slug exists; skipped (use --on-conflict replace or rename).")
        return
    integration = result.integration
    renamed = f" as {result.renamed_to}" if result.renamed_to else ""
    click.echo(f"Imported {integration.name}{renamed} ({result.action}); {result.secrets_imported} secrets imported.")
    if result.schemas_created:
        click.echo(f"Object schemas created: {', '.join(result.schemas_created)}")
    if result.schemas_kept:
        click.echo(f"Object schemas kept as they are here (the bundle's differ; every integration here shares them): "
                   f"{', '.join(result.schemas_kept)}")
    if result.variables_kept:
        click.echo(f"Kept this data directory's values of variables (the bundle's differ): "
                   f"{', '.join(result.variables_kept)}")
    if result.secrets_kept:
        click.echo(f"Kept this data directory's secrets (the bundle left them out): {', '.join(result.secrets_kept)}")
    if result.secrets_missing:
        click.echo(f"Secrets to set (the bundle left them out): {', '.join(result.secrets_missing)}")
    if result.deactivated:
        click.echo(f"Inactive until their secret is set: {', '.join(result.deactivated)}")
    if result.emails_deactivated:
        click.echo(f"Inactive, as another integration receives their address: {', '.join(result.emails_deactivated)}")


@main.group()
def key() -> None:
    """Manage the secret key of the data directory."""


@key.command("rotate")
@data_dir_option
@click.pass_context
@reports_errors
def key_rotate(ctx: click.Context) -> None:
    """Re-encrypt every secret under a new key."""
    with open_workspace(ctx) as ws:
        count = ws.rotate_key()
    click.echo(f"Re-encrypted {count} secrets under the new key.")


@main.command("try")
@data_dir_option
@click.argument("integration")
@click.argument("payload")
@click.argument("file", type=click.File("rb"), required=False)
@click.option("--content-type", help="Content-Type of the sample (default: the payload's).")
@click.option("--job", "job_number", metavar="IN-N",
              help="Use a logged job's body, Content-Type and context (a response handler's record) as the sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--document", "as_document", is_flag=True,
              help="Print the body as parsed (what items and expressions read: an XML or CSV body as JSON).")
@click.pass_context
@reports_errors
def try_cmd(ctx: click.Context, integration: str, payload: str, file: Any, content_type: str | None,
            job_number: str | None, as_json: bool, as_document: bool) -> None:
    """Dry-run inbound PAYLOAD of INTEGRATION on FILE ('-' for stdin) or a job's body: print the planned writes."""
    if (file is None) == (job_number is None):
        raise click.UsageError("give a sample FILE ('-' for standard input) or --job IN-N, one of them")
    with open_workspace(ctx, read_only=True) as ws:
        context = None
        if job_number is not None:
            job = ws.job(job_number)
            body = logged_body(ws, job, "request")
            if content_type is None and job.request is not None:
                content_type = job.request.content_type or None
            context = job.mapping_context()
        else:
            body = file.read()
        outcome = ws.try_inbound(integration, payload, body, content_type=content_type, context=context)
    if as_document and outcome.document is not None:
        import json

        click.echo(json_text(json.dumps(outcome.document, indent=2, ensure_ascii=False, default=str).encode()))
        return
    if as_document:  # it did not parse: the outcome says why
        print_outcome(outcome)
        sys.exit(1)
    if as_json:
        import msgspec

        click.echo(json_text(msgspec.json.encode({
            "status": outcome.status, "error": outcome.error, "note": outcome.note,
            "records_processed": outcome.records_processed, "records_failed": outcome.records_failed,
            "results": outcome.results,
        })))
    else:
        print_outcome(outcome)
    sys.exit(0 if outcome.status != "Failed" else 1)


def print_outcome(outcome: Any) -> None:
    from payloads_tui.domain.models import NOT_WRITTEN

    click.echo(f"{outcome.status}: {outcome.records_processed} planned, {outcome.records_failed} failed (dry run)")
    if outcome.error:
        click.echo(printable(f"  error: {outcome.error}"))
    if outcome.note:
        click.echo(printable(f"  note: {outcome.note}"))
    for r in outcome.results:
        where = f"{r.target} #{r.item}"
        if r.error:
            click.echo(printable(f"  ✗ {where}: {r.error}"))
            continue
        unwritten = f"  ({NOT_WRITTEN})" if outcome.status == "Failed" else ""
        click.echo(f"  {r.operation:<6} {where} → {r.record_id or ''}{unwritten}")
        for field, value in (r.values or {}).items():
            click.echo(f"      {field} = {value!r}")


# --- the service and jobs ----------------------------------------------------------------


def _job_row(job: Any) -> dict[str, Any]:
    response = job.response
    return {
        "number": job.number,
        "integration": job.integration,
        "payload": job.payload,
        "status": job.status,
        "source": job.source,
        "records_processed": job.records_processed,
        "records_failed": job.records_failed,
        "response_code": response.code if response else None,
        "response_message": response.message if response else None,
        "note": job.note,
        "summary": job.summary,
        "created": iso_time(job.created),
        "modified": iso_time(job.modified),
    }


def iso_time(epoch: float | None) -> str | None:
    from datetime import UTC, datetime

    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_time(epoch: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def with_code(code: int | None, text: str | None) -> str:
    """`429 Too Many Requests` from a code and a message that may already start with it."""
    text = text or ""
    if code is None or text.startswith(str(code)):
        return text
    return f"{code} {text}".strip()


def jobs_header() -> str:
    """The head of `jobs`' columns: which time a line shows, in which zone (lines give local time)."""
    import time

    modified = f"MODIFIED ({time.strftime('%Z') or 'local'})"
    return f"{'JOB':<9} {modified:<19}  {'STATUS':<19} INTEGRATION/PAYLOAD  [SOURCE] DETAIL"


def job_line(job: Any) -> str:
    code = ""
    if job.response is not None and job.response.code is not None:
        code = with_code(job.response.code, job.response.message)
    counts = f"{job.records_processed} ok" + (f", {job.records_failed} failed" if job.records_failed else "")
    if job.status in ("Queued", "Processing", "Retrying"):  # nothing written yet: not "0 ok"
        counts = ""
    detail = code if job.kind == "outbound" else counts
    tail = job.error if job.error and job.status in ("Failed", "Retrying") else ""
    if job.note and not (job.records_processed or job.records_failed):  # "nothing was written: …" says it
        detail, tail = "", tail or job.note
    if tail and code and tail.startswith(code):  # "500 Internal Server Error: down after 5 attempts"
        detail = ""
    if job.status == "Retrying" and job.next_attempt_at:  # why it waits: "connection refused (attempt 1 of 5)"
        tail = "; ".join(part for part in (tail, f"next attempt {short_time(job.next_attempt_at)[11:]}") if part)
    said = "  ".join(part for part in (detail, tail, job.summary and f"· {job.summary}") if part)
    what = f"{job.integration}/{job.payload}  [{job.source}]"
    line = f"{job.number:<9} {short_time(job.modified)}  {job.status:<19} {what} {said}"
    return printable(line.rstrip())  # an error or a summary may quote a sender's control characters


#: `payloads serve` logs a job when it reaches one of these.
LOGGED_STATUSES = frozenset({"Completed", "Partially Completed", "Failed", "Cancelled", "Retrying"})


class StatusChanges:
    """Which job events show a status not yet printed for that job (the newest 10,000 jobs remembered).

    An event carries the job as it is when it is handled, not as it was when announced, so
    two events of one job can show the same status; a log prints it once. Each wait to
    retry is new (its next attempt differs), so every wait gets its line.
    """

    def __init__(self, remembered: int = 10_000) -> None:
        self._printed: dict[str, str] = {}
        self._remembered = remembered

    def is_new(self, job: Any) -> bool:
        state = f"Retrying {job.next_attempt_at}" if job.status == "Retrying" else job.status
        if self._printed.get(job.number) == state:
            return False
        self._printed[job.number] = state
        if len(self._printed) > self._remembered:
            del self._printed[next(iter(self._printed))]
        return True


class RefusalLog:
    """Prints refused requests for `payloads serve`: the first at once, a burst's rest counted later."""

    def __init__(self, loop: Any) -> None:
        from payloads_tui.service.refusals import RefusalDigest

        self._loop = loop
        self._digest = RefusalDigest()
        self._flush_due: Any = None

    def offer(self, event: Any) -> None:
        """Take an `AuthRejected` event; from any thread."""
        self._loop.call_soon_threadsafe(self._on_loop, event)

    def flush(self) -> None:
        """Print the count of refusals held back, if any (on the loop)."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        self._print(self._digest.flush())

    def _on_loop(self, event: Any) -> None:
        notice = self._digest.offer(event)
        self._print(notice)
        if notice is None and self._flush_due is None:
            self._flush_due = self._loop.call_later(self._digest.interval, self.flush)

    @staticmethod
    def _print(notice: Any) -> None:
        if notice is not None:
            import time

            whose = f"{notice.integration}: " if notice.integration else ""
            click.echo(printable(f"{'refused':<9} {short_time(time.time())}  {whose}{notice.text}"))


@contextlib.contextmanager
def writable_workspace(ctx: click.Context) -> Iterator[tuple[Any, bool]]:
    """(workspace, attached): this directory opened for writing, or the running service's.

    When a service holds the lock, changes go through its control socket.
    """
    from payloads_tui.domain.errors import LockedError
    from payloads_tui.service.remote import attach

    try:
        ws = open_workspace(ctx)
    except LockedError:
        remote = attach(settings_from(ctx))
        if remote is None:
            raise
        with remote:
            yield remote, True
        return
    with ws:
        yield ws, False


def with_executor(ws: Any, attached: bool, action: Callable[[], Awaitable[Any]]) -> Any:
    """Run `action` with outbound execution available: the running service's, or our own.

    Ctrl+C or SIGTERM stop it in order (our own executor logs what it was doing) and say
    where the jobs stand; exit 130 or 143.
    """
    import asyncio
    import contextlib
    import signal

    from payloads_tui.service.service import Service

    stopped_by: list[int] = []

    async def go() -> Any:
        main_task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
                loop.add_signal_handler(sig, lambda sig=sig: (stopped_by.append(sig), main_task.cancel()))  # type: ignore[union-attr]
        if attached:
            return await action()
        # No receivers: a one-shot command must not take (or fail on) the service's ports;
        # no retention either: pruning is the running service's (or `jobs prune`'s) business.
        # One command's few jobs: processing them in a thread beats starting a worker process.
        # No recovery: the command sends its own jobs, not ones another run left unfinished.
        service = Service(ws, http=False, smtp=False, inbound_worker=False, retention=False, recover=False)
        await service.start()
        try:
            return await action()
        finally:
            await service.stop()

    try:
        return asyncio.run(go())
    except asyncio.CancelledError:
        if not stopped_by:
            raise
    if attached:
        click.echo("Interrupted; the running service goes on with the job (payloads jobs --follow shows it).", err=True)
    else:
        click.echo("Interrupted; a job it did not finish stays Queued or Retrying in the job log, and the "
                   "service sends it when it starts (payloads jobs shows where each stands).", err=True)
    sys.exit(128 + stopped_by[0])


@main.command()
@data_dir_option
@click.option("--http", "http", metavar="HOST:PORT", callback=checked_address,
              help="HTTP receiver address (default 127.0.0.1:8787, PAYLOADS_HTTP).")
@click.option("--smtp", "smtp", metavar="HOST:PORT", callback=checked_address,
              help="SMTP receiver address (default 127.0.0.1:2525, PAYLOADS_SMTP).")
@click.option("--sandbox", is_flag=True, help="Also start the local Stripe-like sandbox API.")
@click.pass_context
@reports_errors
def serve(ctx: click.Context, http: str | None, smtp: str | None, sandbox: bool) -> None:
    """Run the service headless: HTTP and SMTP receivers and outbound execution."""
    import asyncio
    import logging
    import signal
    import time

    from payloads_tui.service.control import ControlServer
    from payloads_tui.service.events import AuthRejected, JobChanged, JobsPruned
    from payloads_tui.service.service import Service

    settings = settings_from(ctx, http=http, smtp=smtp)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("payloads_tui.service.retention").setLevel(logging.INFO)  # what retention dropped

    async def run() -> None:
        with open_workspace(ctx) as ws:
            service = Service(
                ws, http=settings.http_address, smtp=settings.smtp_address, sandbox=sandbox, commit_on_loop=True
            )
            control = ControlServer(ws)

            changes = StatusChanges()

            def log_job(event: Any) -> None:
                job = event.job if isinstance(event, JobChanged) and not event.linked else None
                if job is not None and job.status in LOGGED_STATUSES and changes.is_new(job):
                    click.echo(job_line(job))

            loop = asyncio.get_running_loop()
            refusals = RefusalLog(loop)

            def log_event(event: Any) -> None:
                if isinstance(event, AuthRejected):
                    refusals.offer(event)
                elif isinstance(event, JobsPruned):
                    click.echo(f"{'pruned':<9} {short_time(time.time())}  {event.dropped:,} old jobs dropped from the log")
                else:
                    log_job(event)

            ws.events.subscribe(log_event)
            stop = asyncio.Event()
            # SIGHUP too: a dropped SSH session then stops the service in order. Not when it is
            # ignored already (`nohup payloads serve`), which means: keep running.
            hangup = [signal.SIGHUP] if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN else []
            for sig in (signal.SIGINT, signal.SIGTERM, *hangup):
                loop.add_signal_handler(sig, stop.set)
            await service.start()
            await control.start()
            try:
                click.echo(f"Data directory {ws.home} (pid {os.getpid()})")
                click.echo(f"HTTP receiver  {service.http_url}   External APIs at {service.http_url}/api/<integration>/<path>")
                click.echo(f"SMTP receiver  {service.smtp_address}")
                if getattr(service, "sandbox_url", None):
                    click.echo(f"Sandbox        {service.sandbox_url}")
                for warning in service.exposure_warnings():
                    click.echo(f"warning: {warning}", err=True)
                click.echo("Ctrl+C stops." if sys.stdin.isatty() else "Running; SIGTERM stops.")  # systemd: no Ctrl+C
                await stop.wait()
            finally:
                refusals.flush()
                click.echo("Stopping…")
                await control.stop()
                await service.stop()
                click.echo("Stopped.")

    asyncio.run(run())


@main.command()
@data_dir_option
@click.argument("integration")
@click.argument("payload")
@click.option("--record", "records", multiple=True, metavar="ID", help="Only this record of the first source (repeatable).")
@click.pass_context
@reports_errors
def run(ctx: click.Context, integration: str, payload: str, records: tuple[str, ...]) -> None:
    """Run outbound PAYLOAD of INTEGRATION now and wait; exit 0 on success, else 1."""
    record_ids = list(records) or None
    with writable_workspace(ctx) as (ws, attached):
        jobs = with_executor(ws, attached, lambda: ws.run_outbound(
            integration, payload, record_ids=record_ids, source="CLI", wait=True))
    if not jobs and record_ids:  # a source limit of 0, say: the records exist and pass the filter
        click.echo("Nothing sent: the payload built no request for the records given.", err=True)
        sys.exit(1)
    if not jobs:
        click.echo("Nothing to send: the payload's sources matched no records.")
    for job in jobs:
        click.echo(job_line(job))
    sys.exit(0 if all(j.status == "Completed" for j in jobs) else 1)


@main.group(invoke_without_command=True)
@data_dir_option
@click.option("--integration", help="Only jobs of this integration (slug).")
@click.option("--status", "statuses", multiple=True, help="Only jobs with this status (repeatable), e.g. Failed.")
@click.option("--kind", type=click.Choice(["inbound", "outbound"]), help="Only inbound or outbound jobs.")
@click.option("--payload", help="Only jobs of this payload.")
@click.option("--text", help="Only jobs whose number, payload, status, source, error or summary (an email's subject "
                   "and sender) contains this.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--follow", is_flag=True, help="Keep printing jobs as they arrive and change.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
@click.pass_context
@reports_errors
def jobs(ctx: click.Context, integration: str | None, statuses: tuple[str, ...], kind: str | None,
         payload: str | None, text: str | None, limit: int, follow: bool, as_json: bool) -> None:
    """List jobs, newest first (subcommands: show, retry, replay, prune)."""
    if ctx.invoked_subcommand is not None:
        return
    import msgspec

    def emit(job: Any) -> None:
        if as_json:
            click.echo(json_text(msgspec.json.encode(_job_row(job))))
        else:
            click.echo(job_line(job))

    statuses = tuple(job_status(name) for name in statuses)
    with open_workspace(ctx, read_only=True) as ws:
        client = follow_client(ws) if follow else None  # refused before anything is listed
        found = ws.newest_jobs(kind, integration=integration, statuses=statuses or None, payload=payload,
                               text=text, limit=limit)
        if not found and integration is not None:
            slugs = [known.slug for known in ws.integrations()]
            if integration not in slugs:  # a deleted integration's jobs are still listed by its slug
                raise click.ClickException(
                    f"no integration {integration!r} here, and no jobs of one by that name "
                    f"(integrations: {', '.join(slugs) or 'none yet'})"
                )
        if not as_json and (found or follow):
            click.echo(jobs_header())
        for job in reversed(found) if follow else found:
            emit(job)
        if not found and not as_json:
            filtered = integration or statuses or kind or payload or text
            click.echo("No jobs match these filters." if filtered else "No jobs yet.", err=True)
        if client is not None:
            follow_jobs(client, emit, integration=integration, statuses=set(statuses), kind=kind, payload=payload)


def job_status(name: str) -> str:
    """A job status as the log spells it, from any case (`failed` → `Failed`); an unknown one is an error."""
    from typing import get_args

    from payloads_tui.domain.models import JobStatus

    known = get_args(JobStatus)
    wanted = " ".join(name.split()).lower()
    for status in known:
        if status.lower() == wanted:
            return status
    raise click.BadParameter(f"{name!r} is not a job status; use one of {', '.join(known)}", param_hint="--status")


def follow_client(ws: Any) -> Any:
    """The running service's control client, for `--follow`; a clear error when none runs."""
    from payloads_tui.service.control import ControlClient

    client = ControlClient(ws.home)
    if not client.available():
        raise click.ClickException("--follow needs a running service on this data directory ('payloads serve')")
    return client


def follow_jobs(client: Any, emit: Callable[[Any], None], *, integration: str | None, statuses: set[str],
                kind: str | None, payload: str | None) -> None:
    """Print job events from the running service until Ctrl+C (exit 0) or until it stops (exit 1)."""
    import asyncio

    from payloads_tui.service.events import JobChanged

    changes = StatusChanges()

    def deliver(event: Any) -> None:
        if not isinstance(event, JobChanged) or event.linked:
            return
        job = event.job
        if integration and job.integration != integration or kind and job.kind != kind:
            return
        if payload and job.payload != payload or statuses and job.status not in statuses:
            return
        if changes.is_new(job):
            emit(job)

    try:
        asyncio.run(client.events(deliver))
    except KeyboardInterrupt:
        return
    except OSError as exc:
        raise click.ClickException(f"lost the running service ({exc.strerror or exc}); no more jobs to follow") from None
    click.echo("The service stopped; no more jobs to follow.", err=True)
    sys.exit(1)


@jobs.command("show")
@data_dir_option
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="The whole job as JSON.")
@click.option("--body", type=click.Choice(["request", "response"]),
              help="Print only this body, whole and byte for byte (to save it or pipe it on).")
@click.option("--attachment", metavar="N|NAME",
              help="Print only this attachment of an email's job, by its number in the list or its filename.")
@click.pass_context
@reports_errors
def jobs_show(ctx: click.Context, number: str, as_json: bool, body: str | None, attachment: str | None) -> None:
    """Show one job: status, request, response, records, attempts, links."""
    if sum(map(bool, (as_json, body, attachment))) > 1:
        raise click.UsageError("--json, --body and --attachment print different things: choose one")
    with open_workspace(ctx, read_only=True) as ws:
        job = ws.job(number)
        if body:
            click.echo(logged_body(ws, job, body), nl=False)  # bytes: written as they are
            return
        if attachment:
            click.echo(ws.job_attachment(job, attachment)[1], nl=False)
            return
        if as_json:
            import msgspec

            if job.data_blob:  # whole, as its bodies are not: records are what a script reads
                job.data_queried = ws.job_data(job)
            click.echo(json_text(msgspec.json.encode(job)))
            return
        click.echo(format_job(ws, job))


def logged_body(ws: Any, job: Any, which: Literal["request", "response"]) -> bytes:
    """A job's logged request or response body, or a `PayloadsError` saying why there is none."""
    exchange = job.request if which == "request" else job.response
    if exchange is None:
        raise PayloadsError(f"{job.number} has no {which} logged")
    body = ws.job_body(job, which)  # a blob gone from the data directory raises NotFoundError, saying so
    if not body:
        raise PayloadsError(f"the {which} of {job.number} has no body")
    return body


def format_job(ws: Any, job: Any) -> str:
    from payloads_tui.domain.emailjob import attachment_text, attachments_of, envelope_text
    from payloads_tui.domain.formats.charset import readable_text

    lines = [f"{job.number}  {job.status}  {job.integration} / {job.payload}  (source: {job.source})",
             f"created {iso_time(job.created)}   modified {iso_time(job.modified)}"]
    if job.summary:
        lines.append(f"summary: {job.summary}")
    if envelope := envelope_text(job):
        lines.append(f"envelope: {envelope}")
    if job.error:
        lines.append(f"error: {job.error}")
    if job.note:
        lines.append(f"note: {job.note}")
    if job.status == "Retrying" and job.next_attempt_at:
        lines.append(f"next attempt {iso_time(job.next_attempt_at)}")
    if job.timings:
        lines.append("timings: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in job.timings.items()))
    if job.context.get("pages"):
        lines.append(f"pages: {job.context['pages']} (the request below is the first page's, the response "
                     "the last page's; each page went to the response handler as its own job)")
    data = ws.job_data(job) if job.data_blob else job.data_queried
    if data:
        import json

        lines.append(f"--- data queried: {counted(len(data), 'record')}")
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        lines.append(text if len(text) <= 4000 else text[:4000] + f"\n… ({len(text)} characters in all; --json shows all)")
    for title, exchange, which in (("request", job.request, "request"), ("response", job.response, "response")):
        if exchange is None:
            continue
        head = f"{exchange.method} {exchange.url}".strip() if title == "request" else with_code(exchange.code, exchange.message)
        if title == "request" and job.source == "Response Handler":  # what it processed: the answer to its parent
            answer = with_code(exchange.code, exchange.message)
            title, head = f"answer to {job.links.parent or 'the outbound job'}", f"{answer} to {head}".strip()
        lines.append(f"--- {title}: {head}")
        for name, value in exchange.headers.items():
            lines.append(f"{name}: {value}")
        try:
            body = ws.job_body(job, which)
        except NotFoundError as exc:
            lines += ["", f"(body of {exchange.body_size} bytes not shown: {exc})"]
            continue
        if body:
            text = readable_text(body, exchange.content_type)
            lines.append("")
            lines.append(text if len(text) <= 4000 else text[:4000]
                         + f"\n… ({len(body)} bytes in all; --body {which} prints it whole)")
    if attachments := attachments_of(job):
        lines.append(f"--- attachments: {len(attachments)} (--attachment N prints one)")
        lines += [f"  {n}. {attachment_text(a)}" for n, a in enumerate(attachments, 1)]
    if job.results:
        from payloads_tui.domain.models import NOT_WRITTEN

        lines.append(f"--- records: {job.records_processed} ok, {job.records_failed} failed")
        failed = job.status == "Failed"
        for r in job.results:
            mark, why = ("✗", r.error) if r.error else ("–", f"({NOT_WRITTEN})") if failed else ("✓", "")
            lines.append("  " + " ".join(part for part in (mark, f"{r.target} #{r.item}", r.operation, r.record_id, why) if part))
    if job.attempts:
        lines.append("--- attempts")
        for a in job.attempts:
            lines.append(f"  #{a.number} {iso_time(a.started)} {with_code(a.response_code, a.error)}".rstrip())
    links = job.links
    related = [("from", links.parent), ("original", links.original)]
    related += [("started", c) for c in links.children] + [("rerun", r) for r in links.reruns]
    if any(n for _, n in related):
        lines.append("--- links: " + ", ".join(f"{k} {n}" for k, n in related if n))
    return printable("\n".join(lines))  # bodies, subjects and errors may hold a sender's control characters


def _rerun(ctx: click.Context, number: str, op: str) -> None:
    with writable_workspace(ctx) as (ws, attached):
        method = ws.retry_job if op == "retry" else ws.replay_job
        job = with_executor(ws, attached, lambda: method(number, wait=True))
    click.echo(job_line(job))
    sys.exit(0 if job.status in ("Completed", "Partially Completed") else 1)


@jobs.command("retry")
@data_dir_option
@click.argument("number")
@click.pass_context
@reports_errors
def jobs_retry(ctx: click.Context, number: str) -> None:
    """Run a job again, rebuilt from its payload and the current records."""
    _rerun(ctx, number, "retry")


@jobs.command("replay")
@data_dir_option
@click.argument("number")
@click.pass_context
@reports_errors
def jobs_replay(ctx: click.Context, number: str) -> None:
    """Resend exactly what a job logged (its request or body)."""
    _rerun(ctx, number, "replay")


@jobs.command("prune")
@data_dir_option
@click.option("--days", type=click.FloatRange(min=0),
              help="Drop jobs older than this many days; 0 drops every job it can, unlike the setting, where 0 "
                   "means never (default: limits.retention_days).")
@click.option("--keep", type=click.IntRange(min=0),
              help="Keep at most this many jobs; 0 drops every job it can, unlike the setting, where 0 means no "
                   "limit (default: limits.retention_jobs).")
@click.pass_context
@reports_errors
def jobs_prune(ctx: click.Context, days: float | None, keep: int | None) -> None:
    """Drop old jobs (whole segments of the log) by age and count."""
    from payloads_tui.service.retention import retention_limits

    default_days, default_keep = retention_limits(settings_from(ctx).limits)
    days = days if days is not None else default_days
    keep = keep if keep is not None else default_keep
    if days is None and keep is None:
        raise click.UsageError("no retention is set: give --days or --keep (or set limits.retention_days or limits.retention_jobs)")
    with writable_workspace(ctx) as (ws, _attached):
        dropped = ws.prune_jobs(max_age_days=days, max_jobs=keep)
        kept = sum(ws.job_counts().values())
    why = ("the log drops whole segments of older jobs, and never the newest one "
           "(the open segment, up to a few thousand jobs)")
    if not dropped:
        click.echo(f"Dropped no jobs: {why}.")
    elif keep is not None and kept > keep:
        click.echo(f"Dropped {counted(dropped, 'job')}; kept {kept:,}, more than --keep {keep:,}: {why}.")
    else:
        click.echo(f"Dropped {counted(dropped, 'job')}; kept {kept:,}.")


def running_smtp(settings: Any) -> tuple[str, int] | None:
    """Where the service running on the data directory receives mail, if one runs with SMTP on."""
    from payloads_tui.service.remote import attach
    from payloads_tui.settings import parse_address

    remote = attach(settings)
    if remote is None:
        return None
    address = remote.service_status().get("smtp")
    return parse_address(address, "smtp") if address else None


@main.command("send-email")
@data_dir_option
@click.option("--to", "to", multiple=True, required=True, help="Recipient address (repeatable).")
@click.option("--from", "sender", default="developer@localhost", show_default=True)
@click.option("--subject", default="Test from payloads", show_default=True)
@click.option("--body", help="Text of the message.")
@click.option("--file", "body_file", type=click.File("rb"), help="Read the text from this file ('-' for stdin).")
@click.option("--html", "html_file", type=click.File("rb"),
              help="Also send this HTML file as the message's HTML alternative ('-' for stdin); without "
                   "--body or --file, the text part is this HTML as text.")
@click.option("--attach", "attachments", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Attach this file (repeatable).")
@click.option("--smtp", "smtp", metavar="HOST:PORT", callback=checked_address,
              help="SMTP receiver to send to (default: that of the service running on the data directory, "
                   "else the configured one).")
@click.pass_context
@reports_errors
def send_email(ctx: click.Context, to: tuple[str, ...], sender: str, subject: str, body: str | None,
               body_file: Any, html_file: Any, attachments: tuple[Path, ...], smtp: str | None) -> None:
    """Send a test email to the local SMTP receiver."""
    from payloads_tui.domain.formats.htmltext import html_to_text
    from payloads_tui.service.mail import send_email as deliver

    if body is not None and body_file is not None:
        raise click.UsageError("give --body or --file, not both")
    if body_file is not None and html_file is not None and body_file.name == html_file.name == "<stdin>":
        raise click.UsageError("--file and --html cannot both read standard input")
    html = utf8_text(html_file, "--html") if html_file is not None else None
    if body_file is not None:
        text = utf8_text(body_file, "--file")
    elif body is not None:
        text = body
    else:
        text = html_to_text(html) if html is not None else "Hello from payloads."
    settings = settings_from(ctx, smtp=smtp)
    host, port = settings.smtp_address if smtp else running_smtp(settings) or settings.smtp_address
    to = tuple(address.strip() for address in to)
    reply = deliver(host, port, to=list(to), sender=sender.strip(), subject=subject, body=text, html=html,
                    attachments=list(attachments))
    click.echo(f"Sent to {', '.join(to)} via {host}:{port}: {reply}")


def utf8_text(stream: Any, option: str) -> str:
    """The text of a file given to `option`; a file that is not UTF-8 is a clear error, not a traceback."""
    data = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{option} {stream.name}: not UTF-8 text (byte {exc.start}); save it as "
                                   "UTF-8") from None


from payloads_tui.cli import objects as _objects  # noqa: E402, F401 - registers `records` and `schemas`
