"""Simulated devices, one profile module per protocol, registered in `PROFILES` (one line each).

A profile says what its device sends (`hello` on connect, then `report`s) and how a reply to it
looks on the wire (`read_reply`). Frames follow the same public sources the codecs cite;
tests/simulator checks that every built frame decodes with the codec to what it was built from.
"""

from __future__ import annotations

from simulator.profiles.base import DeviceProfile, Outgoing
from simulator.profiles import gotop, gt06, jt808, osmand, teltonika, watch

PROFILES: dict[str, type[DeviceProfile]] = {
    gt06.Gt06Device.protocol: gt06.Gt06Device,
    watch.WatchDevice.protocol: watch.WatchDevice,
    gotop.GotopDevice.protocol: gotop.GotopDevice,
    teltonika.TeltonikaDevice.protocol: teltonika.TeltonikaDevice,
    jt808.Jt808Device.protocol: jt808.Jt808Device,
    osmand.OsmandDevice.protocol: osmand.OsmandDevice,
}

__all__ = ["DeviceProfile", "Outgoing", "PROFILES"]
