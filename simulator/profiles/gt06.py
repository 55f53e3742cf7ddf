"""A Concox/GT06 tracker: login, then GPS+LBS fixes (0x22) or SOS alarms; every frame is acked."""

from __future__ import annotations

import asyncio

from simulator import frames as F
from simulator.profiles.base import DeviceProfile, Outgoing


class Gt06Device(DeviceProfile):
    protocol = "gt06"

    def hello(self) -> list[Outgoing]:
        return [Outgoing(F.gt06_login(self.device_id, self.next_serial()), True)]

    def report(self, sos: bool) -> Outgoing:
        fix = self.next_fix()
        frame = F.gt06_sos(fix, self.next_serial()) if sos else F.gt06_location(fix, self.next_serial())
        return Outgoing(frame, True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        # GT06 acks are 78 78 05 <protocol> <serial:2> <crc:2> 0D 0A; a CRC can contain 0D 0A itself.
        head = await reader.readexactly(3)
        return head + await reader.readexactly(head[2] + 2)
