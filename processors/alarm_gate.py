"""How long an SOS record may hold up the rest of its batch (processors.app `_let_alarm_out`).

The worker waits for the broker's acknowledgement of an SOS record before it processes on, so the
producer's sender gets the loop at once instead of after the batch. In an SOS storm (a regional
emergency, or a backlog full of alarms) that wait must not throttle the worker: a wait is allowed
only after `every_s` and after `idle_factor` times the previous wait's length, so at most
1 / (1 + idle_factor) of the time goes to waiting (half with the default), however slow the
broker answers; the storm's records still go out together with the next allowed wait.
benchmarks/bench_notify.py (20 presses/s, 800 background devices), socket -> 2xx p99: 77 and 114 ms
with a 10 ms spacing alone, 163 ms with this factor of 1, 268 ms with a factor of 4 (a fifth of the
time; it skipped the wait for some presses). One run each for the factors: noisy, but the order is
the one expected.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class AlarmGate:
    def __init__(self, *, max_wait_s: float = 0.05, every_s: float = 0.01, idle_factor: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_wait_s = max_wait_s
        self.every_s = every_s
        self.idle_factor = idle_factor
        self._clock = clock
        self._next_allowed = float("-inf")

    def wait_s(self) -> float | None:
        """How long the next wait may last; None: do not wait now."""
        return self.max_wait_s if self._clock() >= self._next_allowed else None

    def waited(self, started: float) -> None:
        """After a wait that began at `started` (this gate's clock)."""
        now = self._clock()
        self._next_allowed = now + max(self.every_s, self.idle_factor * (now - started))

    def now(self) -> float:
        return self._clock()
