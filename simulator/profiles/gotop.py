"""A GOTOP bracelet: heartbeat, then CMD-T fixes (SOS as a key alarm); GOTOP servers never reply."""

from __future__ import annotations

import asyncio

from simulator import frames as F
from simulator.profiles.base import DeviceProfile, Outgoing


class GotopDevice(DeviceProfile):
    protocol = "gotop"

    def hello(self) -> list[Outgoing]:
        return [Outgoing(F.gotop_heartbeat(self.device_id), False)]

    def report(self, sos: bool) -> Outgoing:
        return Outgoing(F.gotop_location(self.device_id, self.next_fix(), sos=sos), False)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        raise AssertionError("GOTOP servers send no reply")
