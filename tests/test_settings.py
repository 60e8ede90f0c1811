"""Settings: defaults < TOML file < PAYLOADS_* environment < overrides, and errors naming the setting."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from payloads_tui.domain.errors import ValidationError
from payloads_tui.settings import Limits, Settings, default_config_file, load_settings

TOML = """
home = "/srv/from-file"
http = "127.0.0.1:1001"
smtp = "127.0.0.1:2001"
[limits]
max_body_bytes = 1001
"""
ENV = {
    "PAYLOADS_HOME": "/srv/from-env",
    "PAYLOADS_HTTP": "127.0.0.1:1002",
    "PAYLOADS_SMTP": "127.0.0.1:2002",
    "PAYLOADS_MAX_BODY_BYTES": "1002",
}
OVERRIDES: dict[str, Any] = {
    "home": "/srv/from-flag",
    "http": "127.0.0.1:1003",
    "smtp": "127.0.0.1:2003",
    "max_body_bytes": 1003,
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _picked(settings: Settings) -> tuple[str, str, str, int]:
    return (str(settings.home), settings.http, settings.smtp, settings.limits.max_body_bytes)


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "absent.toml", environ={})
    assert settings.http == "127.0.0.1:8787" and settings.http_address == ("127.0.0.1", 8787)
    assert settings.smtp_address == ("127.0.0.1", 2525)
    assert settings.limits == Limits()
    assert settings.home.name == "payloads"


@pytest.mark.parametrize(
    ("use_file", "use_env", "use_overrides", "expected"),
    [
        (True, False, False, ("/srv/from-file", "127.0.0.1:1001", "127.0.0.1:2001", 1001)),
        (True, True, False, ("/srv/from-env", "127.0.0.1:1002", "127.0.0.1:2002", 1002)),
        (False, True, False, ("/srv/from-env", "127.0.0.1:1002", "127.0.0.1:2002", 1002)),
        (True, True, True, ("/srv/from-flag", "127.0.0.1:1003", "127.0.0.1:2003", 1003)),
        (True, False, True, ("/srv/from-flag", "127.0.0.1:1003", "127.0.0.1:2003", 1003)),
    ],
)
def test_precedence(tmp_path: Path, use_file: bool, use_env: bool, use_overrides: bool, expected: tuple) -> None:
    path = _write(tmp_path, TOML) if use_file else tmp_path / "absent.toml"
    settings = load_settings(path, environ=ENV if use_env else {}, **(OVERRIDES if use_overrides else {}))
    assert _picked(settings) == expected
    assert settings.limits.outbound_concurrency == Limits().outbound_concurrency  # untouched stays default


def test_none_overrides_and_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, TOML)
    settings = load_settings(path, environ={"PAYLOADS_HTTP": ""}, http=None, home=None)
    assert settings.http == "127.0.0.1:1001" and str(settings.home) == "/srv/from-file"


def test_home_expands_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings(tmp_path / "absent.toml", environ={"PAYLOADS_HOME": "~/data"})
    assert settings.home == tmp_path / "data"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, TOML)
    monkeypatch.setenv("PAYLOADS_CONFIG", str(path))
    assert default_config_file() == path
    assert load_settings(environ={}).http == "127.0.0.1:1001"


@pytest.mark.parametrize(
    ("toml", "env", "field"),
    [
        ('http = "127.0.0.1:1001"\nhttp = "x"', {}, "settings"),  # bad TOML: a key defined twice
        ("home = ", {}, "settings"),
        ('colour = "blue"', {}, "colour"),
        ("[limits]\nmax_bodies = 1", {}, "limits.max_bodies"),
        ('http = "localhost"', {}, "http"),
        ("", {"PAYLOADS_SMTP": "127.0.0.1:99999"}, "smtp"),
        ("", {"PAYLOADS_HTTP": "127.0.0.1:port"}, "http"),
        ("[limits]\nretention_days = -1", {}, "limits.retention_days"),
        ("", {"PAYLOADS_MAX_BODY_BYTES": "-5"}, "PAYLOADS_MAX_BODY_BYTES"),
        ("", {"PAYLOADS_OUTBOUND_CONCURRENCY": "many"}, "PAYLOADS_OUTBOUND_CONCURRENCY"),
        ("http = 8787", {}, "http"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, toml: str, env: dict[str, str], field: str) -> None:
    path = _write(tmp_path, toml)
    with pytest.raises(ValidationError) as caught:
        load_settings(path, environ=env)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    if field == "settings":
        assert str(path) in str(caught.value)


def test_bad_override_address_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path / "absent.toml", environ={}, smtp="nowhere")
    assert caught.value.field == "smtp"


@pytest.mark.parametrize(("env", "toml", "expected"), [
    ({}, "", True),
    ({"PAYLOADS_INBOUND_WORKER": "false"}, "", False),
    ({}, "[limits]\ninbound_worker = false\n", False),
    ({"PAYLOADS_INBOUND_WORKER": "yes"}, "[limits]\ninbound_worker = false\n", True),
])
def test_the_inbound_worker_is_on_unless_turned_off(tmp_path: Path, env: dict[str, str], toml: str,
                                                    expected: bool) -> None:
    path = _write(tmp_path, toml) if toml else tmp_path / "absent.toml"
    assert load_settings(path, environ=env).limits.inbound_worker is expected


def test_a_bad_inbound_worker_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as error:
        load_settings(tmp_path / "absent.toml", environ={"PAYLOADS_INBOUND_WORKER": "sometimes"})
    assert error.value.field == "PAYLOADS_INBOUND_WORKER"


def test_a_config_file_named_by_the_environment_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in PAYLOADS_CONFIG gave the defaults silently (the port, the retention…)."""
    monkeypatch.setenv("PAYLOADS_CONFIG", str(tmp_path / "setings.toml"))
    with pytest.raises(ValidationError) as raised:
        load_settings(environ={})
    assert raised.value.reason.startswith(f"PAYLOADS_CONFIG names {tmp_path / 'setings.toml'}, which does not exist")
    monkeypatch.setenv("PAYLOADS_CONFIG", os.devnull)  # says: no settings file
    assert load_settings(environ={}).http == Settings().http
    monkeypatch.delenv("PAYLOADS_CONFIG")
    monkeypatch.setattr("platformdirs.user_config_dir", lambda *_a, **_k: str(tmp_path / "none"))
    assert load_settings(environ={}).http == Settings().http  # the default place may well hold none
