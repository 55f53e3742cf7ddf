"""Runs one webhook's `WebhookQueue` against its `WebhookClient`: one supervised task per webhook that
starts due attempts and sleeps until the next one is due, and one task per request in flight.

Webhooks never share a task, a queue or a connection pool: a slow or failing receiver only ever
holds up its own alerts (and, per device, only that device's later alerts, to keep their order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from notifier import metrics
from notifier.config import WebhookConfig
from notifier.http_client import WebhookClient
from notifier.lanes import Delivery, Finished, WebhookQueue
from notifier.policy import Attempt, RetrySchedule, Verdict

log = logging.getLogger("trackwire.notify")


def attempt_kind(attempt: Attempt) -> str:
    if attempt.status is None:
        return "timeout" if (attempt.error or "").startswith("timeout") else "connection"
    return f"{attempt.status // 100}xx" if 300 <= attempt.status <= 599 else "other"


def dead_letter_why(reason: str) -> str:
    for word, why in (("exhausted", "exhausted"), ("disabled", "disabled"), ("backlog", "backlog")):
        if word in reason:
            return why
    return "final"


class WebhookRunner:
    def __init__(self, hook: WebhookConfig, client: WebhookClient, on_finished: Callable[[Finished], None], *,
                 on_failure: Callable[[BaseException], None] = lambda exc: None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.hook = hook
        self.client = client
        schedule = RetrySchedule(hook.retry_schedule_s, hook.retry_jitter, hook.retry_after_max_s)
        self.queue = WebhookQueue(hook.name, schedule, max_in_flight=hook.max_in_flight,
                                  max_backlog=hook.max_backlog)
        self._on_finished = on_finished
        self._on_failure = on_failure
        self._clock = clock
        self._wall = wall
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._requests: dict[Delivery, asyncio.Task] = {}
        self._stopping = False
        self.failure: BaseException | None = None  # what stopped the loop, if it was not a stop()
        metrics.DISABLED.labels(hook.name).set(0)

    async def start(self) -> None:
        await self.client.start()
        self._task = asyncio.create_task(self._loop(), name=f"notify-{self.hook.name}")
        self._task.add_done_callback(self._loop_done)

    def submit(self, delivery: Delivery) -> None:
        finished = self.queue.submit(delivery, self._clock())
        if finished is not None:
            self._finished(finished)
        self._gauges()
        self._wake.set()

    def abandon(self, predicate: Callable[[Delivery], bool]) -> int:
        """Drop held deliveries matching `predicate` (revoked partitions), cancelling their requests."""
        held = self.queue.held(predicate)
        for delivery in held:
            task = self._requests.pop(delivery, None)
            if task is not None:
                task.cancel()
        self.queue.abandon(held, self._clock())
        self._gauges()
        self._wake.set()
        return len(held)

    async def stop(self, timeout_s: float) -> None:
        """Let requests in flight finish within `timeout_s`, then cancel the rest; close the client."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._requests:
            _, pending = await asyncio.wait(list(self._requests.values()), timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.client.close()

    # -- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            for delivery in self.queue.take_ready(self._clock()):
                task = asyncio.create_task(self._attempt(delivery), name=f"notify-{self.hook.name}-request")
                self._requests[delivery] = task
                task.add_done_callback(self._request_done)
            self._gauges()
            due = self.queue.next_due()
            timeout = None
            if due is not None and self.queue.in_flight < self.queue.max_in_flight:
                timeout = max(0.0, due - self._clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _attempt(self, delivery: Delivery) -> None:
        attempt = await self.client.send(delivery.webhook_id, delivery.body,
                                         datetime.fromtimestamp(self._wall(), timezone.utc))
        if self._requests.get(delivery) is not asyncio.current_task():
            return  # abandoned meanwhile
        del self._requests[delivery]
        settled = self.queue.settle(delivery, attempt, self._clock(), self._wall())
        name = self.hook.name
        if settled.verdict is not Verdict.DELIVERED:
            metrics.FAILED_ATTEMPTS.labels(name, attempt_kind(attempt)).inc()
        if settled.retry_in_s is not None:
            metrics.RETRIED.labels(name).inc()
            log.warning("webhook %s: %s for %s (%s, attempt %d); retry in %.1f s", name, attempt.describe(),
                        delivery.webhook_id, delivery.kind, delivery.attempts, settled.retry_in_s)
        if settled.disabled_now:
            metrics.DISABLED.labels(name).set(1)
            log.error("WEBHOOK DISABLED: %s answered 410 Gone for %s: sending it nothing more until the notifier "
                      "restarts; its alerts go to the dead-letter topic. Remove it from the config if the receiver "
                      "is gone for good", name, self.hook.url)
        for finished in settled.finished:
            self._finished(finished)
        self._gauges()
        self._wake.set()

    def _finished(self, finished: Finished) -> None:
        delivery = finished.delivery
        name = self.hook.name
        if finished.delivered:
            metrics.DELIVERED.labels(name).inc()
            metrics.LATENCY.labels(name).observe(max(0.0, self._wall() - delivery.record_ms / 1000))
        else:
            metrics.DEAD_LETTERED.labels(name, dead_letter_why(finished.reason or "")).inc()
            log.error("webhook %s: giving up %s (%s, device %s): %s; it goes to the dead-letter topic", name,
                      delivery.webhook_id, delivery.kind, delivery.lane, finished.reason)
        self._on_finished(finished)

    def _gauges(self) -> None:
        metrics.BACKLOG.labels(self.hook.name).set(self.queue.backlog)
        metrics.IN_FLIGHT.labels(self.hook.name).set(self.queue.in_flight)

    def _request_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # a bug of ours: the request's delivery would be stuck in flight
            log.error("webhook %s: request task failed", self.hook.name, exc_info=exc)
            self.failure = exc
            self._on_failure(exc)

    def _loop_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
            log.error("webhook %s: delivery loop failed", self.hook.name, exc_info=self.failure)
            self._on_failure(self.failure)
