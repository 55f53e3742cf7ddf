"""Teltonika IO elements: the standard AVL IDs the codec names, and the ones that are alarms.

An AVL record carries IO elements as (AVL ID, unsigned big-endian value) pairs. IDs are the same in
Codec 8 (1-byte IDs), 8 Extended and 16 (2-byte IDs) for the FMB/FMC/FMM/FMT/TMT families.

Source (facts only): Teltonika wiki, "FMB920 Teltonika Data Sending Parameters ID" and
"FMB020 Teltonika Data Sending Parameters ID" (the FMB AVL ID list, "document updated according
firmware FMB.Ver.03.18.18.Rev.50 and newer"): ID, name, size, multiplier and value meanings below.

Units follow our record fields: volts (the device sends mV), amperes (mA), metres, degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from schemas.alarms import Alarm

Value = int | float | bool


def _milli(value: int) -> float:
    return value / 1000


def _tenth(value: int) -> float:
    return value / 10


@dataclass(frozen=True, slots=True)
class Named:
    """How one AVL ID is reported: its name in `Event.details`, the conversion of its raw value, and
    the largest raw value the list allows (older models reuse some IDs for other things: a value out
    of range is reported by ID, not under a name it does not have)."""

    name: str
    convert: Callable[[int], Value] = int
    limit: int | None = None


def _flag(name: str) -> Named:
    return Named(name, bool, 1)


# AVL ID -> name and conversion ("Permanent I/O elements" and "Eventual I/O elements" of the list).
NAMED: dict[int, Named] = {
    1: _flag("din1"),  # Digital Input 1: 0 / 1
    2: _flag("din2"),
    3: _flag("din3"),
    9: Named("ain1_v", _milli),  # Analog Input 1, mV
    16: Named("odometer_m"),  # Total Odometer, m
    21: Named("gsm_signal", limit=5),  # GSM Signal, 0-5
    24: Named("gnss_speed_kmh"),  # Speed, km/h
    66: Named("external_v", _milli),  # External Voltage, mV
    67: Named("battery_v", _milli),  # Battery Voltage, mV
    68: Named("battery_current_a", _milli),  # Battery Current, mA
    69: Named("gnss_status"),  # 0 off, 1 on with fix, 2 on without fix, 3 sleep
    80: Named("data_mode"),  # 0 home on stop ... 5 unknown on moving
    113: Named("battery_pct", limit=100),  # Battery Level, %
    155: Named("geofence_zone_1"),  # 0 target left zone, 1 target entered zone
    175: Named("auto_geofence"),  # 0 target left zone, 1 target entered zone
    179: _flag("dout1"),  # Digital Output 1
    180: _flag("dout2"),
    181: Named("pdop", _tenth),  # GNSS PDOP, x0.1
    182: Named("hdop", _tenth),  # GNSS HDOP, x0.1
    199: Named("trip_odometer_m"),  # Trip Odometer, m
    200: Named("sleep_mode"),  # 0 no sleep, 1 GPS sleep, 2 deep sleep, 3 online sleep, 4 ultra sleep
    205: Named("gsm_cell_id"),
    206: Named("gsm_area_code"),
    236: Named("alarm"),  # Alarm: 1 - alarm event occurred
    239: _flag("ignition"),  # 0 ignition off, 1 ignition on
    240: _flag("movement"),  # 0 movement off, 1 movement on
    241: Named("gsm_operator"),  # Active GSM Operator code (MCC and MNC digits)
    246: Named("towing"),  # 0 steady, 1 towing
    247: Named("crash"),  # 1 real crash detected, 2-5 crash traces, 6 crash detected (not calibrated)
    249: Named("jamming"),  # 0 jamming stop, 1 jamming start
    250: Named("trip"),  # 0 trip stop, 1 trip start
    251: Named("idling"),  # 0 moving, 1 idling
    252: Named("unplug"),  # 0 battery present, 1 battery unplugged
    253: Named("green_driving_type"),  # 1 harsh acceleration, 2 harsh braking, 3 harsh cornering
    254: Named("green_driving_value"),
    255: Named("overspeed_kmh"),  # Over Speeding: the speed at the start and at the end of the event
}

GSM_SIGNAL, BATTERY_VOLTAGE, BATTERY_LEVEL, HDOP = 21, 67, 113, 182


def _when(expected: int, alarm: Alarm) -> Callable[[int], Alarm | None]:
    return lambda value: alarm if value == expected else None


_GREEN_DRIVING = {1: Alarm.HARSH_ACCELERATION, 2: Alarm.HARSH_BRAKING, 3: Alarm.HARSH_CORNERING}
_GEOFENCE = {0: Alarm.GEOFENCE_EXIT, 1: Alarm.GEOFENCE_ENTER}

# Eventual AVL ID -> the alarm its value means. An alarm is raised only by the record the element
# generated (the record's event IO ID is this ID): with "eventual records" disabled the device
# repeats the element's current state in every record, which is a state, not an event.
ALARMS: dict[int, Callable[[int], Alarm | None]] = {
    # "Alarm: 1 - alarm event occurred" says nothing of its cause (a button, an input, a scenario):
    # a general alarm, not an SOS page.
    236: _when(1, Alarm.GENERAL),
    246: _when(1, Alarm.MOVEMENT),  # towing: the parked vehicle is moved or lifted
    247: lambda value: Alarm.ACCIDENT if value > 0 else None,
    249: _when(1, Alarm.JAMMING),
    251: _when(1, Alarm.IDLE),
    252: _when(1, Alarm.POWER_CUT),  # unplugged from the vehicle's power
    253: _GREEN_DRIVING.get,
    255: lambda value: Alarm.OVERSPEED,
    155: _GEOFENCE.get,
    175: _GEOFENCE.get,
}


def named_value(avl_id: int, raw: int) -> tuple[str, Value]:
    """(name, converted value) for a known ID, else (`io_<id>`, the raw value)."""
    named = NAMED.get(avl_id)
    if named is None or (named.limit is not None and raw > named.limit):
        return f"io_{avl_id}", raw
    return named.name, named.convert(raw)


def alarm_of(avl_id: int, raw: int) -> Alarm | None:
    rule = ALARMS.get(avl_id)
    return rule(raw) if rule is not None else None


def in_range(avl_id: int, raw: int | None) -> int | None:
    """The raw value when the ID's list entry allows it, else None (used for the record fields)."""
    named = NAMED.get(avl_id)
    if raw is None or (named is not None and named.limit is not None and raw > named.limit):
        return None
    return raw
