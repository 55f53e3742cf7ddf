"""Detection across every registered protocol, and the stream that detects then frames.

Frames are the cited samples of each codec's own test data (tests/protocols/frames_*.py).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.base import Detection, Frame, FrameError, Transport
from protocols.registry import CODECS
from protocols.stream import Detected, NoProtocol, ProtocolStream, detect
from tests.protocols import frames_gotop as GOTOP
from tests.protocols import frames_teltonika as TELTONIKA
from tests.protocols import frames_watch as WATCH

GT06_LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")  # Concox GT06 document example

SAMPLES = [
    ("gt06", GT06_LOGIN),
    ("watch", WATCH.LK_FULL),
    ("watch", WATCH.AL_SOS),
    ("watch", WATCH.UD_ZJ),
    ("gotop", b"#" + GOTOP.TRACCAR_CMD_KEY + b"#"),
    ("gotop", b"#" + GOTOP.TRACCAR_CMD_X + b"#"),
    ("teltonika", TELTONIKA.WIKI_IMEI),
    ("teltonika", TELTONIKA.WIKI_8E),
]

GARBAGE = [
    b"HELO mail.example.com\r\n",  # SMTP greeting (an HTTP request line is an osmand report)
    bytes.fromhex("160301020001000"  "1fc0303"),  # start of a TLS ClientHello
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"\x00" * 12,  # zeros: a Teltonika packet preamble, but one declaring 0 data bytes (6 zeros may still become one)
    b"imei:359710049095095,tracker,151006012336,,F,172337.000,A,5105.9792,N,00551.5432,E,0.00,0.0;",  # TK103 (not registered yet)
]


@pytest.mark.parametrize("protocol,frame", SAMPLES)
@pytest.mark.parametrize("transport", [Transport.TCP, Transport.UDP])
def test_each_protocol_is_detected_from_its_frames(protocol, frame, transport):
    codec = detect(frame, transport)
    assert not isinstance(codec, (Detection, NoProtocol)), codec
    assert codec.name == protocol


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_matches_no_protocol_with_a_hex_preview(garbage):
    outcome = detect(garbage, Transport.TCP)
    assert isinstance(outcome, NoProtocol)
    assert f"match no known protocol ({', '.join(c.name for c in CODECS)})" in outcome.reason
    assert garbage[:8].hex() in outcome.reason


@pytest.mark.parametrize("prefix", [b"\x78", b"\x79", b"[", b"[3G*", b"#", b"#8602", b"\x00" * 6, b"\x00\x0f33"])
def test_a_plausible_prefix_needs_more_bytes(prefix):
    assert detect(prefix, Transport.TCP) is Detection.NEED_MORE


@pytest.mark.parametrize("protocol,frame", SAMPLES)
def test_stream_detects_on_partial_reads_and_hands_over_every_byte(protocol, frame):
    stream = ProtocolStream(Transport.TCP)
    events = []
    for i in range(len(frame)):
        stream.feed(frame[i:i + 1])
        events.extend(stream.events())
    stream.feed(frame)  # and a second frame in one read
    events.extend(stream.events())
    assert isinstance(events[0], Detected) and events[0].codec.name == protocol
    assert [e.data for e in events[1:]] == [frame, frame]
    assert all(isinstance(e, Frame) for e in events[1:])


def test_stream_gives_up_after_the_detection_bound():
    stream = ProtocolStream(Transport.TCP, max_detect_bytes=32)
    stream.feed(b"#" + b"1" * 40)  # a GOTOP-like prefix that never becomes a frame header
    events = stream.events()
    assert len(events) == 1 and isinstance(events[0], NoProtocol)
    assert stream.buffered == 0
    stream.feed(b"more")  # a failed stream ignores further input
    assert stream.events() == [] and stream.buffered == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_random_bytes_never_raise_and_buffering_stays_bounded(chunks):
    stream = ProtocolStream(Transport.TCP, max_detect_bytes=128, max_frame=1024)
    for chunk in chunks:
        stream.feed(chunk)
        for event in stream.events():
            assert isinstance(event, (Detected, Frame, FrameError, NoProtocol))
        assert stream.buffered <= 1024 + 300


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([f for _, f in SAMPLES]), st.data())
def test_mutated_frames_never_raise_through_detect_frame_and_decode(frame, data):
    from datetime import datetime, timezone

    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    stream = ProtocolStream(Transport.TCP, max_frame=2048)
    stream.feed(bytes(mutated) + os.urandom(data.draw(st.integers(0, 16))))
    for event in stream.events():
        if isinstance(event, Frame):
            decoded = stream.codec.decode(event.data, stream.session, datetime(2026, 1, 1, tzinfo=timezone.utc))
            assert decoded.error is None or isinstance(decoded.error, str)


def test_registry_lists_each_protocol_once_in_detection_order():
    assert [c.name for c in CODECS] == ["gt06", "jt808", "teltonika", "watch", "gotop", "osmand"]
