"""One webhook's deliveries: per-device order, bounded concurrency and backlog, retries, 410.
Pure: the caller passes `now` (monotonic seconds) and `now_epoch` (for Retry-After dates), performs
the HTTP requests this object hands out, and reports each answer back with `settle`.

- **Per-device order.** Each device has a lane (a FIFO); only a lane's head is ever sent, so a
  device's alerts reach the receiver in order, and a retrying alert holds back only its own device.
- **Bounded.** At most `max_in_flight` requests at once; at most `max_backlog` alerts held (queued,
  waiting for a retry or in flight). Past that, a new alert is dead-lettered at once rather than
  stopping the whole notifier (which would delay every other webhook).
- **Finished** means delivered (2xx) or given up (final 4xx/3xx, schedule exhausted, webhook
  disabled, backlog full) with a reason: the alert then goes to the dead-letter topic.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from notifier.policy import Attempt, RetrySchedule, Verdict, classify


@dataclass(slots=True, eq=False)
class Delivery:
    """One alert for one webhook, from the first attempt until it is finished."""

    ref: Hashable  # the caller's handle (e.g. the Kafka partition and offset), reported when finished
    lane: Hashable  # the device id: the unit of ordering
    webhook_id: str
    kind: str  # event type: alert.open / alert.cleared
    body: str
    record_ms: int  # when the alert reached Kafka (for the latency metric)
    attempts: int = 0
    due_at: float = 0.0
    in_flight: bool = False
    last: Attempt | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    delivery: Delivery
    delivered: bool
    reason: str | None = None  # why it was given up (None when delivered)


@dataclass(slots=True)
class Settled:
    verdict: Verdict
    retry_in_s: float | None = None  # set when another attempt was scheduled
    finished: list[Finished] = field(default_factory=list)
    disabled_now: bool = False  # this answer (410) disabled the webhook


class WebhookQueue:
    def __init__(self, name: str, schedule: RetrySchedule, *, max_in_flight: int, max_backlog: int,
                 rand: Callable[[], float] = random.random) -> None:
        self.name = name
        self.schedule = schedule
        self.max_in_flight = max_in_flight
        self.max_backlog = max_backlog
        self.disabled = False
        self.in_flight = 0
        self.backlog = 0  # deliveries held: queued, waiting for a retry, or in flight
        self._rand = rand
        self._lanes: dict[Hashable, deque[Delivery]] = {}
        self._ready: list[tuple[float, int, Delivery]] = []  # lane heads by due time (stale entries skipped)
        self._seq = itertools.count()

    # -- input -----------------------------------------------------------------------------

    def submit(self, delivery: Delivery, now: float) -> Finished | None:
        """Queue a new alert; a Finished (never sent) when the webhook is disabled or its backlog full."""
        if self.disabled:
            return Finished(delivery, False, "webhook disabled after 410 Gone; not sent")
        if self.backlog >= self.max_backlog:
            return Finished(delivery, False, f"backlog of {self.max_backlog} alerts full (the receiver is "
                                             "failing or slow); not sent")
        self.backlog += 1
        lane = self._lanes.get(delivery.lane)
        if lane is None:
            lane = self._lanes[delivery.lane] = deque()
        lane.append(delivery)
        if len(lane) == 1:
            self._schedule(delivery, now)
        return None

    # -- what to send ----------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the earliest waiting lane head is due (it may be now or past), or None."""
        self._drop_stale()
        return self._ready[0][0] if self._ready else None

    def take_ready(self, now: float) -> list[Delivery]:
        """The deliveries to attempt now, marked in flight, within max_in_flight."""
        out: list[Delivery] = []
        while self.in_flight < self.max_in_flight:
            self._drop_stale()
            if not self._ready or self._ready[0][0] > now:
                break
            _, _, delivery = heapq.heappop(self._ready)
            delivery.in_flight = True
            delivery.attempts += 1
            self.in_flight += 1
            out.append(delivery)
        return out

    # -- answers ---------------------------------------------------------------------------

    def settle(self, delivery: Delivery, attempt: Attempt, now: float, now_epoch: float) -> Settled:
        """The answer to an attempt handed out by take_ready."""
        assert delivery.in_flight, "settle() for a delivery that is not in flight"
        delivery.in_flight = False
        self.in_flight -= 1
        delivery.last = attempt
        verdict = classify(attempt)
        result = Settled(verdict)
        if verdict is Verdict.DELIVERED:
            result.finished.append(self._finish(delivery, now, True))
        elif self.disabled:  # disabled while this one was in flight
            result.finished.append(self._finish(delivery, now, False, self._reason("webhook disabled after 410 "
                                                                                    "Gone", delivery)))
        elif verdict is Verdict.GONE:
            result.disabled_now = True
            result.finished += self._disable(delivery, now)
        elif verdict is Verdict.FINAL:
            result.finished.append(self._finish(delivery, now, False, self._reason("final answer", delivery)))
        else:
            delay = self.schedule.next_delay(delivery.attempts, attempt, now_epoch, self._rand)
            if delay is None:
                result.finished.append(self._finish(delivery, now, False,
                                                    self._reason("retry schedule exhausted", delivery)))
            else:
                result.retry_in_s = delay
                self._schedule(delivery, now + delay)
        return result

    def abandon(self, deliveries: Iterable[Delivery], now: float) -> None:
        """Forget deliveries without finishing them (their partition was taken away: its new owner
        reads them again). In-flight ones must have been cancelled by the caller."""
        gone = set(map(id, deliveries))
        if not gone:
            return
        for key in list(self._lanes):
            lane = self._lanes[key]
            head = lane[0]
            kept = deque(d for d in lane if id(d) not in gone)
            for d in lane:
                if id(d) in gone:
                    self.backlog -= 1
                    if d.in_flight:
                        d.in_flight = False
                        self.in_flight -= 1
            if not kept:
                del self._lanes[key]
            else:
                self._lanes[key] = kept
                if kept[0] is not head:
                    self._schedule(kept[0], now)

    def held(self, predicate: Callable[[Delivery], bool]) -> list[Delivery]:
        """Deliveries held (queued, waiting or in flight) that match `predicate`."""
        return [d for lane in self._lanes.values() for d in lane if predicate(d)]

    # -- helpers ---------------------------------------------------------------------------

    def _schedule(self, delivery: Delivery, due_at: float) -> None:
        delivery.due_at = due_at
        heapq.heappush(self._ready, (due_at, next(self._seq), delivery))

    def _drop_stale(self) -> None:
        """Heap entries for deliveries no longer waiting (finished, abandoned, rescheduled)."""
        while self._ready:
            due_at, _, delivery = self._ready[0]
            lane = self._lanes.get(delivery.lane)
            if lane and lane[0] is delivery and not delivery.in_flight and delivery.due_at == due_at:
                return
            heapq.heappop(self._ready)

    def _finish(self, delivery: Delivery, now: float, delivered: bool, reason: str | None = None) -> Finished:
        lane = self._lanes[delivery.lane]
        assert lane[0] is delivery, "only a lane's head is ever sent"
        lane.popleft()
        self.backlog -= 1
        if lane:
            self._schedule(lane[0], now)
        else:
            del self._lanes[delivery.lane]
        return Finished(delivery, delivered, reason)

    def _disable(self, delivery: Delivery, now: float) -> list[Finished]:
        """410: this alert and every queued one are given up; in-flight ones finish when they settle."""
        self.disabled = True
        out = [self._finish(delivery, now, False, self._reason("410 Gone: webhook disabled", delivery))]
        for key in list(self._lanes):
            lane = self._lanes[key]
            keep = deque(d for d in lane if d.in_flight)
            for d in lane:
                if not d.in_flight:
                    self.backlog -= 1
                    out.append(Finished(d, False, "webhook disabled after 410 Gone; not sent"))
            if keep:
                self._lanes[key] = keep
            else:
                del self._lanes[key]
        self._ready.clear()
        return out

    def _reason(self, what: str, delivery: Delivery) -> str:
        last = delivery.last.describe() if delivery.last else "no attempt"
        return f"{what} after {delivery.attempts} attempt(s); last: {last}"
