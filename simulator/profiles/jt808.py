"""A JT/T 808-2013 terminal: registration (0x0100), authentication (0x0102), then location reports
(0x0200, SOS = alarm bit 0); the platform answers each (0x8100, then 0x8001).

The terminal authenticates with the code a listener issues under the development key (the default
TRACKWIRE_LISTENER_AUTH_KEY); against a listener with another key its reports are refused, answered
with failure, as a real terminal with a stale code would be.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

from protocols import jt808
from protocols.base import DEFAULT_CONTEXT
from simulator.frames import Fix
from simulator.profiles.base import DeviceProfile, Outgoing

GMT8 = timezone(timedelta(hours=8))  # JT/T 808 times are GMT+8


def bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def location_body(fix: Fix, sos: bool, mileage_0_1km: int = 0) -> bytes:
    status = 1 << 1  # positioned
    status |= (1 << 2) if fix.lat < 0 else 0
    status |= (1 << 3) if fix.lon < 0 else 0
    local = fix.time.astimezone(GMT8)
    time = bytes(bcd(v) for v in (local.year - 2000, local.month, local.day, local.hour, local.minute, local.second))
    basic = (
        (1 if sos else 0).to_bytes(4, "big") + status.to_bytes(4, "big")
        + round(abs(fix.lat) * 1e6).to_bytes(4, "big") + round(abs(fix.lon) * 1e6).to_bytes(4, "big")
        + (0).to_bytes(2, "big") + round(fix.speed_kmh * 10).to_bytes(2, "big")
        + int(fix.course_deg).to_bytes(2, "big") + time
    )
    items = (
        b"\x01\x04" + mileage_0_1km.to_bytes(4, "big")  # mileage, 1/10 km
        + b"\x30\x01" + bytes([20])  # signal strength (CSQ)
        + b"\x31\x01" + bytes([fix.satellites])
        + b"\x56\x02" + bytes([fix.battery_pct // 10, fix.battery_pct])  # G10LS battery: level, percent
    )
    return basic + items


class Jt808Device(DeviceProfile):
    protocol = "jt808"

    def make_device_id(self, index: int) -> str:
        return f"135{index:08d}"  # an 11-digit mobile number, sent as 013 5… in BCD[6]

    @property
    def phone(self) -> bytes:
        return bytes.fromhex(self.device_id.rjust(12, "0"))

    def registration(self) -> bytes:
        body = (
            (0).to_bytes(2, "big") + (0).to_bytes(2, "big")  # province, city: platform default
            + b"TRKWR" + b"SIM-JT808".ljust(20, b"\0") + self.device_id[-7:].encode() + b"\x00"  # no plate colour
        )
        return jt808.build_message(0x0100, body, self.phone, self.next_serial())

    def authentication(self) -> bytes:
        code = jt808.auth_code(DEFAULT_CONTEXT.auth_key, self.device_id).encode()
        return jt808.build_message(0x0102, code, self.phone, self.next_serial())

    def hello(self) -> list[Outgoing]:
        return [Outgoing(self.registration(), True), Outgoing(self.authentication(), True)]

    def report(self, sos: bool) -> Outgoing:
        body = location_body(self.next_fix(), sos)
        return Outgoing(jt808.build_message(0x0200, body, self.phone, self.next_serial()), True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        start = await reader.readexactly(1)
        while start != b"\x7e":  # not expected from a listener; skip to a frame start
            start = await reader.readexactly(1)
        return start + await reader.readuntil(b"\x7e")
