"""Request/response bodies: inline text when small, content-addressed blobs otherwise."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from payloads_tui.domain.errors import NotFoundError, ValidationError
from payloads_tui.domain.models import HttpExchange
from payloads_tui.store.blobs import BlobStore
from payloads_tui.store.jobs import JobLog


@pytest.fixture
def log(tmp_path: Path):
    log = JobLog(tmp_path, durable=False, blob_threshold=1024)
    yield log
    log.close()


def test_small_text_stays_inline(log: JobLog) -> None:
    exchange = HttpExchange()
    body = '{"name": "Zoë"}'.encode()
    log.externalize(exchange, body, "application/json")
    assert exchange.body == '{"name": "Zoë"}'
    assert exchange.body_blob is None
    assert exchange.body_size == len(body)
    assert exchange.content_type == "application/json"
    assert log.body_of(exchange) == body


def test_large_text_goes_to_a_blob_and_survives_a_save(log: JobLog, tmp_path: Path) -> None:
    body = b"a,b\n" + b"1,2\n" * 2000
    job = log.create("inbound", "acme", "Orders", "External API", request=HttpExchange())
    assert job.request is not None
    log.externalize(job.request, body, "text/csv")
    assert job.request.body is None
    assert job.request.body_blob == hashlib.sha256(body).hexdigest()
    assert job.request.body_size == len(body)
    log.save(job)
    stored = log.get(job.number)
    assert stored is not None and stored.request is not None
    assert log.body_of(stored.request) == body
    path = tmp_path / "blobs" / job.request.body_blob[:2] / job.request.body_blob
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700


def test_data_queried_stays_inline_when_small_and_goes_to_a_blob_when_large(log: JobLog, tmp_path: Path) -> None:
    small = [{"id": "acc_1", "name": "Zoë"}]
    large = [{"id": f"acc_{i}", "name": f"Account {i}", "email": f"a{i}@example.com"} for i in range(100)]
    inline = log.create("outbound", "acme", "Accounts", "External API")
    log.keep_data(inline, small)
    assert (inline.data_queried, inline.data_blob) == (small, None)
    blobbed = log.create("outbound", "acme", "Accounts", "External API")
    log.keep_data(blobbed, large)
    assert blobbed.data_queried == [] and blobbed.data_blob is not None
    log.save(inline)
    log.save(blobbed)
    line = (next((tmp_path / "jobs").glob("active-*.jsonl"))).read_bytes()
    assert b"a99@example.com" not in line, "the large data is not repeated in the log"
    log.close()
    with JobLog(tmp_path, durable=False, blob_threshold=1024) as reopened:
        assert reopened.data_of(reopened.get(blobbed.number)) == large  # type: ignore[arg-type]
        assert reopened.data_of(reopened.get(inline.number)) == small  # type: ignore[arg-type]


def test_binary_goes_to_a_blob_whatever_its_size(log: JobLog) -> None:
    exchange = HttpExchange()
    body = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + b"\x00\x01"
    log.externalize(exchange, body, "image/jpeg")
    assert exchange.body is None and exchange.body_blob is not None
    assert log.body_of(exchange) == body


def test_no_body_at_all(log: JobLog) -> None:
    assert log.body_of(HttpExchange()) is None


def test_blob_store_is_idempotent_and_reports_sizes(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"hello")
    assert blobs.put(b"hello") == sha
    assert blobs.get(sha) == b"hello"
    assert blobs.exists(sha) and blobs.size(sha) == 5
    assert blobs.delete(sha) is True
    assert blobs.delete(sha) is False
    assert not blobs.exists(sha)
    with pytest.raises(NotFoundError, match=sha):
        blobs.get(sha)
    with pytest.raises(NotFoundError):
        blobs.size(sha)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "ab/../../x", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "", "..\x00"],
)
def test_blob_names_that_are_not_sha256_hex_are_refused(tmp_path: Path, name: str) -> None:
    blobs = BlobStore(tmp_path)
    for call in (blobs.get, blobs.exists, blobs.size, blobs.delete):
        with pytest.raises(ValidationError, match="64 lowercase hex"):
            call(name)
