"""The job log against a plain dict, through random saves, updates, seals and reopens (hypothesis)."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from payloads_tui.store.jobs import JobLog

STATUSES = st.sampled_from(["Queued", "Processing", "Completed", "Failed", "Retrying"])
KINDS = st.sampled_from(["inbound", "outbound"])
INTEGRATIONS = st.sampled_from(["acme", "globex"])


class JobLogMachine(RuleBasedStateMachine):
    numbers = Bundle("numbers")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="joblog-model-"))
        self.log = JobLog(self.dir, durable=False, segment_jobs=3)
        self.model: dict[str, tuple[str, str, str]] = {}  # number -> (integration, kind, status)

    @rule(target=numbers, kind=KINDS, integration=INTEGRATIONS, status=STATUSES, soon=st.booleans())
    def save_new(self, kind: str, integration: str, status: str, soon: bool) -> str:
        job = self.log.create(kind, integration, "Customers", "Console")  # type: ignore[arg-type]
        job.status = status  # type: ignore[assignment]
        (self.log.save_soon if soon else self.log.save)(job)
        self.model[job.number] = (integration, kind, status)
        return job.number

    @rule(number=numbers, status=STATUSES)
    def update(self, number: str, status: str) -> None:
        job = self.log.get(number)
        assert job is not None, f"{number} vanished"
        job.status = status  # type: ignore[assignment]
        self.log.save(job)
        integration, kind, _ = self.model[number]
        self.model[number] = (integration, kind, status)

    @rule()
    def settle(self) -> None:
        self.log.settle()

    @rule()
    def reopen(self) -> None:
        self.log.close()
        self.log = JobLog(self.dir, durable=False, segment_jobs=3)

    @invariant()
    def matches_the_model(self) -> None:
        log = self.log
        for kind, prefix in (("inbound", "IN-"), ("outbound", "OUT-")):
            expected = sorted((n for n in self.model if n.startswith(prefix)), key=lambda n: -int(n.split("-")[1]))
            assert [j.number for j in log.newest(kind, limit=1000)] == expected  # type: ignore[arg-type]
        failed = {n for n, (_, _, s) in self.model.items() if s == "Failed"}
        assert {j.number for j in log.newest(statuses={"Failed"}, limit=1000)} == failed
        unfinished = {n for n, (_, _, s) in self.model.items() if s in ("Queued", "Processing", "Retrying")}
        assert {j.number for j in log.unfinished()} == unfinished
        log.flush_sync()  # counts follow commits (a save_soon is counted once committed)
        assert log.total() == len(self.model)
        assert log.counts() == dict(Counter(status for _, _, status in self.model.values()))
        assert log.counts(integration="acme", kind="inbound") == dict(
            Counter(s for i, k, s in self.model.values() if i == "acme" and k == "inbound")
        )

    def teardown(self) -> None:
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


JobLogMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=30, deadline=None)
TestJobLogModel = JobLogMachine.TestCase
