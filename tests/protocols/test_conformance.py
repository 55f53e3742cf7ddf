"""The conformance suite: every codec in protocols/registry.py against its own cited samples.

Convention (docs/protocols.md): `tests/protocols/frames_<name>.py`
exports `SAMPLES` (whole TCP frames as sent), optionally `UDP_SAMPLES`, `PREAMBLE` (frames fed on
the session before each sample, e.g. a login) and `MALFORMED` (frames that frame but must not
decode). For every codec x sample this checks: detection (own codec, and no other codec matches),
framing (whole / byte by byte / with trailing bytes, and through the detecting stream), decoding
through `guarded_decode` (no error, no bug, sane fixes), `guarded_identify` agreeing with decode,
and a Hypothesis property: random and mutated input gives records or a Malformed-type error, never
`bug=True`. Nothing here names a protocol: adding one is its module, its frames and a registry line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.base import (
    Codec,
    Detection,
    Frame,
    FrameError,
    Transport,
    guarded_decode,
    guarded_identify,
)
from protocols.registry import BY_NAME, CODECS
from protocols.stream import Detected, ProtocolStream, detect
from schemas.records import Alert, Position, Record
from tests.protocols.fuzzing import drive_codec, mutated

NOW = datetime.now(timezone.utc)
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)




@dataclass
class Frames:
    """One codec's conformance data, or the reason it has none."""

    codec: Codec
    samples: list[tuple[str, bytes]] = field(default_factory=list)
    udp_samples: list[tuple[str, bytes]] = field(default_factory=list)
    preamble: list[bytes] = field(default_factory=list)
    malformed: list[tuple[str, bytes]] = field(default_factory=list)
    problem: str | None = None


def _load(codec: Codec) -> Frames:
    module_name = f"tests.protocols.frames_{codec.name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return Frames(codec, problem=f"{module_name} does not exist: every registered codec needs a frames module")
    data = {key: getattr(module, key) for key in ("SAMPLES", "UDP_SAMPLES", "PREAMBLE", "MALFORMED")
            if hasattr(module, key)}
    if not data.get("SAMPLES"):
        return Frames(codec, problem=f"{module_name} exports no SAMPLES (list of (label, frame bytes))")
    return Frames(codec, samples=list(data["SAMPLES"]), udp_samples=list(data.get("UDP_SAMPLES", [])),
                  preamble=list(data.get("PREAMBLE", [])), malformed=list(data.get("MALFORMED", [])))


FRAMES: dict[str, Frames] = {codec.name: _load(codec) for codec in CODECS}


def _cases(kind: str) -> list:
    out = []
    for name, frames in FRAMES.items():
        for label, frame in getattr(frames, kind):
            out.append(pytest.param(frames, label, frame, id=f"{name}: {label}"))
    return out


TCP_CASES = _cases("samples")
UDP_CASES = _cases("udp_samples")
MALFORMED_CASES = _cases("malformed")
EVERY_SAMPLE = [(frames.codec, Transport.TCP, frame) for frames in FRAMES.values() for _, frame in frames.samples] + [
    (frames.codec, Transport.UDP, frame) for frames in FRAMES.values() for _, frame in frames.udp_samples]


def drain(framer) -> list[Frame | FrameError]:
    return list(iter(framer.next, None))


def session_after_preamble(frames: Frames, transport: Transport, guard=guarded_decode):
    session = frames.codec.new_session(transport)
    for frame in frames.preamble:
        outcome = guard(frames.codec, frame, session, NOW)
        assert outcome.error is None, f"PREAMBLE frame {frame[:24]!r} does not decode: {outcome.error}"
    return session


def assert_sane(record: Record) -> None:
    """Generic sanity on every decoded record (after Traccar ProtocolTest.verifyDecodedPosition)."""
    assert isinstance(record, Record), record
    if isinstance(record, (Position, Alert)):
        assert (record.lat is None) == (record.lon is None), f"half a coordinate: {record.lat}, {record.lon}"
        if record.lat is not None:
            assert -90 <= record.lat <= 90 and -180 <= record.lon <= 180, (record.lat, record.lon)
    if record.time is not None:
        assert record.time.tzinfo is not None, "record times are timezone-aware (UTC)"
        assert EPOCH_2000 <= record.time <= NOW + timedelta(days=1), record.time


# --------------------------------------------------------------------------------------------
# The codec list itself
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(FRAMES))
def test_every_registered_codec_has_cited_samples(name):
    frames = FRAMES[name]
    assert frames.problem is None, frames.problem
    labels = [label for label, _ in frames.samples + frames.udp_samples + frames.malformed]
    assert all(isinstance(label, str) and label for label in labels)
    assert all(isinstance(frame, bytes) and frame for _, frame in frames.samples + frames.udp_samples)


@pytest.mark.parametrize("name", list(FRAMES))
def test_every_codec_declares_its_transports_and_has_samples_for_each(name):
    frames = FRAMES[name]
    transports = getattr(frames.codec, "transports", None)
    assert isinstance(transports, frozenset) and transports, f"{name}: CODEC.transports (frozenset[Transport]) missing"
    assert transports <= set(Transport)
    assert Transport.TCP not in transports or frames.samples, f"{name} speaks TCP but has no SAMPLES"
    if Transport.UDP in transports:
        assert frames.udp_samples, f"{name} declares UDP but its frames module has no UDP_SAMPLES"
    else:
        assert not frames.udp_samples, f"{name} has UDP_SAMPLES but does not declare UDP in transports"


def test_registry_names_are_unique_and_lower_case():
    names = [codec.name for codec in CODECS]
    assert len(set(names)) == len(names)
    assert all(name == name.lower() and name.isidentifier() for name in names)
    assert list(BY_NAME) == names


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,transport,frame", EVERY_SAMPLE,
                         ids=[f"{c.name}-{t.value}-{i}" for i, (c, t, _) in enumerate(EVERY_SAMPLE)])
def test_sample_is_detected_as_its_own_protocol_and_by_no_other(codec, transport, frame):
    assert detect(frame, transport) is codec
    claimed_by = [other.name for other in CODECS
                  if other is not codec and other.detect(frame, transport) is Detection.MATCH]
    assert claimed_by == [], f"{codec.name} sample also matched by {claimed_by}"


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

def closes_connection(frames, frame: bytes) -> bool:
    session = session_after_preamble(frames, Transport.TCP)
    return guarded_decode(frames.codec, frame, session, NOW).close


@pytest.mark.parametrize("frames,label,frame", TCP_CASES)
def test_sample_frames_whole_byte_by_byte_and_with_trailing_bytes(frames, label, frame):
    codec = frames.codec
    framer = codec.new_framer(Transport.TCP)
    framer.feed(frame)
    assert drain(framer) == [Frame(frame)]
    assert framer.buffered == 0

    framer = codec.new_framer(Transport.TCP)
    out = []
    for i in range(len(frame)):
        framer.feed(frame[i:i + 1])
        out += drain(framer)
    assert out == [Frame(frame)]

    head = frame[:max(1, min(len(frame) - 1, 7))]
    framer = codec.new_framer(Transport.TCP)
    if closes_connection(frames, frame):
        # A frame whose reply closes the connection (HTTP/1.0, `Connection: close`): what follows it
        # is never taken as another frame.
        framer.feed(frame + frame)
        items = drain(framer)
        assert items[0] == Frame(frame) and not any(isinstance(item, Frame) for item in items[1:]), items
        return
    # Trailing bytes: the start of the next frame stays buffered until the rest of it arrives.
    framer.feed(frame + head)
    assert drain(framer) == [Frame(frame)]
    assert framer.buffered == len(head)
    framer.feed(frame[len(head):])
    assert drain(framer) == [Frame(frame)]
    assert framer.buffered == 0


@pytest.mark.parametrize("frames,label,frame", TCP_CASES)
def test_sample_through_the_detecting_stream_byte_by_byte(frames, label, frame):
    stream = ProtocolStream(Transport.TCP)
    events = []
    for i in range(len(frame)):
        stream.feed(frame[i:i + 1])
        events += stream.events()
    stream.feed(frame)  # a second frame in one read
    events += stream.events()
    if closes_connection(frames, frame):
        assert events[:2] == [Detected(frames.codec), Frame(frame)] and Frame(frame) not in events[2:], events
        return
    assert events == [Detected(frames.codec), Frame(frame), Frame(frame)]


@pytest.mark.parametrize("frames,label,datagram", UDP_CASES)
def test_udp_sample_frames_as_one_datagram(frames, label, datagram):
    framer = frames.codec.new_framer(Transport.UDP)
    framer.feed(datagram)
    items = drain(framer)
    assert items and all(isinstance(item, Frame) for item in items), items
    assert b"".join(item.data for item in items) == datagram
    assert framer.buffered == 0


# --------------------------------------------------------------------------------------------
# Decoding and identification
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frames,label,frame", TCP_CASES)
def test_sample_decodes_without_error_and_every_record_is_sane(frames, label, frame):
    session = session_after_preamble(frames, Transport.TCP)
    decoded = guarded_decode(frames.codec, frame, session, NOW)
    assert not decoded.bug, decoded.error
    assert decoded.error is None, decoded.error
    for record in decoded.records:
        assert_sane(record)
        assert record.protocol == frames.codec.name


@pytest.mark.parametrize("frames,label,datagram", UDP_CASES)
def test_udp_sample_decodes_without_error(frames, label, datagram):
    session = session_after_preamble(frames, Transport.UDP)
    framer = frames.codec.new_framer(Transport.UDP)
    framer.feed(datagram)
    for item in drain(framer):
        decoded = guarded_decode(frames.codec, item.data, session, NOW)
        assert not decoded.bug and decoded.error is None, decoded.error
        for record in decoded.records:
            assert_sane(record)


@pytest.mark.parametrize("frames,label,frame", TCP_CASES)
def test_identify_agrees_with_decode(frames, label, frame):
    # Each on its own session, as the listener (identify) and a processor (decode) would hold them.
    decode_session = session_after_preamble(frames, Transport.TCP)
    identify_session = session_after_preamble(frames, Transport.TCP, guarded_identify)
    decoded = guarded_decode(frames.codec, frame, decode_session, NOW)
    identified = guarded_identify(frames.codec, frame, identify_session, NOW)
    assert not identified.bug and identified.error is None, identified.error
    assert identified.device_id == decoded.device_id
    assert identified.reply == decoded.reply
    assert identified.close == decoded.close
    assert identified.sequence == decoded.sequence  # the processors' resend check relies on it
    if identified.message_type is not None:
        assert identified.message_type == decoded.message_type


@pytest.mark.parametrize("frames,label,frame", MALFORMED_CASES)
def test_malformed_frames_frame_but_decode_to_an_error_not_a_bug(frames, label, frame):
    framer = frames.codec.new_framer(Transport.TCP)
    framer.feed(frame)
    assert drain(framer) == [Frame(frame)]
    session = session_after_preamble(frames, Transport.TCP)
    decoded = guarded_decode(frames.codec, frame, session, NOW)
    assert decoded.error and not decoded.bug, decoded.error
    assert decoded.records == []
    identified = guarded_identify(frames.codec, frame, session_after_preamble(frames, Transport.TCP), NOW)
    assert not identified.bug, identified.error


# --------------------------------------------------------------------------------------------
# Property: any input decodes or is Malformed, never a codec bug
# --------------------------------------------------------------------------------------------

LOADED = [frames for frames in FRAMES.values() if frames.problem is None]


@st.composite
def fuzz_input(draw, frames: Frames) -> tuple[bytes, Transport]:
    transport = draw(st.sampled_from(sorted(getattr(frames.codec, "transports", None) or Transport)))
    pool = [frame for _, frame in (frames.udp_samples if transport is Transport.UDP else frames.samples)]
    pool = pool or [frame for _, frame in frames.samples]
    alphabet = bytes(sorted(set(b"".join(pool))))
    data = draw(st.one_of(
        mutated(pool, alphabet),
        mutated(pool, alphabet).map(lambda body: body[:len(body) // 2]),
        st.binary(max_size=400),
        st.sampled_from(pool).flatmap(lambda frame: st.binary(max_size=40).map(lambda tail: frame[:12] + tail)),
    ))
    return data, transport


@pytest.mark.parametrize("frames", LOADED, ids=[f.codec.name for f in LOADED])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_input_decodes_or_is_malformed_never_a_bug(frames, data):
    raw, transport = data.draw(fuzz_input(frames))
    chunks = data.draw(st.lists(st.integers(1, 64), max_size=12))
    max_frame = data.draw(st.sampled_from([256, 4096]))
    drive_codec(frames.codec, raw, chunks, transport, max_frame, NOW, preamble=frames.preamble)
    # And the bytes handed to the decoder directly, whatever a framer would have made of them.
    for guard in (guarded_decode, guarded_identify):
        session = session_after_preamble(frames, transport)
        outcome = guard(frames.codec, raw, session, NOW)
        assert not outcome.bug, f"{frames.codec.name} {guard.__name__}({raw!r}): {outcome.error}"


class _BuggyCodec:
    """A codec whose decoder has an IndexError bug: the harness above must catch it."""

    name = "buggy"
    transports = frozenset({Transport.TCP})

    def __init__(self, real: Codec) -> None:
        self._real = real

    def detect(self, head, transport):
        return self._real.detect(head, transport)

    def new_framer(self, transport, max_frame=65536):
        return self._real.new_framer(transport, max_frame)

    def new_session(self, transport):
        return self._real.new_session(transport)

    def decode(self, frame, session, now):
        return [][len(frame)]

    def encode_command(self, command, session):
        raise NotImplementedError


@pytest.mark.parametrize("frames", LOADED[:1], ids=[f.codec.name for f in LOADED[:1]])
def test_the_fuzz_driver_reports_a_codec_bug(frames):
    _, frame = frames.samples[0]
    with pytest.raises(AssertionError, match="codec bug in buggy: IndexError"):
        drive_codec(_BuggyCodec(frames.codec), frame, [], Transport.TCP, 65536, NOW)
