"""notifier/offsets.py: an offset is committable only when every webhook finished it."""

from notifier.offsets import OffsetTracker


def test_lowest_unfinished_offset_is_committed():
    t = OffsetTracker()
    t.add("p0", 10, 2)
    t.add("p0", 11, 1)
    t.add("p0", 12, 0)  # no webhook wants it
    assert t.committable() == {"p0": 10}
    t.done("p0", 11)
    assert t.committable() == {"p0": 10}  # 10 still waits for its two webhooks
    t.done("p0", 10)
    assert t.committable() == {"p0": 10}
    assert t.unfinished() == 1
    t.done("p0", 10)
    assert t.committable() == {"p0": 13}
    assert t.unfinished() == 0


def test_partitions_are_independent_and_forgotten():
    t = OffsetTracker()
    t.add("p0", 5, 1)
    t.add("p1", 7, 0)
    assert t.committable() == {"p0": 5, "p1": 8}
    t.forget(["p0"])
    t.done("p0", 5)  # a late answer for a revoked partition changes nothing
    assert t.committable() == {"p1": 8}


def test_extra_done_calls_are_ignored():
    t = OffsetTracker()
    t.add("p0", 1, 1)
    t.done("p0", 1)
    t.done("p0", 1)
    t.done("p0", 99)
    assert t.committable() == {"p0": 2}
