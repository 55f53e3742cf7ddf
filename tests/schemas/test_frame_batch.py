"""The frame-batch envelope (schemas/envelopes.py): several raw frames in one raw-frames message."""

from __future__ import annotations

import msgpack
import pytest

from schemas.envelopes import RawFrame, frames_of, is_frame_batch, pack_frame_batch

FRAME = RawFrame(frame_id="l1-7-1", received_at_ms=1_764_590_400_000, transport="tcp", peer="10.0.0.9:40001",
                 listener_id="l1", connection_id="l1-7", protocol="gt06", device_id="358688000000158",
                 data=bytes.fromhex("787805010001d9dc0d0a"))  # GT06 bytes: NAVTRACK_LOGIN_REPLY of frames_gt06.py


def test_items_come_back_in_order_with_their_own_keys():
    other = RawFrame(**{**{name: getattr(FRAME, name) for name in FRAME.__slots__}, "frame_id": "l1-8-1",
                        "device_id": None, "connection_id": "l1-8"})
    items = [(b"358688000000158", FRAME.to_msgpack()), (b"l1-8", other.to_msgpack())]
    batch = pack_frame_batch(items)
    assert is_frame_batch(batch) and not is_frame_batch(FRAME.to_msgpack()) and not is_frame_batch(None)
    assert frames_of(None, batch) == items
    assert [RawFrame.from_msgpack(v) for _k, v in frames_of(None, batch)] == [FRAME, other]


def test_a_plain_raw_frame_is_one_frame_with_the_message_key():
    assert frames_of(b"358688000000158", FRAME.to_msgpack()) == [(b"358688000000158", FRAME.to_msgpack())]
    assert frames_of(b"x", b"\x00garbage") == [(b"x", b"\x00garbage")]  # left to the envelope reader


@pytest.mark.parametrize("value, reason", [
    (pack_frame_batch([(b"k", b"v")])[:-1], "not msgpack"),
    (msgpack.packb({"batch": [[b"k", b"v"]], "v": 99}), "unsupported frame batch (version 99"),
    (msgpack.packb({"batch": [[b"k"]], "v": 1}), "not [key bytes, envelope bytes]"),
    (msgpack.packb({"batch": [["text key", b"v"]], "v": 1}), "not [key bytes, envelope bytes]"),
    (msgpack.packb({"batch": "no list", "v": 1}), "unsupported frame batch"),
])
def test_a_batch_that_cannot_be_read_says_why(value, reason):
    assert is_frame_batch(value)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        frames_of(None, value)
