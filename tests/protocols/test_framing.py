"""The shared framers (protocols/framing.py): frames must not depend on how the bytes were chunked,
buffers stay within their bound, the stream resynchronises after garbage or an oversized frame, and
byte-at-a-time input is framed in linear time. Inputs are constructed: these are framing rules, not
any one protocol's frames."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import framing
from protocols.base import Frame, FrameError, Malformed
from protocols.framing import DelimitedFramer, LengthFramer, PerDatagram


def drain(framer) -> list[Frame | FrameError]:
    return list(iter(framer.next, None))


def feed_in(framer, data: bytes, sizes: list[int] | None = None) -> list[Frame | FrameError]:
    """Feed `data` in pieces (`sizes`, then the rest; None = a byte at a time), draining after each."""
    out, position = [], 0
    sizes = list(sizes) if sizes is not None else [1] * len(data)
    for size in sizes + [len(data)]:
        if position >= len(data):
            break
        framer.feed(data[position:position + size])
        position += size
        out += drain(framer)
    return out


def frames_of(items) -> list[bytes]:
    return [item.data for item in items if isinstance(item, Frame)]


def errors_of(items) -> list[FrameError]:
    return [item for item in items if isinstance(item, FrameError)]


# --------------------------------------------------------------------------------------------
# DelimitedFramer
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,stream,expected", [
    (lambda: DelimitedFramer(b"#"), b"A1#B22#C333#", [b"A1#", b"B22#", b"C333#"]),
    (lambda: DelimitedFramer(b"\r\n"), b"one\r\ntwo\r\n\r\n", [b"one\r\n", b"two\r\n", b"\r\n"]),
    (lambda: DelimitedFramer(b"#", start=b"*HQ"), b"*HQ,1#*HQ,22#", [b"*HQ,1#", b"*HQ,22#"]),
    (lambda: DelimitedFramer(b"\x7e", start=b"\x7e"), b"\x7e\x01\x02\x7e\x7e\x03\x7e", [b"\x7e\x01\x02\x7e", b"\x7e\x03\x7e"]),
])
def test_delimited_frames_whole_byte_by_byte_and_with_trailing_bytes(make, stream, expected):
    framer = make()
    framer.feed(stream)
    assert frames_of(drain(framer)) == expected and framer.buffered == 0
    assert frames_of(feed_in(make(), stream)) == expected
    framer = make()
    framer.feed(stream + expected[0][:2])
    assert frames_of(drain(framer)) == expected
    assert framer.buffered == 2
    framer.feed(expected[0][2:])
    assert frames_of(drain(framer)) == [expected[0]] and framer.buffered == 0


def test_a_delimiter_split_across_reads_is_found():
    framer = DelimitedFramer(b"\r\n")
    assert feed_in(framer, b"abc\r\ndef\r\n", [4, 1, 3, 1]) == [Frame(b"abc\r\n"), Frame(b"def\r\n")]


def test_bytes_before_a_start_marker_are_one_error_then_the_frame():
    for sizes in (None, [100]):
        out = feed_in(DelimitedFramer(b"#", start=b"*HQ", name="H02 frame"), b"junk*H*HQ,1#", sizes)
        assert out == [FrameError("bytes before a H02 frame start", b"junk*H"), Frame(b"*HQ,1#")]


def test_garbage_without_a_start_marker_is_bounded():
    framer = DelimitedFramer(b"#", start=b"*HQ", max_frame=16)
    out = feed_in(framer, b"x" * 40 + b"*H")
    assert framer.buffered <= 16
    assert all(isinstance(item, FrameError) for item in out)
    # The marker's first bytes are kept: they may begin the next frame.
    framer.feed(b"Q,1#")
    assert drain(framer)[-1] == Frame(b"*HQ,1#")


@pytest.mark.parametrize("start", [None, b"$"])
@pytest.mark.parametrize("sizes", [None, [3, 5, 7], [1000]], ids=["bytewise", "pieces", "whole"])
def test_an_oversized_frame_is_dropped_whole_and_the_stream_resynchronises(start, sizes):
    head = start or b""
    big = head + b"A" * 30 + head + b"B" * 5 + b"#"  # a start marker inside the oversized frame
    good = head + b"ok#"
    framer = DelimitedFramer(b"#", start=start, max_frame=16)
    out, position = [], 0
    for piece in (sizes or [1] * 100) + [1000]:
        framer.feed((big + good)[position:position + piece])
        position += piece
        out += drain(framer)
        assert framer.buffered <= 16
        if position >= len(big + good):
            break
    assert frames_of(out) == [good]
    assert b"".join(error.data for error in errors_of(out)) == big  # every dropped byte is reported


def test_an_oversized_frame_whose_end_is_never_seen_keeps_being_dropped():
    framer = DelimitedFramer(b"\r\n", max_frame=10)
    out = feed_in(framer, b"Z" * 100 + b"\r")
    assert frames_of(out) == [] and framer.buffered <= 10
    framer.feed(b"\nnext\r\n")
    items = drain(framer)
    assert items[-1] == Frame(b"next\r\n")
    assert b"".join(e.data for e in errors_of(out + items)) == b"Z" * 100 + b"\r\n"


def test_min_length_skips_an_early_delimiter():
    framer = DelimitedFramer(b"\x0d\x0a", min_length=4)
    framer.feed(b"\x0d\x0a\x01\x02\x0d\x0a")
    assert drain(framer) == [Frame(b"\x0d\x0a\x01\x02\x0d\x0a")]


def test_flush_hands_out_what_is_left():
    framer = DelimitedFramer(b"#")
    framer.feed(b"A#half")
    assert drain(framer) == [Frame(b"A#")]
    assert framer.flush() == FrameError("incomplete frame (4 bytes, no end)", b"half")
    assert framer.flush() is None and framer.buffered == 0


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=200).map(lambda b: bytes(b"AB#$"[x % 4] for x in b)),
       sizes=st.lists(st.integers(1, 20), max_size=30), start=st.sampled_from([None, b"$"]),
       max_frame=st.sampled_from([4, 8, 64]))
def test_delimited_frames_do_not_depend_on_chunking(data, sizes, start, max_frame):
    whole = DelimitedFramer(b"#", start=start, max_frame=max_frame)
    whole.feed(data)
    expected = drain(whole)
    chunked = DelimitedFramer(b"#", start=start, max_frame=max_frame)
    out = feed_in(chunked, data, sizes)
    assert frames_of(out) == frames_of(expected)
    assert chunked.buffered <= max(max_frame, 3) and whole.buffered <= max(max_frame, 3)
    if not errors_of(out + expected):  # how much of a dropped frame is held back may differ
        assert chunked.buffered == whole.buffered
    consumed = b"".join(item.data for item in out)
    assert consumed == data[:len(data) - chunked.buffered]  # nothing lost, nothing invented
    assert all(len(f) <= max(max_frame, 3) for f in frames_of(out))


# --------------------------------------------------------------------------------------------
# LengthFramer: a 2-byte big-endian total length after a 1-byte start 0x55, optional end b"\r\n"
# --------------------------------------------------------------------------------------------

def length_of(head: bytes) -> int:
    if head[0] != 0x55:
        raise Malformed("no 0x55 start")
    return struct.unpack(">H", head[1:3])[0]


def packet(body: bytes, end: bytes = b"\r\n", lie: int = 0) -> bytes:
    return b"\x55" + struct.pack(">H", 3 + len(body) + len(end) + lie) + body + end


def test_length_frames_whole_byte_by_byte_and_with_trailing_bytes():
    stream = packet(b"one") + packet(b"\r\nbinary\r\n") + packet(b"")
    expected = [packet(b"one"), packet(b"\r\nbinary\r\n"), packet(b"")]
    for sizes in (None, [2, 3, 50], [1000]):
        assert frames_of(feed_in(LengthFramer(3, length_of, end=b"\r\n"), stream, sizes)) == expected
    framer = LengthFramer(3, length_of, end=b"\r\n")
    framer.feed(stream + b"\x55\x00")
    assert frames_of(drain(framer)) == expected and framer.buffered == 2


def test_a_length_contradicted_by_the_delimiter_falls_back_to_it_then_trusts_lengths_again():
    lying = packet(b"short", lie=-3)  # declared end falls inside the body
    stream = lying + packet(b"next\r\nwith crlf")
    for sizes in (None, [1000]):
        out = feed_in(LengthFramer(3, length_of, end=b"\r\n"), stream, sizes)
        assert frames_of(out) == [lying, packet(b"next\r\nwith crlf")]


def test_a_rejected_header_resynchronises_at_the_next_delimiter():
    stream = b"garbage\r\n" + packet(b"ok")
    for sizes in (None, [1000]):
        out = feed_in(LengthFramer(3, length_of, end=b"\r\n"), stream, sizes)
        assert out[-1] == Frame(packet(b"ok"))
        assert b"".join(item.data for item in out) == stream


def test_without_a_delimiter_a_rejected_header_discards_the_buffer():
    framer = LengthFramer(3, length_of)
    framer.feed(b"\x00\x00\x07abc")
    (error,) = drain(framer)
    assert isinstance(error, FrameError) and "no 0x55 start" in error.reason and error.data == b"\x00\x00\x07abc"
    assert framer.buffered == 0


def test_a_declared_length_above_the_limit_is_not_waited_for():
    framer = LengthFramer(3, length_of, end=b"\r\n", max_frame=32)
    framer.feed(b"\x55\xff\xff" + b"x" * 5 + b"\r\n" + packet(b"ok"))
    out = drain(framer)
    assert out[-1] == Frame(packet(b"ok")) and framer.buffered == 0


def test_length_framer_stays_bounded_on_a_stream_without_delimiters():
    framer = LengthFramer(3, length_of, end=b"\r\n", max_frame=64)
    out = feed_in(framer, b"\x55\x00\x05" + b"x" * 500)
    assert framer.buffered <= 64 and frames_of(out) == []


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.one_of(
    st.binary(max_size=12).map(packet),
    st.tuples(st.binary(max_size=12), st.integers(-4, 4)).map(lambda t: packet(t[0], lie=t[1])),
    st.binary(max_size=8),
    st.just(b"\r\n"),
), max_size=10), sizes=st.lists(st.integers(1, 20), max_size=30), max_frame=st.sampled_from([8, 64]))
def test_length_frames_do_not_depend_on_chunking(parts, sizes, max_frame):
    data = b"".join(parts)
    whole = LengthFramer(3, length_of, end=b"\r\n", max_frame=max_frame)
    whole.feed(data)
    expected = drain(whole)
    chunked = LengthFramer(3, length_of, end=b"\r\n", max_frame=max_frame)
    out = feed_in(chunked, data, sizes)
    assert frames_of(out) == frames_of(expected)
    assert chunked.buffered <= max_frame and whole.buffered <= max_frame
    if not errors_of(out + expected):
        assert chunked.buffered == whole.buffered
    assert b"".join(item.data for item in out) == data[:len(data) - chunked.buffered]


# --------------------------------------------------------------------------------------------
# PerDatagram
# --------------------------------------------------------------------------------------------

def test_per_datagram_frames_each_datagram_alone():
    framer = PerDatagram(lambda: DelimitedFramer(b"#"))
    framer.feed(b"A#B#")
    framer.feed(b"half")  # nothing carries over to the next datagram
    framer.feed(b"C#")
    assert drain(framer) == [Frame(b"A#"), Frame(b"B#"), FrameError("incomplete frame (4 bytes, no end)", b"half"),
                             Frame(b"C#")]
    assert framer.buffered == 0


# --------------------------------------------------------------------------------------------
# Linear time: count the bytes the searches scan
# --------------------------------------------------------------------------------------------

@pytest.fixture
def scanned(monkeypatch):
    total = [0]
    original = framing._Buffer.find

    def counting_find(self, needle, begin, end=None):
        found = original(self, needle, begin, end)
        stop = (len(self) if end is None else end) if found < 0 else found + len(needle)
        total[0] += max(0, stop - begin)  # a search stops at its first match
        return found

    monkeypatch.setattr(framing._Buffer, "find", counting_find)
    return total


@pytest.mark.parametrize("make,data", [
    (lambda: DelimitedFramer(b"\r\n", max_frame=1 << 20), b"x" * 20000 + b"\r\n"),
    (lambda: DelimitedFramer(b"#", start=b"*HQ", max_frame=1 << 20), b"y" * 10000 + b"*HQ" + b"x" * 10000 + b"#"),
    (lambda: LengthFramer(3, length_of, end=b"\r\n", max_frame=1 << 20), packet(b"z" * 20000, lie=-100)),
])
def test_byte_at_a_time_input_is_framed_in_linear_time(scanned, make, data):
    out = feed_in(make(), data)
    assert frames_of(out), out
    assert scanned[0] <= 4 * len(data), f"{scanned[0]} bytes scanned for {len(data)} bytes of input"


def test_many_frames_with_wrong_lengths_in_one_read_are_framed_in_linear_time(scanned):
    data = b"".join(packet(b"body%d" % i, lie=-2) for i in range(2000))
    framer = LengthFramer(3, length_of, end=b"\r\n", max_frame=1 << 20)
    framer.feed(data)
    assert len(frames_of(drain(framer))) == 2000
    assert scanned[0] <= 4 * len(data)
