"""What every simulated device profile provides (see simulator/profiles/__init__.py)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from schemas.alarms import Alarm
from simulator.frames import Fix


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame a device sends, and whether the protocol answers it (the device then waits)."""

    data: bytes
    expects_reply: bool


class DeviceProfile:
    """One simulated device. Subclasses set `protocol` (the registry name) and implement the frames."""

    protocol: str = ""
    # The alarm a report built with sos=True raises (trackers without an SOS button raise another).
    sos_alarm: Alarm = Alarm.SOS

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.rng = rng
        self.serial = 0
        self.lat = -33.86 + rng.random() * 0.1
        self.lon = 151.20 + rng.random() * 0.1
        self.device_id = self.make_device_id(index)

    # -- to implement --------------------------------------------------------------------------
    def make_device_id(self, index: int) -> str:
        return f"86{index:013d}"  # a 15-digit IMEI-like id

    def hello(self) -> list[Outgoing]:
        """Frames sent right after connecting (login, keep-alive), in order."""
        raise NotImplementedError

    def report(self, sos: bool) -> Outgoing:
        """The next periodic report; an SOS report when `sos`."""
        raise NotImplementedError

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        """Read exactly one server reply from the stream."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------
    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    def next_fix(self) -> Fix:
        self.lat += self.rng.uniform(-0.0005, 0.0005)
        self.lon += self.rng.uniform(-0.0005, 0.0005)
        return Fix(datetime.now(timezone.utc).replace(microsecond=0), self.lat, self.lon,
                   speed_kmh=round(self.rng.uniform(0, 6), 1), course_deg=float(self.rng.randrange(360)))
