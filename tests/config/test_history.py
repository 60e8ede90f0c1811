"""The history log: batches appended in one write, read newest first, filtered, persisted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError, ValidationError
from payloads_tui.domain.models import FieldChange, HistoryEntry
from payloads_tui.store.history import HistoryLog, current_user


def entry(
    name: str, *, integration: str = "stripe", kind: str = "inbound payload", user: str = "ann", field: str = "name"
) -> HistoryEntry:
    return HistoryEntry(
        action="update",
        integration=integration,
        kind=kind,
        name=name,
        user=user,
        changes=[FieldChange(field=field, old="a", new="b")],
    )


@pytest.fixture
def log(tmp_path: Path):
    history = HistoryLog(tmp_path, durable=False)
    yield history
    history.close()


def names(entries: list[HistoryEntry]) -> list[str]:
    return [e.name for e in entries]


def test_entries_are_read_newest_first_and_survive_reopening(tmp_path: Path, log: HistoryLog) -> None:
    log.record([entry("one"), entry("two")])
    log.record([entry("three")])
    assert names(log.entries()) == ["three", "two", "one"]
    log.close()
    reopened = HistoryLog(tmp_path, durable=False)
    assert names(reopened.entries()) == ["three", "two", "one"]
    assert reopened.entries()[0].changes == [FieldChange(field="name", old="a", new="b")]
    reopened.close()
    stored = json.loads((tmp_path / "history.json").read_text())
    assert [doc["name"] for doc in stored["history"].values()] == ["one", "two", "three"]


def test_filters_by_integration_text_and_limit(log: HistoryLog) -> None:
    log.record(
        [
            entry("Customer Webhook", user="ann"),
            entry("Stripe Key", kind="credential", user="bob", field="secrets.token"),
            entry("Account", kind="object schema", integration=""),
            entry("Other", integration="shopify", user="Carol"),
        ]
    )
    assert names(log.entries(integration="stripe")) == ["Stripe Key", "Customer Webhook"]
    assert names(log.entries(integration="")) == ["Account"]
    assert names(log.entries(text="CREDENTIAL")) == ["Stripe Key"]
    assert names(log.entries(text="webhook")) == ["Customer Webhook"]
    assert names(log.entries(text="secrets.TOKEN")) == ["Stripe Key"]
    assert names(log.entries(text="carol")) == ["Other"]
    assert names(log.entries(integration="stripe", text="ann")) == ["Customer Webhook"]
    assert names(log.entries(limit=2)) == ["Other", "Account"]
    assert log.entries(text="nothing like this") == []


def test_an_entry_without_a_user_gets_the_os_user(log: HistoryLog) -> None:
    log.record([entry("x", user="")])
    assert log.entries()[0].user == current_user()
    assert current_user()


def test_an_entry_that_could_not_be_read_back_is_refused(tmp_path: Path, log: HistoryLog) -> None:
    log.record([entry("kept")])
    before = (tmp_path / "history.json").read_bytes()
    bad = HistoryEntry(action="explode", integration="stripe", kind="credential", name="Key")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="action"):
        log.record([entry("fine"), bad])
    assert (tmp_path / "history.json").read_bytes() == before
    assert names(log.entries()) == ["kept"]


def test_a_damaged_history_file_names_the_entry(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps({"history": {"1": {"action": "create", "kind": "x"}}}))
    with pytest.raises(StoreError, match="history entry 1"):
        HistoryLog(tmp_path)


def test_returned_entries_do_not_change_the_log(log: HistoryLog) -> None:
    log.record([entry("x")])
    log.entries()[0].changes.clear()
    assert len(log.entries()[0].changes) == 1
