"""Webhook authentication: tokens, Stripe-style signatures, generic HMAC - checked against the documented schemes."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payloads_tui.domain.errors import SignatureError
from payloads_tui.domain.signatures import (
    generate_token,
    hash_token,
    hmac_signature,
    stripe_signature_header,
    verify_hmac_signature,
    verify_stripe_signature,
    verify_token,
)

SECRET = "whsec_test_6b0b1f0c2a"
BODY = b'{"id":"evt_1","type":"customer.created"}'
NOW = 1_700_000_000


def stripe_v1(secret: str, body: bytes, timestamp: int) -> str:
    """Stripe's documented scheme: hex HMAC-SHA256 of "<t>.<body>" keyed with the endpoint secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


# --- tokens ----------------------------------------------------------------------------


def test_tokens_are_prefixed_random_and_long() -> None:
    tokens = {generate_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"pl_[A-Za-z0-9_-]{43,}", token)  # 32 bytes of url-safe base64


def test_token_hash_and_verify() -> None:
    token = generate_token()
    stored = hash_token(token)
    assert stored == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert verify_token(token, stored)
    assert not verify_token(token + "x", stored)
    assert not verify_token("", stored)
    assert not verify_token(token, "md5:" + stored[7:])
    assert not verify_token(token, "sha256:zzzé")  # odd stored values are a plain mismatch


# --- Stripe ----------------------------------------------------------------------------


def test_stripe_header_follows_the_documented_scheme() -> None:
    assert stripe_signature_header(SECRET, BODY, NOW) == f"t={NOW},v1={stripe_v1(SECRET, BODY, NOW)}"


def test_stripe_signature_computed_independently_is_accepted() -> None:
    header = f"t={NOW},v1={stripe_v1(SECRET, BODY, NOW)},v0=ignored"
    verify_stripe_signature(SECRET, BODY, header, now=NOW + 299)
    verify_stripe_signature(SECRET, BODY, header, now=NOW - 299)


def test_stripe_several_v1_any_one_matching_is_accepted() -> None:
    header = f"t={NOW},v1={'0' * 64},v1={stripe_v1(SECRET, BODY, NOW)},v1={'f' * 64}"
    verify_stripe_signature(SECRET, BODY, header, now=NOW)


@pytest.mark.parametrize(("now", "reason"), [(NOW + 301, "301 s old"), (NOW - 301, "301 s in the future")])
def test_stripe_timestamp_outside_tolerance_is_refused(now: int, reason: str) -> None:
    header = f"t={NOW},v1={stripe_v1(SECRET, BODY, NOW)}"
    with pytest.raises(SignatureError, match=reason):
        verify_stripe_signature(SECRET, BODY, header, now=now)


def test_stripe_tolerance_is_configurable() -> None:
    header = f"t={NOW},v1={stripe_v1(SECRET, BODY, NOW)}"
    verify_stripe_signature(SECRET, BODY, header, now=NOW + 1000, tolerance=1200)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_stripe_signature(SECRET, BODY, header, now=NOW + 11, tolerance=10)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("garbage", "malformed"),
        (f"v1={'a' * 64}", "no timestamp"),
        (f"t=soon,v1={'a' * 64}", "not a unix timestamp"),
        (f"t=-5,v1={'a' * 64}", "not a unix timestamp"),
        (f"t={NOW},t={NOW},v1={'a' * 64}", "more than one timestamp"),
        (f"t={NOW},=x", "malformed"),
        (f"t={NOW}", "no v1"),
        (f"t={NOW},v0={'a' * 64}", "no v1"),
        (f"t={NOW},v1={'a' * 64}", "no v1 signature matches"),
        (f"t={NOW},v1=", "no v1 signature matches"),
    ],
)
def test_stripe_bad_headers_are_refused_with_a_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_stripe_signature(SECRET, BODY, header, now=NOW)


def test_stripe_wrong_secret_is_refused_and_the_message_leaks_nothing() -> None:
    good = stripe_v1(SECRET, BODY, NOW)
    header = f"t={NOW},v1={stripe_v1('whsec_other', BODY, NOW)}"
    with pytest.raises(SignatureError) as caught:
        verify_stripe_signature(SECRET, BODY, header, now=NOW)
    assert good not in str(caught.value) and SECRET not in str(caught.value)


@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300), data=st.data())
def test_stripe_round_trip_and_any_single_byte_change_fails(secret: str, body: bytes, data: st.DataObject) -> None:
    header = stripe_signature_header(secret, body, NOW)
    verify_stripe_signature(secret, body, header, now=NOW)
    if body:
        index = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    else:
        changed = b"\x00"
    with pytest.raises(SignatureError):
        verify_stripe_signature(secret, changed, header, now=NOW)


# --- generic HMAC ----------------------------------------------------------------------


def test_hmac_accepts_bare_hex_and_sha256_prefix() -> None:
    expected = hmac.new(b"k3y", BODY, hashlib.sha256).hexdigest()
    assert hmac_signature("k3y", BODY) == expected
    verify_hmac_signature("k3y", BODY, expected)
    verify_hmac_signature("k3y", BODY, f"sha256={expected}")
    verify_hmac_signature("k3y", BODY, f"SHA256={expected.upper()}")
    verify_hmac_signature("k3y", BODY, f"  {expected}\n")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha256=", "malformed"),
        ("sha1=" + "a" * 40, "malformed"),
        ("z" * 64, "malformed"),
        ("a" * 63, "malformed"),
        ("a" * 64, "does not match"),
    ],
)
def test_hmac_bad_values_are_refused_with_a_reason(value: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_hmac_signature("k3y", BODY, value)


@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300), data=st.data())
def test_hmac_round_trip_and_any_single_byte_change_fails(secret: str, body: bytes, data: st.DataObject) -> None:
    value = hmac_signature(secret, body)
    verify_hmac_signature(secret, body, value)
    verify_hmac_signature(secret, body, "sha256=" + value)
    if body:
        index = data.draw(st.integers(0, len(body) - 1))
        changed = body[:index] + bytes([body[index] ^ data.draw(st.integers(1, 255))]) + body[index + 1 :]
    else:
        changed = b"x"
    with pytest.raises(SignatureError):
        verify_hmac_signature(secret, changed, value)
