"""On-disk formats of the job log: job heads, log lines, segment index, manifest.

A *head* (`JobHead`) is the small part of a job that lists and filters need (number,
kind, integration, payload, status, source, created, error, blob references) plus,
in a sealed segment, where the full job sits in the segment file. Heads are what the
log keeps in memory and in segment indexes; full jobs are decoded only when asked for.

Lines of the active log (`active-<id>.jsonl`), each ending in a newline:
- a job version: the job as msgspec JSON (always starts with `{"number":`);
- an overlay version: `{"overlay":{"prev":[integration,kind,status]|null},"job":{...}}` -
  a new version of a job owned by an older segment; `prev` is the key the job was
  counted under before this version, so replaying the log fixes the counts without
  reading the sealed segment;
- a number reservation: `{"reserve":"inbound","upto":1200}` - numbers below `upto`
  may have been handed out; the last one in the log wins (a clean close writes the
  exact next number).
"""

from __future__ import annotations

import msgspec

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import Job

KIND_PREFIX: dict[str, str] = {"inbound": "IN", "outbound": "OUT"}
PREFIX_KIND: dict[str, str] = {v: k for k, v in KIND_PREFIX.items()}
KINDS: tuple[str, ...] = ("inbound", "outbound")

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1

#: (integration, kind, status): the key counts are kept under.
CountKey = tuple[str, str, str]


class JobHead(msgspec.Struct, array_like=True, gc=False):
    """What lists and filters need of a job; `offset`/`length` locate it in a sealed file."""

    number: str
    kind: str
    seq: int
    integration: str
    payload: str
    status: str
    source: str
    created: float
    error: str | None = None
    blobs: tuple[str, ...] = ()
    offset: int = 0
    length: int = 0
    summary: str | None = None  # last: an index written before it had one still reads

    @property
    def count_key(self) -> CountKey:
        return (self.integration, self.kind, self.status)


#: A job version held in memory: its head and its encoded JSON.
Entry = tuple[JobHead, bytes]


class _ExchangeView(msgspec.Struct):
    body_blob: str | None = None


class _LineView(msgspec.Struct):
    """The head fields of an encoded `Job` (defaults as in `Job`, which omits them)."""

    number: str
    kind: str
    integration: str
    payload: str
    status: str = "Queued"
    source: str = "Console"
    created: float = 0.0
    error: str | None = None
    summary: str | None = None
    request: _ExchangeView | None = None
    response: _ExchangeView | None = None
    data_blob: str | None = None
    context: dict[str, msgspec.Raw] = {}


class OverlayMeta(msgspec.Struct):
    prev: tuple[str, str, str] | None = None


class OverlayLine(msgspec.Struct):
    overlay: OverlayMeta
    job: msgspec.Raw


class ReserveLine(msgspec.Struct):
    reserve: str
    upto: int


class SegmentMeta(msgspec.Struct, kw_only=True):
    """One sealed segment in the manifest: what numbers it owns, when, and its counts.

    The segment owns numbers `first[kind]..last[kind]` (empty when last < first) of
    each kind, whether or not a job with that number was ever saved.
    """

    id: int
    gen: int = 1
    jobs: int = 0
    first: dict[str, int]
    last: dict[str, int]
    created: tuple[float, float] = (0.0, 0.0)
    counts: list[tuple[str, str, str, int]] = []
    blobs: int = 0


class Manifest(msgspec.Struct, kw_only=True):
    """The job log's table of contents: sealed segments, the active log, next numbers."""

    format: int = FORMAT_VERSION
    #: Next number of each kind not yet handed out (or reserved).
    next: dict[str, int] = {}
    #: Highest number of each kind owned by a sealed segment, pruned ones included.
    sealed: dict[str, int] = {}
    #: Id of the active log, `active-<id>.jsonl`; it becomes segment `<id>` when sealed.
    active: int = 1
    segments: list[SegmentMeta] = []


_job_encoder = msgspec.json.Encoder()
_job_decoder = msgspec.json.Decoder(Job)
_view_decoder = msgspec.json.Decoder(_LineView)
_overlay_decoder = msgspec.json.Decoder(OverlayLine)
_reserve_decoder = msgspec.json.Decoder(ReserveLine)
_blob_list_decoder = msgspec.json.Decoder(list[str])
_manifest_decoder = msgspec.json.Decoder(Manifest)
_heads_encoder = msgspec.msgpack.Encoder()
_heads_decoder = msgspec.msgpack.Decoder(list[JobHead])


def parse_number(number: str) -> tuple[str, int] | None:
    """`"IN-12"` → `("inbound", 12)`; None if it is not a job number."""
    prefix, sep, seq = number.partition("-")
    kind = PREFIX_KIND.get(prefix)
    if kind is None or not sep or not seq.isdigit():
        return None
    return kind, int(seq)


def job_number(text: str) -> str:
    """`text` as a job number (`in-12 ` → `IN-12`); ValidationError if it is not one."""
    number = text.strip().upper()
    if parse_number(number) is None:
        raise ValidationError(f"{text!r} is not a job number; job numbers look like IN-12 or OUT-28")
    return number


def format_number(kind: str, seq: int) -> str:
    return f"{KIND_PREFIX[kind]}-{seq}"


def encode_job(job: Job) -> bytes:
    return _job_encoder.encode(job)


def decode_job(data: bytes | memoryview) -> Job:
    return _job_decoder.decode(data)


def blobs_of(job: Job) -> tuple[str, ...]:
    """Blob shas a job refers to: request/response bodies, its data queried and `context["blobs"]`."""
    found: list[str] = []
    for exchange in (job.request, job.response):
        if exchange is not None and exchange.body_blob:
            found.append(exchange.body_blob)
    if job.data_blob:
        found.append(job.data_blob)
    extra = job.context.get("blobs")
    if isinstance(extra, list):
        found.extend(sha for sha in extra if isinstance(sha, str))
    return tuple(found)


def head_of(job: Job, seq: int) -> JobHead:
    return JobHead(
        job.number,
        job.kind,
        seq,
        job.integration,
        job.payload,
        job.status,
        job.source,
        job.created,
        job.error,
        blobs_of(job),
        summary=job.summary,
    )


def head_of_line(line: bytes) -> JobHead | None:
    """The head of an encoded job; None if the line is not a job with a valid number."""
    view = _view_decoder.decode(line)
    parsed = parse_number(view.number)
    if parsed is None or parsed[0] != view.kind:
        return None
    found: list[str] = []
    for exchange in (view.request, view.response):
        if exchange is not None and exchange.body_blob:
            found.append(exchange.body_blob)
    if view.data_blob:
        found.append(view.data_blob)
    raw = view.context.get("blobs")
    if raw is not None:
        try:
            found.extend(_blob_list_decoder.decode(raw))
        except msgspec.DecodeError:
            pass
    return JobHead(
        view.number,
        view.kind,
        parsed[1],
        view.integration,
        view.payload,
        view.status,
        view.source,
        view.created,
        view.error,
        tuple(found),
        summary=view.summary,
    )


def overlay_line(line: bytes, prev: CountKey | None) -> bytes:
    meta = msgspec.json.encode(OverlayMeta(prev=prev))
    return b'{"overlay":' + meta + b',"job":' + line + b"}\n"


def decode_overlay(line: bytes) -> OverlayLine:
    return _overlay_decoder.decode(line)


def reserve_line(kind: str, upto: int) -> bytes:
    return msgspec.json.encode(ReserveLine(reserve=kind, upto=upto)) + b"\n"


def decode_reserve(line: bytes) -> ReserveLine:
    return _reserve_decoder.decode(line)


def encode_heads(heads: list[JobHead]) -> bytes:
    return _heads_encoder.encode(heads)


def decode_heads(data: bytes) -> list[JobHead]:
    return _heads_decoder.decode(data)


def encode_manifest(manifest: Manifest) -> bytes:
    """Compact JSON: rewritten at every seal, so its size (not its looks) is what costs."""
    return msgspec.json.encode(manifest) + b"\n"


def decode_manifest(data: bytes) -> Manifest:
    return _manifest_decoder.decode(data)


def counts_list(counts: dict[CountKey, int]) -> list[tuple[str, str, str, int]]:
    return sorted((i, k, s, n) for (i, k, s), n in counts.items() if n)


def counts_dict(items: list[tuple[str, str, str, int]]) -> dict[CountKey, int]:
    return {(i, k, s): n for i, k, s, n in items}
