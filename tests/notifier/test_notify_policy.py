"""notifier/policy.py: what an answer means (Standard Webhooks "Delivery success and failure") and
when the next attempt is."""

from __future__ import annotations

import pytest

from notifier.policy import Attempt, RetrySchedule, Verdict, classify, retry_after_s


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.DELIVERED), (201, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED),
    (410, Verdict.GONE),
    (408, Verdict.RETRY), (409, Verdict.RETRY), (429, Verdict.RETRY),
    (500, Verdict.RETRY), (502, Verdict.RETRY), (503, Verdict.RETRY), (504, Verdict.RETRY), (599, Verdict.RETRY),
    (400, Verdict.FINAL), (401, Verdict.FINAL), (403, Verdict.FINAL), (404, Verdict.FINAL), (422, Verdict.FINAL),
    (301, Verdict.FINAL), (302, Verdict.FINAL), (307, Verdict.FINAL),
    (100, Verdict.RETRY), (600, Verdict.RETRY),
])
def test_status_classes(status, verdict):
    assert classify(Attempt(status=status)) is verdict


def test_timeouts_and_connection_errors_are_retried():
    assert classify(Attempt(error="timeout after 15 s")) is Verdict.RETRY
    assert classify(Attempt(error="connection error: ClientConnectorError")) is Verdict.RETRY


def test_retry_after_forms():
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert retry_after_s("120", now) == 120.0
    assert retry_after_s(" 7 ", now) == 7.0
    assert retry_after_s("Tue, 14 Nov 2023 22:14:20 GMT", now) == 60.0
    assert retry_after_s("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0  # in the past: no wait
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


def test_schedule_without_jitter():
    schedule = RetrySchedule((5, 300, 1800), jitter=0)
    failed = Attempt(status=500)
    assert schedule.attempts == 4
    assert [schedule.next_delay(n, failed, 0) for n in (1, 2, 3)] == [5, 300, 1800]
    assert schedule.next_delay(4, failed, 0) is None  # exhausted


def test_jitter_bounds():
    schedule = RetrySchedule((100,), jitter=0.1)
    failed = Attempt(status=503)
    assert schedule.next_delay(1, failed, 0, rand=lambda: 0.0) == pytest.approx(90)
    assert schedule.next_delay(1, failed, 0, rand=lambda: 1.0) == pytest.approx(110)
    assert RetrySchedule((0,), jitter=0.1).next_delay(1, failed, 0) == 0.0


def test_retry_after_is_honoured_and_capped():
    schedule = RetrySchedule((5, 5), jitter=0, retry_after_max_s=60)
    assert schedule.next_delay(1, Attempt(status=429, retry_after="30"), 0) == 30  # longer than the schedule
    assert schedule.next_delay(1, Attempt(status=429, retry_after="1"), 0) == 5  # never sooner than the schedule
    assert schedule.next_delay(1, Attempt(status=503, retry_after="86400"), 0) == 60  # capped
    assert schedule.next_delay(2, Attempt(status=429, retry_after="30"), 0) == 30
    assert schedule.next_delay(3, Attempt(status=429, retry_after="30"), 0) is None


def test_describe():
    assert Attempt(status=503, body_preview="busy").describe() == "HTTP 503: busy"
    assert Attempt(status=500).describe() == "HTTP 500"
    assert Attempt(error="timeout after 2 s").describe() == "timeout after 2 s"
