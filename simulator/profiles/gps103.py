"""A Coban/Xexun TK103 tracker: log-on (answered LOAD), heartbeat (ON), then `tracker` reports;
an SOS is a `help me` report, which the device repeats until the server answers `**,imei:...,E;`.

Frames follow protocols/gps103.py (Coban GPS102-104 GPRS data protocol). The simulated tracker's
clock is set to UTC, so its local and UTC times agree.
"""

from __future__ import annotations

import asyncio

from simulator.frames import Fix
from simulator.profiles.base import DeviceProfile, Outgoing


def _degrees_minutes(value: float, width: int) -> str:
    """ddmm.mmmm (dddmm.mmmm): minutes rounded first so that 59.99996 becomes the next degree."""
    ten_thousandths = round(abs(value) * 60 * 10_000)
    degrees, rest = divmod(ten_thousandths, 60 * 10_000)
    return f"{degrees:0{width}d}{rest // 10_000:02d}.{rest % 10_000:04d}"


def gps103_login(imei: str) -> bytes:
    return f"##,imei:{imei},A;".encode()


def gps103_heartbeat(imei: str) -> bytes:
    return f"{imei};".encode()


def gps103_report(imei: str, fix: Fix, *, sos: bool = False) -> bytes:
    t = fix.time
    keyword = "help me" if sos else "tracker"
    lat = _degrees_minutes(fix.lat, 2) + "," + ("N" if fix.lat >= 0 else "S")
    lon = _degrees_minutes(fix.lon, 3) + "," + ("E" if fix.lon >= 0 else "W")
    knots = fix.speed_kmh / 1.852
    return (f"imei:{imei},{keyword},{t:%y%m%d%H%M%S},,F,{t:%H%M%S}.000,A,{lat},{lon},{knots:.2f},"
            f"{fix.course_deg:.2f};").encode()


class Gps103Device(DeviceProfile):
    protocol = "gps103"

    def hello(self) -> list[Outgoing]:
        return [Outgoing(gps103_login(self.device_id), True), Outgoing(gps103_heartbeat(self.device_id), True)]

    def report(self, sos: bool) -> Outgoing:
        # Only the SOS is answered; plain reports go out without waiting.
        return Outgoing(gps103_report(self.device_id, self.next_fix(), sos=sos), sos)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        # LOAD and ON have no terminator; the alarm cancel ends with ';'.
        first = await reader.readexactly(1)
        if first == b"L":
            return first + await reader.readexactly(3)
        if first == b"O":
            return first + await reader.readexactly(1)
        return first + await reader.readuntil(b";")
