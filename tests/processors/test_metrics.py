"""The processor worker's /healthz, /readyz and /metrics, against the real broker: the figures match
what it published, and `trackwire status` reads them."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest

from common.kafka import ensure_topics
from common.settings import KafkaSettings
from processors.cli_cmd import STAGE_TOPICS
from schemas.topics import topic_names
from trackwire.status_cmd import Instance, Status, probe

from harness import Outputs, publish, publish_raw
from sample_frames import load
from test_broker import Clock, env, gotop, workers  # noqa: F401 - `workers` is the fixture

pytestmark = pytest.mark.kafka

GOTOP = load("frames_gotop")
WATCH = load("frames_watch")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def scrape_until(url: str, frames: int, timeout_s: float = 30.0) -> Instance:
    """Probe like `trackwire status` until the worker counted `frames` frames and has no lag."""
    deadline = time.monotonic() + timeout_s
    while True:
        instance = await asyncio.to_thread(probe, Instance("processor", url))
        if instance.total("trackwire_processor_frames_total") >= frames and \
                instance.total("trackwire_processor_lag") == 0:
            return instance
        if time.monotonic() > deadline:
            raise AssertionError(f"not {frames} frames in {timeout_s} s: {instance}")
        await asyncio.sleep(0.3)


async def test_metrics_count_frames_records_dead_letters_devices_open_sos_and_lag(
        kafka_bootstrap, kafka_prefix, workers):  # noqa: F811
    topics = topic_names(kafka_prefix)
    [worker] = workers(1)
    url = f"http://127.0.0.1:{worker.http_port()}"
    clock = Clock()
    frames = [
        env(clock, gotop(GOTOP.TRACCAR_CMD_T_LTE), "867648044456745", "gotop", "g-1"),
        env(clock, WATCH.UD_LTE, "2104326058", "watch", "w-1"),
        env(clock, b"[3G*2104326058*0010*UD,not,a,fix]", "2104326058", "watch", "w-2"),  # malformed: decode
        env(clock, WATCH.AL_SOS, "8809008845", "watch", "s-1"),  # opens an SOS episode
    ]
    async with Outputs(kafka_bootstrap, topics) as out:
        await publish(kafka_bootstrap, topics.raw_frames, frames)
        await publish_raw(kafka_bootstrap, topics.raw_frames, b"conn:l1-77", b"\x00not an envelope")
        instance = await scrape_until(url, frames=5)
        got = await out.until({topics.sos: 1, topics.dead_letters: 2}, settle_s=1.0)

    frames_by = {p: instance.total("trackwire_processor_frames_total", protocol=p) for p in ("gotop", "watch", "unknown")}
    assert frames_by == {"gotop": 1, "watch": 3, "unknown": 1}
    published = {topic: len(messages) for topic, messages in got.items() if messages}
    counted = {topic: instance.total("trackwire_processor_records_total", topic=topic) for topic in published}
    assert counted == published  # every message on every output topic, and nothing else
    assert instance.total("trackwire_processor_records_total") == sum(published.values())
    reasons = {r: instance.total("trackwire_processor_dead_letters_total", reason=r)
               for r in ("decode", "envelope", "codec_bug", "rejected", "impossible_fix", "bug")}
    assert reasons == {"decode": 1, "envelope": 1, "codec_bug": 0, "rejected": 0, "impossible_fix": 0, "bug": 0}
    assert instance.total("trackwire_processor_devices") == 3  # the garbage envelope has no device
    assert instance.total("trackwire_processor_open_sos") == 1
    assert instance.total("trackwire_processor_lag") == 0
    assert instance.up and instance.ready

    summary = Status([instance], {}).summary()  # what `trackwire status` prints from these samples
    assert (summary["records_out"], summary["open_sos"], summary["dead_letters"]) == (sum(published.values()), 1, 2)

    status, body = get(url + "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["agent_running"] and ready["partitions"] == [0, 1, 2]
    status, body = get(url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


async def test_lag_counts_the_backlog_a_worker_has_not_processed_yet(kafka_bootstrap, kafka_prefix, workers):  # noqa: F811
    """A backlog written at once to a running worker that processes it frame by frame (batch_max=1):
    the lag gauge (updated every 0.2 s tick) is seen above zero, then falls to zero. Written after
    the worker is ready: a backlog written before was already processed by then (a worker does
    ~5,000 frames/s here), and the gauge was never seen above zero."""
    topics = topic_names(kafka_prefix)
    await ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=kafka_prefix, topic_partitions=3),
                        STAGE_TOPICS)
    [worker] = workers(1, batch_max=1)
    url = f"http://127.0.0.1:{worker.http_port()}"
    clock = Clock()
    total = 20_000
    backlog = [env(clock, WATCH.UD_LTE, "2104326058", "watch", f"b-{n}") for n in range(total)]
    await publish(kafka_bootstrap, topics.raw_frames, backlog)
    seen = []
    deadline = time.monotonic() + 90
    while True:
        instance = await asyncio.to_thread(probe, Instance("processor", url))
        seen.append(instance.total("trackwire_processor_lag"))
        if seen[-1] == 0 and instance.total("trackwire_processor_frames_total") == total:
            break
        assert time.monotonic() < deadline, seen[-20:]
        await asyncio.sleep(0.1)
    assert max(seen) > 0, seen
    assert instance.total("trackwire_processor_frames_total") == total
