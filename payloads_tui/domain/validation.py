"""Rules an integration must satisfy beyond its types: names, unique keys, references.

`validate_integration()` raises `ValidationError` naming the first bad field (as a
dotted path such as `inbound[1].targets[0].object`), so a form or a bundle import
can point at it. Mapping expressions are checked by `domain.mapping`
(`check_inbound_expressions`, `check_outbound_expressions`), which this module calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import (
    API_PATH_RE,
    FIELD_NAME_RE,
    OBJECT_NAME_RE,
    PLAIN_FIELDS,
    SECRET_FIELDS,
    SLUG_RE,
    Element,
    Integration,
    ObjectSchema,
    Source,
)

EMAIL_RE_PARTS = 2


def _unique(values: Iterable[str], field: str, what: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        key = value.strip().lower()
        if not key:
            raise ValidationError(f"{what} must not be empty", f"{field}[{index}]")
        if key in seen:
            raise ValidationError(f"{what} {value!r} is used twice; names must be unique", f"{field}[{index}]")
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


def validate_integration(integration: Integration) -> None:
    """Raise `ValidationError` for the first rule `integration` breaks."""
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
    _unique((e.address for e in integration.emails), "emails", "email address")

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
            if source.limit is not None and source.limit < 1:
                raise ValidationError("limit must be 1 or more", f"{where}.sources[{j}].limit")
            _validate_children(source, source_names, f"{where}.sources[{j}]")
        mapping.check_outbound_expressions(payload, where)
        _validate_each(payload.elements, payload.each_names(), f"{where}.elements")

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

    for i, api in enumerate(integration.apis):
        where = f"apis[{i}]"
        if not API_PATH_RE.match(api.path) or "//" in api.path or api.path.endswith("/"):
            raise ValidationError(
                f"{api.path!r} is not a valid path: lowercase letters, digits, '-', '_' and '/'", f"{where}.path"
            )
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
        if child.limit is not None and child.limit < 1:
            raise ValidationError("limit must be 1 or more", f"{cwhere}.limit")


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
