"""Credentials applied to outbound requests, OAuth 2.0 tokens cached, secrets masked in logs.

`Authenticator.parts()` turns a `Credential` into the headers and query parameters a
request needs (Basic, Bearer, API key in a header or the query, OAuth 2.0 access
token). Secrets are decrypted from the vault only here, only when a request is about
to be sent, and never put into an exception or a log line.

OAuth 2.0 (`grant` = `client_credentials` or `refresh_token`): the access token is
cached in memory until `expires_in` minus a margin. A token stored with the credential
(`secrets["access_token"]`, `fields["expires_at"]`) is used while it is fresh; a new
one is fetched from `token_url` (form-encoded, client id and secret by HTTP Basic) and
handed to `on_token` encrypted, so the caller can persist it. On a 401 the caller
asks for `parts(..., refresh=True)` once.

`mask_headers()` / `mask_url()` give what may be logged: the values of Authorization,
Cookie, X-Api-Key, Stripe-Signature, the API key's header and any query parameter
carrying a secret become `••••`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import httpx
import msgspec

from payloads_tui.domain.errors import CredentialError, PayloadsError
from payloads_tui.domain.models import REQUIRED_FIELDS, SECRET_FIELDS, Credential
from payloads_tui.store.vault import MASK, Vault

#: Header names whose values are always masked in logged requests and responses.
SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "stripe-signature"}
)
#: Query parameter names whose values are always masked in logged URLs (any case), as the headers above.
SENSITIVE_QUERY: frozenset[str] = frozenset(
    {"api_key", "apikey", "api-key", "key", "access_token", "refresh_token", "id_token", "session_token", "token",
     "client_secret", "secret", "password", "sig", "signature"}
)
GRANTS: tuple[str, ...] = ("client_credentials", "refresh_token")
#: A cached OAuth token is renewed this many seconds before it expires.
TOKEN_MARGIN = 60.0
#: Longest a token request may take (seconds).
TOKEN_TIMEOUT = 30.0

TokenSaver = Callable[[str, Credential], None]


@dataclass(frozen=True)
class AuthParts:
    """What a credential adds to a request, and which names must be masked when logged."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    secret_headers: frozenset[str] = frozenset()
    secret_query: frozenset[str] = frozenset()


NO_AUTH = AuthParts()


@dataclass
class _Token:
    value: str
    expires_at: float | None  # epoch seconds; None = unknown (valid until a 401)


def secret_names(credential: Credential | None) -> tuple[frozenset[str], frozenset[str]]:
    """(lower-case header names, query parameter names) a credential puts secrets into."""
    if credential is None:
        return frozenset(), frozenset()
    if credential.kind == "api_key":
        name = credential.fields.get("name", "")
        if credential.fields.get("placement", "header") == "query":
            return frozenset(), frozenset({name})
        return frozenset({name.lower()}), frozenset()
    return frozenset({"authorization"}), frozenset()


def mask_headers(headers: Mapping[str, str], secret_headers: Iterable[str] = ()) -> dict[str, str]:
    """A copy of `headers` fit for the job log: secret values replaced by `••••`."""
    hidden = SENSITIVE_HEADERS | {name.lower() for name in secret_headers}
    return {name: (MASK if name.lower() in hidden else value) for name, value in headers.items()}


def mask_url(url: str, secret_query: Iterable[str]) -> str:
    """`url` with the values of query parameters named in `secret_query` or `SENSITIVE_QUERY` replaced by `••••`."""
    hidden = set(secret_query)
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    parts = []
    for piece in query.split("&"):
        name, eq, _value = piece.partition("=")
        plain = unquote_plus(name)
        parts.append(f"{name}={MASK}" if plain in hidden or plain.lower() in SENSITIVE_QUERY else piece)
    return f"{base}?{'&'.join(parts)}{hash_sep}{fragment}"


def mask_query(query: Mapping[str, str]) -> dict[str, str]:
    """A copy of parsed query parameters fit for the job log: those named in `SENSITIVE_QUERY` masked."""
    return {name: (MASK if name.lower() in SENSITIVE_QUERY else value) for name, value in query.items()}


def _has(credential: Credential, name: str) -> bool:
    if name in SECRET_FIELDS.get(credential.kind, ()):
        return bool(credential.secrets.get(name))
    return bool(credential.fields.get(name, "").strip())


def check_credential(credential: Credential) -> None:
    """`CredentialError` naming the credential and the first missing field, if any."""
    required = list(REQUIRED_FIELDS.get(credential.kind, ()))
    if credential.kind == "oauth2":
        grant = credential.fields.get("grant", "")
        if grant and grant not in GRANTS:
            raise CredentialError(
                f"credential {credential.name!r}: grant {grant!r} is not supported; "
                f"use {' or '.join(GRANTS)}"
            )
        required += ["client_id", "client_secret"] if grant == "client_credentials" else ["refresh_token"]
    if credential.kind == "api_key" and credential.fields.get("placement", "header") not in ("header", "query"):
        raise CredentialError(f"credential {credential.name!r}: placement must be 'header' or 'query'")
    for name in required:
        if not _has(credential, name):
            raise CredentialError(
                f"credential {credential.name!r} ({credential.kind}) has no {name}; "
                "fill it in on the Credentials tab"
            )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Authenticator:
    """Applies credentials; caches OAuth access tokens per (integration, credential)."""

    def __init__(
        self,
        vault: Vault,
        *,
        on_token: TokenSaver | None = None,
        margin: float = TOKEN_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._vault = vault
        self._on_token = on_token
        self._margin = margin
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Newest refresh token (ciphertext) per credential, when the server rotated it:
        # callers may still hold the credential as it was before.
        self._rotated: dict[tuple[str, str], str] = {}

    def _secret(self, credential: Credential, name: str) -> str:
        try:
            return self._vault.decrypt(credential.secrets[name])
        except KeyError:
            raise CredentialError(f"credential {credential.name!r} has no {name}; fill it in") from None
        except PayloadsError as exc:
            raise CredentialError(f"credential {credential.name!r}: {name}: {exc}") from None

    async def parts(
        self, client: httpx.AsyncClient, integration: str, credential: Credential | None, *, refresh: bool = False
    ) -> AuthParts:
        """Headers / query parameters for `credential` (None: no auth); `refresh` forces a new OAuth token."""
        if credential is None:
            return NO_AUTH
        check_credential(credential)
        headers, query = secret_names(credential)
        kind = credential.kind
        if kind == "basic":
            password = self._secret(credential, "password") if "password" in credential.secrets else ""
            value = _basic(credential.fields["username"], password)
            return AuthParts({"Authorization": value}, {}, headers, query)
        if kind == "bearer":
            return AuthParts({"Authorization": f"Bearer {self._secret(credential, 'token')}"}, {}, headers, query)
        if kind == "api_key":
            name, value = credential.fields["name"], self._secret(credential, "value")
            if credential.fields.get("placement", "header") == "query":
                return AuthParts({}, {name: value}, headers, query)
            return AuthParts({name: value}, {}, headers, query)
        token = await self._access_token(client, integration, credential, refresh=refresh)
        return AuthParts({"Authorization": f"Bearer {token}"}, {}, headers, query)

    def forget(self, integration: str, credential: Credential) -> None:
        """Drop the cached token of a credential (e.g. after it was edited)."""
        self._tokens.pop((integration, credential.id), None)

    # --- OAuth 2.0 -------------------------------------------------------------------

    def _fresh(self, token: _Token | None) -> bool:
        if token is None:
            return False
        return token.expires_at is None or token.expires_at - self._margin > self._clock()

    def _stored_token(self, credential: Credential) -> _Token | None:
        if not credential.secrets.get("access_token"):
            return None
        expires = credential.fields.get("expires_at", "").strip()
        try:
            expires_at = float(expires) if expires else None
        except ValueError:
            expires_at = 0.0  # unreadable expiry: treat as expired
        return _Token(self._secret(credential, "access_token"), expires_at)

    async def _access_token(
        self, client: httpx.AsyncClient, integration: str, credential: Credential, *, refresh: bool
    ) -> str:
        key = (integration, credential.id)
        stale = self._tokens.get(key)
        if not refresh:
            if self._fresh(stale):
                return stale.value  # type: ignore[union-attr]
            stored = self._stored_token(credential)
            if self._fresh(stored):
                self._tokens[key] = stored  # type: ignore[assignment]
                return stored.value  # type: ignore[union-attr]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._tokens.get(key)
            # Another request refreshed while we waited: use its token.
            if current is not None and current is not stale and self._fresh(current):
                return current.value
            token = await self._fetch_token(client, integration, credential)
            self._tokens[key] = token
            return token.value

    async def _fetch_token(self, client: httpx.AsyncClient, integration: str, credential: Credential) -> _Token:
        grant = credential.fields["grant"]
        token_url = credential.fields["token_url"]
        form: dict[str, str] = {"grant_type": grant}
        key = (integration, credential.id)
        if grant == "refresh_token":
            rotated = self._rotated.get(key)
            form["refresh_token"] = self._vault.decrypt(rotated) if rotated else self._secret(credential, "refresh_token")
        if scope := credential.fields.get("scope", "").strip():
            form["scope"] = scope
        headers = {"Accept": "application/json"}
        client_id = credential.fields.get("client_id", "").strip()
        if client_id and credential.secrets.get("client_secret"):
            headers["Authorization"] = _basic(client_id, self._secret(credential, "client_secret"))
        elif client_id:
            form["client_id"] = client_id
        where = f"credential {credential.name!r}: the token request to {token_url}"
        try:
            response = await client.post(token_url, data=form, headers=headers, timeout=TOKEN_TIMEOUT)
        except httpx.HTTPError as exc:
            raise CredentialError(f"{where} failed ({type(exc).__name__}: {exc or 'no detail'})") from None
        if response.status_code != 200:
            raise CredentialError(
                f"{where} was refused: {response.status_code} {response.reason_phrase}{_oauth_error(response)}; "
                "check the client id, secret, scope and token URL"
            )
        try:
            answer = msgspec.json.decode(response.content)
            value = answer["access_token"]
            if not isinstance(value, str) or not value:
                raise KeyError("access_token")
        except (msgspec.DecodeError, KeyError, TypeError):
            raise CredentialError(f"{where} answered without an access_token in JSON") from None
        expires_in = answer.get("expires_in")
        expires_at = self._clock() + float(expires_in) if isinstance(expires_in, (int, float)) else None
        token = _Token(value, expires_at)
        updated = self._updated_credential(credential, token, answer.get("refresh_token"))
        if updated.secrets.get("refresh_token") != credential.secrets.get("refresh_token"):
            self._rotated[key] = updated.secrets["refresh_token"]
        if self._on_token is not None:
            self._on_token(integration, updated)
        return token

    def _updated_credential(self, credential: Credential, token: _Token, refresh_token: object) -> Credential:
        """A copy of `credential` holding the new token (encrypted), for persisting."""
        secrets = dict(credential.secrets)
        fields = dict(credential.fields)
        secrets["access_token"] = self._vault.encrypt(token.value)
        if isinstance(refresh_token, str) and refresh_token:
            secrets["refresh_token"] = self._vault.encrypt(refresh_token)
        if token.expires_at is not None:
            fields["expires_at"] = f"{token.expires_at:.0f}"
        else:
            fields.pop("expires_at", None)
        return msgspec.structs.replace(credential, secrets=secrets, fields=fields)


def _oauth_error(response: httpx.Response) -> str:
    """` (invalid_client: ...)` from an OAuth error answer, if it has one."""
    try:
        answer = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return ""
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
        return ""
    description = answer.get("error_description")
    detail = f": {description[:200]}" if isinstance(description, str) else ""
    return f" ({answer['error'][:80]}{detail})"
