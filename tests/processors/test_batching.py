"""WriteBehind: the pipeline's state mapping during a batch, over a store it writes once per key."""

from __future__ import annotations

from processors.batching import WriteBehind


class CountingStore(dict):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.writes = 0

    def __setitem__(self, key, value) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_reads_see_the_batch_writes_and_the_store_gets_one_write_per_key():
    store = CountingStore({b"a": b"1", b"b": b"2"})
    states = WriteBehind(store)
    states[b"a"] = b"1.1"
    states[b"a"] = b"1.2"
    states[b"c"] = b"3"
    assert (states.get(b"a"), states[b"b"], states.get(b"c"), states.get(b"z")) == (b"1.2", b"2", b"3", None)
    assert store == {b"a": b"1", b"b": b"2"} and store.writes == 0  # nothing written during the batch
    assert sorted(states) == [b"a", b"b", b"c"] and len(states) == 3 and states.pending == 2

    pending = states.take()
    assert pending == {b"a": b"1.2", b"c": b"3"}  # the latest value of each key, once
    assert states.pending == 0 and states.take() == {}
    store.update(pending)
    assert states.get(b"a") == b"1.2" and len(states) == 3


def test_a_store_answering_none_for_a_missing_key_reads_as_missing():
    class NoneDefault(dict):  # as the Faust table with default=None
        def get(self, key, default=None):
            return super().get(key)

    states = WriteBehind(NoneDefault())
    assert states.get(b"x") is None and states.get(b"x", b"d") == b"d"
