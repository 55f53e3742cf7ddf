"""The one retry backoff policy of every stage: exponential with jitter, pure (randomness passed in)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: initial * 2**(attempt-1), capped, +/- `jitter` of it."""

    initial_s: float
    max_s: float
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.max_s, self.initial_s * 2 ** max(0, attempt - 1))
        return base * (1 - self.jitter + 2 * self.jitter * rand())
