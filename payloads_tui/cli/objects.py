"""`payloads records` and `payloads schemas`: the system of record from the shell.

`records` lists the objects with their counts, or one object's records, the last
updated first (what an integrator checks after a webhook: did the mapping write what
the preview promised?). `schemas` lists, shows, sets (from JSON) and deletes object
schemas, which every integration of the data directory shares. Reading works beside a
running service; changes go through it, as every changing command does.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import click

from payloads_tui.cli import data_dir_option, main, open_workspace, reports_errors, writable_workspace
from payloads_tui.domain.errors import NotFoundError, PayloadsError, ValidationError
from payloads_tui.domain.models import FieldType
from payloads_tui.domain.terminaltext import json_text, printable
from payloads_tui.domain.words import counted

#: Record fields every record has, shown first (the rest in stored order).
RECORD_HEAD = ("id", "updated_at")
RECORD_META = frozenset({"id", "created_at", "updated_at"})
FIELD_TYPES = get_args(FieldType)


@main.command()
@data_dir_option
@click.argument("obj", metavar="[OBJECT]", required=False)
@click.option("--where", default="", metavar="FILTER",
              help="Only records this JMESPath filter keeps, as a source's filter (status == 'active').")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@click.pass_context
@reports_errors
def records(ctx: click.Context, obj: str | None, where: str, limit: int, as_json: bool) -> None:
    """List the objects of the system of record, or OBJECT's records, the last updated first."""
    import msgspec

    with open_workspace(ctx, read_only=True) as ws:
        if obj is None:
            print_objects(ws.record_counts(), {s.name for s in ws.schemas()})
            return
        known = ws.record_objects()
        if obj not in known:
            listed = ", ".join(known) if known else "none yet"
            raise NotFoundError(f"no object {obj!r} here; objects: {listed}")
        found = ws.list_records(obj, limit=limit, where=where)
    for record in found:
        click.echo(json_text(msgspec.json.encode(record)) if as_json else record_line(record))
    if not as_json and len(found) == limit:
        click.echo(f"(the {limit} last updated; --limit shows more)", err=True)


def print_objects(counts: dict[str, int], with_schema: set[str]) -> None:
    if not counts:
        click.echo("No records yet. An inbound payload's targets write them; 'payloads demo' seeds some.")
        return
    width = max(len("OBJECT"), *(len(name) for name in counts))
    click.echo(f"{'OBJECT':<{width}}  {'RECORDS':>7}  SCHEMA")
    for name, count in counts.items():
        click.echo(f"{name:<{width}}  {count:>7,}  {'yes' if name in with_schema else '—'}")


def record_line(record: dict[str, Any]) -> str:
    """`acc_1  2026-11-28T07:00:00Z  name='Acme' email='a@x'`: a record on one line."""
    fields = " ".join(f"{k}={v!r}" for k, v in record.items() if k not in RECORD_META)
    head = "  ".join(str(record.get(k) or "—") for k in RECORD_HEAD)
    return printable(f"{head}  {fields}".rstrip())  # values came from webhooks and emails


@main.group(invoke_without_command=True)
@data_dir_option
@click.pass_context
@reports_errors
def schemas(ctx: click.Context) -> None:
    """List object schemas (subcommands: show, set, delete)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_workspace(ctx, read_only=True) as ws:
        found = ws.schemas()
    if not found:
        click.echo("No object schemas. 'payloads schemas set FILE' adds one (see 'payloads schemas set --help').")
        return
    width = max(len("OBJECT"), *(len(s.name) for s in found))
    click.echo(f"{'OBJECT':<{width}}  FIELDS  REQUIRED  EXTERNAL ID  STRICT")
    for schema in sorted(found, key=lambda s: s.name):
        required = sum(1 for f in schema.fields if f.required)
        click.echo(f"{schema.name:<{width}}  {len(schema.fields):>6}  {required:>8}  "
                   f"{schema.external_id or '—':<11}  {'yes' if schema.strict else 'no'}".rstrip())


@schemas.command("show")
@data_dir_option
@click.argument("name")
@click.pass_context
@reports_errors
def schemas_show(ctx: click.Context, name: str) -> None:
    """Print object schema NAME as JSON (what 'schemas set' takes back)."""
    with open_workspace(ctx, read_only=True) as ws:
        schema = next((s for s in ws.schemas() if s.name == name), None)
    if schema is None:
        raise NotFoundError(f"no object schema named {name!r}")
    click.echo(json_text(json.dumps(schema_data(schema), indent=2, ensure_ascii=False).encode()))


@schemas.command("set")
@data_dir_option
@click.argument("file", type=click.File("rb"))
@click.pass_context
@reports_errors
def schemas_set(ctx: click.Context, file: Any) -> None:
    """Create or replace an object schema from a JSON FILE ('-' for standard input).

    \b
    {"name": "Contact", "external_id": "email", "strict": false,
     "fields": [{"name": "email", "required": true, "max_length": 120},
                {"name": "seats", "type": "integer"},
                {"name": "status", "picklist": ["Customer", "Prospect"]}]}

    Types: string (the default), integer, number, boolean, datetime, date, object, array, any.
    """
    from payloads_tui.domain.models import ObjectSchema, from_data

    data = read_json(file)
    if not isinstance(data, dict):
        raise ValidationError("expected one JSON object: a schema with a name and fields", "schema")
    data.pop("id", None)  # matched by name: an id from another data directory means nothing here
    try:
        schema = from_data(ObjectSchema, data)
    except ValidationError as exc:
        if (exc.field or "").endswith(".type"):
            raise ValidationError(f"{exc.reason}; types are {', '.join(FIELD_TYPES)}", exc.field) from None
        raise
    with writable_workspace(ctx) as (ws, _attached):
        existed = any(s.name == schema.name for s in ws.schemas())
        saved = ws.save_schema(schema)
    click.echo(f"{'Replaced' if existed else 'Created'} object schema {saved.name} "
               f"({counted(len(saved.fields), 'field')}).")


@schemas.command("delete")
@data_dir_option
@click.argument("name")
@click.pass_context
@reports_errors
def schemas_delete(ctx: click.Context, name: str) -> None:
    """Delete object schema NAME; its records stay (refused while a payload uses the object)."""
    with writable_workspace(ctx) as (ws, _attached):
        ws.delete_schema(name)
    click.echo(f"Deleted object schema {name}; its records are kept.")


def schema_data(schema: Any) -> dict[str, Any]:
    """A schema as JSON data, without its id and without defaults left unset."""
    from payloads_tui.domain.models import to_data

    data = {k: v for k, v in to_data(schema).items() if k != "id"}
    data["fields"] = [{k: v for k, v in field.items() if v not in (None, False) or k == "name"}
                      for field in data.get("fields", [])]
    return data


def read_json(file: Any) -> Any:
    raw = file.read()
    name = getattr(file, "name", "-")
    where = "standard input" if name in ("<stdin>", "-") else name
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PayloadsError(f"{where} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PayloadsError(f"{where} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None

