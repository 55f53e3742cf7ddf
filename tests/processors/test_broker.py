"""Processor workers (`python -m processors` subprocesses) against the real broker: raw envelopes of
real GOTOP, watch and GT06 frames in, the exact records on each output topic out."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time

import pytest

from processors.app import partition_for
from schemas.topics import topic_names
from schemas.envelopes import RawFrame

from harness import Outputs, Worker, by_frame, last_partitions, publish, publish_raw
from sample_frames import envelope, expected, gt06_renumbered, heart, iso, load

pytestmark = pytest.mark.kafka

GOTOP = load("frames_gotop")
WATCH = load("frames_watch")
GT06 = load("frames_gt06")


def gotop(frame: bytes) -> bytes:
    return frame if frame.startswith(b"#") else b"#" + frame + b"#"


@pytest.fixture
def workers(kafka_bootstrap, kafka_prefix, tmp_path):
    """workers(n=1, **settings) -> started, ready Workers; all stopped at the end."""
    started: list[Worker] = []

    def start(n: int = 1, **settings) -> list[Worker]:
        new = [Worker(kafka_bootstrap, kafka_prefix, tmp_path / f"worker{len(started) + i}.log", **settings).start()
               for i in range(n)]
        started.extend(new)
        for worker in new:
            worker.wait_ready()
        return new

    yield start
    for worker in started:
        worker.stop()


class Clock:
    """Reception times (the listener's clock) for the envelopes: now, and increasing."""

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def next(self, step_ms: int = 10) -> int:
        self.ms = max(self.ms + step_ms, int(time.time() * 1000))
        return self.ms


def env(clock: Clock, frame: bytes, device_id: str | None, protocol: str | None, frame_id: str) -> RawFrame:
    return envelope(frame, device_id=device_id, protocol=protocol, frame_id=frame_id, received_at_ms=clock.next())


def keyed(device_id: str, records: list[dict]) -> list:
    return [(device_id.encode(), r) for r in records]


async def test_real_frames_reach_their_topics_and_a_malformed_frame_is_dead_lettered_between_good_ones(
        kafka_bootstrap, kafka_prefix, workers):
    topics = topic_names(kafka_prefix)
    workers(1)
    clock = Clock()
    gt06_id = "864717003283581"
    frames = [
        env(clock, gotop(GOTOP.TRACCAR_CMD_T_LTE), "867648044456745", "gotop", "g-1"),
        env(clock, gotop(GOTOP.TRACCAR_CMD_X), "353327020412763", "gotop", "g-2"),
        env(clock, gotop(GOTOP.TRACCAR_ALM_B1_1), "867688033841044", None, "g-3"),  # protocol missing: detected
        env(clock, WATCH.UD_LTE, "2104326058", "watch", "w-1"),
        env(clock, b"[3G*2104326058*0010*UD,not,a,fix]", "2104326058", "watch", "w-2"),  # malformed
        env(clock, WATCH.UD_LTE, "2104326058", "watch", "w-3"),
        env(clock, WATCH.LK_FULL, "4700186508", "watch", "w-4"),
        env(clock, WATCH.OXYGEN, "9705141740", "watch", "w-5"),
        env(clock, GT06.TRACCAR_LOGIN_PLAIN, gt06_id, "gt06", "t-1"),
        env(clock, GT06.TRACCAR_GPS_LBS_22, gt06_id, "gt06", "t-2"),  # no id in the frame: the envelope's
        env(clock, GT06.TRACCAR_STATUS, gt06_id, "gt06", "t-3"),
    ]
    async with Outputs(kafka_bootstrap, topics) as out:
        await publish(kafka_bootstrap, topics.raw_frames, frames)
        await publish_raw(kafka_bootstrap, topics.raw_frames, b"conn:l1-77", b"\x00not an envelope")
        got = await out.until({topics.positions: 5, topics.events: 4, topics.telemetry: 2, topics.alerts: 1,
                               topics.dead_letters: 2})

    g1, g2, g3, w1, _, w3, w4, w5, t1, t2, t3 = frames
    alm_position, alm_alert = expected(dataclasses.replace(g3, protocol="gotop"))
    assert by_frame(got[topics.positions]) == by_frame(
        keyed("867648044456745", expected(g1)) + [(b"867688033841044", alm_position)]
        + keyed("2104326058", expected(w1) + expected(w3)) + keyed(gt06_id, expected(t2)))
    assert by_frame(got[topics.events]) == by_frame(
        keyed("353327020412763", expected(g2)) + keyed("4700186508", expected(w4)[:1])
        + keyed(gt06_id, expected(t1) + expected(t3)))
    assert by_frame(got[topics.telemetry]) == by_frame(
        keyed("4700186508", expected(w4)[1:]) + keyed("9705141740", expected(w5)))
    assert got[topics.alerts] == [(b"867688033841044", alm_alert)]
    assert topics.sos not in got or got[topics.sos] == []

    letters = {letter.frame_id: (key, letter) for key, letter in got[topics.dead_letters]}
    key, bad = letters["w-2"]
    assert key == b"2104326058" and bad.stage == "processor" and bad.reason.startswith("UD")
    assert RawFrame.from_msgpack(bad.data) == frames[4]  # the original envelope, whole
    key, garbage = letters[None]
    assert key == b"conn:l1-77" and garbage.data == b"\x00not an envelope"
    assert garbage.reason.startswith("unreadable raw-frame envelope")


async def test_sos_burst_is_one_alert_health_alert_clears_and_silence_raises_offline(
        kafka_bootstrap, kafka_prefix, workers):
    topics = topic_names(kafka_prefix)
    workers(1, sos_episode_gap_s=2, offline_after_s=4)
    clock = Clock()
    watch_id, gotop_id, gt06_id, health_id = "8809008845", "860264050778076", "864717003283581", "8800000015"
    watch_sos = [env(clock, WATCH.AL_SOS, watch_id, "watch", f"w-{n}") for n in range(5)]
    gotop_sos = [env(clock, gotop(GOTOP.TRACCAR_CMD_KEY), gotop_id, "gotop", f"g-{n}") for n in range(3)]
    # The device's next SOS frame has the next serial (the same bytes again would be a resend).
    gt06_sos = [env(clock, frame, gt06_id, "gt06", f"t-{n}") for n, frame in enumerate(
        [GT06.TRACCAR_LBS_ALARM_SOS, gt06_renumbered(GT06.TRACCAR_LBS_ALARM_SOS, 0x0009)])]
    high = env(clock, heart(health_id, 150), health_id, "watch", "h-1")
    normal = env(clock, heart(health_id, 80), health_id, "watch", "h-2")
    sent_at = time.time()
    async with Outputs(kafka_bootstrap, topics) as out:
        await publish(kafka_bootstrap, topics.raw_frames, watch_sos + gotop_sos + gt06_sos + [high, normal])
        got = await out.until({topics.sos: 6, topics.alerts: 11}, timeout_s=30, settle_s=1.5)
    assert time.time() - sent_at >= 4  # offline came after the configured silence, not before

    def episode(device_id: str, envs: list[RawFrame]) -> list:
        first, last = envs[0], envs[-1]
        opened = [a for a in expected(first, state="open", repeat_count=1, first_time=iso(first.received_at_ms),
                                      last_time=iso(first.received_at_ms)) if a["type"] == "alert"]
        n = len(expected(last))
        closed = [a for a in expected(last, state="cleared", repeat_count=len(envs),
                                      first_time=iso(first.received_at_ms), last_time=iso(last.received_at_ms),
                                      frame_index=n) if a["type"] == "alert"]
        return keyed(device_id, opened + closed)

    sos = episode(watch_id, watch_sos) + episode(gotop_id, gotop_sos) + episode(gt06_id, gt06_sos)
    assert by_frame(got[topics.sos]) == by_frame(sos)  # one alert per burst (open + its summary), no flood

    hr_open = {"type": "alert", "protocol": "watch", "device_id": health_id, "time": iso(high.received_at_ms),
               "frame_id": "h-1", "frame_index": 1, "alarm": "heart_rate_high", "state": "open", "repeat_count": 1,
               "first_time": iso(high.received_at_ms), "last_time": iso(high.received_at_ms)}
    hr_cleared = {**hr_open, "time": iso(normal.received_at_ms), "frame_id": "h-2", "state": "cleared"}

    def offline(device_id: str, last: RawFrame, index: int) -> tuple:
        # None of these devices sent a valid fix with coordinates: no last fix rides on the alert.
        return (device_id.encode(), {
            "type": "alert", "protocol": last.protocol, "device_id": device_id,
            "time": iso(last.received_at_ms + 4000), "frame_id": last.frame_id, "frame_index": index,
            "alarm": "offline", "state": "open", "first_time": iso(last.received_at_ms),
            "last_time": iso(last.received_at_ms)})

    # Offline is numbered after the frame's records and the SOS summary that also took an index there.
    offlines = [offline(watch_id, watch_sos[-1], 3), offline(gotop_id, gotop_sos[-1], 3),
                offline(gt06_id, gt06_sos[-1], 3), offline(health_id, normal, 2)]
    assert by_frame(got[topics.alerts]) == by_frame(sos + [(health_id.encode(), hr_open),
                                                           (health_id.encode(), hr_cleared)] + offlines)


async def test_a_restarted_worker_resumes_with_the_device_state(kafka_bootstrap, kafka_prefix, workers):
    topics = topic_names(kafka_prefix)
    [first] = workers(1, sos_episode_gap_s=20)
    clock = Clock()
    device = "8809008845"
    sos1 = env(clock, WATCH.AL_SOS, device, "watch", "a-1")
    high = env(clock, heart(device, 150), device, "watch", "a-2")
    async with Outputs(kafka_bootstrap, topics) as out:
        await publish(kafka_bootstrap, topics.raw_frames, [sos1, high])
        before = await out.until({topics.sos: 1, topics.alerts: 2}, settle_s=0.5)
        assert [r["state"] for _, r in before[topics.sos]] == ["open"]
        out.take()

        assert first.stop() == 0  # SIGTERM: a clean stop
        workers(1, sos_episode_gap_s=20)
        sos2 = env(clock, WATCH.AL_SOS, device, "watch", "b-1")
        normal = env(clock, heart(device, 80), device, "watch", "b-2")
        await publish(kafka_bootstrap, topics.raw_frames, [sos2, normal])
        after = await out.until({topics.positions: 1, topics.telemetry: 1, topics.alerts: 1}, settle_s=1.0)
        # The SOS repeat joined the episode opened before the restart: no second SOS alert...
        assert after.get(topics.sos, []) == []
        # ...and the heart-rate episode opened before the restart is the one that clears.
        [(_, cleared)] = after[topics.alerts]
        assert (cleared["alarm"], cleared["state"], cleared["first_time"], cleared["frame_id"]) == (
            "heart_rate_high", "cleared", iso(high.received_at_ms), "b-2")
        out.take()
        # The timer of the new worker closes the episode, with the repeat from before the restart counted.
        summary = await out.until({topics.sos: 1}, timeout_s=35, settle_s=0.2)
    [(_, closed)] = summary[topics.sos]
    assert (closed["state"], closed["repeat_count"], closed["first_time"], closed["last_time"]) == (
        "cleared", 2, iso(sos1.received_at_ms), iso(sos2.received_at_ms))


async def test_workers_share_partitions_and_state_moves_when_one_crashes(kafka_bootstrap, kafka_prefix, workers):
    topics = topic_names(kafka_prefix)
    # A long episode gap: on a loaded machine the failover can take a while, and the repeats must
    # still fall inside the episode they belong to.
    a, b = workers(2, sos_episode_gap_s=90, session_timeout_s=6)
    # Let the group settle on two members: each worker logs the partitions it was given.
    for _ in range(150):
        if last_partitions(a) and last_partitions(b) and not (last_partitions(a) & last_partitions(b)):
            break
        await asyncio.sleep(0.2)
    clock = Clock()
    devices = [f"88090088{n:02d}" for n in range(8)]
    first = [env(clock, WATCH.AL_SOS.replace(b"8809008845", d.encode()), d, "watch", f"x-{d}") for d in devices]
    async with Outputs(kafka_bootstrap, topics) as out:
        await publish(kafka_bootstrap, topics.raw_frames, first)
        opened = await out.until({topics.sos: len(devices)}, settle_s=1.0)
        assert sorted(k for k, _ in opened[topics.sos]) == sorted(d.encode() for d in devices)
        out.take()
        owned_by_a = last_partitions(a)
        assert owned_by_a and owned_by_a != {0, 1, 2}, "the two workers did not share the partitions"
        moving = [d for d in devices if partition_for(d.encode(), 3) in owned_by_a]
        assert moving, "no device on the worker that crashes: the test would prove nothing"

        a.stop(signal.SIGKILL)  # a crash: its partitions move after the session timeout
        repeats = [env(clock, WATCH.AL_SOS.replace(b"8809008845", d.encode()), d, "watch", f"y-{d}") for d in devices]
        await publish(kafka_bootstrap, topics.raw_frames, repeats)
        moved = await out.until({topics.positions: len(devices)}, timeout_s=80, settle_s=1.0)
        assert moved.get(topics.sos, []) == []  # every repeat found its episode, on whichever worker
    # The survivor logs its new partitions from its timer, which may tick after the outputs above.
    for _ in range(100):
        if "active partitions [0, 1, 2]" in b.log():
            break
        await asyncio.sleep(0.1)
    assert "active partitions [0, 1, 2]" in b.log()


async def processed_then_stopped(bootstrap: str, topics, out: Outputs, worker: Worker, frame: RawFrame) -> None:
    """The worker processes `frame` (a keep-alive: one event) and stops cleanly, its offset committed."""
    await publish(bootstrap, topics.raw_frames, [frame])
    await out.until({topics.events: 1}, settle_s=0)
    worker.stop()


async def test_catching_up_after_an_outage_raises_no_false_offline(kafka_bootstrap, kafka_prefix, workers):
    topics = topic_names(kafka_prefix)
    [first] = workers(1, offline_after_s=3)
    clock = Clock()
    device = "8800000015"
    async with Outputs(kafka_bootstrap, topics) as out:
        await processed_then_stopped(kafka_bootstrap, topics, out, first, env(clock, WATCH.LK_BARE, device, "watch", "a-0"))
        # During the outage the device keeps sending: a backlog of 2000 frames over 2 s.
        backlog = []
        for n in range(1, 2001):
            frame = env(clock, WATCH.LK_BARE, device, "watch", f"b-{n}")
            backlog.append(frame)
            if n % 200 == 0:
                await publish(kafka_bootstrap, topics.raw_frames, backlog[-200:])
                await asyncio.sleep(0.2)
        await asyncio.sleep(3.5)  # by the wall clock the device now looks offline since a-0
        workers(1, offline_after_s=3)
        got = await out.until({topics.events: 2001, topics.alerts: 1}, timeout_s=40, settle_s=1.0)
    # One offline episode, from the last frame of the backlog: none while the backlog was read.
    last = backlog[-1]
    assert [(r["alarm"], r["state"], r["first_time"], r["frame_id"]) for _, r in got[topics.alerts]] == [
        ("offline", "open", iso(last.received_at_ms), last.frame_id)]


async def test_a_worker_that_takes_over_quiet_partitions_still_raises_offline(kafka_bootstrap, kafka_prefix, workers):
    # A newly assigned partition is held (no device judged) until its first frame or until it has
    # nothing to read (processors/deadlines.StreamClock); this one has nothing: the device that went
    # quiet before the takeover must still be reported offline by the new worker.
    topics = topic_names(kafka_prefix)
    [first] = workers(1, offline_after_s=3)
    clock = Clock()
    device = "8800000017"
    async with Outputs(kafka_bootstrap, topics) as out:
        # Stopped before the device's 3 s are up: the next worker has to notice.
        await processed_then_stopped(kafka_bootstrap, topics, out, first, env(clock, WATCH.LK_BARE, device, "watch", "q-1"))
        workers(1, offline_after_s=3)
        got = await out.until({topics.alerts: 1}, timeout_s=30, settle_s=0.5)
    assert [(r["alarm"], r["state"], r["frame_id"]) for _, r in got[topics.alerts]] == [("offline", "open", "q-1")]


async def test_no_frame_is_skipped_when_the_seek_to_the_committed_offsets_is_slow(kafka_bootstrap, kafka_prefix,
                                                                                 workers):
    # A worker taking over a backlog: frames fetched while Faust's recovery awaited the seek to the
    # committed offsets were dropped from the agent's queue and their offsets committed as a gap
    # (processors/recovery.py). A seek held until frames are queued (faults/slow_seek.py) lost one
    # in 2 of 3 runs before the fix.
    topics = topic_names(kafka_prefix)
    [first] = workers(1)
    clock = Clock()
    device = "8800000016"
    async with Outputs(kafka_bootstrap, topics) as out:
        # a-0 committed: the next worker starts from the backlog.
        await processed_then_stopped(kafka_bootstrap, topics, out, first, env(clock, WATCH.LK_BARE, device, "watch", "a-0"))
        backlog = [env(clock, WATCH.LK_BARE, device, "watch", f"b-{n}") for n in range(1, 10_001)]
        await publish(kafka_bootstrap, topics.raw_frames, backlog)
        workers(1, fault="slow_seek")
        got = await out.until({topics.events: 10_001}, timeout_s=60, settle_s=1.0)
    frame_ids = {record["frame_id"] for _, record in got[topics.events]}
    assert sorted({f"b-{n}" for n in range(1, 10_001)} - frame_ids) == []


async def test_outputs_carry_their_frames_reception_time_so_a_frame_processed_again_gives_the_same_rows(
        kafka_bootstrap, kafka_prefix, workers):
    # The sink stores a record without a device time (this keep-alive's heartbeat and step count) at
    # its message's timestamp: the processing time would make a frame processed again after a crash
    # a second row (the fault test of issue 16 found exactly that); the reception time does not.
    from aiokafka import AIOKafkaConsumer

    topics = topic_names(kafka_prefix)
    workers(1)
    received_ms = int(time.time() * 1000) - 60_000  # a minute ago: unmistakably not the processing time
    frame = envelope(WATCH.LK_FULL, device_id="4700186508", protocol="watch", frame_id="w-1",
                     received_at_ms=received_ms)
    consumer = AIOKafkaConsumer(topics.events, topics.telemetry, bootstrap_servers=kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        await publish(kafka_bootstrap, topics.raw_frames, [frame])
        stamps: dict[str, list[int]] = {}
        deadline = time.monotonic() + 30
        while len(stamps) < 2:
            assert time.monotonic() < deadline, f"no heartbeat event and step count within 30 s: {stamps}"
            for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
                stamps.setdefault(tp.topic, []).extend(m.timestamp for m in messages)
    finally:
        await consumer.stop()
    assert stamps == {topics.events: [received_ms], topics.telemetry: [received_ms]}
