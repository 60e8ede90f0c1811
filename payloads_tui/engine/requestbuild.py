"""Outbound requests planned from records: sources queried, elements placed, body encoded.

`query_sources()` reads the records each `Source` selects (filter, sort, limit) and
attaches each parent's child records under the child source's name.
`build_requests()` turns them into `PlannedRequest`s: one per record of the first
source with `request_per_record`, else one for all of them.

Where things come from:
- Element `record`: JMESPath over the current record (per-record mode, children under
  their names) or, in one-request mode, over the context `{"<source>": [records], ...}`;
  inside an `each` array, over that item's record.
- Element `context`: JMESPath over the context: every source's records by name,
  `record` and `<object in lower case>` for the current record, plus what the caller
  adds (an External API GET adds `query`).
- `static`, `now`, `variable` (integration variable `expression`), `credential`
  (a *plain* field `expression` of the payload's credential; secret fields are never
  placed into a request body: the credential applies them as auth).

Placement: `body` (dotted `path` builds nested objects; `each` builds an array with
one item per record of that child source or source), `header`, `query`, `url` (the
value of the merge field `{path}` in the endpoint, URL-encoded). An element whose
value is null is left out. Elements inside an `each` are fields of the item, whatever
their placement. GET and DELETE send no body: their body elements become query
parameters in the form bracket notation (`metadata[key]=v`), as Stripe expects.

In one-request mode, when the first source returned exactly one record, that record
is also the current record (`{account.stripe_id}` works in the endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

import msgspec

from payloads_tui.domain.errors import MappingError, PayloadsError
from payloads_tui.domain.formats import encode_body, encode_form
from payloads_tui.domain.mapping import compile_expression, render_template
from payloads_tui.domain.models import (
    SECRET_FIELDS,
    ChildSource,
    Element,
    Integration,
    OutboundPayload,
    Source,
)
from payloads_tui.store.records import sort_value

BODYLESS_METHODS = frozenset({"GET", "DELETE"})


class RecordReader(Protocol):
    """What `query_sources` needs of the record store."""

    def query(self, obj: str, predicate: Any = None, *, sort: str = "", descending: bool = False,
              limit: int | None = None, offset: int = 0) -> list[dict]: ...

    def find(self, obj: str, match: dict[str, Any]) -> list[dict]: ...


@dataclass
class SourceRows:
    """The records one source selected (children attached under their source names)."""

    source: Source
    records: list[dict[str, Any]]


@dataclass
class PlannedRequest:
    """One request ready to send (auth not applied yet)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    content_type: str | None = None
    record_ids: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None  # the source record of a per-record request
    error: str | None = None  # why it could not be built (only with `keep_failures`)
    note: str | None = None  # something the job should say (see `left_out_note`)


# --- sources ---------------------------------------------------------------------------


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: null, false, "", [] and {} are false; 0 is true."""
    return not (value is None or value is False or (isinstance(value, (str, list, dict)) and not value))


def record_filter(text: str, where: str) -> Any:
    """A predicate for the records a source filter (JMESPath) selects; None for an empty filter."""
    if not text.strip():
        return None
    expression = compile_expression(text)

    def keep(record: dict) -> bool:
        try:
            return is_truthy(expression.evaluate(record))
        except MappingError as exc:
            raise MappingError(f"{where} filter: {exc}") from None

    return keep


def left_out_by_filter(source: Source, found: Sequence[dict[str, Any]]) -> list[str]:
    """The ids of `found` (records of `source`'s object) that the source's filter leaves out."""
    keep = record_filter(source.filter, f"source {source.name!r}")
    if keep is None:
        return []
    return [str(record.get("id")) for record in found if not keep(record)]


def _children_of(records: RecordReader, child: ChildSource, parent_id: Any) -> list[dict[str, Any]]:
    found = records.find(child.object, {child.parent_field: parent_id})
    keep = record_filter(child.filter, f"child source {child.name!r}")
    if keep is not None:
        found = [r for r in found if keep(r)]
    if child.sort:
        found.sort(key=lambda r: sort_value(r, child.sort), reverse=child.descending)
    elif child.descending:
        found.reverse()
    return found if child.limit is None else found[: child.limit]


def query_sources(
    payload: OutboundPayload, records: RecordReader, *, record_ids: Sequence[str] | None = None
) -> list[SourceRows]:
    """The records of every source; `record_ids` restricts the first source (its filter still applies)."""
    rows: list[SourceRows] = []
    for index, source in enumerate(payload.sources):
        keep = record_filter(source.filter, f"source {source.name!r}")
        if index == 0 and record_ids is not None:
            wanted = set(record_ids)
            base = keep

            def keep(record: dict, base: Any = base, wanted: set[str] = wanted) -> bool:
                return record.get("id") in wanted and (base is None or base(record))

        found = records.query(
            source.object, keep, sort=source.sort, descending=source.descending, limit=source.limit
        )
        for record in found:
            for child in source.children:
                record[child.name] = _children_of(records, child, record.get("id"))
        rows.append(SourceRows(source, found))
    return rows


# --- elements --------------------------------------------------------------------------


@dataclass
class _Build:
    """What element evaluation needs besides the scope record."""

    integration: Integration
    payload: OutboundPayload
    rows: dict[str, list[dict[str, Any]]]
    context: dict[str, Any]
    now_iso: str
    #: paths of the request's own (top-level) record elements that gave no value, so were left out
    empty: list[str] = field(default_factory=list)


def _credential_field(build: _Build, name: str) -> Any:
    credential = build.integration.credential(build.payload.credential or "")
    if credential is None:
        raise MappingError("the payload has no credential to read a field from")
    if name in SECRET_FIELDS.get(credential.kind, ()):
        raise MappingError(
            f"{name} is a secret of credential {credential.name!r}; secrets go into requests only as auth"
        )
    return credential.fields.get(name)


def _value(element: Element, scope: Any, build: _Build) -> Any:
    source = element.source
    if source == "record":
        return compile_expression(element.expression or "@").evaluate(scope)
    if source == "context":
        return compile_expression(element.expression or "@").evaluate(build.context)
    if source == "static":
        return element.value
    if source == "now":
        return build.now_iso
    if source == "variable":
        if element.expression not in build.integration.variables:
            raise MappingError(f"no variable named {element.expression!r}")
        return build.integration.variables[element.expression]
    if source == "credential":
        return _credential_field(build, element.expression)
    raise MappingError(f"unknown element source {source!r}")  # pragma: no cover - Literal rules it out


def _each_records(name: str, scope: Any, build: _Build) -> list[Any]:
    if isinstance(scope, dict) and isinstance(scope.get(name), list):
        return scope[name]
    if name in build.rows:
        return build.rows[name]
    raise MappingError(f"'each' names {name!r}, which is neither a source nor a child source of this record")


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = document
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise MappingError(f"body field {'.'.join(parts[: depth + 1])} is both a value and an object")
        node = child
    node[parts[-1]] = value


def _element_result(element: Element, scope: Any, build: _Build) -> Any:
    try:
        if element.each:
            items = _each_records(element.each, scope, build)
            if not element.elements:
                return list(items)
            return [_object_of(element.elements, item, build) for item in items]
        return _value(element, scope, build)
    except PayloadsError as exc:
        raise MappingError(f"element {element.path!r}: {exc}") from None


def _object_of(elements: Sequence[Element], scope: Any, build: _Build, *, top: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for element in elements:
        value = _element_result(element, scope, build)
        if value is not None:
            _set_path(document, element.path, value)
        elif top:
            _left_out(element, build)
    return document


def _left_out(element: Element, build: _Build) -> None:
    if not element.each and element.source == "record" and element.expression.strip():
        build.empty.append(element.path)


def as_text(value: Any) -> str:
    """A value as it goes into a header or query parameter."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return msgspec.json.encode(value).decode()


# --- requests --------------------------------------------------------------------------


def _context(
    base: Mapping[str, Any], rows: Sequence[SourceRows], record: dict[str, Any] | None, obj: str | None
) -> dict[str, Any]:
    context = dict(base)
    context.update({r.source.name: r.records for r in rows})
    if record is not None and obj:
        context["record"] = record
        context[obj.lower()] = record
    return context


def left_out_note(empty: list[str], rows: Sequence[SourceRows]) -> str | None:
    """A note naming the record elements of a one-request payload that gave no value (`empty`), and why that is
    likely.

    Without "per record", an element reads the run's context (each source by name), not one
    record: `name` reads nothing where `accounts[0].name` was meant, and the element is left out.
    """
    if not empty or not any(r.records for r in rows):
        return None
    names = ", ".join(repr(path) for path in empty)
    first = rows[0].source.name
    return (f"element{'s' if len(empty) > 1 else ''} {names} gave no value and {'were' if len(empty) > 1 else 'was'} "
            f"left out: this payload sends one request for all its records (per record is off), so an element "
            f"reads the sources by name, e.g. {first}[0].name, or is an array of {first}")


def _one_request(
    build: _Build, scope: Any, record: dict[str, Any] | None, data: list[dict[str, Any]]
) -> PlannedRequest:
    payload, integration = build.payload, build.integration
    variables = integration.variables
    url_fields: dict[str, str] = {}
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    body_elements: list[Element] = []
    for element in payload.elements:
        if element.placement == "body":
            body_elements.append(element)
            continue
        value = _element_result(element, scope, build)
        if value is None:
            _left_out(element, build)
            continue
        if element.placement == "header":
            headers[element.path] = as_text(value)
        elif element.placement == "query":
            query.append((element.path, as_text(value)))
        else:
            url_fields[element.path] = as_text(value)
    try:
        url = render_template(payload.endpoint, build.context, variables, url_encode=True, fields=url_fields)
    except PayloadsError as exc:
        raise MappingError(f"endpoint: {exc}") from None
    rendered_headers: dict[str, str] = {}
    for name, template in payload.headers.items():
        try:
            rendered_headers[name] = render_template(
                template, build.context, variables, url_encode=False, fields=url_fields)
        except PayloadsError as exc:
            raise MappingError(f"header {name}: {exc}") from None
    rendered_query: list[tuple[str, str]] = []
    for name, template in payload.query.items():
        try:
            rendered_query.append(
                (name, render_template(template, build.context, variables, url_encode=False, fields=url_fields)))
        except PayloadsError as exc:
            raise MappingError(f"query parameter {name}: {exc}") from None
    headers = {**rendered_headers, **headers}
    query = rendered_query + query

    body: bytes | None = None
    content_type: str | None = None
    if body_elements:
        document = _object_of(body_elements, scope, build, top=True)
        if payload.method in BODYLESS_METHODS:
            if document:
                query += parse_qsl(encode_form(document), keep_blank_values=True)
        else:
            body, content_type = encode_body(payload.content_type, document)
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = content_type
    record_ids = [str(r["id"]) for r in data if "id" in r]
    return PlannedRequest(payload.method, url, headers, query, body, content_type, record_ids, data, record)


def build_requests(
    integration: Integration,
    payload: OutboundPayload,
    rows: Sequence[SourceRows],
    *,
    now_iso: str,
    context: Mapping[str, Any] | None = None,
    keep_failures: bool = False,
) -> list[PlannedRequest]:
    """The requests of one run; `MappingError` (naming the element or merge field) if one cannot be built.

    With `keep_failures`, a record whose request cannot be built yields a request
    with `error` set instead, so one bad record does not stop the others.
    """
    by_name = {r.source.name: r.records for r in rows}
    base = context or {}
    if payload.request_per_record and rows:
        first = rows[0]
        planned = []
        for record in first.records:
            ctx = _context(base, rows, record, first.source.object)
            build = _Build(integration, payload, by_name, ctx, now_iso)
            try:
                planned.append(_one_request(build, record, record, [record]))
            except PayloadsError as exc:
                if not keep_failures:
                    raise MappingError(f"record {record.get('id')}: {exc}") from None
                failed = PlannedRequest(payload.method, payload.endpoint, error=str(exc), data=[record], record=record)
                failed.record_ids = [str(record["id"])] if "id" in record else []
                planned.append(failed)
        return planned
    record = rows[0].records[0] if rows and len(rows[0].records) == 1 else None
    ctx = _context(base, rows, record, rows[0].source.object if rows else None)
    build = _Build(integration, payload, by_name, ctx, now_iso)
    data = [r for rows_of in rows for r in rows_of.records]
    try:
        planned = _one_request(build, ctx, record, data)
        planned.note = left_out_note(build.empty, rows)
        return [planned]
    except PayloadsError as exc:
        # an element or merge field that read nothing: say where one request's expressions read
        error = f"{exc}{one_request_hint(rows)}" if isinstance(exc, MappingError) else str(exc)
        if not keep_failures:
            if isinstance(exc, MappingError):
                raise MappingError(error) from None
            raise
        return [PlannedRequest(payload.method, payload.endpoint, error=error, data=data, record=record)]


def one_request_hint(rows: Sequence[SourceRows]) -> str:
    """Why an element or merge field of a payload without "per record" may read nothing: it reads the
    run's context (each source by name), not a record; said after its error when there are records."""
    if not rows or not any(r.records for r in rows):
        return ""
    name = rows[0].source.name
    return (f" (per record is off: this payload sends one request for all its records, so expressions read "
            f"each source by name, such as {name}[0].id, not one record's fields; turn per record on to send "
            "one request per record)")


def build_document(
    integration: Integration,
    payload: OutboundPayload,
    rows: Sequence[SourceRows],
    *,
    now_iso: str,
    context: Mapping[str, Any] | None = None,
) -> tuple[bytes, str]:
    """The encoded body of an API-initiated payload: every body element over all the records."""
    by_name = {r.source.name: r.records for r in rows}
    record = rows[0].records[0] if rows and len(rows[0].records) == 1 else None
    ctx = _context(context or {}, rows, record, rows[0].source.object if rows else None)
    build = _Build(integration, payload, by_name, ctx, now_iso)
    document = _object_of([e for e in payload.elements if e.placement == "body"], ctx, build)
    return encode_body(payload.content_type, document)
