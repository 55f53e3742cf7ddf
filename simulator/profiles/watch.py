"""A 3G/4G SeTracker watch: keep-alives (answered `LK`) and SOS alarms (answered `AL`).

A watch's plain location report gets no reply, so a closed loop alternates keep-alives."""

from __future__ import annotations

import asyncio

from simulator import frames as F
from simulator.profiles.base import DeviceProfile, Outgoing


class WatchDevice(DeviceProfile):
    protocol = "watch"

    def make_device_id(self, index: int) -> str:
        return f"{8800000000 + index:010d}"

    def hello(self) -> list[Outgoing]:
        return [Outgoing(F.watch_keepalive(self.device_id), True)]

    def report(self, sos: bool) -> Outgoing:
        if sos:
            return Outgoing(F.watch_location(self.device_id, self.next_fix(), sos=True), True)
        return Outgoing(F.watch_keepalive(self.device_id), True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        return await reader.readuntil(b"]")
