"""Rules an integration must satisfy beyond its types: names, unique keys, references.

`validate_integration()` raises `ValidationError` naming the first bad field (as a
dotted path such as `inbound[1].targets[0].object`), so a form or a bundle import
can point at it. Mapping expressions are checked by `domain.mapping`
(`check_inbound_expressions`, `check_outbound_expressions`), which this module calls.

It also refuses, at save time, what would only fail when a job runs: a mapped field
the record store sets itself, header names and values HTTP does not allow, form keys
the form encoder refuses, endpoints and token URLs that can never be http(s) URLs,
and credential fields the authenticator cannot use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from email.utils import getaddresses
from typing import Any

import msgspec

from payloads_tui.domain.errors import MappingError, ValidationError
from payloads_tui.domain.models import (
    API_PATH_RE,
    FIELD_NAME_RE,
    OBJECT_NAME_RE,
    PLAIN_FIELDS,
    SECRET_FIELDS,
    SLUG_RE,
    Credential,
    Element,
    Integration,
    ObjectSchema,
    OutboundPayload,
    Source,
)
from payloads_tui.domain.terminaltext import printable

EMAIL_RE_PARTS = 2

#: Fields the record store sets on every write (`store.records.STORE_FIELDS` but `id`), with a name to map to instead.
STORE_SET_FIELDS = {"created_at": "source_created", "updated_at": "source_updated"}
#: RFC 9110 `token`: what a header name may be made of.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Methods whose body elements are sent as form query parameters (`engine.requestbuild.BODYLESS_METHODS`).
BODYLESS_METHODS = frozenset({"GET", "DELETE"})
HTTP_PREFIXES = ("http://", "https://")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_MERGED = "\ue000"  # stands for a merge field of an endpoint: its text is known only when a job runs


def _unique(values: Iterable[str], field: str, what: str, attr: str | None = None) -> None:
    """Each of `values` non-empty and different (any case); errors name `field[i]`, or `field[i].attr`
    when `attr` is the one field of an item they are about (its form shows the error there)."""
    seen: set[str] = set()
    for index, value in enumerate(values):
        where = f"{field}[{index}]" + (f".{attr}" if attr else "")
        key = value.strip().lower()
        if not key:
            raise ValidationError(f"{what} must not be empty", where)
        if key in seen:
            raise ValidationError(f"{what} {value!r} is used twice; names must be unique", where)
        seen.add(key)


def validate_slug(slug: str, field: str = "slug") -> None:
    if not SLUG_RE.match(slug):
        raise ValidationError(
            f"{slug!r} is not a valid slug: use lowercase letters, digits and '-' (max 63)", field
        )


def validate_object_name(name: str, field: str) -> None:
    if not OBJECT_NAME_RE.match(name):
        raise ValidationError(
            f"{name!r} is not a valid object name: start with a capital letter, then letters, digits or '_'",
            field,
        )


def validate_email_address(address: str, field: str) -> None:
    local, at, domain = address.partition("@")
    if not at or not local or not domain or " " in address or "@" in domain:
        raise ValidationError(f"{address!r} is not an email address", field)


def mailbox_address(text: str, field: str) -> str:
    """The one address of `text` (`name@domain` or `Name <name@domain>`), or `ValidationError`."""
    found = getaddresses([text])
    address = found[0][1] if len(found) == 1 else ""
    try:
        validate_email_address(address, field)
    except ValidationError:
        raise ValidationError(f"{text!r} is not an email address: give name@domain (or Name <name@domain>)",
                              field) from None
    return address


#: Control characters no name, text or expression of the configuration may hold (tab and line breaks may).
_CONTROL_IN_CONFIG = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_control_characters(value: Any, where: str) -> None:
    """Refuse a control character anywhere in `value` (a model as builtins): names and descriptions are
    shown on terminals, where an ESC sequence from an imported bundle would set the title or the clipboard."""
    if isinstance(value, str):
        if found := _CONTROL_IN_CONFIG.search(value):
            raise ValidationError(f"holds the control character U+{ord(found.group()):04X} "
                                  f"({printable(found.group())}); remove it", where.lstrip("."))
    elif isinstance(value, dict):
        for key, item in value.items():
            no_control_characters(key, f"{where}.{key!r}")
            no_control_characters(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_control_characters(item, f"{where}[{index}]")


def validate_integration(integration: Integration) -> None:
    """Raise `ValidationError` for the first rule `integration` breaks (control characters last, so a
    field's own rule, with its own words, comes first)."""
    _integration_rules(integration)
    no_control_characters(msgspec.to_builtins(integration), "")


def _integration_rules(integration: Integration) -> None:
    from payloads_tui.domain import mapping  # the mapping engine validates expressions

    validate_slug(integration.slug)
    if not integration.name.strip():
        raise ValidationError("an integration needs a name", "name")
    for name in integration.variables:
        if not FIELD_NAME_RE.match(name):
            raise ValidationError(f"{name!r} is not a valid variable name", f"variables.{name}")

    _unique((p.name for p in integration.inbound), "inbound", "inbound payload name")
    _unique((p.name for p in integration.outbound), "outbound", "outbound payload name")
    _unique((c.name for c in integration.credentials), "credentials", "credential name")
    _unique((f"{a.method} {a.path}" for a in integration.apis), "apis", "external API")
    _unique((e.address for e in integration.emails), "emails", "email address", "address")

    inbound_names = {p.name for p in integration.inbound}
    outbound_names = {p.name for p in integration.outbound}
    credential_names = {c.name for c in integration.credentials}

    for i, payload in enumerate(integration.inbound):
        where = f"inbound[{i}]"
        _unique((t.name for t in payload.targets), f"{where}.targets", "target name")
        earlier: set[str] = set()
        for j, target in enumerate(payload.targets):
            twhere = f"{where}.targets[{j}]"
            validate_object_name(target.object, f"{twhere}.object")
            if target.operation in ("update", "upsert") and not target.match_key:
                raise ValidationError(f"{target.operation} needs a match key", f"{twhere}.match_key")
            _unique((m.field for m in target.mappings), f"{twhere}.mappings", "mapped field")
            for k, m in enumerate(target.mappings):
                mwhere = f"{twhere}.mappings[{k}]"
                if not FIELD_NAME_RE.match(m.field):
                    raise ValidationError(f"{m.field!r} is not a valid field name", f"{mwhere}.field")
                if m.field in STORE_SET_FIELDS:
                    raise ValidationError(
                        f"{m.field!r} is set by the record store on every write, so a mapped value would be "
                        f"replaced; map it to another field (e.g. {STORE_SET_FIELDS[m.field]!r})",
                        f"{mwhere}.field",
                    )
                if m.source == "target" and m.target not in earlier:
                    raise ValidationError(
                        f"target {m.target!r} is not an earlier target of this payload", f"{mwhere}.target"
                    )
                if m.source == "credential" and m.credential not in credential_names:
                    raise ValidationError(f"no credential named {m.credential!r}", f"{mwhere}.credential")
                if m.source == "variable" and m.expression not in integration.variables:
                    raise ValidationError(f"no variable named {m.expression!r}", f"{mwhere}.expression")
            mapped = {m.field for m in target.mappings}
            for key in target.match_key:
                if key not in mapped and key != "id":
                    raise ValidationError(f"match key {key!r} is not a mapped field", f"{twhere}.match_key")
            earlier.add(target.name)
        mapping.check_inbound_expressions(payload, where)

    for i, payload in enumerate(integration.outbound):
        where = f"outbound[{i}]"
        if payload.initiated == "local" and not payload.endpoint.strip():
            raise ValidationError("a locally initiated payload needs an endpoint", f"{where}.endpoint")
        if payload.credential and payload.credential not in credential_names:
            raise ValidationError(f"no credential named {payload.credential!r}", f"{where}.credential")
        if payload.response_handler and payload.response_handler not in inbound_names:
            raise ValidationError(
                f"no inbound payload named {payload.response_handler!r}", f"{where}.response_handler"
            )
        if not 1 <= payload.max_attempts <= 20:
            raise ValidationError("must be between 1 and 20", f"{where}.max_attempts")
        if not 0 < payload.timeout <= 600:
            raise ValidationError("must be between 0 and 600 seconds", f"{where}.timeout")
        _unique((s.name for s in payload.sources), f"{where}.sources", "source name")
        source_names = {s.name.strip().lower() for s in payload.sources}
        for j, source in enumerate(payload.sources):
            validate_object_name(source.object, f"{where}.sources[{j}].object")
            _validate_limit(source.limit, f"{where}.sources[{j}].limit")
            _validate_children(source, source_names, f"{where}.sources[{j}]")
        _validate_headers(payload, where)
        mapping.check_outbound_expressions(payload, where)
        _validate_each(payload.elements, payload.each_names(), f"{where}.elements")
        _validate_form_keys(payload, where)
        if payload.initiated == "local" and payload.endpoint.strip():
            _validate_endpoint(payload.endpoint, f"{where}.endpoint")

    for i, cred in enumerate(integration.credentials):
        where = f"credentials[{i}]"
        allowed_plain = set(PLAIN_FIELDS[cred.kind])
        for name in cred.fields:
            if name not in allowed_plain:
                raise ValidationError(f"{cred.kind} credentials have no field {name!r}", f"{where}.fields.{name}")
        for name in cred.secrets:
            if name not in SECRET_FIELDS[cred.kind]:
                raise ValidationError(f"{cred.kind} credentials have no secret {name!r}", f"{where}.secrets.{name}")
        if cred.kind == "api_key" and cred.fields.get("placement", "header") not in ("header", "query"):
            raise ValidationError("placement must be 'header' or 'query'", f"{where}.fields.placement")
        if cred.kind == "oauth2" and cred.fields.get("grant", "client_credentials") not in (
            "client_credentials",
            "refresh_token",
        ):
            raise ValidationError("grant must be 'client_credentials' or 'refresh_token'", f"{where}.fields.grant")
        _validate_credential_fields(cred, where)

    for i, api in enumerate(integration.apis):
        where = f"apis[{i}]"
        if (problem := _api_path_problem(api.path)) is not None:
            raise ValidationError(f"{api.path!r} is not a valid path: {problem}", f"{where}.path")
        names = inbound_names if api.method == "POST" else outbound_names
        if api.payload not in names:
            kind = "inbound" if api.method == "POST" else "outbound"
            raise ValidationError(f"no {kind} payload named {api.payload!r}", f"{where}.payload")
        if api.method == "GET":
            target = integration.outbound_payload(api.payload)
            if target is not None and target.initiated != "api":
                raise ValidationError(
                    f"outbound payload {api.payload!r} is not API initiated", f"{where}.payload"
                )
        if api.active and api.auth == "token" and not api.token_hash:
            raise ValidationError("token authentication needs a token", f"{where}.token_hash")
        if api.active and api.auth in ("stripe", "hmac") and not api.secret:
            raise ValidationError(f"{api.auth} authentication needs a signing secret", f"{where}.secret")

    for i, email in enumerate(integration.emails):
        where = f"emails[{i}]"
        validate_email_address(email.address, f"{where}.address")
        if email.payload not in inbound_names:
            raise ValidationError(f"no inbound payload named {email.payload!r}", f"{where}.payload")
        if (p := integration.inbound_payload(email.payload)) and p.content_type != "email":
            raise ValidationError(
                f"inbound payload {email.payload!r} does not take email content", f"{where}.payload"
            )


def _validate_children(source: Source, source_names: set[str], where: str) -> None:
    """Child sources: unique names unlike any source's, an object, the parent field, a limit of 1 or more."""
    _unique((c.name for c in source.children), f"{where}.children", "child source name")
    for k, child in enumerate(source.children):
        cwhere = f"{where}.children[{k}]"
        if child.name.strip().lower() in source_names:
            raise ValidationError(
                f"{child.name!r} is also the name of a source; give the child source a name of its own", f"{cwhere}.name"
            )
        validate_object_name(child.object, f"{cwhere}.object")
        if not FIELD_NAME_RE.match(child.parent_field):
            raise ValidationError(
                f"{child.parent_field!r} is not a field name: name the field of {child.object} that holds the "
                f"id of its {source.object} (letters, digits and '_', e.g. account_id)",
                f"{cwhere}.parent_field",
            )
        _validate_limit(child.limit, f"{cwhere}.limit")


def _api_path_problem(path: str) -> str | None:
    """What is wrong with an External API's path (as it follows /api/<integration>/), or None."""
    if not path:
        return "give one, e.g. 'customers' or 'hooks/stripe'"
    if "//" in path:
        return "it has an empty part ('//'); separate parts with one '/'"
    if path.endswith("/"):
        return "it ends with '/'; leave the last '/' out"
    if len(path) > 127:
        return "it is longer than 127 characters"
    if not path[0].isascii() or not path[0].isalnum() or path[0].isupper():
        return "it must start with a lowercase letter or a digit"
    if not API_PATH_RE.match(path):
        wrong = sorted({c for c in path if not (c.isascii() and (c.islower() or c.isdigit() or c in "-_/"))})
        return f"{', '.join(repr(c) for c in wrong)} not allowed: use lowercase letters, digits, '-', '_' and '/'"
    return None


def _validate_limit(limit: object, field: str) -> None:
    """A source's limit: None (no limit) or a whole number of 1 or more."""
    if limit is None:
        return
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ValidationError(f"limit must be a whole number of 1 or more (or none), not {limit!r}", field)
    if limit < 1:
        raise ValidationError("limit must be 1 or more", field)


def _validate_header_name(name: str, field: str) -> None:
    if not HEADER_NAME_RE.match(name):
        raise ValidationError(
            f"{name!r} is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ only "
            "(no spaces, no ':')",
            field,
        )


def _validate_header_value(name: str, value: str, field: str) -> None:
    if any(char in value for char in "\r\n\0"):
        raise ValidationError(
            f"the value of header {name!r} holds a line break (CR or LF) or a NUL; a header value is one line",
            field,
        )


def _validate_headers(payload: OutboundPayload, where: str) -> None:
    """Header names are RFC 9110 tokens and their values one line: the payload's headers and header elements."""
    for name, value in payload.headers.items():
        _validate_header_name(name, f"{where}.headers.{name}")
        _validate_header_value(name, value, f"{where}.headers.{name}")
    for i, element in enumerate(payload.elements):
        if element.placement != "header" or element.each:
            continue
        _validate_header_name(element.path, f"{where}.elements[{i}].path")
        if element.source == "static" and isinstance(element.value, str):
            _validate_header_value(element.path, element.value, f"{where}.elements[{i}].value")


def _validate_form_keys(payload: OutboundPayload, where: str) -> None:
    """Body element paths the form encoder takes: dotted names, none empty, free of '[' and ']'."""
    if payload.content_type == "form":
        why = ""
    elif payload.initiated == "local" and payload.method in BODYLESS_METHODS:
        why = f" (a {payload.method} sends its body elements as form query parameters)"
    else:
        return
    for i, element in enumerate(payload.elements):
        if element.placement == "body":
            _validate_form_paths(element, f"{where}.elements[{i}]", why)


def _validate_form_paths(element: Element, where: str, why: str) -> None:
    """`element`'s path and, at any depth, those of its item fields (whatever their placement)."""
    names = element.path.split(".")
    if any("[" in name or "]" in name for name in names):
        dotted = re.sub(r"\[([^\[\]]*)\]", r".\1", element.path)
        parts = dotted.split(".")
        if all(parts) and not any("[" in part or "]" in part for part in parts):
            bracketed = parts[0] + "".join(f"[{part}]" for part in parts[1:])
            how = f"write nesting with dots, {dotted!r}, which the form sends as {bracketed}"
        else:
            how = "write nesting with dots (e.g. 'metadata.order_id') and a list as an array element"
        raise ValidationError(
            f"{element.path!r} cannot be a form key: the form encoder writes '[' and ']' itself; {how}{why}",
            f"{where}.path",
        )
    if not all(names):
        raise ValidationError(
            f"{element.path!r} has an empty name: a form key needs a name between every two dots "
            f"(e.g. 'metadata.order_id'){why}",
            f"{where}.path",
        )
    for k, item_field in enumerate(element.elements):
        _validate_form_paths(item_field, f"{where}.elements[{k}]", why)


def _url_problem(text: str, *, templated: bool) -> str | None:
    """Why `text` can never be an http(s) URL, or None; merge fields (`templated`) stand as `_MERGED`."""
    problem = _url_start_problem(text, templated=templated)
    if problem:
        return problem
    outside = " outside its merge fields" if templated else ""
    for char in text:
        if char != _MERGED and (char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F):
            what = "a space" if char == " " else "a line break, tab or control character"
            return f"holds {what}{outside}; a URL holds none (write a space as %20)"
    return None


def _url_start_problem(text: str, *, templated: bool) -> str | None:
    """Why the start of `text` can never be `http(s)://host`, or None."""
    head = text.split(_MERGED, 1)[0]  # the literal text before the first merge field
    merged = _MERGED in text
    lower = head.lower()
    prefix = next((p for p in HTTP_PREFIXES if lower.startswith(p)), None)
    if prefix is None:
        if merged and any(p.startswith(lower) for p in HTTP_PREFIXES):
            return None  # the scheme comes from a merge field, e.g. {base_url}/v1/customers
        scheme = _SCHEME_RE.match(head)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            return f"is not an http(s) URL (its scheme is {scheme.group(1)!r}); only http:// and https:// are sent"
        start = ", or with a variable that holds the start (e.g. {base_url}/v1/customers)" if templated else ""
        if head.startswith("{"):
            start += "; '{{' is a literal brace: a merge field takes single braces, as in {base_url}/v1/customers"
        return f"is not a URL: start it with http:// or https://{start}"
    rest = head[len(prefix) :]
    host_end = re.search(r"[/?#]", rest)
    host = rest[: host_end.start()] if host_end else rest
    if not host and (host_end or not merged):
        return f"names no host after {prefix}"
    return None


def _validate_endpoint(endpoint: str, field: str) -> None:
    """An endpoint that can become an http(s) URL once its merge fields are filled in."""
    from payloads_tui.domain import mapping

    try:
        fields = {name: _MERGED for name in mapping.template_fields(endpoint)}
        text = mapping.render_template(endpoint, {}, {}, url_encode=False, fields=fields)
    except MappingError as exc:  # pragma: no cover - check_outbound_expressions refuses it first
        raise ValidationError(f"merge field: {exc}", field) from None
    problem = _url_problem(text, templated=bool(fields))
    if problem:
        raise ValidationError(f"endpoint {endpoint!r} {problem}", field)


def _validate_credential_fields(cred: Credential, where: str) -> None:
    """Plain fields the authenticator would fail on. Secrets are vault ciphertext here, so not judged."""
    if cred.kind == "basic" and not cred.fields.get("username", "").strip():
        raise ValidationError("basic credentials need a username", f"{where}.fields.username")
    if cred.kind == "api_key" and cred.fields.get("placement", "header") == "header" and cred.fields.get("name"):
        _validate_header_name(cred.fields["name"], f"{where}.fields.name")
    if cred.kind != "oauth2":
        return
    token_url = cred.fields.get("token_url", "")
    if token_url.strip():
        problem = _url_problem(token_url, templated=False)
        if problem:
            raise ValidationError(f"token URL {token_url!r} {problem}", f"{where}.fields.token_url")
    expires = cred.fields.get("expires_at", "").strip()
    if expires:
        try:
            seconds = float(expires)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ValidationError(
                f"expires_at {expires!r} is not a time: write it in epoch seconds (e.g. 1767225600), "
                "or leave it empty when unknown",
                f"{where}.fields.expires_at",
            )


def _validate_each(elements: list[Element], names: set[str], where: str) -> None:
    """Every array element (`each`) names a source or child source of the payload, at any depth."""
    for i, element in enumerate(elements):
        ewhere = f"{where}[{i}]"
        if element.each and element.each not in names:
            known = ", ".join(sorted(names)) or "none: add a source first"
            raise ValidationError(
                f"{element.each!r} is neither a source nor a child source of this payload (they are: {known})",
                f"{ewhere}.each",
            )
        _validate_each(element.elements, names, f"{ewhere}.elements")


def validate_schema(schema: ObjectSchema) -> None:
    """Raise `ValidationError` for the first rule an object schema breaks."""
    validate_object_name(schema.name, "name")
    _unique((f.name for f in schema.fields), "fields", "field name")
    names = set()
    for i, spec in enumerate(schema.fields):
        if not FIELD_NAME_RE.match(spec.name):
            raise ValidationError(f"{spec.name!r} is not a valid field name", f"fields[{i}].name")
        if spec.max_length is not None and spec.max_length < 1:
            raise ValidationError("max length must be 1 or more", f"fields[{i}].max_length")
        names.add(spec.name)
    if schema.external_id and schema.external_id not in names:
        raise ValidationError(f"external id {schema.external_id!r} is not a field", "external_id")
    no_control_characters(msgspec.to_builtins(schema), "")
