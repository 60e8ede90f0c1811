"""Settings: defaults, then a TOML file, then `PAYLOADS_*` environment variables, then flags.

The TOML file is `settings.toml` in the user config directory (platformdirs), or the
file named by `PAYLOADS_CONFIG`. Every setting is documented where it is declared,
and paths are resolved lazily: importing this module creates nothing.

```toml
home = "/srv/payloads"        # data directory
http = "127.0.0.1:8787"
smtp = "127.0.0.1:2525"
[limits]
max_body_bytes = 10485760
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from payloads_tui.domain.errors import ValidationError

APP_NAME = "payloads"


def parse_address(value: str, what: str) -> tuple[str, int]:
    """`host:port` (or `[::1]:port`) → (host, port); port 0 means any free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValidationError(f"{value!r} is not host:port (e.g. 127.0.0.1:8787)", what)
    if int(port) > 65535:
        raise ValidationError(f"{value!r}: port {port} is out of range (0 to 65535)", what)
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


@dataclass(frozen=True)
class Limits:
    """Size and concurrency limits of the service."""

    #: Largest webhook body the HTTP receiver accepts (bytes); larger gets 413.
    max_body_bytes: int = 10 * 1024 * 1024
    #: Largest email the SMTP receiver accepts (bytes), announced in EHLO SIZE; larger gets 552.
    max_message_bytes: int = 25 * 1024 * 1024
    #: Largest answer to an outbound request that is read (bytes, as received); a larger
    #: one fails its job (not retried), so a wrong endpoint cannot fill the memory.
    max_response_bytes: int = 32 * 1024 * 1024
    #: Outbound requests running at once, across all hosts.
    outbound_concurrency: int = 16
    #: Outbound requests running at once to one host.
    outbound_per_host: int = 8
    #: Inbound batches processed at once (queued inbound jobs are processed in batches of up to 256).
    inbound_concurrency: int = 4
    #: Process inbound jobs (parse, map, write records) in a worker process of their own, on
    #: another core, rather than in a thread of the service (`engine/inboundworker.py`).
    inbound_worker: bool = True
    #: Bodies larger than this (bytes) go to content-addressed blob files, not the job log.
    blob_threshold: int = 16 * 1024
    #: Jobs older than this many days are pruned automatically (0: keep forever).
    retention_days: int = 30
    #: At most this many jobs are kept; the oldest segments are dropped first (0: no limit).
    retention_jobs: int = 2_000_000


@dataclass(frozen=True)
class Settings:
    """Everything the console and the service can be configured with."""

    #: Data directory: configuration, records, jobs, secrets key. `PAYLOADS_HOME`.
    home: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    #: HTTP receiver address, `host:port`. `PAYLOADS_HTTP`. Loopback unless you mean otherwise.
    http: str = "127.0.0.1:8787"
    #: SMTP receiver address, `host:port`. `PAYLOADS_SMTP`.
    smtp: str = "127.0.0.1:2525"
    #: Domain the SMTP receiver names itself with in its greeting. `PAYLOADS_SMTP_HOSTNAME`.
    smtp_hostname: str = "payloads.localhost"
    #: Limits; environment variables `PAYLOADS_MAX_BODY_BYTES` and so on.
    limits: Limits = field(default_factory=Limits)

    @property
    def http_address(self) -> tuple[str, int]:
        return parse_address(self.http, "http")

    @property
    def smtp_address(self) -> tuple[str, int]:
        return parse_address(self.smtp, "smtp")


def default_config_file() -> Path:
    return Path(os.environ.get("PAYLOADS_CONFIG") or Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml")


def default_demo_home() -> Path:
    """The demo's own data directory: `demo` beside the default data directory."""
    return Path(platformdirs.user_data_dir(APP_NAME)).parent / f"{APP_NAME}-demo"


def _coerce(value: Any, current: Any, where: str) -> Any:
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ValidationError(f"{value!r} is not true/false", where)
    if isinstance(current, int):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError(f"{value!r} is not a whole number", where) from None
        if number < 0:
            raise ValidationError("must not be negative", where)
        return number
    if isinstance(current, Path):
        return Path(str(value)).expanduser()
    if not isinstance(value, str):
        raise ValidationError(f"{value!r} is not text", where)
    return value


def load_settings(
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults < TOML file < `PAYLOADS_*` environment < keyword overrides (CLI flags)."""
    env = os.environ if environ is None else environ
    settings = Settings()
    path = config_file or default_config_file()
    if config_file is None and os.environ.get("PAYLOADS_CONFIG") and not path.exists():
        raise ValidationError(f"PAYLOADS_CONFIG names {path}, which does not exist: create it, fix the path, "
                              "or unset PAYLOADS_CONFIG (/dev/null: no settings file)", "settings")
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{path} is not valid TOML ({exc})", "settings") from None

    top: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    limit_names = {f.name for f in fields(Limits)}
    top_names = {f.name for f in fields(Settings)} - {"limits"}
    for key, value in data.items():
        if key == "limits" and isinstance(value, dict):
            for lk, lv in value.items():
                if lk not in limit_names:
                    raise ValidationError(f"unknown setting in {path}", f"limits.{lk}")
                limits[lk] = _coerce(lv, getattr(settings.limits, lk), f"limits.{lk}")
        elif key in top_names:
            top[key] = _coerce(value, getattr(settings, key), key)
        else:
            raise ValidationError(f"unknown setting in {path}", key)
    for name in top_names:
        if (value := env.get(f"PAYLOADS_{name.upper()}")) not in (None, ""):
            top[name] = _coerce(value, getattr(settings, name), f"PAYLOADS_{name.upper()}")
    for name in limit_names:
        if (value := env.get(f"PAYLOADS_{name.upper()}")) not in (None, ""):
            limits[name] = _coerce(value, getattr(settings.limits, name), f"PAYLOADS_{name.upper()}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in limit_names:
            limits[key] = value
        else:
            top[key] = Path(value).expanduser() if key == "home" else value
    settings = replace(settings, limits=replace(settings.limits, **limits), **top)
    settings.http_address  # validate now, with the field named
    settings.smtp_address
    return settings
