"""Shared property-test drivers for the codecs: feed bytes in chunks through detect, the framer and
decode, and check the invariants every codec keeps (no exception, bounded buffer, errors carry a
reason and the bytes, a failed decode yields no records)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from protocols.base import Codec, Decoded, Frame, FrameError, Transport


def drive_codec(codec: Codec, data: bytes, chunks: list[int], transport: Transport, max_frame: int,
                now: datetime) -> None:
    codec.detect(data, transport)
    codec.detect(data[:7], transport)
    framer = codec.new_framer(transport, max_frame)
    session = codec.new_session(transport)
    position = 0
    for size in chunks + [len(data)]:
        framer.feed(data[position:position + size])
        position += size
        for item in iter(framer.next, None):
            assert isinstance(item, (Frame, FrameError)) and item.data
            if isinstance(item, Frame):
                assert len(item.data) <= max_frame
                decoded = codec.decode(item.data, session, now)
                assert isinstance(decoded, Decoded)
                assert decoded.error is None or decoded.records == []
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
