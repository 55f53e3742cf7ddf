"""A Faust recovery that cannot skip raw frames when a worker takes its partitions.

The race, seen as one frame without output in tests/processors/test_broker.py's catch-up test (1 run
in ~6 under load), and in 2 of 3 runs with a seek held until frames are queued
(test_no_frame_is_skipped_when_the_seek_to_the_committed_offsets_is_slow, faults/slow_seek.py):
Faust's `Recovery.on_recovery_completed` resumes the stream partitions, then awaits the seek to
their committed offsets. The fetcher already runs (flow was resumed to read the changelogs), so
frames fetched during that await reach the agent's queue; the seek then resets the read offsets,
and `flow_control.resume()` clears the queues. The frames still queued are dropped, and the next
fetched frame is past the reset read offset, which Faust takes for a gap in the topic (compaction)
and counts as acknowledged: the offsets are committed, the frames never processed. At-least-once
is broken for good, not only delayed. (faust-streaming fixed the same order in `_resume_streams`,
PR #217; this path still has it.)

The fix: stop the consumer's flow before Faust's own completion runs. No fetch hands anything on
until it resumes the flow, after the seek and after the queues were cleared; a fetch that returns
meanwhile is dropped and seeks back to the committed offsets (Faust's own rule for a fetch while
flow is stopped), so nothing is consumed past what will be read again.
"""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SeekFirstRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        await super().on_recovery_completed(generation_id)

    async def _resume_streams(self, generation_id: int = 0) -> None:  # the same steps without tables
        self.app.consumer.stop_flow()
        await super()._resume_streams(generation_id)


class SeekFirstTableManager(TableManager):
    """Faust's TableManager with SeekFirstRecovery (the App's `TableManager` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
