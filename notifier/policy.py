"""What one attempt's answer means and when to try again. Pure: no I/O, clock and randomness passed in.

Classification follows the Standard Webhooks specification ("Delivery success and failure"):

- 2xx: delivered.
- 410 Gone: the receiver wants no more: the webhook is disabled.
- 408, 409, 429, every 5xx, timeouts and connection errors: retried on the schedule; a Retry-After
  header (seconds or an HTTP date) is honoured, up to `retry_after_max_s`.
- any other 4xx, and 3xx (redirects are not followed; the spec asks for the URL to be updated):
  final, the alert goes to the dead-letter topic at once.
- anything else (1xx, codes above 599): retried, the receiver is misbehaving but may recover.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

RETRIABLE_4XX = frozenset({408, 409, 429})


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FINAL = "final"  # no retry can help: dead-letter now
    GONE = "gone"  # 410: disable the webhook


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one HTTP attempt: a status (with Retry-After, if sent) or an error."""

    status: int | None = None
    retry_after: str | None = None
    error: str | None = None  # "timeout after 15.0 s", "connection refused: ...", set when status is None
    body_preview: str = ""

    def describe(self) -> str:
        if self.status is None:
            return self.error or "no answer"
        text = f"HTTP {self.status}"
        return f"{text}: {self.body_preview}" if self.body_preview else text


def classify(attempt: Attempt) -> Verdict:
    status = attempt.status
    if status is None:
        return Verdict.RETRY  # timeout or connection error
    if 200 <= status <= 299:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    if status in RETRIABLE_4XX or 500 <= status <= 599:
        return Verdict.RETRY
    if 300 <= status <= 499:
        return Verdict.FINAL
    return Verdict.RETRY


def retry_after_s(header: str | None, now_epoch_s: float) -> float | None:
    """Seconds to wait that a Retry-After header asks for (delta-seconds or HTTP-date), or None."""
    if header is None:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now_epoch_s)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """`delays_s[i]` is the wait before retry i+1; the first attempt is immediate. So an alert gets
    len(delays_s) + 1 attempts, then it is dead-lettered."""

    delays_s: Sequence[float]
    jitter: float = 0.1  # +/- this fraction of each delay, so retries of many alerts spread out
    retry_after_max_s: float = 3600.0

    @property
    def attempts(self) -> int:
        return len(self.delays_s) + 1

    def next_delay(self, attempts_made: int, attempt: Attempt, now_epoch_s: float,
                   rand: Callable[[], float] = random.random) -> float | None:
        """The wait before the next attempt after `attempts_made` attempts, or None: exhausted."""
        if attempts_made >= self.attempts:
            return None
        base = self.delays_s[attempts_made - 1]
        delay = base * (1 - self.jitter + 2 * self.jitter * rand()) if base else 0.0
        asked = retry_after_s(attempt.retry_after, now_epoch_s)
        if asked is not None:
            delay = max(delay, min(asked, self.retry_after_max_s))
        return delay
