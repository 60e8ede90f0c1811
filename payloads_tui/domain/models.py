"""Typed models of everything an integration holds, plus jobs and history entries.

All models are `msgspec.Struct`s: plain data, fast to encode, validated at the edges by
`from_data()` (which names the bad field). References between the parts of one
integration are by *name* (names are unique within an integration; renames cascade in
the store), so bundles and history stay readable.

Times are epoch seconds (float, UTC). Credential and endpoint secrets are held here
only as vault ciphertext (`enc:...`) — never in plaintext — so a `repr()` of a model
cannot leak them.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Literal, TypeVar

import msgspec

from payloads_tui.domain.errors import ValidationError

T = TypeVar("T")

InboundContentType = Literal["json", "xml", "form", "csv", "text", "email"]
OutboundContentType = Literal["json", "form", "xml", "text"]
Operation = Literal["insert", "update", "upsert"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Initiated = Literal["local", "api"]
MappingSource = Literal["item", "document", "static", "now", "target", "credential", "context", "variable"]
ElementSource = Literal["record", "context", "static", "now", "variable", "credential"]
Placement = Literal["body", "header", "query", "url"]
FieldType = Literal["string", "integer", "number", "boolean", "datetime", "date", "object", "array", "any"]
CredentialKind = Literal["basic", "bearer", "api_key", "oauth2"]
ApiAuth = Literal["token", "stripe", "hmac", "none"]
Pagination = Literal["none", "stripe"]
JobKind = Literal["inbound", "outbound"]
JobStatus = Literal[
    "Queued", "Processing", "Completed", "Partially Completed", "Failed", "Retrying", "Cancelled"
]
JobSource = Literal[
    "External API", "Email", "Response Handler", "Console", "CLI", "Replay", "Retry", "Schedule", "Payload"
]
HistoryAction = Literal["create", "update", "delete", "reveal", "sign"]

FINISHED_STATUSES: frozenset[str] = frozenset({"Completed", "Partially Completed", "Failed", "Cancelled"})
UNFINISHED_STATUSES: frozenset[str] = frozenset({"Queued", "Processing", "Retrying"})

CONTENT_TYPE_LABELS: dict[str, str] = {
    "json": "JSON",
    "xml": "XML",
    "form": "Form URL-encoded",
    "csv": "CSV",
    "text": "Plain text",
    "email": "Email",
}
INITIATED_LABELS: dict[str, str] = {"local": "Locally Initiated", "api": "API Initiated"}

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
OBJECT_NAME_RE = re.compile(r"^[A-Z][A-Za-z0-9_]{0,63}$")
API_PATH_RE = re.compile(r"^[a-z0-9][a-z0-9_\-/]{0,126}$")


def new_id() -> str:
    """A stable random id: 16 hex characters."""
    return secrets.token_hex(8)


def now() -> float:
    """Current time as epoch seconds (UTC)."""
    return time.time()


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every model: keyword-only, defaults omitted when encoded."""


# --- inbound ---------------------------------------------------------------------------


class FieldMapping(Model, kw_only=True):
    """One field of a target record and where its value comes from.

    `source` decides how `expression` / `value` are read:
    - `item`: JMESPath over the selected item; `document`: JMESPath over the whole body;
    - `static`: `value` as is; `now`: the current time (ISO 8601, UTC);
    - `target`: `expression` is a field of the record written for the same item by the
      earlier target named `target` (usually `id`, to link a child to its parent);
    - `credential`: field `expression` of the credential named `credential`;
    - `context`: JMESPath over the job context (e.g. `record.id` for a response handler);
    - `variable`: the integration variable named `expression`.
    """

    field: str
    source: MappingSource = "item"
    expression: str = ""
    value: Any = None
    target: str = ""
    credential: str = ""


class Target(Model, kw_only=True):
    """One object an inbound payload writes: which items, how, and the field mappings."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    object: str
    items: str = "@"
    operation: Operation = "upsert"
    match_key: list[str] = msgspec.field(default_factory=list)
    mappings: list[FieldMapping] = msgspec.field(default_factory=list)


class InboundPayload(Model, kw_only=True):
    """Turns data that arrives (webhook, email, outbound response) into records."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    description: str = ""
    content_type: InboundContentType = "json"
    allow_partial_success: bool = False
    targets: list[Target] = msgspec.field(default_factory=list)
    options: dict[str, str] = msgspec.field(default_factory=dict)


# --- outbound --------------------------------------------------------------------------


class ChildSource(Model, kw_only=True):
    """Child records queried for each parent record (e.g. OrderLines of an Order)."""

    name: str
    object: str
    parent_field: str
    filter: str = ""
    sort: str = ""
    descending: bool = False
    limit: int | None = None


class Source(Model, kw_only=True):
    """Records an outbound payload queries: object, filter (JMESPath truthy test), sort, limit."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    object: str
    filter: str = ""
    sort: str = ""
    descending: bool = False
    limit: int | None = None
    children: list[ChildSource] = msgspec.field(default_factory=list)


class Element(Model, kw_only=True):
    """One value placed into the request.

    `placement` says where: a body field (`path` dotted, e.g. `metadata.order_id`), a
    header or query parameter (`path` is its name) or a URL merge field. With `each`
    set to a child source name (or a source name), the element is an array at `path`
    with one item per record, built from `elements` evaluated against that record.
    """

    path: str
    placement: Placement = "body"
    source: ElementSource = "record"
    expression: str = ""
    value: Any = None
    each: str = ""
    elements: list[Element] = msgspec.field(default_factory=list)


class OutboundPayload(Model, kw_only=True):
    """Builds a request from records, sends it with a credential, handles the response."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    description: str = ""
    initiated: Initiated = "local"
    content_type: OutboundContentType = "json"
    method: Method = "GET"
    endpoint: str = ""
    credential: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    query: dict[str, str] = msgspec.field(default_factory=dict)
    sources: list[Source] = msgspec.field(default_factory=list)
    elements: list[Element] = msgspec.field(default_factory=list)
    request_per_record: bool = False
    response_handler: str | None = None
    success_codes: str = "2xx"
    pagination: Pagination = "none"
    timeout: float = 30.0
    max_attempts: int = 5

    def each_names(self) -> set[str]:
        """Names an array element may take its items from (`Element.each`): sources and child sources."""
        return {s.name for s in self.sources} | {c.name for s in self.sources for c in s.children}


# --- objects and credentials -----------------------------------------------------------


class FieldSpec(Model, kw_only=True):
    """One field of an object schema."""

    name: str
    type: FieldType = "string"
    required: bool = False
    max_length: int | None = None
    picklist: list[str] | None = None


class ObjectSchema(Model, kw_only=True):
    """The shape of a record table: field types, required fields, a unique external id."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    description: str = ""
    fields: list[FieldSpec] = msgspec.field(default_factory=list)
    external_id: str | None = None
    strict: bool = False


#: Secret fields of each credential kind: these live only in `Credential.secrets`.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "basic": ("password",),
    "bearer": ("token",),
    "api_key": ("value",),
    "oauth2": ("client_secret", "access_token", "refresh_token"),
}
#: Plain fields of each credential kind: these live in `Credential.fields`.
PLAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "basic": ("username",),
    "bearer": (),
    "api_key": ("placement", "name"),
    "oauth2": ("grant", "client_id", "token_url", "scope", "expires_at"),
}
#: Fields that must be present (plain or secret) for a credential to be usable.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "basic": ("username",),  # no password: an API key as the user name, as Stripe takes it
    "bearer": ("token",),
    "api_key": ("placement", "name", "value"),
    "oauth2": ("grant", "token_url"),
}


class Credential(Model, kw_only=True):
    """Authentication for outbound calls; `secrets` holds vault ciphertext only."""

    id: str = msgspec.field(default_factory=new_id)
    name: str
    kind: CredentialKind
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    secrets: dict[str, str] = msgspec.field(default_factory=dict)
    last_used: float | None = None


# --- endpoints -------------------------------------------------------------------------


class ExternalApi(Model, kw_only=True):
    """A REST endpoint the service exposes at `/api/<integration slug>/<path>`.

    POST runs an inbound payload; GET answers from an API-initiated outbound payload.
    `token_hash` is `sha256:<hex>` of the token; `secret` is vault ciphertext of the
    signing secret (Stripe `whsec_...` or a generic HMAC key).
    """

    id: str = msgspec.field(default_factory=new_id)
    path: str
    method: Literal["POST", "GET"] = "POST"
    payload: str
    auth: ApiAuth = "token"
    token_hash: str = ""
    secret: str = ""
    hmac_header: str = "X-Signature"
    active: bool = True
    description: str = ""


class EmailService(Model, kw_only=True):
    """A unique address the SMTP receiver accepts; each message runs `payload`."""

    id: str = msgspec.field(default_factory=new_id)
    address: str
    payload: str
    active: bool = True
    description: str = ""

    @property
    def key(self) -> str:
        """The address as compared: `address_key(address)`."""
        return address_key(self.address)


def address_key(address: str) -> str:
    """An email address as addresses are compared here (case and surrounding spaces ignored)."""
    return address.strip().lower()


class Integration(Model, kw_only=True):
    """All configuration for one external system."""

    id: str = msgspec.field(default_factory=new_id)
    slug: str
    name: str
    description: str = ""
    variables: dict[str, str] = msgspec.field(default_factory=dict)
    inbound: list[InboundPayload] = msgspec.field(default_factory=list)
    outbound: list[OutboundPayload] = msgspec.field(default_factory=list)
    credentials: list[Credential] = msgspec.field(default_factory=list)
    apis: list[ExternalApi] = msgspec.field(default_factory=list)
    emails: list[EmailService] = msgspec.field(default_factory=list)
    created_at: float = msgspec.field(default_factory=now)
    updated_at: float = msgspec.field(default_factory=now)

    def inbound_payload(self, name: str) -> InboundPayload | None:
        return next((p for p in self.inbound if p.name == name), None)

    def outbound_payload(self, name: str) -> OutboundPayload | None:
        return next((p for p in self.outbound if p.name == name), None)

    def credential(self, name: str) -> Credential | None:
        return next((c for c in self.credentials if c.name == name), None)

    def api(self, path: str, method: str) -> ExternalApi | None:
        return next((a for a in self.apis if a.path == path and a.method == method), None)

    def email_service(self, address: str) -> EmailService | None:
        key = address_key(address)
        return next((e for e in self.emails if e.key == key), None)


# --- jobs and history ------------------------------------------------------------------


class RecordResult(Model, kw_only=True):
    """What one item did to one target: the operation, the record id, or the error."""

    target: str
    item: int
    operation: str = ""
    record_id: str | None = None
    error: str | None = None
    values: dict[str, Any] | None = None


#: What a result without an error says when its job failed: a failed job writes no record.
NOT_WRITTEN = "not written: the job failed"


class Attempt(Model, kw_only=True):
    """One try of an outbound request."""

    number: int
    started: float
    finished: float | None = None
    response_code: int | None = None
    error: str | None = None


class HttpExchange(Model, kw_only=True):
    """A logged request or response. Secrets in headers are masked before logging.

    A body over the blob threshold is kept in a blob file and named by `body_blob`.
    """

    method: str = ""
    url: str = ""
    code: int | None = None
    message: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    content_type: str = ""
    body: str | None = None
    body_blob: str | None = None
    body_size: int = 0


class JobLinks(Model, kw_only=True):
    """Jobs related to this one."""

    parent: str | None = None
    children: list[str] = msgspec.field(default_factory=list)
    original: str | None = None
    reruns: list[str] = msgspec.field(default_factory=list)


class Job(Model, kw_only=True):
    """One run of a payload: `IN-n` or `OUT-n`."""

    number: str
    kind: JobKind
    integration: str
    payload: str
    status: JobStatus = "Queued"
    source: JobSource = "Console"
    created: float = msgspec.field(default_factory=now)
    modified: float = msgspec.field(default_factory=now)
    records_processed: int = 0
    records_failed: int = 0
    request: HttpExchange | None = None
    response: HttpExchange | None = None
    results: list[RecordResult] = msgspec.field(default_factory=list)
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    next_attempt_at: float | None = None
    error: str | None = None
    #: a remark on a finished job that is not an error, e.g. that its body selected nothing to write
    note: str | None = None
    #: what arrived, in one line, to tell jobs of one payload apart: an email's subject and sender
    summary: str | None = None
    links: JobLinks = msgspec.field(default_factory=JobLinks)
    data_queried: list[dict[str, Any]] = msgspec.field(default_factory=list)
    #: the blob holding the data queried when it is too large to keep inline (`data_queried` is then empty)
    data_blob: str | None = None
    timings: dict[str, float] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def seq(self) -> int:
        return int(self.number.split("-", 1)[1])

    def mapping_context(self) -> dict[str, Any]:
        """What an inbound job's mappings of source `context` read (a response handler's `record`,
        an email's envelope): its context without what processing itself wrote there."""
        return {k: v for k, v in self.context.items() if k not in ("blobs", "attachments")}


class FieldChange(Model, kw_only=True):
    """One field's change in a history entry; secret values appear as `••••`."""

    field: str
    old: str | None = None
    new: str | None = None


class HistoryEntry(Model, kw_only=True):
    """An audit-trail entry: who did what to which object, field by field."""

    id: str = msgspec.field(default_factory=new_id)
    at: float = msgspec.field(default_factory=now)
    user: str = ""
    action: HistoryAction
    integration: str
    kind: str
    name: str
    changes: list[FieldChange] = msgspec.field(default_factory=list)


# --- conversion at the edges -----------------------------------------------------------


def _path_of(message: str) -> tuple[str, str | None]:
    """Split msgspec's 'Expected ... - at `$.a[0].b`' into (reason, 'a[0].b')."""
    reason, sep, where = message.rpartition(" - at `")
    if not sep:
        return message, None
    path = where.rstrip("`").removeprefix("$").removeprefix(".")
    return reason, path or None


def from_data(kind: type[T], data: Any, where: str = "") -> T:
    """Build a model from plain data (a decoded bundle, a form), naming any bad field."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        reason, path = _path_of(str(exc))
        full = ".".join(p for p in (where, path) if p) or None
        raise ValidationError(reason, full) from None


def to_data(model: Any) -> Any:
    """Plain builtins (dicts, lists) of a model, for storage and bundles."""
    return msgspec.to_builtins(model)
