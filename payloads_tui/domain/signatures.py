"""Webhook authentication schemes: API tokens, Stripe-style signatures, generic HMAC.

Pure functions over bytes and strings (stdlib `hmac`, `hashlib`, `secrets` only). Every
comparison of a secret value is constant time (`hmac.compare_digest`). Failures raise
`SignatureError` whose message says what was wrong, never what was expected: no secret,
token or signature appears in a message.

- Tokens: `pl_` + 43 url-safe characters (32 random bytes); stored only as
  `sha256:<hex>`.
- Stripe (https://docs.stripe.com/webhooks#verify-manually): header
  `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]` where each `v1` is
  hex HMAC-SHA256 of `f"{t}.".encode() + body` keyed with the endpoint secret
  (`whsec_...`, used as is). Any one matching `v1` passes; `v0` is ignored; `t` must be
  within `tolerance` seconds of now, in either direction.
- Generic HMAC: hex HMAC-SHA256 of the body, sent bare or as `sha256=<hex>`
  (GitHub's form).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from payloads_tui.domain.errors import SignatureError

TOKEN_PREFIX = "pl_"
TOKEN_BYTES = 32
TOKEN_HASH_PREFIX = "sha256:"
STRIPE_TOLERANCE = 300
_HEX_DIGITS = frozenset("0123456789abcdef")
_SHA256_HEX_LENGTH = 64


def generate_token() -> str:
    """A new API token: `pl_` + 32 random bytes, url-safe base64 (43 characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token: `sha256:<hex>`."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def verify_token(token: str, token_hash: str) -> bool:
    """Whether `token` hashes to `token_hash`, compared in constant time."""
    if not token or not token_hash.startswith(TOKEN_HASH_PREFIX):
        return False
    return hmac.compare_digest(hash_token(token).encode("ascii"), token_hash.encode("utf-8"))


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _is_sha256_hex(value: str) -> bool:
    return len(value) == _SHA256_HEX_LENGTH and set(value) <= _HEX_DIGITS


def stripe_signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send for `body` at `timestamp`."""
    return f"t={timestamp},v1={_hmac_hex(secret, f'{timestamp}.'.encode('ascii') + body)}"


def _parse_stripe_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise SignatureError(
                "malformed Stripe-Signature header: expected comma-separated key=value pairs "
                "such as t=1700000000,v1=<hex>"
            )
        if key == "t":
            if timestamp is not None:
                raise SignatureError("malformed Stripe-Signature header: more than one timestamp t=")
            if not value.isdigit():
                raise SignatureError("malformed Stripe-Signature header: t= is not a unix timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("malformed Stripe-Signature header: it has no timestamp t=")
    return timestamp, signatures


def verify_stripe_signature(
    secret: str, body: bytes, header: str | None, *, now: float, tolerance: int = STRIPE_TOLERANCE
) -> None:
    """Check a `Stripe-Signature` header; raise `SignatureError` saying why it fails."""
    if header is None or not header.strip():
        raise SignatureError("missing Stripe-Signature header")
    timestamp, signatures = _parse_stripe_header(header)
    if not signatures:
        raise SignatureError("Stripe-Signature header has no v1 signature (only v1 is accepted)")
    expected = _hmac_hex(secret, f"{timestamp}.".encode("ascii") + body).encode("ascii")
    matched = False
    for candidate in signatures:
        # Compare every candidate (no early exit) so timing says nothing about which matched.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8"))
    if not matched:
        raise SignatureError(
            "no v1 signature matches the body; check the endpoint's signing secret and that "
            "the body is forwarded unchanged"
        )
    age = now - timestamp
    if age > tolerance:
        raise SignatureError(
            f"Stripe-Signature timestamp is {age:.0f} s old, outside the {tolerance} s tolerance "
            "(a replay, or a clock out of sync)"
        )
    if -age > tolerance:
        raise SignatureError(
            f"Stripe-Signature timestamp is {-age:.0f} s in the future, outside the {tolerance} s "
            "tolerance (a clock out of sync)"
        )


def hmac_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `body` keyed with `secret`."""
    return _hmac_hex(secret, body)


def verify_hmac_signature(secret: str, body: bytes, header_value: str | None) -> None:
    """Check a hex HMAC-SHA256 header (`<hex>` or `sha256=<hex>`); raise `SignatureError` if wrong."""
    if header_value is None or not header_value.strip():
        raise SignatureError("missing signature header")
    value = header_value.strip()
    if value[:7].lower() == "sha256=":
        value = value[7:]
    value = value.lower()
    if not _is_sha256_hex(value):
        raise SignatureError(
            "malformed signature header: expected 64 hex digits of HMAC-SHA256, optionally prefixed with sha256="
        )
    if not hmac.compare_digest(hmac_signature(secret, body).encode("ascii"), value.encode("ascii")):
        raise SignatureError(
            "signature does not match the body; check the signing secret and that the body is forwarded unchanged"
        )
