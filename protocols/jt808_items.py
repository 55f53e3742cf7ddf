"""JT/T 808 location report: alarm and status bits, and the additional-information items.

Standard items (JT/T 808-2013 table 27 / 2019 table 27) are read by id. Vendors reuse the ids
above 0x50 for different things (Traccar keeps per-model tables for them), so a vendor item is
read only when its length is the one its document gives (G10LS, AIPorto/GPS-Tracker-SDK
G10LS_Protocol.md); every other item is kept as hex in the `status` event, never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.alarms import Alarm
from schemas.records import Cell, Wifi

# Status word (2013 table 25)
STATUS_ACC = 1 << 0
STATUS_FIXED = 1 << 1
STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3
STATUS_FLAGS = {  # bit -> details key, for the bits that mean something on any terminal
    0: "acc",
    10: "fuel_cut",  # oil circuit disconnected
    11: "power_circuit_cut",
    12: "door_locked",
    18: "gps",
    19: "beidou",
    20: "glonass",
    21: "galileo",
}

# Alarm word (2013 table 24; bits 15-17 are reserved there and used by wearables, G10LS document)
ALARM_BITS: dict[int, Alarm] = {
    0: Alarm.SOS,  # emergency alarm, SOS key
    1: Alarm.OVERSPEED,
    5: Alarm.GPS_ANTENNA_CUT,  # GNSS antenna not connected or cut
    7: Alarm.LOW_POWER,  # main power under-voltage
    8: Alarm.POWER_CUT,  # main power off
    15: Alarm.LOW_BATTERY,  # G10LS: internal battery low
    16: Alarm.VIBRATION,  # G10LS
    17: Alarm.REMOVAL,  # G10LS: light-sensor (taken off / case opened)
    28: Alarm.MOVEMENT,  # illegal displacement
    29: Alarm.ACCIDENT,  # collision warning
    30: Alarm.ACCIDENT,  # rollover warning
    31: Alarm.DOOR,  # illegal door opening
}
AREA_ALARM_BIT = 20  # in/out of an area: direction in item 0x12


@dataclass(slots=True)
class ItemFields:
    satellites: int | None = None
    rssi: int | None = None
    battery_pct: int | None = None
    steps: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    area_exit: bool | None = None  # item 0x12 direction: False in, True out
    details: dict = field(default_factory=dict)


def _u(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _mileage(value: bytes, f: ItemFields) -> None:
    f.details["mileage_km"] = _u(value) / 10  # DWORD, 1/10 km


def _fuel(value: bytes, f: ItemFields) -> None:
    f.details["fuel_l"] = _u(value) / 10  # WORD, 1/10 L


def _recorder_speed(value: bytes, f: ItemFields) -> None:
    f.details["recorder_speed_kmh"] = _u(value) / 10  # WORD, 1/10 km/h, from the tachograph


def _alarm_event_id(value: bytes, f: ItemFields) -> None:
    f.details["alarm_event_id"] = _u(value)


def _area(value: bytes, f: ItemFields) -> None:
    """0x12: area type 1, area id 4, direction 1 (0 in, 1 out)."""
    f.details["area_type"], f.details["area_id"] = value[0], _u(value[1:5])
    f.area_exit = value[5] == 1


def _vehicle_signals(value: bytes, f: ItemFields) -> None:
    f.details["vehicle_signals"] = _u(value)  # DWORD bit field (lights, brake, gears…)


def _io_status(value: bytes, f: ItemFields) -> None:
    f.details["io_status"] = _u(value)


def _analog(value: bytes, f: ItemFields) -> None:
    raw = _u(value)  # bits 0-15 AD0, 16-31 AD1
    f.details["analog_ad0"], f.details["analog_ad1"] = raw & 0xFFFF, raw >> 16


def _rssi(value: bytes, f: ItemFields) -> None:
    f.rssi = value[0]


def _satellites(value: bytes, f: ItemFields) -> None:
    f.satellites = value[0]


def _battery(value: bytes, f: ItemFields) -> None:
    """G10LS 0x56: level 0-10, then percent 1-100 (on devices that send it)."""
    f.details["battery_level"] = value[0]
    if 1 <= value[1] <= 100:
        f.battery_pct = value[1]


def _main_voltage(value: bytes, f: ItemFields) -> None:
    f.details["external_v"] = _u(value) / 100  # G10LS 0x61, 0.01 V


def _iccid(value: bytes, f: ItemFields) -> None:
    iccid = value.decode("ascii", errors="replace").strip("\x00 ")
    if iccid:
        f.details["iccid"] = iccid


# id -> (the length the document gives, reader). Items of another length are kept as hex.
READERS: dict[int, tuple[int, Callable[[bytes, ItemFields], None]]] = {
    0x01: (4, _mileage),
    0x02: (2, _fuel),
    0x03: (2, _recorder_speed),
    0x04: (2, _alarm_event_id),
    0x12: (6, _area),
    0x25: (4, _vehicle_signals),
    0x2A: (2, _io_status),
    0x2B: (4, _analog),
    0x30: (1, _rssi),
    0x31: (1, _satellites),
    0x56: (2, _battery),
    0x61: (2, _main_voltage),
    0xF1: (20, _iccid),
}

MAX_HEX_ITEM = 64  # bytes of an unknown item kept in the event (longer ones are cut, marked)


def read_item(item_id: int, value: bytes, f: ItemFields) -> None:
    entry = READERS.get(item_id)
    if entry is not None and len(value) == entry[0]:
        entry[1](value, f)
        return
    text = value[:MAX_HEX_ITEM].hex() + ("…" if len(value) > MAX_HEX_ITEM else "")
    f.details[f"item_{item_id:02x}"] = text


def alarms_from(word: int, f: ItemFields) -> list[Alarm]:
    alarms: list[Alarm] = []
    for bit, alarm in ALARM_BITS.items():
        if word >> bit & 1 and alarm not in alarms:
            alarms.append(alarm)
    if word >> AREA_ALARM_BIT & 1 and f.area_exit is not None:
        alarms.append(Alarm.GEOFENCE_EXIT if f.area_exit else Alarm.GEOFENCE_ENTER)
    return alarms


def status_details(word: int) -> dict[str, bool]:
    """`acc` always (off is news too); the other flags only when set."""
    flags = {name: True for bit, name in STATUS_FLAGS.items() if word >> bit & 1}
    return {"acc": bool(word & STATUS_ACC), **flags}
