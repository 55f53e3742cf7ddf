"""common.logging.RepeatFilter: a repeated failure is written once per interval, then a count."""

from __future__ import annotations

import logging
import time

from common.logging import RepeatFilter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


def _handler(interval_s: float = 10.0, **options) -> tuple[_Lines, _Clock, logging.Logger]:
    clock = _Clock()
    handler = _Lines()
    handler.addFilter(RepeatFilter(handler, interval_s, **{"clock": clock, **options}))
    logger = logging.getLogger(f"test.repeats.{id(handler)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return handler, clock, logger


def test_a_flood_of_one_failure_is_one_line_then_a_count_when_the_interval_ends():
    lines, clock, log = _handler(timer=False)
    for n in range(140_000):
        log.error("Unable connect to node with id %s: %s", 1, f"attempt {n}")
    assert lines.lines == [(log.name, logging.ERROR, "Unable connect to node with id 1: attempt 0")]
    clock.now += 10.0
    log.error("Unable connect to node with id %s: %s", 1, "again")  # the next record closes the window
    assert lines.lines[1:] == [
        (log.name, logging.ERROR, "Unable connect to node with id 1: attempt 139999 … repeated 139999 times in the last 10 s"),
        (log.name, logging.ERROR, "Unable connect to node with id 1: again"),  # a new interval's first
    ]


def test_kinds_are_logger_level_and_template_and_other_kinds_pass():
    lines, clock, log = _handler(timer=False)
    log.error("a %s", 1)
    log.warning("a %s", 2)  # other level
    log.error("b %s", 3)  # other template
    logging.getLogger(log.name + ".child").error("a %s", 4)  # other logger (propagates to the handler)
    log.error("a %s", 5)  # a repeat
    assert [m for _, _, m in lines.lines] == ["a 1", "a 2", "b 3", "a 4"]
    clock.now += 10.0
    log.info("unrelated")
    assert [m for _, _, m in lines.lines[4:]] == ["a 5 … repeated 1 times in the last 10 s", "unrelated"]


def test_a_single_line_gets_no_summary_and_the_timer_writes_it_without_another_record():
    lines, _clock, log = _handler(interval_s=0.2, clock=time.monotonic)
    log.warning("once")
    log.error("twice")
    log.error("twice")
    deadline = time.monotonic() + 5
    while len(lines.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m for _, _, m in lines.lines] == ["once", "twice", "twice … repeated 1 times in the last 0.2 s"]


def test_the_number_of_kinds_is_bounded():
    lines, _clock, log = _handler(timer=False, max_kinds=2)
    for template in ("k1 %s", "k1 %s", "k2 %s", "k3 %s"):
        log.error(template, "x")
    # k3 made room by closing k1's window early, with its count.
    assert [m for _, _, m in lines.lines] == ["k1 x", "k2 x", "k1 x … repeated 1 times in the last 0 s", "k3 x"]


def test_final_flush_writes_every_pending_count():
    lines, clock, log = _handler(timer=False)
    log.error("e")
    log.error("e")
    clock.now += 3
    log.handlers[0].filters[0].flush(final=True)
    assert [m for _, _, m in lines.lines] == ["e", "e … repeated 1 times in the last 3 s"]
