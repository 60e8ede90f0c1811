"""`Workspace`: a data directory opened — the one object the TUI and the CLI talk to.

It owns the stores (configuration, records, history, jobs), the vault and the writer
lock, and offers every operation the UI needs in the user's terms. A workspace opened
`read_only` takes no lock and refuses changes, so `payloads jobs` and friends work
while a service runs on the same directory.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Literal

from payloads_tui.domain.errors import NotFoundError, PayloadsError, ServiceError, ValidationError
from payloads_tui.domain.emailjob import find_attachment
from payloads_tui.domain.formats.emailfmt import with_message_id
from payloads_tui.domain.models import (
    HistoryEntry,
    InboundPayload,
    Integration,
    Job,
    JobKind,
    ObjectSchema,
)
from payloads_tui.domain.signatures import generate_token, hash_token, hmac_signature, stripe_signature_header
from payloads_tui.engine.events import ConfigChanged, EventBus, JobsPruned
from payloads_tui.engine.inbound import InboundOutcome, InboundProcessor
from payloads_tui.engine.requestbuild import record_filter
from payloads_tui.service.refusals import Refusal, RecentRefusals
from payloads_tui.settings import Settings, default_demo_home
from payloads_tui.store.bundles import ImportResult, export_bundle, import_bundle, read_bundle, write_bundle
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.demo import DemoSeed, seed_demo
from payloads_tui.store.history import HistoryLog
from payloads_tui.store.jobformat import job_number
from payloads_tui.store.jobs import JobLog
from payloads_tui.store.lock import DataDirLock
from payloads_tui.store.records import RecordStore
from payloads_tui.store.storage import ensure_private_dir
from payloads_tui.store.vault import Vault

ConflictPolicy = Literal["skip", "replace", "rename"]


class ReadOnlyError(PayloadsError):
    """A change was asked of a workspace opened read-only."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises several kinds when no user is known
        return "unknown"


class Workspace:
    """A data directory opened for the console, the CLI or the service."""

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.read_only = read_only
        self.events = EventBus()
        self.refusals = RecentRefusals()
        self.events.subscribe(self.refusals.offer)
        self._lock: DataDirLock | None = None
        if read_only and not self.home.is_dir():
            raise NotFoundError(f"no data directory at {self.home}: `payloads` or `payloads serve` makes it; for "
                                "another one give --data-dir or PAYLOADS_HOME (`payloads demo` keeps its own, "
                                f"{default_demo_home()})")
        ensure_private_dir(self.home)
        if not read_only:
            self._lock = DataDirLock(self.home)
            self._lock.acquire()
        try:
            self.user = current_user()
            self.vault = Vault(self.home)
            self.history_log = HistoryLog(self.home)
            self.config = ConfigStore(self.home, self.history_log, user=self.user)
            # Shared: the service's inbound worker process writes records too (engine/inboundworker.py),
            # and a read-only console reads what the service that owns the directory writes.
            self.records = RecordStore(self.home, shared=True)
            self.jobs = JobLog(self.home, blob_threshold=settings.limits.blob_threshold, read_only=read_only)
            self.inbound = InboundProcessor(self.records, self.config.schema)
        except BaseException:
            self.close()
            raise

    # --- life cycle --------------------------------------------------------------------

    def close(self) -> None:
        for name in ("jobs", "records", "config", "history_log"):
            store = getattr(self, name, None)
            if store is not None:
                store.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                "this console is read-only (opened with --no-service or while a service runs); "
                "make changes in the console that runs the service"
            )

    # --- integrations and schemas ------------------------------------------------------

    def integrations(self) -> list[Integration]:
        return self.config.integrations()

    def integration(self, slug: str) -> Integration:
        return self.config.get(slug)

    def create_integration(self, integration: Integration) -> Integration:
        self._writable()
        created = self.config.create(integration)
        self.events.publish(ConfigChanged(created.slug, "create"))
        return created

    def save_integration(self, integration: Integration) -> Integration:
        self._writable()
        saved = self.config.save(integration)
        self.events.publish(ConfigChanged(saved.slug, "update"))
        return saved

    def delete_integration(self, slug: str) -> Integration:
        self._writable()
        deleted = self.config.delete(slug)
        self.events.publish(ConfigChanged(slug, "delete"))
        return deleted

    def schemas(self) -> list[ObjectSchema]:
        return self.config.schemas()

    def save_schema(self, schema: ObjectSchema) -> ObjectSchema:
        self._writable()
        saved = self.config.save_schema(schema)
        self.events.publish(ConfigChanged(None, "update"))
        return saved

    def delete_schema(self, name: str) -> None:
        """Drop the object schema `name` (its records stay); refused while a target or source uses the object."""
        self._writable()
        self.config.delete_schema(name)
        self.events.publish(ConfigChanged(None, "update"))

    def history(self, integration: str | None = None, text: str | None = None, limit: int = 500) -> list[HistoryEntry]:
        return self.history_log.entries(integration=integration, text=text, limit=limit)

    # --- secrets -----------------------------------------------------------------------

    def encrypt(self, plaintext: str) -> str:
        """Vault ciphertext for a secret typed into a form."""
        return self.vault.encrypt(plaintext)

    def new_api_token(self) -> tuple[str, str]:
        """A fresh External API token and its stored hash; the token is shown once."""
        token = generate_token()
        return token, hash_token(token)

    def reveal_secret(self, slug: str, credential: str, field: str) -> str:
        """Plaintext of a credential secret; the reveal is written to history."""
        self._writable()
        integration = self.config.get(slug)
        cred = integration.credential(credential)
        if cred is None:
            raise NotFoundError(f"integration {slug!r} has no credential {credential!r}")
        if field not in cred.secrets:
            raise NotFoundError(f"credential {credential!r} has no secret {field!r}")
        plaintext = self.vault.decrypt(cred.secrets[field])
        self.history_log.record(
            [HistoryEntry(user=self.user, action="reveal", integration=slug, kind="credential", name=credential,
                          changes=[])]
        )
        return plaintext

    def sign_api_request(self, slug: str, method: str, path: str, body: bytes, timestamp: int) -> str:
        """The signature header value a request with `body` to a signed External API needs (for a
        ready `curl`). The signing secret never leaves this process; the signing is written to history."""
        self._writable()
        integration = self.config.get(slug)
        api = integration.api(path, method)
        if api is None:
            raise NotFoundError(f"integration {slug!r} has no External API {method} {path}")
        if api.auth not in ("stripe", "hmac") or not api.secret:
            raise NotFoundError(f"External API {method} {path} has no signing secret (auth: {api.auth})")
        secret = self.vault.decrypt(api.secret)
        value = (stripe_signature_header(secret, body, timestamp) if api.auth == "stripe"
                 else hmac_signature(secret, body))
        self.history_log.record(
            [HistoryEntry(user=self.user, action="sign", integration=slug, kind="external API",
                          name=f"{method} {path}", changes=[])]
        )
        return value

    def rotate_key(self) -> int:
        """Re-encrypt every secret under a new key; returns how many."""
        self._writable()
        return self.vault.rotate(self.config.reencrypt)

    # --- bundles -----------------------------------------------------------------------

    def export(self, slug: str, path: Path, *, passphrase: str | None = None) -> Path:
        write_bundle(path, self.export_data(slug, passphrase=passphrase))
        return path

    def export_data(self, slug: str, *, passphrase: str | None = None) -> dict[str, Any]:
        """The bundle of `slug` (secrets left out, or encrypted under `passphrase`), not written anywhere."""
        return export_bundle(self.config, self.vault, slug, passphrase=passphrase)

    def import_(self, path: Path, *, on_conflict: ConflictPolicy = "skip", passphrase: str | None = None) -> ImportResult:
        return self.import_data(read_bundle(path), on_conflict=on_conflict, passphrase=passphrase)

    def import_data(self, bundle: dict[str, Any], *, on_conflict: ConflictPolicy = "skip",
                    passphrase: str | None = None) -> ImportResult:
        self._writable()
        result = import_bundle(self.config, self.vault, bundle, on_conflict=on_conflict, passphrase=passphrase)
        if result.integration is not None:
            self.events.publish(ConfigChanged(result.integration.slug, "import"))
        return result

    # --- demo --------------------------------------------------------------------------

    def seed_demo(self) -> DemoSeed:
        self._writable()
        return seed_demo(self.config, self.records, self.vault)

    # --- records -----------------------------------------------------------------------

    def record_objects(self) -> list[str]:
        return sorted(set(self.records.objects()) | {s.name for s in self.config.schemas()})

    def record_counts(self) -> dict[str, int]:
        """How many records each object holds (objects with a schema and none yet: 0)."""
        return {obj: self.records.count(obj) for obj in self.record_objects()}

    def list_records(
        self, obj: str, *, limit: int | None = 200, offset: int = 0, where: str = ""
    ) -> list[dict[str, Any]]:
        """Records of `obj`, the last updated first; `where`: a source filter they match (before `limit`)."""
        keep = record_filter(where, "the") if where.strip() else None
        return self.records.query(obj, keep, sort="updated_at", descending=True, limit=limit, offset=offset)

    # --- inbound -----------------------------------------------------------------------

    def inbound_payload(self, slug: str, name: str) -> tuple[Integration, InboundPayload]:
        integration = self.config.get(slug)
        payload = integration.inbound_payload(name)
        if payload is None:
            known = ", ".join(p.name for p in integration.inbound) or "none"
            raise NotFoundError(f"integration {slug!r} has no inbound payload {name!r} (it has: {known})")
        return integration, payload

    def credential_value(self, integration: Integration) -> Callable[[str, str], str]:
        """Reads a credential field for mappings that take values from a credential."""

        def read(credential: str, field: str) -> str:
            cred = integration.credential(credential)
            if cred is None:
                raise NotFoundError(f"no credential named {credential!r}")
            if field in cred.secrets:
                return self.vault.decrypt(cred.secrets[field])
            if field in cred.fields:
                return cred.fields[field]
            raise ValidationError(f"credential {credential!r} has no field {field!r}")

        return read

    def try_inbound(
        self,
        slug: str,
        payload: str | InboundPayload,
        body: bytes,
        *,
        content_type: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> InboundOutcome:
        """Dry run: what `body` would write, without touching the store. `context` is what a
        mapping of source `context` reads (a response handler's `record`): a logged job's
        `Job.mapping_context()` dry-runs its body as processing ran it.

        An email without a `Message-ID` gets one, as the SMTP receiver gives it: a payload
        matching on it would otherwise fail here and succeed on delivery.
        """
        if isinstance(payload, str):
            integration, payload = self.inbound_payload(slug, payload)
        else:
            integration = self.config.get(slug)
        if payload.content_type == "email":
            body = with_message_id(body, self.settings.smtp_hostname)
        return self.inbound.run_body(
            integration, payload, body, content_type=content_type, context=context, dry_run=True,
            credential_value=self.credential_value(integration),
        )

    # --- jobs --------------------------------------------------------------------------

    def job(self, number: str) -> Job:
        number = job_number(number)
        job = self.jobs.get(number)
        if job is None:
            raise NotFoundError(f"no job {number}; it may have been pruned")
        return job

    def newest_jobs(
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
        return self.jobs.newest(
            kind, integration=integration, statuses=statuses, payload=payload, text=text, limit=limit, before=before
        )

    def read_jobs_again(self) -> None:
        """A read-only workspace reads the job log as it is now (it opened a snapshot; no events reach it)."""
        self.jobs.refresh()

    def prune_jobs(self, *, max_age_days: float | None = None, max_jobs: int | None = None) -> int:
        """Drop old jobs (whole segments) by age and count; returns how many were dropped."""
        self._writable()
        dropped = self.jobs.prune(max_age_days=max_age_days, max_jobs=max_jobs)
        if dropped:
            self.events.publish(JobsPruned(dropped))
        return dropped

    def job_counts(self, *, integration: str | None = None, kind: JobKind | None = None,
                   since: float | None = None) -> dict[str, int]:
        return self.jobs.counts(integration=integration, kind=kind, since=since)

    def job_body(self, job: Job, which: Literal["request", "response"]) -> bytes | None:
        """The full logged body of a job's request or response (from a blob if large)."""
        exchange = job.request if which == "request" else job.response
        return None if exchange is None else self.jobs.body_of(exchange)

    def recent_refusals(self, *, integration: str | None = None, since: float | None = None,
                        limit: int | None = 200) -> list[Refusal]:
        """Requests and recipients the running service refused, newest first (kept in memory while it runs)."""
        return self.refusals.newest(integration=integration, since=since, limit=limit)

    def refusal_count(self, integration: str, since: float) -> int:
        """How many requests for `integration` the running service refused since `since` (to the hour)."""
        return self.refusals.count(integration=integration, since=since)

    def job_attachment(self, job: Job, which: str) -> tuple[dict[str, Any], bytes]:
        """An email job's attachment named by its number (from 1) or filename, and its bytes."""
        attachment = find_attachment(job, which)
        return attachment, self.jobs.blobs.get(attachment["sha256"])

    def job_data(self, job: Job) -> list[dict[str, Any]]:
        """The records a job's request was built from (from a blob if large)."""
        return self.jobs.data_of(job)

    # --- actions that need the running service ---------------------------------------

    service: Any = None  # set by `Service` while it runs on this workspace

    def _service(self) -> Any:
        if self.service is None:
            raise ServiceError(
                "the service is not running in this console (opened with --no-service?); "
                "start it with 'payloads' or 'payloads serve'"
            )
        return self.service

    def service_status(self) -> dict[str, Any]:
        """For the highlights panel: `{running, started_at, http (URL), smtp (host:port),
        sandbox (URL), jobs: {queued, running, retrying}}`; addresses None when off."""
        if self.service is None:
            return {"running": False, "started_at": None, "http": None, "smtp": None, "sandbox": None,
                    "jobs": {"queued": 0, "running": 0, "retrying": 0}}
        return self.service.status()

    def api_url(self, slug: str, path: str) -> str:
        """Full URL of an External API (with the configured address when the service is off)."""
        if self.service is not None:
            return self.service.api_url(slug, path)
        host, port = self.settings.http_address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/api/{slug}/{path}"

    async def run_outbound(self, slug: str, payload: str, *, record_ids: list[str] | None = None,
                           source: str = "Console", wait: bool = False) -> list[Job]:
        self._writable()
        return await self._service().executor.run_outbound(
            slug, payload, record_ids=record_ids, source=source, wait=wait)

    async def run_inbound(self, slug: str, payload: str, body: bytes, *, content_type: str | None = None,
                          source: str = "Console", wait: bool = False) -> Job:
        self._writable()
        return await self._service().executor.run_inbound(
            slug, payload, body, content_type=content_type, source=source, wait=wait)

    async def retry_job(self, number: str, *, wait: bool = False) -> Job:
        self._writable()
        return await self._service().executor.retry(job_number(number), wait=wait)

    async def replay_job(self, number: str, *, wait: bool = False) -> Job:
        self._writable()
        return await self._service().executor.replay(job_number(number), wait=wait)

    async def send_test_email(self, *, to: list[str], sender: str, subject: str, body: str,
                              attachments: list[str] | None = None) -> str:
        """Send an email through the local SMTP receiver; returns the server's reply."""
        from payloads_tui.service.mail import send_email_async

        host, port = self._service().smtp_host_port
        return await send_email_async(host, port, to=to, sender=sender, subject=subject, body=body,
                                      attachments=attachments or [])
