"""Reading the job log across segments: newest() filters and paging, counts, total, unfinished, updates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tinydb import TinyDB

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import UNFINISHED_STATUSES, Job
from payloads_tui.store.jobs import JobLog

SEGMENT = 5
STATUSES = ["Completed", "Failed", "Queued", "Completed", "Processing", "Partially Completed", "Retrying"]


def fill(log: JobLog, count: int = 37, base: float = 1_700_000_000.0) -> list[Job]:
    """`count` jobs of both kinds, two integrations, varied statuses, created one second apart."""
    jobs = []
    for i in range(count):
        kind = "outbound" if i % 4 == 3 else "inbound"
        job = log.create(
            kind,
            "acme" if i % 3 else "globex",
            "Orders" if i % 5 == 0 else "Customers",
            "Email" if i % 6 == 0 else "External API",
        )
        job.status = STATUSES[i % len(STATUSES)]  # type: ignore[assignment]
        job.created = base + i
        if job.status == "Failed":
            job.error = f"HTTP 502 Bad Gateway from upstream #{i}"
        log.save(job)
        jobs.append(job)
    log.settle()
    return jobs


def by_number(jobs: list[Job]) -> list[str]:
    return [j.number for j in sorted(jobs, key=lambda j: j.seq, reverse=True)]


def by_created(jobs: list[Job]) -> list[str]:
    return [j.number for j in sorted(jobs, key=lambda j: (j.created, j.seq, j.kind), reverse=True)]


def numbers(jobs: list[Job]) -> list[str]:
    return [j.number for j in jobs]


@pytest.fixture
def log(tmp_path: Path):
    log = JobLog(tmp_path, durable=False, segment_jobs=SEGMENT)
    yield log
    log.close()


def test_jobs_spread_over_sealed_segments_and_the_active_log(log: JobLog, tmp_path: Path) -> None:
    jobs = fill(log)
    segments = sorted((tmp_path / "jobs").glob("seg-*.json"))
    assert len(segments) >= len(jobs) // (2 * SEGMENT)
    sealed: list[str] = []
    for path in segments:  # sealed segments are TinyDB databases holding whole jobs
        db = TinyDB(path, access_mode="r")
        docs = db.table("jobs").all()
        db.close()
        # A segment fills to SEGMENT jobs, plus what arrives while the previous one is being written.
        assert SEGMENT <= len(docs) <= 2 * SEGMENT
        sealed += [d["number"] for d in docs]
    assert len(sealed) == len(set(sealed))
    assert set(sealed) <= {j.number for j in jobs}
    assert {j.number for j in jobs[: len(sealed)]} == set(sealed)  # oldest jobs sealed first


@pytest.mark.parametrize(
    ("kind", "filters", "keep"),
    [
        ("inbound", {}, lambda j: j.kind == "inbound"),
        ("outbound", {}, lambda j: j.kind == "outbound"),
        (None, {}, lambda j: True),
        ("inbound", {"integration": "globex"}, lambda j: j.kind == "inbound" and j.integration == "globex"),
        (None, {"statuses": {"Failed"}}, lambda j: j.status == "Failed"),
        (None, {"statuses": {"Queued", "Retrying"}}, lambda j: j.status in ("Queued", "Retrying")),
        ("inbound", {"payload": "Orders"}, lambda j: j.kind == "inbound" and j.payload == "Orders"),
        (None, {"text": "bad gateway"}, lambda j: j.error is not None),
        (None, {"text": "in-1"}, lambda j: j.number.startswith("IN-1")),
        (None, {"text": "EMAIL"}, lambda j: j.source == "Email"),
        (None, {"text": "partially"}, lambda j: j.status == "Partially Completed"),
        (
            None,
            {"integration": "acme", "statuses": {"Completed"}},
            lambda j: j.integration == "acme" and j.status == "Completed",
        ),
    ],
)
def test_newest_filters_match_a_plain_scan(log: JobLog, kind, filters, keep) -> None:
    jobs = fill(log)
    expected = [j for j in jobs if keep(j)]
    assert expected, "the filter selects nothing: the test would prove nothing"
    order = by_number if kind else by_created
    assert numbers(log.newest(kind, limit=1000, **filters)) == order(expected)
    assert numbers(log.newest(kind, limit=3, **filters)) == order(expected)[:3]


@pytest.mark.parametrize(
    ("kind", "filters"), [("inbound", {}), (None, {}), (None, {"statuses": {"Completed", "Failed"}})]
)
def test_paging_with_before_walks_every_job_once_across_segments(log: JobLog, kind, filters) -> None:
    jobs = fill(log)
    pages: list[list[str]] = []
    before = None
    for _ in range(50):
        page = numbers(log.newest(kind, limit=4, before=before, **filters))
        if not page:
            break
        pages.append(page)
        before = page[-1]
    walked = [n for page in pages for n in page]
    full = numbers(log.newest(kind, limit=1000, **filters))
    assert walked == full
    assert len(pages) > 3  # several pages, crossing segment boundaries
    assert len(set(walked)) == len(walked)
    statuses = filters.get("statuses")
    assert set(walked) == {
        j.number for j in jobs if (kind is None or j.kind == kind) and (statuses is None or j.status in statuses)
    }


def test_paging_argument_errors(log: JobLog) -> None:
    fill(log, count=8)
    with pytest.raises(ValidationError):
        log.newest("inbound", before="OUT-1")
    with pytest.raises(ValidationError):
        log.newest(before="twelve")
    assert log.newest(before="IN-999") == []


def test_counts_and_total_agree_with_a_plain_scan(log: JobLog) -> None:
    jobs = fill(log)
    assert log.total() == len(jobs)
    assert log.total("outbound") == sum(j.kind == "outbound" for j in jobs)
    assert log.counts() == dict(Counter(j.status for j in jobs))
    assert log.counts(integration="globex", kind="inbound") == dict(
        Counter(j.status for j in jobs if j.integration == "globex" and j.kind == "inbound")
    )
    since = jobs[12].created + 0.5  # falls inside a sealed segment
    assert log.counts(since=since) == dict(Counter(j.status for j in jobs if j.created >= since))
    assert log.counts(since=jobs[-1].created + 1) == {}


def test_counts_come_from_the_manifest_after_reopen(log: JobLog, tmp_path: Path) -> None:
    jobs = fill(log)
    log.close()
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in (tmp_path / "jobs").glob("seg-*"):
        path.rename(aside / path.name)  # counts must not need any segment file
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as reopened:
        assert reopened.total() == len(jobs)
        assert reopened.counts() == dict(Counter(j.status for j in jobs))
        assert reopened.counts(kind="outbound") == dict(Counter(j.status for j in jobs if j.kind == "outbound"))
    for path in aside.iterdir():
        path.rename(tmp_path / "jobs" / path.name)
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as restored:
        assert all(restored.get(j.number) is not None for j in jobs)


def test_an_update_of_a_job_in_a_sealed_segment_is_seen_everywhere(log: JobLog, tmp_path: Path) -> None:
    jobs = fill(log)
    old = next(j for j in jobs[:SEGMENT] if j.status == "Completed")
    updated = log.get(old.number)
    assert updated is not None
    updated.status = "Failed"
    updated.error = "replayed: still failing"
    updated.summary = '"Invoice 42 overdue" from ada@example.com'
    log.save(updated)

    def check(current: JobLog, all_jobs: list[Job]) -> None:
        got = current.get(old.number)
        assert got is not None and got.status == "Failed" and got.error == "replayed: still failing"
        assert old.number in numbers(current.newest(statuses={"Failed"}, limit=100))
        assert old.number not in numbers(current.newest(statuses={"Completed"}, limit=100))
        assert numbers(current.newest(text="still failing")) == [old.number]
        assert numbers(current.newest(text="INVOICE 42")) == [old.number]  # an email's subject, from its head
        expected = Counter(j.status for j in all_jobs if j.number != old.number)
        expected["Failed"] += 1
        assert current.counts() == dict(expected)
        assert current.total() == len(all_jobs)

    check(log, jobs)  # served as an overlay from the active log
    log.close()
    reopened = JobLog(tmp_path, durable=False, segment_jobs=SEGMENT)
    check(reopened, jobs)  # replayed after reopen, counts fixed from the overlay line alone
    jobs += fill(reopened, count=SEGMENT, base=1_800_000_000.0)  # the next seal merges the overlay
    check(reopened, jobs)
    reopened.close()
    rewritten = sorted((tmp_path / "jobs").glob("seg-00000001-*.json"))
    assert [p.name for p in rewritten] == ["seg-00000001-2.json"]
    db = TinyDB(rewritten[0], access_mode="r")
    stored = {d["number"]: d for d in db.table("jobs").all()}
    db.close()
    assert stored[old.number]["status"] == "Failed"
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as last:
        check(last, jobs)


def test_a_job_first_saved_after_its_number_range_was_sealed(log: JobLog) -> None:
    late = log.create("inbound", "acme", "Customers", "Console")  # IN-1, not saved yet
    fill(log, count=12)
    assert log.get(late.number) is None
    late.status = "Completed"
    log.save(late)
    log.settle()
    assert log.get(late.number) is not None
    assert numbers(log.newest("inbound", limit=1000))[-1] == late.number
    assert log.total() == 13


def test_unfinished_lists_queued_processing_retrying_oldest_first(log: JobLog) -> None:
    jobs = fill(log)
    done = next(j for j in jobs[:SEGMENT] if j.status == "Queued")
    done.status = "Completed"
    log.save(done)
    revived = next(j for j in jobs[:SEGMENT] if j.status == "Completed" and j is not done)
    revived.status = "Retrying"
    log.save(revived)
    expected = [j for j in jobs if j.status in UNFINISHED_STATUSES]
    got = log.unfinished()
    assert numbers(got) == [j.number for j in sorted(expected, key=lambda j: (j.created, j.seq, j.kind))]
    assert revived.number in numbers(got) and done.number not in numbers(got)


def test_an_index_written_before_heads_had_a_summary_still_reads() -> None:
    import msgspec

    from payloads_tui.store.jobformat import decode_heads

    older = msgspec.msgpack.encode([["IN-1", "inbound", 1, "stripe", "Billing", "Completed", "Email", 1.5, None,
                                     [], 0, 120]])
    [head] = decode_heads(older)
    assert (head.number, head.length, head.summary) == ("IN-1", 120, None)
