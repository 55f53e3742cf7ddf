"""The worker's seek to its committed offsets returns only once fetched frames (100) wait in the agent's
queue (or after 2 s).

That is the moment at which Faust's recovery used to drop the queued frames and commit their
offsets as a gap (processors/recovery.py); on a loaded machine the seek takes a few ms and the race
is hit now and then (1 start in ~6 of tests/processors/test_broker.py's catch-up test); held
here, a frame was lost in 2 of 3 runs before the fix."""

import asyncio

from faust.transport.drivers import aiokafka as driver

QUEUED = 100  # frames; the agent takes them in batches, so some are still queued when the seek returns
_seek_to_committed = driver.Consumer.seek_to_committed


async def seek_to_committed(self):
    offsets = await _seek_to_committed(self)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    channels = self.app.topics._topics  # the Conductor's subscribed topics, each with its queue
    while loop.time() < deadline and not any(channel.queue.qsize() >= QUEUED for channel in channels):
        await asyncio.sleep(0.002)
    return offsets


driver.Consumer.seek_to_committed = seek_to_committed
