"""FrameProcessor without Kafka: real frames in, the exact messages per topic out, state in a dict."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from processors.decoding import DecodedFrame
from processors.pipeline import FrameProcessor
from schemas.topics import topic_names
from processors.settings import ProcessorSettings
from processors.state import DeviceState
from schemas.alarms import Alarm
from schemas.envelopes import DeadLetter, RawFrame, pack_frame_batch
from schemas.records import Alert, Position, from_msgpack, to_json_dict, to_msgpack

from sample_frames import BASE_MS, envelope, expected, heart, iso, load

GOTOP = load("frames_gotop")
WATCH = load("frames_watch")
TOPICS = topic_names("t.")
NOW_S = BASE_MS / 1000 + 3600
SOS_DEV = "8809008845"  # WATCH.AL_SOS


def make(**settings) -> tuple[FrameProcessor, dict]:
    store: dict[bytes, bytes] = {}
    processor = FrameProcessor(TOPICS, ProcessorSettings(**settings), store, wall_clock=lambda: NOW_S)
    return processor, store


def run(processor: FrameProcessor, env: RawFrame, key: bytes | None = None) -> dict[str, list]:
    """topic -> [(key, record or dead letter)] for one raw-frame message."""
    key = key if key is not None else (env.device_id or "").encode()
    out: dict[str, list] = {}
    for o in processor.process(key, env.to_msgpack()).outputs:
        value = DeadLetter.from_msgpack(o.value) if o.topic == TOPICS.dead_letters else to_json_dict(from_msgpack(o.value))
        out.setdefault(o.topic, []).append((o.key, value))
    return out


def test_each_record_goes_to_its_topic_keyed_by_device_with_frame_id_and_index():
    processor, store = make()
    env = envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="l1-1-1")
    [position] = expected(env)
    assert run(processor, env) == {TOPICS.positions: [(b"2104326058", position)]}
    lk = envelope(WATCH.LK_FULL, device_id="4700186508", protocol="watch", frame_id="l1-2-1")
    event, telemetry = expected(lk)
    assert run(processor, lk) == {TOPICS.events: [(b"4700186508", event)],
                                  TOPICS.telemetry: [(b"4700186508", telemetry)]}
    state = DeviceState.from_msgpack(store[b"2104326058"])
    assert (state.last_seen_ms, state.last_frame_id, state.next_index, state.battery_pct) == (BASE_MS, "l1-1-1", 1, 83)
    assert state.last_fix["lat"] == 32.162652


def test_a_burst_of_sos_frames_is_one_sos_alert_then_one_summary_when_the_repeats_stop():
    processor, _ = make(sos_episode_gap_s=60)
    envs = [envelope(WATCH.AL_SOS, device_id=SOS_DEV, protocol="watch", frame_id=f"l1-5-{n}",
                     received_at_ms=BASE_MS + n * 5000) for n in range(6)]
    outs = [run(processor, env) for env in envs]
    position0, alert0 = expected(envs[0], state="open", repeat_count=1, first_time=iso(BASE_MS), last_time=iso(BASE_MS))
    assert outs[0] == {TOPICS.sos: [(SOS_DEV.encode(), alert0)], TOPICS.alerts: [(SOS_DEV.encode(), alert0)],
                       TOPICS.positions: [(SOS_DEV.encode(), position0)]}
    for env, out in zip(envs[1:], outs[1:]):  # repeats: their positions flow, their alerts are counted
        assert out == {TOPICS.positions: [(SOS_DEV.encode(), expected(env)[0])]}
    assert processor.counters.repeats_folded == 5
    last = BASE_MS + 25_000
    assert processor.deadline(SOS_DEV) == last + 60_000
    assert processor.tick(SOS_DEV, last + 59_999).outputs == []
    summary = processor.tick(SOS_DEV, last + 60_000)
    _, alert5 = expected(envs[5], state="cleared", repeat_count=6, first_time=iso(BASE_MS), last_time=iso(last),
                         frame_index=2)
    assert [(o.topic, o.key, to_json_dict(from_msgpack(o.value))) for o in summary.outputs] == [
        (TOPICS.alerts, SOS_DEV.encode(), alert5), (TOPICS.sos, SOS_DEV.encode(), alert5)]


def test_a_malformed_frame_is_dead_lettered_with_its_envelope_and_the_next_frames_still_flow():
    processor, _ = make()
    good1 = envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="a")
    bad = envelope(b"[3G*2104326058*0010*UD,not,a,fix]", device_id="2104326058", protocol="watch", frame_id="b")
    good2 = envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="c")
    assert list(run(processor, good1)) == [TOPICS.positions]
    [(key, letter)] = run(processor, bad)[TOPICS.dead_letters]
    assert key == b"2104326058"
    assert (letter.stage, letter.frame_id, letter.protocol, letter.device_id, letter.source_topic) == (
        "processor", "b", "watch", "2104326058", TOPICS.raw_frames)
    assert letter.reason and RawFrame.from_msgpack(letter.data) == bad  # the whole original envelope
    assert run(processor, good2) == {TOPICS.positions: [(b"2104326058", expected(good2)[0])]}


def test_unreadable_envelopes_and_our_own_bugs_are_dead_lettered_and_leave_state_alone():
    processor, store = make()
    [(key, letter)] = run_raw(processor, b"k", b"\x93not an envelope")
    assert key == b"k" and letter.reason.startswith("unreadable raw-frame envelope") and letter.data == b"\x93not an envelope"

    env = envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="a")
    run(processor, env)
    before = dict(store)

    def broken(envelope_: RawFrame) -> DecodedFrame:
        out = DecodedFrame(envelope_, "watch", envelope_.device_id, records=[Position(protocol="watch")])
        out.records[0].frame_index = object()  # makes the pipeline itself fail half-way
        return out

    processor._decode = broken
    out = run(processor, dataclasses.replace(env, frame_id="b"))
    [(_, letter)] = out[TOPICS.dead_letters]
    assert list(out) == [TOPICS.dead_letters] and letter.reason.startswith("processor failed (bug)")
    assert store == before and processor.counters.bugs == 1


def run_raw(processor: FrameProcessor, key: bytes, value: bytes) -> list:
    return [(o.key, DeadLetter.from_msgpack(o.value)) for o in processor.process(key, value).outputs]


def test_a_far_future_fix_is_dead_lettered_but_an_alarm_keeps_going_without_it():
    processor, _ = make()
    future = b"#867648044456745,CMD-T,A,DATE:300813,TIME:235937,LAT:45.9930825N,LON:101.5746188E,Speed:000.0,095-70#"
    out = run(processor, envelope(future, device_id="867648044456745", protocol="gotop", frame_id="f"))
    [(_, letter)] = out.pop(TOPICS.dead_letters)
    assert letter.reason.startswith("impossible fix in record 0 (position): fix time 2030-08-13T23:59:37+00:00 is ")
    assert out == {}

    # The SOS key with a far-future time: the alert still goes out, with what was possible.
    sos_future = GOTOP.TRACCAR_CMD_KEY.replace(b"DATE:220516", b"DATE:320516")
    env = envelope(b"#" + sos_future + b"#", device_id="860264050778076", protocol="gotop", frame_id="g")
    out = run(processor, env)
    assert [letter.reason.split(":")[0] for _, letter in out.pop(TOPICS.dead_letters)] == [
        "impossible fix in record 0 (position)", "impossible fix in record 1 (alert)"]
    [(_, sos)] = out.pop(TOPICS.sos)
    assert out == {TOPICS.alerts: [(b"860264050778076", sos)]}
    assert (sos["alarm"], sos["state"], sos["valid"], sos["lat"], "time" in sos) == ("sos", "open", False, 48.7592616, False)


def test_out_of_range_coordinates_from_a_lenient_codec_are_dead_lettered():
    def lenient(env: RawFrame) -> DecodedFrame:
        records = [Position(protocol="x", device_id="1", valid=True, lat=-91.0, lon=0.0, frame_id=env.frame_id,
                            frame_index=0),
                   Position(protocol="x", device_id="1", valid=False, lat=0.0, lon=0.0, frame_id=env.frame_id,
                            frame_index=1)]
        return DecodedFrame(env, "x", "1", records)

    processor, _ = make()
    processor._decode = lenient
    out = run(processor, envelope(b"", device_id="1", protocol="x", frame_id="f"))
    [(_, letter)] = out[TOPICS.dead_letters]
    assert letter.reason == "impossible fix in record 0 (position): latitude -91.0 out of range [-90, 90]"
    [(_, kept)] = out[TOPICS.positions]  # the invalid (valid=false) fix is kept, marked as such
    assert (kept["frame_index"], kept["valid"]) == (1, False)


def test_heart_rate_alert_and_its_clearing_follow_the_telemetry_frames():
    processor, _ = make()
    out = [run(processor, envelope(heart(SOS_DEV, bpm), device_id=SOS_DEV, protocol="watch", frame_id=f"h{n}",
                                   received_at_ms=BASE_MS + n * 1000))
           for n, bpm in enumerate([80, 150, 155, 100])]
    assert [sorted(o) for o in out] == [[TOPICS.telemetry], [TOPICS.alerts, TOPICS.telemetry], [TOPICS.telemetry],
                                        [TOPICS.alerts, TOPICS.telemetry]]
    [(_, raised)], [(_, cleared)] = out[1][TOPICS.alerts], out[3][TOPICS.alerts]
    assert raised == {"type": "alert", "protocol": "watch", "device_id": SOS_DEV, "time": iso(BASE_MS + 1000),
                      "frame_id": "h1", "frame_index": 1, "alarm": "heart_rate_high", "state": "open",
                      "repeat_count": 1, "first_time": iso(BASE_MS + 1000), "last_time": iso(BASE_MS + 1000)}
    assert cleared == {**raised, "time": iso(BASE_MS + 3000), "frame_id": "h3", "state": "cleared",
                       "repeat_count": 2, "last_time": iso(BASE_MS + 2000)}


def test_offline_from_the_timer_numbered_in_the_last_frame_and_cleared_by_the_next():
    processor, _ = make(offline_after_s=120)
    run(processor, envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="a"))
    assert processor.deadline("2104326058") == BASE_MS + 120_000
    [o] = processor.tick("2104326058", BASE_MS + 120_000).outputs
    raised = to_json_dict(from_msgpack(o.value))
    assert (o.topic, raised["alarm"], raised["state"], raised["frame_id"], raised["frame_index"]) == (
        TOPICS.alerts, "offline", "open", "a", 1)
    assert (raised["lat"], raised["lon"]) == (32.162652, 34.888748)
    assert processor.tick("2104326058", BASE_MS + 999_000).outputs == []
    back = run(processor, envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="b",
                                   received_at_ms=BASE_MS + 1_000_000))
    [(_, cleared)] = back[TOPICS.alerts]
    assert (cleared["state"], cleared["frame_id"], cleared["frame_index"], cleared["last_time"]) == (
        "cleared", "b", 1, iso(BASE_MS + 1_000_000))


def test_a_frame_keyed_by_connection_is_published_without_state_and_sos_is_never_folded():
    processor, store = make()
    env = envelope(WATCH.AL_SOS, device_id=SOS_DEV, protocol="watch", frame_id="x")
    for _ in range(2):
        out = run(processor, env, key=b"conn:l1-9")
        assert [r["state"] for _, r in out[TOPICS.sos]] == ["open"]
        assert [k for k, _ in out[TOPICS.positions]] == [SOS_DEV.encode()]
    assert store == {} and processor.counters.stateless == 2


@pytest.mark.parametrize("frame, device", [
    (b"#" + GOTOP.TRACCAR_ALM_B1_1 + b"#", "867688033841044"),
    (WATCH.AL_FALL, "8308373902"),
])
def test_the_envelope_protocol_may_be_missing(frame, device):
    processor, _ = make()
    env = envelope(frame, device_id=device, protocol=None, frame_id="f")
    out = run(processor, env)
    assert out[TOPICS.positions][0][1]["frame_id"] == "f" and TOPICS.dead_letters not in out
    assert [r["alarm"] for _, r in out[TOPICS.alerts]] in (["geofence_enter"], ["fall"])


def test_records_round_trip_with_the_processor_fields():
    alert = Alert(protocol="watch", device_id="1", alarm=Alarm.SOS, frame_id="f", frame_index=3, state="open",
                  repeat_count=2, first_time=datetime(2025, 1, 1, tzinfo=timezone.utc),
                  last_time=datetime(2025, 1, 1, 0, 1, tzinfo=timezone.utc))
    assert from_msgpack(to_msgpack(alert)) == alert


def test_a_frame_batch_gives_what_its_frames_give_one_by_one_with_each_frames_key():
    # The listener packs frames queued for one partition into one message under load
    # (schemas.envelopes.pack_frame_batch): each item keeps its own key and envelope.
    envs = [envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="l1-1-1"),
            envelope(WATCH.LK_FULL, device_id="4700186508", protocol="watch", frame_id="l1-2-1"),
            envelope(WATCH.AL_SOS, device_id=SOS_DEV, protocol="watch", frame_id="l1-3-1")]
    keys = [b"2104326058", b"4700186508", b"conn:l1-3"]  # the last is keyed by connection: stateless
    alone, alone_store = make()
    expected_outputs = [[(o.topic, o.key, o.value) for o in alone.process(k, e.to_msgpack()).outputs]
                        for k, e in zip(keys, envs)]
    batched, batched_store = make()
    results = batched.process_message(None, pack_frame_batch([(k, e.to_msgpack()) for k, e in zip(keys, envs)]))
    assert [[(o.topic, o.key, o.value) for o in r.outputs] for r in results] == expected_outputs
    assert [r.device_id for r in results] == ["2104326058", "4700186508", SOS_DEV]
    assert [r.stateful for r in results] == [True, True, False]
    assert batched_store == alone_store and set(batched_store) == {b"2104326058", b"4700186508"}
    assert batched.counters.frames == 3


def test_an_unreadable_frame_batch_is_one_dead_letter_holding_the_whole_message():
    processor, store = make()
    good = envelope(WATCH.UD_LTE, device_id="2104326058", protocol="watch", frame_id="l1-1-1").to_msgpack()
    broken = pack_frame_batch([(b"2104326058", good)])[:-5]  # cut short in transit
    (result,) = processor.process_message(b"k", broken)
    ((topic, key, letter),) = [(o.topic, o.key, DeadLetter.from_msgpack(o.value)) for o in result.outputs]
    assert topic == TOPICS.dead_letters and key == b"k" and letter.data == broken
    assert letter.reason.startswith("unreadable raw-frame batch: frame batch is not msgpack")
    assert result.dead_reasons == ["envelope"] and store == {}
    # A plain RawFrame is one frame, as before.
    (plain,) = processor.process_message(b"2104326058", good)
    assert [o.topic for o in plain.outputs] == [TOPICS.positions]
