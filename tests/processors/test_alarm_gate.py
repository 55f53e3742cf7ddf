"""processors.alarm_gate: when an SOS record may hold up its batch, on a clock the test turns."""

from __future__ import annotations

from processors.alarm_gate import AlarmGate


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_first_alarm_waits_and_the_next_only_after_the_spacing():
    clock = Clock()
    gate = AlarmGate(max_wait_s=0.05, every_s=0.01, clock=clock)
    assert gate.wait_s() == 0.05
    started = clock()
    clock.t += 0.002  # the broker acknowledged in 2 ms
    gate.waited(started)
    clock.t += 0.009
    assert gate.wait_s() is None  # 9 ms later: within the 10 ms spacing
    clock.t += 0.001
    assert gate.wait_s() == 0.05


def test_a_slow_broker_is_waited_for_at_most_half_of_the_time():
    # An SOS storm against a broker answering in 40 ms: every alarm asks to wait; the gate lets the
    # next wait through only 40 ms after one ended, so 40 ms of every 80 ms are spent waiting.
    clock = Clock()
    gate = AlarmGate(max_wait_s=0.05, every_s=0.01, clock=clock)
    starts = []
    for _ in range(10_000):  # an alarm every 0.1 ms of processing
        if gate.wait_s() is not None:
            starts.append(clock())
            clock.t += 0.04
            gate.waited(starts[-1])
        clock.t += 0.0001
    # Over whole cycles (from the first wait's start to the last one's): the waits' share of the time.
    share = 0.04 * (len(starts) - 1) / (starts[-1] - starts[0])
    assert len(starts) > 5 and 0.49 < share <= 0.5
