"""The project's one exception tree: every error we raise on purpose is a `PayloadsError`.

Edges (HTTP, SMTP, CLI, TUI) catch `PayloadsError` and show its message; any other
exception is a bug. Each message says what was wrong and, where it can, what to do.
"""

from __future__ import annotations

from payloads_tui.domain.terminaltext import printable


class PayloadsError(Exception):
    """Base of every error the console raises on purpose; its message is shown to the user."""


class ValidationError(PayloadsError):
    """A model, form or bundle has a bad field; `field` names it (a dotted path such as `targets[0].object`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        message = printable(message)  # both may quote what was typed or imported: shown on terminals
        super().__init__(f"{printable(field)}: {message}" if field else message)
        self.reason = message


class NotFoundError(PayloadsError):
    """A named integration, payload, job or record does not exist."""


class ConflictError(PayloadsError):
    """A name or unique key is already taken."""


class ParseError(PayloadsError):
    """A body could not be parsed by its content type; `where` says at which line/column or field."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{message} (at {where})" if where else message)
        self.reason = message


class UnsupportedContentType(ParseError):
    """A body's content type is not one the console parses."""


class MappingError(PayloadsError):
    """A mapping expression is invalid, or failed on the data it was given."""


class SchemaError(PayloadsError):
    """A record does not satisfy its object's schema; `field` names the offending field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)
        self.reason = message


class SignatureError(PayloadsError):
    """A webhook's signature or token is missing, malformed, stale or wrong."""


class StoreError(PayloadsError):
    """The data directory could not be read or written."""


class LockedError(StoreError):
    """Another process holds the data directory's writer lock."""

    def __init__(self, path: str, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"the data directory {path} is in use by {holder}: a console or `payloads serve` (then the service "
            "there did not answer on its control socket), or a command that writes there, such as "
            "`payloads run`; wait for it to finish or stop it"
        )


class VaultError(PayloadsError):
    """A secret could not be encrypted or decrypted (wrong or missing key)."""


class BundleError(PayloadsError):
    """A bundle cannot be exported or imported; nothing was changed."""


class CredentialError(PayloadsError):
    """A credential is incomplete or its token could not be obtained."""


class ServiceError(PayloadsError):
    """The service could not start, or a request to a running service failed."""
