"""`RefusalDigest`: which refused requests an operator is shown, and the count of the rest."""

from __future__ import annotations

from payloads_tui.engine.events import AuthRejected
from payloads_tui.service.refusals import RefusalDigest, RefusalNotice


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refusal(reason: str, integration: str = "stripe") -> AuthRejected:
    return AuthRejected(integration, "POST /api/stripe/customers", reason, "127.0.0.1:5312")


def test_the_first_is_shown_the_burst_counted_and_flushed() -> None:
    clock = Clock()
    digest = RefusalDigest(2.0, clock)
    assert digest.flush() is None
    assert digest.offer(refusal("bad token")) == RefusalNotice(
        "stripe", "POST /api/stripe/customers from 127.0.0.1:5312: bad token")
    clock.now += 0.5
    assert digest.offer(refusal("bad token")) is None
    clock.now += 1.0
    assert digest.offer(refusal("stale timestamp")) is None
    assert digest.held == 2
    clock.now += 0.6
    assert digest.flush() == RefusalNotice(
        "stripe", "2 more refusals; the last: POST /api/stripe/customers from 127.0.0.1:5312: stale timestamp")
    assert digest.held == 0 and digest.flush() is None
    clock.now += 1.0  # within the interval of the flush: held again
    assert digest.offer(refusal("bad token")) is None
    assert digest.flush() == RefusalNotice(  # one held back is shown as itself
        "stripe", "POST /api/stripe/customers from 127.0.0.1:5312: bad token")


def test_one_shown_after_the_interval_carries_the_count_not_yet_flushed() -> None:
    clock = Clock()
    digest = RefusalDigest(2.0, clock)
    digest.offer(refusal("a"))
    clock.now += 1.0
    assert digest.offer(refusal("b")) is None
    clock.now += 1.0
    notice = digest.offer(AuthRejected("", "RCPT TO:<x@y.z>", "no Email Service has this address"))
    assert notice == RefusalNotice("", "RCPT TO:<x@y.z>: no Email Service has this address (and 1 more before it)")
    assert digest.flush() is None


def test_a_count_over_several_integrations_names_none_but_the_last() -> None:
    clock = Clock()
    digest = RefusalDigest(2.0, clock)
    digest.offer(refusal("bad token"))
    digest.offer(refusal("bad token"))
    digest.offer(AuthRejected("", "RCPT TO:<x@y.z>", "no Email Service has this address", "127.0.0.1:9"))
    digest.offer(refusal("bad signature", integration="shop"))
    assert digest.flush() == RefusalNotice(
        "", "3 more refusals; the last: shop: POST /api/stripe/customers from 127.0.0.1:5312: bad signature")


def test_recent_refusals_keep_the_newest_and_count_them_all() -> None:
    from payloads_tui.service.refusals import RecentRefusals

    now = [1_800_000_000.0]
    kept = RecentRefusals(kept=3, clock=lambda: now[0])
    for i in range(5):
        kept.offer(refusal(f"401, bad {i}"))
        now[0] += 60
    kept.offer(refusal("401, other", integration="shop"))
    kept.offer(object())  # not a refusal: ignored
    assert [r.reason for r in kept.newest(integration="stripe")] == ["401, bad 4", "401, bad 3"]
    assert kept.count(integration="stripe", since=now[0] - 3600) == 5, "counted beyond the 3 kept"
    assert kept.count(integration="shop", since=now[0]) == 1
    now[0] += 3 * 86400  # two days later, the old hours are dropped when a new one starts
    kept.offer(refusal("401, later"))
    assert kept.count(integration="stripe", since=0) == 1
