"""An H02 tracker (Sinotrack ST-901 style): a heartbeat, then V1 position reports; SOS by status bit.

Frames follow protocols/h02.py (the vendor document's `*HQ,ID,V1,...#`); the server confirms every V1
(`*HQ,ID,V4,V1,<time>#`) and echoes the heartbeat, and the device waits for that and resends
unconfirmed reports.
"""

from __future__ import annotations

import asyncio

from simulator.frames import Fix
from simulator.profiles.base import DeviceProfile, Outgoing

STATUS_NORMAL = 0xFFFFFBFF  # negative logic: every alarm bit 1, ACC (bit 10) off
STATUS_SOS = STATUS_NORMAL & ~(1 << 1)  # bit 1 cleared: SOS


def _degrees_minutes(value: float, width: int) -> str:
    """ddmm.mmmm (dddmm.mmmm): minutes rounded first so that 59.99996 becomes the next degree."""
    ten_thousandths = round(abs(value) * 60 * 10_000)
    degrees, rest = divmod(ten_thousandths, 60 * 10_000)
    return f"{degrees:0{width}d}{rest // 10_000:02d}.{rest % 10_000:04d}"


def h02_heartbeat(device_id: str, battery_pct: int) -> bytes:
    return f"*HQ,{device_id},HTBT,{battery_pct}#".encode()


def h02_position(device_id: str, fix: Fix, *, sos: bool = False) -> bytes:
    t = fix.time
    lat = _degrees_minutes(fix.lat, 2) + ("," + ("N" if fix.lat >= 0 else "S"))
    lon = _degrees_minutes(fix.lon, 3) + ("," + ("E" if fix.lon >= 0 else "W"))
    knots = fix.speed_kmh / 1.852
    status = STATUS_SOS if sos else STATUS_NORMAL
    return (f"*HQ,{device_id},V1,{t:%H%M%S},A,{lat},{lon},{knots:06.2f},{int(fix.course_deg):03d},"
            f"{t:%d%m%y},{status:08X}#").encode()


class H02Device(DeviceProfile):
    protocol = "h02"

    def make_device_id(self, index: int) -> str:
        return f"41{index:08d}"  # H02 trackers mostly use a 10-digit ID

    def hello(self) -> list[Outgoing]:
        return [Outgoing(h02_heartbeat(self.device_id, 90), True)]

    def report(self, sos: bool) -> Outgoing:
        return Outgoing(h02_position(self.device_id, self.next_fix(), sos=sos), True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        return await reader.readuntil(b"#")
