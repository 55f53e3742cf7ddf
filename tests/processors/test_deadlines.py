"""The deadline heap behind the offline/SOS timer."""

from __future__ import annotations

import random

from processors.deadlines import DeadlineIndex, StreamClock


def test_pops_only_what_is_due_earliest_first_and_forgets_it():
    index = DeadlineIndex()
    for key, due in [("a", 30), ("b", 10), ("c", 20), ("d", None)]:
        index.set(key, due)
    assert len(index) == 3 and "d" not in index
    assert index.next_due() == 10
    assert index.pop_due(25) == ["b", "c"]
    assert index.pop_due(25) == []
    assert index.pop_due(30) == ["a"] and len(index) == 0


def test_moving_or_removing_a_deadline_leaves_no_stale_pop():
    index = DeadlineIndex()
    index.set("a", 10)
    index.set("a", 50)  # moved later
    index.set("b", 10)
    index.set("b", None)  # removed
    assert index.pop_due(40) == []
    assert index.get("a") == 50 and index.pop_due(50) == ["a"]


def test_limit_leaves_the_rest_for_the_next_tick():
    index = DeadlineIndex()
    for i in range(5):
        index.set(i, i)
    assert index.pop_due(10, limit=2) == [0, 1]
    assert index.pop_due(10) == [2, 3, 4]


def test_heap_stays_bounded_under_many_updates_and_matches_a_naive_model():
    rng = random.Random(7)
    index, model = DeadlineIndex(), {}
    for step in range(20_000):
        key = rng.randrange(100)
        due = rng.choice([None, rng.randrange(10_000)])
        index.set(key, due)
        if due is None:
            model.pop(key, None)
        else:
            model[key] = due
        if step % 1000 == 999:
            now = rng.randrange(10_000)
            expected = sorted((d, k) for k, d in model.items() if d <= now)
            assert [(model[k], k) for k in index.pop_due(now)] == expected
            for _, k in expected:
                del model[k]
    assert len(index._heap) <= 2 * len(index) + 64


def test_rebuild_replaces_everything():
    index = DeadlineIndex()
    index.set("old", 1)
    index.rebuild([("a", 5), ("b", None), ("c", 3)])
    assert len(index) == 2 and index.pop_due(10) == ["c", "a"]


def test_stream_clock_holds_a_partition_at_its_latest_frame_until_it_is_caught_up():
    clock = StreamClock()
    assert clock.now(0, 1_000) == 1_000  # never seen: the wall clock
    clock.observe(0, offset=10, highwater=50, frame_ms=400)  # 39 messages still to read
    clock.observe(1, offset=7, highwater=8, frame_ms=900)  # caught up
    assert (clock.now(0, 1_000), clock.now(1, 1_000)) == (400, 1_000)
    clock.observe(0, offset=49, highwater=50, frame_ms=990)
    assert clock.now(0, 1_000) == 1_000
    clock.observe(2, offset=1, highwater=None, frame_ms=5)  # no highwater known: not behind
    assert clock.now(2, 1_000) == 1_000
    clock.observe(3, offset=1, highwater=9, frame_ms=5)
    clock.forget([3])
    assert clock.now(3, 1_000) == 1_000


def test_stream_clock_judges_no_device_of_a_partition_just_assigned_until_it_starts_or_settles():
    # Between an assignment and the first processed message, the wall clock made a device whose
    # frames were next in the backlog look offline (the catch-up test saw it once the seek waited).
    clock = StreamClock()
    clock.observe(0, offset=3, highwater=4, frame_ms=100)
    clock.hold([0, 1, 2])
    assert (clock.now(0, 1_000), clock.now(1, 1_000), clock.now(2, 1_000)) == (None, None, None)
    assert clock.held() == {0, 1, 2}
    clock.observe(0, offset=4, highwater=90, frame_ms=500)  # its backlog started
    clock.settle(1)  # nothing to process there
    assert (clock.now(0, 1_000), clock.now(1, 1_000), clock.now(2, 1_000)) == (500, 1_000, None)
    clock.forget([2])
    assert clock.held() == set() and clock.now(2, 1_000) == 1_000
