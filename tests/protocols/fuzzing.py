"""Shared property-test drivers for the codecs: feed bytes in chunks through detect, the framer and
the guarded decode/identify, and check the invariants every codec keeps: no exception, no codec bug
(`bug=True` from the guard: an exception other than `Malformed` escaped the codec), bounded buffer,
errors carry a reason and the bytes, a failed decode yields no records."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from protocols.base import Codec, Decoded, Frame, FrameError, Identified, Transport, guarded_decode, guarded_identify


def drive_codec(codec: Codec, data: bytes, chunks: list[int], transport: Transport, max_frame: int,
                now: datetime, preamble: list[bytes] = ()) -> None:
    codec.detect(data, transport)
    codec.detect(data[:7], transport)
    framer = codec.new_framer(transport, max_frame)
    # Two sessions, as the listener (identify) and a processor (decode) hold them.
    decode_session = codec.new_session(transport)
    identify_session = codec.new_session(transport)
    for frame in preamble:
        guarded_decode(codec, frame, decode_session, now)
        guarded_identify(codec, frame, identify_session, now)
    position = 0
    for size in list(chunks) + [len(data)]:
        framer.feed(data[position:position + size])
        position += size
        for item in iter(framer.next, None):
            assert isinstance(item, (Frame, FrameError)) and item.data
            if isinstance(item, Frame):
                assert len(item.data) <= max_frame
                decoded = guarded_decode(codec, item.data, decode_session, now)
                assert isinstance(decoded, Decoded)
                assert not decoded.bug, f"{decoded.error} on frame {item.data!r}"
                assert decoded.error is None or decoded.records == []
                identified = guarded_identify(codec, item.data, identify_session, now)
                assert isinstance(identified, Identified)
                assert not identified.bug, f"{identified.error} on frame {item.data!r}"
            else:
                assert item.reason
        assert framer.buffered <= max_frame
        if position >= len(data):
            break


@st.composite
def mutated(draw, samples: list[bytes], alphabet: bytes) -> bytes:
    """A real sample with up to six bytes replaced (from `alphabet`), inserted or deleted."""
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        index = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "replace" and data:
            data[index] = draw(st.sampled_from(alphabet))
        elif op == "insert":
            data.insert(index, draw(st.integers(0, 255)))
        elif data:
            del data[index]
    return bytes(data)
