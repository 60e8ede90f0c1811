"""Job numbers: monotonic per kind, kept across reopen, never reused after a crash (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError, ValidationError
from payloads_tui.store.jobs import JobLog

ROOT = Path(__file__).resolve().parents[2]

# Saves jobs one by one and prints each number once save() has returned (durable).
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from payloads_tui.store import jobs
    if sys.argv[3] == "stall-seal":
        def stalled_seal(*args, **kwargs):
            time.sleep(600)
        jobs.seal = stalled_seal
    log = jobs.JobLog(Path(sys.argv[1]), segment_jobs=int(sys.argv[2]))
    i = 0
    while True:
        i += 1
        kind = "outbound" if i % 4 == 0 else "inbound"
        job = log.create(kind, "acme", "Customers", "Console")
        log.save(job)
        print(job.number, flush=True)
    """
)


def run_until_killed(data_dir: Path, segment_jobs: int, saved_wanted: int, mode: str = "") -> list[str]:
    """Run the writer in a subprocess, SIGKILL it once `saved_wanted` saves returned; return their numbers."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(segment_jobs), mode or "plain"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    saved: list[str] = []
    deadline = time.monotonic() + 30
    try:
        assert child.stdout is not None
        while len(saved) < saved_wanted and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            saved.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert len(saved) == saved_wanted, "the writer subprocess stopped early"
    return saved


def seq(number: str) -> int:
    return int(number.split("-")[1])


def test_numbers_are_monotonic_per_kind_and_survive_a_clean_reopen(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as log:
        numbers = [log.new_number("inbound") for _ in range(3)] + [log.new_number("outbound")]
        assert numbers == ["IN-1", "IN-2", "IN-3", "OUT-1"]
        log.save(log.create("inbound", "acme", "Customers", "Console"))  # IN-4
    with JobLog(tmp_path, durable=False) as log:
        # A clean close records the exact next number: no gap, no reuse.
        assert log.new_number("inbound") == "IN-5"
        assert log.new_number("outbound") == "OUT-2"


def test_numbers_never_reused_even_for_jobs_never_saved(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as log:
        handed_out = [log.new_number("inbound") for _ in range(250)]
    with JobLog(tmp_path, durable=False) as log:
        assert seq(log.new_number("inbound")) > seq(handed_out[-1])


def test_a_job_number_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as log:
        job = log.create("inbound", "acme", "Customers", "Console")
        job.number = "OUT-1"
        with pytest.raises(ValidationError, match="inbound"):
            log.save(job)
        with pytest.raises(ValidationError):
            log.new_number("sideways")  # type: ignore[arg-type]


def test_a_closed_log_refuses_writes(tmp_path: Path) -> None:
    log = JobLog(tmp_path, durable=False)
    job = log.create("inbound", "acme", "Customers", "Console")
    log.close()
    with pytest.raises(StoreError, match="closed"):
        log.save(job)
    log.close()  # idempotent


def test_sigkill_loses_no_saved_job_and_reuses_no_number(tmp_path: Path) -> None:
    saved = run_until_killed(tmp_path, segment_jobs=40, saved_wanted=130)
    jobs_dir = tmp_path / "jobs"
    actives = sorted(jobs_dir.glob("active-*.jsonl"))
    data = actives[-1].read_bytes()
    assert b"\0" in data, "the active log was not preallocated"
    with open(actives[-1], "r+b") as handle:  # a torn last line, as a crash mid-write leaves it
        handle.seek(data.index(b"\0"))  # where the lines end: zeros follow
        handle.write(b'{"number":"IN-99999","kind":"inbound","integ')

    log = JobLog(tmp_path)
    try:
        for number in saved:
            job = log.get(number)
            assert job is not None, f"{number} was saved before the kill but is missing"
            assert job.number == number
        assert log.get("IN-99999") is None
        assert log.total() >= len(saved)
        assert log.skipped_lines == 0
        saved_in = [seq(n) for n in saved if n.startswith("IN-")]
        saved_out = [seq(n) for n in saved if n.startswith("OUT-")]
        assert seq(log.new_number("inbound")) > max(saved_in)
        assert seq(log.new_number("outbound")) > max(saved_out)
        log.save(log.create("inbound", "acme", "Customers", "Console"))
    finally:
        log.close()
    for path in jobs_dir.glob("active-*.jsonl"):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), "the torn line (or the zeros) was not cut off"


def test_sigkill_while_sealing_recovers_both_active_logs(tmp_path: Path) -> None:
    # The sealer hangs (as if killed mid-write): jobs after the freeze go to the next active log.
    saved = run_until_killed(tmp_path, segment_jobs=10, saved_wanted=16, mode="stall-seal")
    assert len(list((tmp_path / "jobs").glob("active-*.jsonl"))) == 2
    with JobLog(tmp_path) as log:
        assert [log.get(n) is not None for n in saved] == [True] * len(saved)
        assert log.total() >= len(saved)  # the child may have saved one more before the kill landed
        assert log.seals == 1  # the interrupted seal was finished at open
        assert len(list((tmp_path / "jobs").glob("active-*.jsonl"))) == 1
        assert len(list((tmp_path / "jobs").glob("seg-*.json"))) == 1
        inbound = [j.number for j in log.newest("inbound", limit=1000)]
        assert inbound == sorted(inbound, key=seq, reverse=True)
        assert {n for n in saved if n.startswith("IN-")} <= set(inbound)
        assert log.total() == len(inbound) + log.total("outbound")


def test_a_missing_manifest_beside_segments_is_refused_and_nothing_deleted(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False, segment_jobs=3) as log:
        for _ in range(7):
            log.save(log.create("inbound", "acme", "Customers", "Console"))
        log.settle()
    (tmp_path / "jobs" / "manifest.json").unlink()
    before = sorted(p.name for p in (tmp_path / "jobs").iterdir())
    with pytest.raises(StoreError, match="manifest"):
        JobLog(tmp_path, durable=False)
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == before


def test_reopen_cleans_only_its_own_leftovers(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False, segment_jobs=3) as log:
        for _ in range(4):
            log.save(log.create("inbound", "acme", "Customers", "Console"))
        log.settle()
    jobs_dir = tmp_path / "jobs"
    leftovers = [
        ".seg-00000009-1.json.abc123.tmp",
        "seg-00000009-1.json",
        "seg-00000009-1.idx",
        "active-00000000.jsonl",
    ]
    foreign = ["notes.txt", "seg-00000001-1.json.bak"]
    for name in leftovers + foreign:
        (jobs_dir / name).write_bytes(b"x")
    with JobLog(tmp_path, durable=False, segment_jobs=3) as log:
        assert log.total() == 4
    names = {p.name for p in jobs_dir.iterdir()}
    assert not names & set(leftovers)
    assert set(foreign) <= names
