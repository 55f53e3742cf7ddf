"""Every simulated device profile (simulator/profiles, one per protocol) against its registry codec:
the frames it sends decode without error to the fix it built, an SOS report carries the SOS alarm,
and it waits for a reply exactly when the codec gives one."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from protocols.base import Frame, Transport, guarded_decode
from protocols.registry import BY_NAME
from schemas.alarms import Alarm
from schemas.records import Alert, Position
from simulator.profiles import PROFILES

NOW = datetime.now(timezone.utc)


def test_every_profile_names_a_registered_protocol():
    assert set(PROFILES) <= set(BY_NAME), set(PROFILES) - set(BY_NAME)
    assert all(profile.protocol == name for name, profile in PROFILES.items())


def decode_sent(codec, session, outgoing):
    framer = codec.new_framer(Transport.TCP)
    framer.feed(outgoing.data)
    items = list(iter(framer.next, None))
    assert items == [Frame(outgoing.data)], items  # one whole frame per send
    decoded = guarded_decode(codec, outgoing.data, session, NOW)
    assert decoded.error is None and not decoded.bug, decoded.error
    assert (decoded.reply is not None) == outgoing.expects_reply, (outgoing, decoded.reply)
    return decoded


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_frames_decode_to_what_they_were_built_from(name):
    codec = BY_NAME[name]
    device = PROFILES[name](3, random.Random(7))
    session = codec.new_session(Transport.TCP)
    for outgoing in device.hello():
        decode_sent(codec, session, outgoing)
    for sos in (False, True, False, True):
        decoded = decode_sent(codec, session, device.report(sos))
        positions = [r for r in decoded.records if isinstance(r, Position)]
        assert decoded.records and len(positions) <= 1
        if not positions:  # a report may be a keep-alive (the watch's closed loop), never an SOS
            assert not sos
            continue
        fix = positions[0]
        assert fix.device_id == device.device_id
        assert fix.lat == pytest.approx(device.lat, abs=1e-5) and fix.lon == pytest.approx(device.lon, abs=1e-5)
        alerts = [r.alarm for r in decoded.records if isinstance(r, Alert)]
        assert (device.sos_alarm in alerts) == sos and (device.sos_alarm in fix.alarms) == sos
