"""Resends of numbered frames through the pure FrameProcessor: real GT06 heartbeats and alarms
(tests/protocols/frames_gt06.py, cited there) sent again, and watch keep-alives that carry no number."""

from __future__ import annotations

from processors import resends
from processors.pipeline import FrameProcessor
from processors.settings import ProcessorSettings
from processors.state import DeviceState
from schemas.records import from_msgpack, to_json_dict
from schemas.topics import topic_names

from sample_frames import BASE_MS, envelope, expected, gt06_renumbered as renumbered, load

GT06 = load("frames_gt06")
WATCH = load("frames_watch")
TOPICS = topic_names("t.")
IMEI = "868120000000001"
MINUTE = 60_000


def make(store: dict | None = None) -> tuple[FrameProcessor, dict]:
    store = {} if store is None else store
    return FrameProcessor(TOPICS, ProcessorSettings(), store, wall_clock=lambda: BASE_MS / 1000), store


def gt06(data: bytes, frame_id: str, at_ms: int = BASE_MS):
    return envelope(data, device_id=IMEI, protocol="gt06", frame_id=frame_id, received_at_ms=at_ms)


def run(processor: FrameProcessor, env) -> dict[str, list]:
    out: dict[str, list] = {}
    for o in processor.process(env.device_id.encode(), env.to_msgpack()).outputs:
        out.setdefault(o.topic, []).append(to_json_dict(from_msgpack(o.value)))
    return out


def test_a_resent_heartbeat_is_one_event():
    processor, _ = make()
    first, again = gt06(GT06.DOC_HEARTBEAT, "l1-1-1"), gt06(GT06.DOC_HEARTBEAT, "l1-2-1", BASE_MS + 20_000)
    assert run(processor, first) == {TOPICS.events: expected(first)}
    assert run(processor, again) == {}
    assert (processor.counters.resends, processor.counters.duplicates) == (1, 1)


def test_a_heartbeat_with_another_serial_is_another_event():
    processor, _ = make()
    next_one = renumbered(GT06.DOC_HEARTBEAT, 0x0010)
    assert next_one != GT06.DOC_HEARTBEAT and next_one[4:-6] == GT06.DOC_HEARTBEAT[4:-6]
    first, second = gt06(GT06.DOC_HEARTBEAT, "l1-1-1"), gt06(next_one, "l1-1-2", BASE_MS + 20_000)
    assert run(processor, first) == {TOPICS.events: expected(first)}
    assert run(processor, second) == {TOPICS.events: expected(second)}
    assert processor.counters.resends == processor.counters.duplicates == 0


def test_identical_keep_alives_without_a_number_are_two_events():
    processor, _ = make()
    envs = [envelope(WATCH.LK_FULL, device_id="4700186508", protocol="watch", frame_id=f"l1-1-{n}",
                     received_at_ms=BASE_MS + n * 5 * MINUTE) for n in (1, 2)]
    for env in envs:
        event, telemetry = expected(env)
        assert run(processor, env) == {TOPICS.events: [event], TOPICS.telemetry: [telemetry]}
    assert processor.counters.resends == 0


def test_the_same_message_read_again_gives_the_same_records():
    """A processor re-reading a Kafka message (same frame id) after a restart is not a resend."""
    processor, _ = make()
    env = gt06(GT06.DOC_HEARTBEAT, "l1-1-1")
    assert run(processor, env) == run(processor, env) == {TOPICS.events: expected(env)}
    assert processor.counters.resends == 0


def test_records_with_a_device_time_still_go_out_and_time_less_ones_do_not():
    processor, _ = make()
    alarm, again = gt06(GT06.TRACCAR_ALARM_VIBRATION, "l1-1-1"), gt06(GT06.TRACCAR_ALARM_VIBRATION, "l1-2-1")
    run(processor, alarm)
    out = run(processor, again)  # position and alert carry the GPS time: the sink collapses them
    assert [r["time"] for records in out.values() for r in records] and \
        all(r["time"] == "2015-12-29T10:43:33.000Z" for records in out.values() for r in records)
    assert (processor.counters.resends, processor.counters.duplicates) == (1, 0)
    # An LBS SOS alarm (0x19) has no device time: its resent position and alert are not repeated.
    sos, sos_again = gt06(GT06.TRACCAR_LBS_ALARM_SOS, "l1-1-2"), gt06(GT06.TRACCAR_LBS_ALARM_SOS, "l1-2-2")
    assert TOPICS.sos in run(processor, sos)
    assert run(processor, sos_again) == {}
    assert (processor.counters.resends, processor.counters.duplicates) == (2, 2)


def test_a_copy_after_the_window_is_a_new_event():
    processor, _ = make()
    first = gt06(GT06.DOC_HEARTBEAT, "l1-1-1")
    late = gt06(GT06.DOC_HEARTBEAT, "l1-9-1", BASE_MS + resends.WINDOW_MS + 1)
    run(processor, first)
    assert run(processor, late) == {TOPICS.events: expected(late)}


def test_the_check_survives_a_restart_in_the_device_state():
    _, store = make()
    run(make(store)[0], gt06(GT06.DOC_HEARTBEAT, "l1-1-1"))
    restarted, _ = make(store)  # a new worker on the same table
    assert run(restarted, gt06(GT06.DOC_HEARTBEAT, "l1-2-1", BASE_MS + MINUTE)) == {}
    [entry] = DeviceState.from_msgpack(store[IMEI.encode()]).recent_frames
    assert entry[1:] == [0x000F, BASE_MS, "l1-1-1"]


def test_a_sequence_seen_with_other_bytes_starts_a_new_numbering():
    """Same serial, other content (a restarted device): both are events, and the older numbering is
    forgotten, so its copy is not taken for a resend either."""
    processor, _ = make()
    status = renumbered(GT06.TRACCAR_STATUS, 0x000F)  # constructed: the Traccar status with serial 000F
    frames = [gt06(GT06.DOC_HEARTBEAT, "l1-1-1"), gt06(status, "l1-2-1", BASE_MS + MINUTE),
              gt06(GT06.DOC_HEARTBEAT, "l1-2-2", BASE_MS + 2 * MINUTE)]
    for env in frames:
        assert run(processor, env) == {TOPICS.events: expected(env)}
    assert (processor.counters.renumbered, processor.counters.resends) == (2, 0)


def test_memory_per_device_is_bounded():
    processor, store = make()
    for serial in range(resends.RING_SIZE + 10):
        run(processor, gt06(renumbered(GT06.DOC_HEARTBEAT, serial), f"l1-1-{serial}", BASE_MS + serial))
    recent = DeviceState.from_msgpack(store[IMEI.encode()]).recent_frames
    assert [entry[1] for entry in recent] == list(range(10, resends.RING_SIZE + 10))
