"""Batching policy, batch bookkeeping and backoff: no Kafka, no ClickHouse, an explicit clock."""

from __future__ import annotations

import pytest

from common.backoff import Backoff
from common.delivery import BatchPolicy
from sinks.batching import Batch

DEDUP = {"t": 1, "u": 0}


def test_due_by_size_or_by_age():
    policy = BatchPolicy(max_rows=3, max_seconds=2.0)
    assert not policy.due(0, 100.0)  # an empty batch is never due
    assert not policy.due(2, 1.9)
    assert policy.due(3, 0.0)
    assert policy.due(1, 2.0)


def test_wait_and_room():
    policy = BatchPolicy(max_rows=10, max_seconds=2.0)
    assert policy.wait_s(0, 0.0) == 2.0
    assert policy.wait_s(4, 0.5) == 1.5
    assert policy.wait_s(4, 3.0) == 0.0
    assert policy.wait_s(10, 0.0) == 0.0
    assert policy.room(4) == 6 and policy.room(12) == 0


def test_batch_keeps_rows_per_table_and_the_next_offset_per_partition():
    batch = Batch(DEDUP)
    batch.add("t", ["a", 1], "p0", 5, now=10.0)
    batch.add("t", ["b", 2], "p0", 6, now=10.5)
    batch.add("u", [3, "c"], "p1", 0, now=11.0)
    assert batch.count == 3
    assert batch.offsets == {"p0": 7, "p1": 1}
    assert [r for r in batch.tables["t"].rows] == [["a", 1], ["b", 2]]
    assert batch.age_s(12.0) == 2.0  # from the first row
    batch.clear()
    assert (batch.count, batch.offsets, batch.tables, batch.age_s(99.0)) == (0, {}, {}, 0.0)


def test_tokens_depend_on_the_rows_only():
    one, two, other = Batch(DEDUP), Batch(DEDUP), Batch(DEDUP)
    for batch, offset in ((one, 0), (two, 500)):
        batch.add("t", ["a", 1], "p0", offset, now=0.0)
        batch.add("t", ["b", 2], "p0", offset + 1, now=0.0)
    other.add("t", ["a", 1], "p0", 0, now=0.0)
    other.add("t", ["b", 3], "p0", 1, now=0.0)
    assert one.token("t") == one.token("t")  # a retry carries the same token
    assert one.token("t") == two.token("t")  # the same rows again: ClickHouse may drop them, rightly
    assert one.token("t") != other.token("t")


@pytest.mark.parametrize("attempt, low, high", [(1, 0.4, 0.6), (2, 0.8, 1.2), (3, 1.6, 2.4), (10, 8.0, 12.0)])
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt, low, high):
    backoff = Backoff(initial_s=0.5, max_s=10.0, jitter=0.2)
    assert backoff.delay(attempt, rand=lambda: 0.0) == pytest.approx(low)
    assert backoff.delay(attempt, rand=lambda: 1.0) == pytest.approx(high)
