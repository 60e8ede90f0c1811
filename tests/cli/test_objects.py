"""`payloads records` and `payloads schemas`: the system of record from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from payloads_tui.cli import main
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import load_settings


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def demo_dir(runner: CliRunner, tmp_path: Path) -> Path:
    home = tmp_path / "demo"
    assert runner.invoke(main, ["--data-dir", str(home), "demo", "--seed-only"]).exit_code == 0
    return home


def run(runner: CliRunner, home: Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(main, [*args, "--data-dir", str(home)], input=input, catch_exceptions=False)


def test_records_lists_objects_then_one_objects_records_last_updated_first(runner: CliRunner, demo_dir: Path) -> None:
    listed = run(runner, demo_dir, "records")
    assert listed.exit_code == 0
    assert listed.output.splitlines()[0].split() == ["OBJECT", "RECORDS", "SCHEMA"]
    assert any(line.split()[:3] == ["Account", "3", "yes"] for line in listed.output.splitlines())
    with Workspace(load_settings(home=demo_dir)) as ws:
        ws.records.update("Account", "acc_globex", {"name": "Globex \x1b]0;t\x07 Ltd"})
    accounts = run(runner, demo_dir, "records", "Account", "--limit", "2")
    lines = accounts.stdout.splitlines()
    assert lines[0].startswith("acc_globex  ") and "name='Globex \\x1b]0;t\\x07 Ltd'" in lines[0]  # as repr shows it
    assert len(lines) == 2 and "(the 2 last updated; --limit shows more)" in accounts.stderr
    kept = run(runner, demo_dir, "records", "Account", "--where", "status == 'Customer'", "--json")
    assert [json.loads(line)["id"] for line in kept.output.splitlines()] == ["acc_acme"]


def test_records_of_an_unknown_object_or_with_a_bad_filter_say_so(runner: CliRunner, demo_dir: Path) -> None:
    unknown = runner.invoke(main, ["records", "Acount", "--data-dir", str(demo_dir)])
    assert unknown.exit_code == 1
    assert unknown.output == "error: no object 'Acount' here; objects: Account, Order, OrderLine, Task\n"
    bad = runner.invoke(main, ["records", "Account", "--where", "status ==", "--data-dir", str(demo_dir)])
    assert bad.exit_code == 1 and bad.output.startswith("error: ") and "Traceback" not in bad.output


def test_a_schema_shown_can_be_set_back_changed_and_refuses_bad_input(runner: CliRunner, demo_dir: Path,
                                                                      tmp_path: Path) -> None:
    shown = json.loads(run(runner, demo_dir, "schemas", "show", "Account").output)
    assert shown["name"] == "Account" and shown["external_id"] == "stripe_id" and "id" not in shown
    shown["fields"].append({"name": "loyalty", "type": "integer", "required": True})
    changed = tmp_path / "account.json"
    changed.write_text(json.dumps(shown))
    assert run(runner, demo_dir, "schemas", "set", str(changed)).output == "Replaced object schema Account (10 fields).\n"
    with Workspace(load_settings(home=demo_dir)) as ws:
        schema = next(s for s in ws.schemas() if s.name == "Account")
    assert (schema.fields[-1].name, schema.fields[-1].type, schema.fields[-1].required) == ("loyalty", "integer", True)
    lead = '{"name": "Lead", "external_id": "email", "fields": [{"name": "email", "required": true}]}'
    assert run(runner, demo_dir, "schemas", "set", "-", input=lead).output == "Created object schema Lead (1 field).\n"
    assert "Lead" in run(runner, demo_dir, "schemas").output
    for body, said in (
        ('{"name": "Bad", "fields": [{"name": "x", "type": "float"}]}',
         "error: fields[0].type: Invalid enum value 'float'; types are string, integer, number, boolean, "
         "datetime, date, object, array, any\n"),
        ("nope", "error: standard input is not JSON: Expecting value at line 1 column 1\n"),
        ("[1]", "error: schema: expected one JSON object: a schema with a name and fields\n"),
        ('{"name": "L2", "external_id": "nope", "fields": []}', "error: external_id: external id 'nope' is not a field\n"),
    ):
        refused = runner.invoke(main, ["schemas", "set", "-", "--data-dir", str(demo_dir)], input=body)
        assert (refused.exit_code, refused.output) == (1, said)
    assert run(runner, demo_dir, "schemas", "delete", "Lead").output == "Deleted object schema Lead; its records are kept.\n"
    used = runner.invoke(main, ["schemas", "delete", "Account", "--data-dir", str(demo_dir)])
    assert used.exit_code == 1 and "object 'Account' is used by stripe: inbound payload" in used.output
