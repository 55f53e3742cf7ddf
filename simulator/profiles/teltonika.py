"""A Teltonika FMB-style tracker over TCP: the IMEI handshake (answered `01`), then Codec 8 AVL
packets of one record each, answered with the number of records accepted.

The device resends a packet whose ack does not come or carries the wrong count ("if sent data
number and reported by server doesn't match module resends sent data", Teltonika FAQ). A wrong count
is raised as a timeout, so the run loop sends the same packet again, as it does for a missing ack.

Teltonika vehicle trackers have no SOS button: an `sos` report is a crash event (a record generated
by IO element 247, value 1), the alarm such a tracker raises by itself.
"""

from __future__ import annotations

import asyncio

from protocols import teltonika
from simulator.frames import Fix
from simulator.profiles.base import DeviceProfile, Outgoing

CRASH, IGNITION, MOVEMENT, GSM_SIGNAL, BATTERY_LEVEL = 247, 239, 240, 21, 113
EXTERNAL_VOLTAGE, BATTERY_VOLTAGE, ODOMETER = 66, 67, 16


def imei_handshake(imei: str) -> bytes:
    return len(imei).to_bytes(2, "big") + imei.encode("ascii")


def _signed(value: float, size: int) -> bytes:
    return round(value).to_bytes(size, "big", signed=True)


def codec8_record(fix: Fix, io: dict[int, tuple[int, int]], event_io_id: int = 0, priority: int = 0) -> bytes:
    """One Codec 8 AVL record; `io` maps AVL ID -> (value size in bytes, value)."""
    gps = (_signed(fix.lon * 1e7, 4) + _signed(fix.lat * 1e7, 4) + (0).to_bytes(2, "big")
           + round(fix.course_deg).to_bytes(2, "big") + bytes([fix.satellites]) + round(fix.speed_kmh).to_bytes(2, "big"))
    elements = b""
    for size in (1, 2, 4, 8):
        group = [(avl_id, value) for avl_id, (width, value) in io.items() if width == size]
        elements += bytes([len(group)]) + b"".join(bytes([avl_id]) + value.to_bytes(size, "big") for avl_id, value in group)
    stamp = int(fix.time.timestamp() * 1000).to_bytes(8, "big")
    return stamp + bytes([priority]) + gps + bytes([event_io_id, len(io)]) + elements


def codec8_packet(records: list[bytes]) -> bytes:
    data = bytes([teltonika.CODEC_8, len(records)]) + b"".join(records) + bytes([len(records)])
    return teltonika.ZEROS + len(data).to_bytes(4, "big") + data + teltonika.crc16_ibm(data).to_bytes(4, "big")


def fix_io(fix: Fix, odometer_m: int) -> dict[int, tuple[int, int]]:
    return {
        IGNITION: (1, 1), MOVEMENT: (1, 1 if fix.speed_kmh > 0 else 0), GSM_SIGNAL: (1, 4),
        BATTERY_LEVEL: (1, fix.battery_pct), EXTERNAL_VOLTAGE: (2, 12600), BATTERY_VOLTAGE: (2, 4100),
        ODOMETER: (4, odometer_m),
    }


class TeltonikaDevice(DeviceProfile):
    protocol = teltonika.NAME

    def __init__(self, index, rng) -> None:
        super().__init__(index, rng)
        self.odometer_m = rng.randrange(1_000_000)
        self._reply_size = 1
        self._expected = teltonika.ACCEPT

    def hello(self) -> list[Outgoing]:
        self._reply_size, self._expected = 1, teltonika.ACCEPT
        return [Outgoing(imei_handshake(self.device_id), True)]

    def report(self, sos: bool) -> Outgoing:
        fix = self.next_fix()
        self.odometer_m += int(fix.speed_kmh)
        io = fix_io(fix, self.odometer_m)
        if sos:
            io[CRASH] = (1, 1)
        record = codec8_record(fix, io, event_io_id=CRASH if sos else 0, priority=2 if sos else 0)
        self._reply_size, self._expected = 4, teltonika.tcp_ack(1)
        return Outgoing(codec8_packet([record]), True)

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        reply = await reader.readexactly(self._reply_size)
        if reply != self._expected:
            # A refused handshake or a wrong count: the device sends the same frame again.
            raise asyncio.TimeoutError(f"reply {reply.hex()} instead of {self._expected.hex()}")
        return reply
