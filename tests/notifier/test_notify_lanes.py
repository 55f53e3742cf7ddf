"""notifier/lanes.py: one webhook's delivery state machine, driven with a fake clock."""

from __future__ import annotations

from notifier.lanes import Delivery, WebhookQueue
from notifier.policy import Attempt, RetrySchedule, Verdict

OK = Attempt(status=200)
FAIL = Attempt(status=500)


def delivery(n: int, device: str = "dev-a") -> Delivery:
    return Delivery(ref=n, lane=device, webhook_id=f"msg_{n}", kind="alert.open", body=f"{{\"n\":{n}}}",
                    record_ms=0)


def queue(delays=(5, 10), **kw) -> WebhookQueue:
    return WebhookQueue("hook", RetrySchedule(delays, jitter=0), max_in_flight=kw.get("max_in_flight", 8),
                        max_backlog=kw.get("max_backlog", 100))


def test_delivered_at_once():
    q = queue()
    d = delivery(1)
    assert q.submit(d, 0.0) is None
    assert q.take_ready(0.0) == [d] and d.attempts == 1 and q.in_flight == 1
    settled = q.settle(d, OK, 0.1, 0.0)
    assert settled.verdict is Verdict.DELIVERED
    assert [(f.delivery, f.delivered) for f in settled.finished] == [(d, True)]
    assert q.backlog == 0 and q.in_flight == 0 and q.next_due() is None


def test_retries_on_the_schedule_then_exhausted():
    q = queue(delays=(5, 10))
    d = delivery(1)
    q.submit(d, 0.0)
    q.take_ready(0.0)
    assert q.settle(d, FAIL, 1.0, 0.0).retry_in_s == 5
    assert q.next_due() == 6.0 and q.take_ready(5.9) == []
    assert q.take_ready(6.0) == [d]
    assert q.settle(d, Attempt(error="timeout after 1 s"), 7.0, 0.0).retry_in_s == 10
    assert q.take_ready(17.0) == [d] and d.attempts == 3
    settled = q.settle(d, Attempt(status=503, body_preview="down"), 18.0, 0.0)
    (finished,) = settled.finished
    assert not finished.delivered
    assert finished.reason == "retry schedule exhausted after 3 attempt(s); last: HTTP 503: down"
    assert q.backlog == 0


def test_final_4xx_is_not_retried():
    q = queue()
    d = delivery(1)
    q.submit(d, 0.0)
    q.take_ready(0.0)
    settled = q.settle(d, Attempt(status=404), 0.1, 0.0)
    assert settled.verdict is Verdict.FINAL and settled.retry_in_s is None
    assert settled.finished[0].reason == "final answer after 1 attempt(s); last: HTTP 404"


def test_a_device_lane_keeps_its_order_while_others_go_on():
    q = queue()
    a1, a2, b1 = delivery(1, "a"), delivery(2, "a"), delivery(3, "b")
    for d in (a1, a2, b1):
        q.submit(d, 0.0)
    assert q.take_ready(0.0) == [a1, b1]  # a2 waits behind a1
    q.settle(b1, OK, 0.1, 0.0)
    q.settle(a1, FAIL, 0.1, 0.0)  # retry in 5 s: a2 still waits
    assert q.take_ready(1.0) == []
    assert q.take_ready(5.1) == [a1]
    q.settle(a1, OK, 5.2, 0.0)
    assert q.take_ready(5.2) == [a2]


def test_in_flight_is_bounded():
    q = queue(max_in_flight=2)
    ds = [delivery(n, f"dev-{n}") for n in range(5)]
    for d in ds:
        q.submit(d, 0.0)
    assert q.take_ready(0.0) == ds[:2]
    assert q.take_ready(0.0) == []
    q.settle(ds[0], OK, 0.1, 0.0)
    assert q.take_ready(0.1) == [ds[2]]


def test_backlog_is_bounded():
    q = queue(max_backlog=2)
    assert q.submit(delivery(1), 0.0) is None
    assert q.submit(delivery(2, "b"), 0.0) is None
    finished = q.submit(delivery(3, "c"), 0.0)
    assert finished is not None and not finished.delivered and "backlog of 2 alerts full" in finished.reason


def test_410_disables_and_gives_up_everything_queued():
    q = queue()
    a1, a2, b1, c1 = delivery(1, "a"), delivery(2, "a"), delivery(3, "b"), delivery(4, "c")
    for d in (a1, a2, b1, c1):
        q.submit(d, 0.0)
    assert q.take_ready(0.0) == [a1, b1, c1]
    settled = q.settle(a1, Attempt(status=410), 0.1, 0.0)
    assert settled.disabled_now and q.disabled
    assert {f.delivery.ref: f.delivered for f in settled.finished} == {1: False, 2: False}
    assert "410 Gone: webhook disabled" in settled.finished[0].reason
    # In flight when it was disabled: a 2xx still counts as delivered, anything else is given up.
    assert q.settle(b1, OK, 0.2, 0.0).finished[0].delivered
    late = q.settle(c1, FAIL, 0.2, 0.0)
    assert not late.finished[0].delivered and late.retry_in_s is None
    assert q.backlog == 0 and q.in_flight == 0
    refused = q.submit(delivery(5), 1.0)
    assert refused is not None and "disabled" in refused.reason


def test_abandon_drops_held_deliveries_and_moves_the_lane_on():
    q = queue()
    a1, a2, b1 = delivery(1, "a"), delivery(2, "a"), delivery(3, "b")
    for d in (a1, a2, b1):
        q.submit(d, 0.0)
    q.take_ready(0.0)
    q.abandon(q.held(lambda d: d.ref in (1, 3)), 0.5)
    assert q.backlog == 1 and q.in_flight == 0
    assert q.take_ready(0.5) == [a2]
