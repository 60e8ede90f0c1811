"""`ItemActions`: what the integration screen does when a pane asks for something.

Kept apart from the screen so the screen only lays out and routes. Every change is a
new `Integration` saved through the workspace; every job action is a guarded worker.
A read-only console refuses the requests that change things, however they arrive.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from msgspec import structs

from payloads_tui.domain.models import Integration
from payloads_tui.tui.calls import attempt, start_call
from payloads_tui.tui.messages import JobsStarted
from payloads_tui.tui.readonly import read_only_reason, refuse
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.snippets import curl_for_api, sample_body, swaks_for_address
from payloads_tui.tui.widgets.endpoints_pane import api_key
from payloads_tui.tui.widgets.keyed_table import KeyedTable
from payloads_tui.tui.widgets.pane import CHANGING_ITEM_ACTIONS, ItemRequested

if TYPE_CHECKING:
    from payloads_tui.tui.screens.integration import IntegrationScreen


class ItemActions:
    """Handles `ItemRequested` for one integration screen."""

    def __init__(self, screen: IntegrationScreen) -> None:
        self.screen = screen

    @property
    def workspace(self):  # type: ignore[no-untyped-def]
        return self.screen.workspace

    def handle(self, request: ItemRequested, integration: Integration) -> None:
        handler = getattr(self, f"{request.kind}_{request.action}", None)
        if handler is None:
            return
        if request.action in CHANGING_ITEM_ACTIONS and refuse(self.screen):
            return
        handler(integration, request.key)

    # --- helpers -------------------------------------------------------------------------

    def _confirm_delete(self, what: str, detail: str, changed: Integration) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.screen.save(changed, f"Deleted {what}.")

        self.screen.app.push_screen(ConfirmScreen(f"Delete {what}?", detail=detail), answered)

    def _saved(self, done: str):  # type: ignore[no-untyped-def]
        def after(saved: Integration | None) -> None:
            if saved is not None:
                self.screen.notify(done, markup=False)
                self.screen.reload()

        return after

    # --- payloads ------------------------------------------------------------------------

    def inbound_open(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen

        self._edit(InboundEditorScreen(integration.slug, name), "#inbound-table")

    inbound_new = inbound_open

    def outbound_open(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.outbound_editor import OutboundEditorScreen

        self._edit(OutboundEditorScreen(integration.slug, name), "#outbound-table")

    outbound_new = outbound_open

    def _edit(self, editor: Any, table_id: str) -> None:
        """Open a payload editor; once closed, the table's cursor is on the payload saved (a new one too)."""
        page = self.screen

        def closed(_result: object) -> None:
            if editor.saved_name:
                page.call_after_refresh(lambda: page.query_one(table_id, KeyedTable).select_key(editor.saved_name))

        page.app.push_screen(editor, closed)

    def inbound_delete(self, integration: Integration, name: str | None) -> None:
        used = [f"API {a.path}" for a in integration.apis if a.method == "POST" and a.payload == name]
        used += [f"email {e.address}" for e in integration.emails if e.payload == name]
        used += [f"response handler of {p.name}" for p in integration.outbound if p.response_handler == name]
        changed = structs.replace(integration, inbound=[p for p in integration.inbound if p.name != name])
        detail = f"Used by: {', '.join(used)} — remove those first." if used else "Its jobs stay in the log."
        self._confirm_delete(f"the inbound payload {name}", detail, changed)

    def outbound_delete(self, integration: Integration, name: str | None) -> None:
        used = [f"API {a.path}" for a in integration.apis if a.method == "GET" and a.payload == name]
        changed = structs.replace(integration, outbound=[p for p in integration.outbound if p.name != name])
        detail = f"Used by: {', '.join(used)} — remove those first." if used else "Its jobs stay in the log."
        self._confirm_delete(f"the outbound payload {name}", detail, changed)

    def inbound_try(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.try_inbound import TryInboundScreen

        payload = integration.inbound_payload(name or "")
        if payload is not None:
            self.screen.app.push_screen(TryInboundScreen(integration.slug, payload))

    def outbound_run(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.run_outbound import RunOutboundScreen

        payload = integration.outbound_payload(name or "")
        if payload is None:
            return
        if payload.initiated == "api":
            self.screen.notify(f"{payload.name} answers its External API (GET); it is not run from here.",
                               severity="warning", markup=False)
            return

        def chosen(record_ids: list[str] | None) -> None:
            if record_ids is None:
                return
            slug, ids = integration.slug, record_ids or None
            start_call(self.screen, f"run {payload.name}",
                       lambda: self.workspace.run_outbound(slug, payload.name, record_ids=ids, source="Console"),
                       group="jobs", then=lambda jobs: JobsStarted(list(jobs), f"Started {payload.name}"))

        self.screen.app.push_screen(RunOutboundScreen(integration.slug, payload), chosen)

    # --- jobs ----------------------------------------------------------------------------

    def job_open(self, integration: Integration, number: str | None) -> None:
        if number:
            self.screen.open_job(number)

    def job_retry(self, integration: Integration, number: str | None) -> None:
        if number:
            retry_job(self.screen, number)

    def job_replay(self, integration: Integration, number: str | None) -> None:
        if number:
            replay_job(self.screen, number)

    # --- APIs and emails -----------------------------------------------------------------

    def api_open(self, integration: Integration, key: str | None) -> None:
        from payloads_tui.tui.screens.endpoint_forms import ApiForm, ApiSaved

        from payloads_tui.tui.screens.secret import SecretScreen

        api = next((a for a in integration.apis if api_key(a) == key), None)

        def saved(result: ApiSaved | None) -> None:
            if result is None:
                return
            self.screen.notify(f"Saved the API {result.path}.", markup=False)
            self.screen.reload()
            if result.token:
                self.screen.app.push_screen(SecretScreen(
                    f"Token of {result.path}", result.token,
                    note="Shown once: it is stored only as a hash. Callers send it as 'Authorization: Bearer <token>'."))

        self.screen.app.push_screen(ApiForm(integration, api), saved)

    api_new = api_open

    def api_delete(self, integration: Integration, key: str | None) -> None:
        changed = structs.replace(integration, apis=[a for a in integration.apis if api_key(a) != key])
        self._confirm_delete(f"the External API {key}", "Callers of this URL will get 404.", changed)

    def api_copy_url(self, integration: Integration, key: str | None) -> None:
        api = next((a for a in integration.apis if api_key(a) == key), None)
        if api is not None:
            self.screen.console.copy_and_show(self.workspace.api_url(integration.slug, api.path), "URL")

    def api_copy_command(self, integration: Integration, key: str | None) -> None:
        api = next((a for a in integration.apis if api_key(a) == key), None)
        if api is None:
            return
        payload = integration.inbound_payload(api.payload) if api.method == "POST" else None
        content_type = payload.content_type if payload is not None else "json"
        body = self._recent_body(integration.slug, api.payload) if api.method == "POST" else None
        signature = None
        # Signing writes history, which a read-only console may not.
        if api.auth in ("stripe", "hmac") and read_only_reason(self.screen.app) is None:
            sent = body if body is not None else sample_body(content_type)
            signature = attempt(self.screen, "sign the request", self.workspace.sign_api_request,
                                integration.slug, api.method, api.path, sent, int(time.time()))
            if signature is not None:
                self.screen.show_history()  # the signing is in the history now
        snippet = curl_for_api(api, self.workspace.api_url(integration.slug, api.path), content_type=content_type,
                               body=body, signature=signature)
        self.screen.console.copy_and_show(snippet.command + (f"\n# {snippet.note}" if snippet.note else ""),
                                          "curl command")

    def _recent_body(self, slug: str, payload: str) -> bytes | None:
        """The request body of the newest job of `payload`, as a realistic sample."""
        jobs = self.workspace.newest_jobs("inbound", integration=slug, payload=payload, limit=1)
        if not jobs or jobs[0].request is None:
            return None
        body = attempt(self.screen, "read the job body", self.workspace.job_body, jobs[0], "request")
        return body if body is not None and len(body) <= 4096 else None

    def email_open(self, integration: Integration, address: str | None) -> None:
        from payloads_tui.tui.screens.endpoint_forms import EmailForm

        email = integration.email_service(address) if address else None
        done = f"Saved {email.address}." if email else "Added the email address."
        self.screen.app.push_screen(EmailForm(integration, email), self._saved(done))

    email_new = email_open

    def email_delete(self, integration: Integration, address: str | None) -> None:
        changed = structs.replace(integration, emails=[e for e in integration.emails if e.address != address])
        self._confirm_delete(f"the address {address}", "Mail to it will be refused.", changed)

    def email_copy_url(self, integration: Integration, address: str | None) -> None:
        if address:
            self.screen.console.copy_and_show(address, "address")

    def email_copy_command(self, integration: Integration, address: str | None) -> None:
        if not address:
            return
        status = self.screen.console.service_status()
        smtp = status.get("smtp") or self.workspace.settings.smtp
        self.screen.console.copy_and_show(swaks_for_address(address, smtp).command, "swaks command")

    def email_send_test(self, integration: Integration, address: str | None) -> None:
        self.compose_email(integration, address)

    def compose_email(self, integration: Integration, address: str | None) -> None:
        from payloads_tui.tui.screens.compose_email import ComposeEmailForm

        active = [e.address for e in integration.emails if e.active]
        self.screen.app.push_screen(ComposeEmailForm(address or (active[0] if active else "")))

    # --- credentials ---------------------------------------------------------------------

    def credential_open(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.credential_form import CredentialForm

        credential = integration.credential(name) if name else None
        done = f"Saved the credential {name}." if credential else "Added the credential."
        self.screen.app.push_screen(CredentialForm(integration, credential), self._saved(done))

    credential_new = credential_open

    def credential_delete(self, integration: Integration, name: str | None) -> None:
        users = [p.name for p in integration.outbound if p.credential == name]
        changed = structs.replace(integration, credentials=[c for c in integration.credentials if c.name != name])
        detail = f"Used by {', '.join(users)} — change those first." if users else "Its secrets are dropped."
        self._confirm_delete(f"the credential {name}", detail, changed)

    def credential_reveal(self, integration: Integration, name: str | None) -> None:
        from payloads_tui.tui.screens.secret import RevealForm, SecretScreen

        credential = integration.credential(name or "")
        if credential is None:
            return
        if not credential.secrets:
            self.screen.notify(f"{credential.name} holds no secret.", severity="warning", markup=False)
            return

        def chosen(field: str | None) -> None:
            if field is None:
                return
            value = attempt(self.screen, "reveal the secret", self.workspace.reveal_secret,
                            integration.slug, credential.name, field)
            if value is not None:
                self.screen.app.push_screen(SecretScreen(f"{credential.name} · {field}", value))
                self.screen.show_history()

        self.screen.app.push_screen(RevealForm(credential), chosen)


def retry_job(node, number: str) -> None:  # type: ignore[no-untyped-def]
    """Retry `number` (rebuilt from its payload) in a worker; the new job is announced."""
    start_call(node, f"retry {number}", lambda: node.app.workspace.retry_job(number), group="jobs",
               then=lambda job: JobsStarted([job], f"Retrying {number}"))


#: Methods whose request, sent twice, may act twice on the other system.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def replay_job(node, number: str) -> None:  # type: ignore[no-untyped-def]
    """Replay `number` (resend what was logged) in a worker; the new job is announced. A request
    that already succeeded and may act twice (a POST that created a customer) is confirmed first."""
    job = attempt(node, f"open {number}", node.app.workspace.job, number)
    if job is None:
        return

    def replay(confirmed: bool | None = True) -> None:
        if confirmed:
            start_call(node, f"replay {number}", lambda: node.app.workspace.replay_job(number), group="jobs",
                       then=lambda new: JobsStarted([new], f"Replaying {number}"))

    request = job.request
    if job.kind != "outbound" or request is None or request.method.upper() not in UNSAFE_METHODS \
            or job.status not in ("Completed", "Partially Completed"):
        replay()
        return
    answer = job.response.message if job.response is not None else "it succeeded"
    node.app.push_screen(ConfirmScreen(
        f"Replay {number}, which succeeded ({answer})?",
        detail=f"This sends {request.method.upper()} {request.url} again, as logged: the other system may act "
               "on it twice (a second customer, a second charge).",
        confirm="Replay",
    ), replay)
