"""What an OsmAnd-protocol request reports: query, form or JSON values -> a `Report` -> records.

Pure functions over already-parsed HTTP parts (protocols/osmand.py does the HTTP with h11); the
parameter names, units and forms, with their sources, are in protocols/osmand.py's docstring.
Every bad value raises `Refused` with the reason the client reads in its 400 answer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from protocols.base import Malformed
from schemas.alarms import Alarm
from schemas.records import Alert, Cell, Event, Position, Record, Wifi

NAME = "osmand"

KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6
SECONDS_UNTIL = 2**31 - 1  # Traccar's rule: a smaller integer timestamp is seconds, a larger one ms
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last time a datetime holds
MAX_QUERY_FIELDS = 64
MAX_ID_LENGTH = 128
MAX_CUSTOM_VALUE = 256


class Refused(Malformed):
    """A request answered with an error `status`; `close` when the connection cannot go on."""

    def __init__(self, reason: str, status: int = 400, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.close = close


# --------------------------------------------------------------------------------------------
# The report a request carries
# --------------------------------------------------------------------------------------------

Detail = str | int | float | bool


@dataclass(slots=True)
class Fix:
    time: datetime | None = None
    valid: bool = True  # Traccar's default: a report is valid unless it says `valid=false`
    lat: float | None = None
    lon: float | None = None
    altitude_m: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    hdop: float | None = None
    battery_pct: int | None = None
    cells: list[Cell] = field(default_factory=list)
    wifi: list[Wifi] = field(default_factory=list)
    alarm: Alarm | None = None
    alarm_code: str | None = None  # as the client named it, when it maps to `general`
    details: dict[str, Detail] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    device_id: str
    form: str  # "query", "form" or "json": where the values came from
    fixes: list[Fix]


# Traccar's alarm names (what Traccar Client and other OsmAnd-protocol apps send) -> our codes.
ALARMS: dict[str, Alarm] = {
    "sos": Alarm.SOS,
    "fallDown": Alarm.FALL,
    "lowBattery": Alarm.LOW_BATTERY,
    "lowPower": Alarm.LOW_POWER,
    "powerOff": Alarm.POWER_OFF,
    "powerOn": Alarm.POWER_ON,
    "powerCut": Alarm.POWER_CUT,
    "removing": Alarm.REMOVAL,
    "tampering": Alarm.TAMPER,
    "geofenceEnter": Alarm.GEOFENCE_ENTER,
    "geofenceExit": Alarm.GEOFENCE_EXIT,
    "overspeed": Alarm.OVERSPEED,
    "movement": Alarm.MOVEMENT,
    "vibration": Alarm.VIBRATION,
    "gpsAntennaCut": Alarm.GPS_ANTENNA_CUT,
    "jamming": Alarm.JAMMING,
    "door": Alarm.DOOR,
    "accident": Alarm.ACCIDENT,
    "hardAcceleration": Alarm.HARSH_ACCELERATION,
    "hardBraking": Alarm.HARSH_BRAKING,
    "hardCornering": Alarm.HARSH_CORNERING,
    "idle": Alarm.IDLE,
    "temperature": Alarm.TEMPERATURE,
    "general": Alarm.GENERAL,
}

_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5}")


def read_report(target: str, content_type: bytes | None, content_encoding: bytes | None, body: bytes,
                now: datetime) -> Report:
    """What one request reports: the JSON body, else the query string, else a form body."""
    if content_encoding not in (None, b"identity"):
        raise Refused("compressed request bodies (Content-Encoding) are not supported")
    if (content_type or b"").lower().startswith(b"application/json"):
        return _json_report(body, now)
    query = target.partition("?")[2].partition("#")[0]
    if query:
        return _query_report(_pairs(query, "query string"), "query", now)
    if body:
        return _query_report(_pairs(_text(body, "form body"), "form body"), "form", now)
    raise Refused("no report in the request: no query string and no body")


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{what} is not UTF-8") from None


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    try:  # narrow: parse_qsl raises ValueError for bad percent-encoded UTF-8 or too many fields
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=MAX_QUERY_FIELDS)
    except ValueError as exc:
        raise Refused(f"unreadable {what}: {exc}") from None


# ---- query / form --------------------------------------------------------------------------

def _query_report(pairs: list[tuple[str, str]], form: str, now: datetime) -> Report:
    device_id: str | None = None
    fix = Fix()
    lat = lon = None
    for name, value in pairs:
        if name in ("id", "deviceid"):
            device_id = _device_id(value)
        elif name == "lat":
            lat = _number(name, value)
        elif name == "lon":
            lon = _number(name, value)
        elif name == "location":
            lat_text, _, lon_text = value.partition(",")
            lat, lon = _number("location latitude", lat_text), _number("location longitude", lon_text)
        elif (reader := _QUERY_FIELDS.get(name)) is not None:
            reader(fix, value)
        else:
            _custom(fix, name, value)
    if device_id is None:
        raise Refused("no device id (`id` or `deviceid`)")
    _place(fix, lat, lon)
    if fix.time is None:
        fix.time = now
    return Report(device_id, form, [fix])


def _device_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise Refused(f"bad device id {value[:40]!r}")
    return value


def _number(name: str, value: str) -> float:
    # Only ASCII blanks are forgiven: str.strip() also strips separators such as \x1d, which
    # float() then refused with a ValueError (found by benchmarks/fuzz_codecs.py)
    stripped = value.strip(" \t\r\n")
    number = float(stripped) if _NUMBER_RE.fullmatch(stripped) else math.nan
    if not math.isfinite(number):  # 1e999 reads as inf
        raise Refused(f"bad {name} {value[:24]!r}: not a number")
    return number


def _place(fix: Fix, lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise Refused("a latitude without a longitude, or the reverse")
    if lat is None or lon is None:
        return
    if not -90 <= lat <= 90:
        raise Refused(f"latitude {lat} out of range [-90, 90]")
    if not -180 <= lon <= 180:
        raise Refused(f"longitude {lon} out of range [-180, 180]")
    fix.lat, fix.lon = lat, lon


def _set_time(fix: Fix, value: str) -> None:
    fix.time = parse_timestamp(value)


def parse_timestamp(value: str) -> datetime:
    """Seconds or milliseconds since the epoch, ISO 8601 (`2016-01-27T18:55:47Z`), or
    `yyyy-MM-dd HH:mm:ss` (taken as UTC)."""
    text = value.strip()
    if text.isdigit() and text.isascii() and len(text) <= 15:
        number = int(text)
        seconds = number if number < SECONDS_UNTIL else number / 1000
        if seconds > LAST_SECOND:
            raise Refused(f"timestamp {text} is after the year 9999")
        return datetime.fromtimestamp(seconds, timezone.utc)
    try:  # narrow: the two parsers raise ValueError for text that is not their format
        if "T" in text:
            parsed = datetime.fromisoformat(text)
        else:
            parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Refused(f"bad timestamp {value[:40]!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _set_valid(fix: Fix, value: str) -> None:
    fix.valid = value.lower() in ("true", "1")


def _set_speed_knots(fix: Fix, value: str) -> None:
    speed = _number("speed", value)
    fix.speed_kmh = round(speed * KNOTS_TO_KMH, 3) if speed >= 0 else None


def _set_course(fix: Fix, value: str) -> None:
    fix.course_deg = _course(_number("bearing", value))


def _course(value: float) -> float | None:
    return value if 0 <= value <= 360 else None  # -1 is the apps' "no bearing"


def _set_altitude(fix: Fix, value: str) -> None:
    fix.altitude_m = _number("altitude", value)


def _set_accuracy(fix: Fix, value: str) -> None:
    accuracy = _number("accuracy", value)
    if accuracy > 0:  # Traccar Client sends 0 for a GPS fix (its accuracy is not reported)
        fix.details["accuracy_m"] = accuracy


def _set_hdop(fix: Fix, value: str) -> None:
    hdop = _number("hdop", value)
    fix.hdop = hdop if hdop > 0 else None


def _set_battery(fix: Fix, value: str) -> None:
    fix.battery_pct = _percent(_number("batt", value))


def _percent(value: float) -> int | None:
    return round(value) if 0 <= value <= 100 else None


def _set_charge(fix: Fix, value: str) -> None:
    fix.details["charging"] = value.lower() in ("true", "1")


def _set_mock(fix: Fix, value: str) -> None:
    fix.details["mock"] = value.lower() in ("true", "1")


def _set_driver(fix: Fix, value: str) -> None:
    fix.details["driver_id"] = value[:MAX_CUSTOM_VALUE]


def _set_alarm(fix: Fix, value: str) -> None:
    fix.alarm = ALARMS.get(value, Alarm.GENERAL)
    if fix.alarm is Alarm.GENERAL:
        fix.alarm_code = value[:MAX_CUSTOM_VALUE]


def _add_cell(fix: Fix, value: str) -> None:
    parts = value.split(",")
    if len(parts) not in (4, 5) or not all(_is_integer(p) for p in parts):
        raise Refused(f"bad cell {value[:40]!r}: expected mcc,mnc,lac,cid[,rssi]")
    numbers = [int(p) for p in parts]
    fix.cells.append(Cell(mcc=numbers[0], mnc=numbers[1], lac=numbers[2], cid=numbers[3],
                          rssi=numbers[4] if len(numbers) == 5 else None))


def _add_wifi(fix: Fix, value: str) -> None:
    mac, _, rssi = value.partition(",")
    if not _MAC_RE.fullmatch(mac) or not _is_integer(rssi):
        raise Refused(f"bad wifi {value[:40]!r}: expected mac,rssi")
    fix.wifi.append(Wifi(mac=mac.lower().replace("-", ":"), rssi=int(rssi)))


def _is_integer(text: str) -> bool:
    body = text[1:] if text.startswith("-") else text
    return body.isdigit() and body.isascii() and len(body) <= 12


def _custom(fix: Fix, name: str, value: str) -> None:
    """Traccar keeps any other parameter as an attribute: a number, true/false, or the text."""
    name = name[:64]
    if _NUMBER_RE.fullmatch(value) and math.isfinite(number := float(value)):
        fix.details[name] = number
    elif value in ("true", "false"):
        fix.details[name] = value == "true"
    else:
        fix.details[name] = value[:MAX_CUSTOM_VALUE]


_QUERY_FIELDS = {
    "timestamp": _set_time,
    "valid": _set_valid,
    "speed": _set_speed_knots,
    "bearing": _set_course,
    "heading": _set_course,
    "altitude": _set_altitude,
    "accuracy": _set_accuracy,
    "hdop": _set_hdop,
    "batt": _set_battery,
    "charge": _set_charge,
    "mock": _set_mock,
    "driverUniqueId": _set_driver,
    "alarm": _set_alarm,
    "cell": _add_cell,
    "wifi": _add_wifi,
}


# ---- JSON (Traccar Client 9+) ---------------------------------------------------------------

def _json_report(body: bytes, now: datetime) -> Report:
    try:  # narrow: bad JSON / UTF-8 is ValueError; a deeply nested body exhausts the recursion limit
        root = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Refused(f"unreadable JSON body: {str(exc)[:80]}") from None
    if not isinstance(root, dict):
        raise Refused("JSON body is not an object")
    device_id = root.get("device_id")
    if isinstance(device_id, int) and not isinstance(device_id, bool):
        device_id = str(device_id)
    if not isinstance(device_id, str):
        raise Refused("JSON body without a device_id string")
    locations = root.get("location")
    if isinstance(locations, dict):
        locations = [locations]  # the SDK's batch sync sends a list
    if not isinstance(locations, list) or not locations:
        raise Refused("JSON body without a location object")
    return Report(_device_id(device_id), "json", [_json_fix(location, now) for location in locations])


def _json_fix(location: object, now: datetime) -> Fix:
    if not isinstance(location, dict):
        raise Refused("JSON location is not an object")
    fix = Fix()
    timestamp = location.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        raise Refused("JSON location timestamp is not a string")
    fix.time = parse_timestamp(timestamp) if timestamp else now
    coords = location.get("coords")
    if coords is not None:
        if not isinstance(coords, dict):
            raise Refused("JSON coords is not an object")
        _place(fix, _json_number(coords, "latitude", required=True),
               _json_number(coords, "longitude", required=True))
        speed = _json_number(coords, "speed")
        fix.speed_kmh = round(speed * MPS_TO_KMH, 3) if speed is not None and speed >= 0 else None
        heading = _json_number(coords, "heading")
        fix.course_deg = _course(heading) if heading is not None else None
        fix.altitude_m = _json_number(coords, "altitude")
        accuracy = _json_number(coords, "accuracy")
        if accuracy is not None and accuracy > 0:
            fix.details["accuracy_m"] = accuracy
    battery = location.get("battery")
    if isinstance(battery, dict):
        level = _json_number(battery, "level")
        fix.battery_pct = _percent(level * 100) if level is not None else None  # level is 0..1; -1 unknown
        if isinstance(battery.get("is_charging"), bool):
            fix.details["charging"] = battery["is_charging"]
    _json_details(fix, location)
    return fix


def _json_number(obj: dict, key: str, *, required: bool = False) -> float | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise Refused(f"JSON coords without {key}")
        return None
    if not _finite(value):
        raise Refused(f"JSON {key} is not a number: {str(value)[:24]!r}")
    return float(value)


def _finite(value: object) -> bool:
    """A JSON number we can use: not a bool, not NaN/inf, and an int that fits 64 bits."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63  # what msgpack (and ClickHouse Int64) can carry
    return isinstance(value, float) and math.isfinite(value)


def _json_details(fix: Fix, location: dict) -> None:
    """The location's state fields, and its `extras` (where Traccar Client puts `alarm`)."""
    for key, detail in (("is_moving", "moving"), ("mock", "mock")):
        if isinstance(location.get(key), bool):
            fix.details[detail] = location[key]
    odometer = location.get("odometer")
    if _finite(odometer):
        fix.details["odometer_m"] = odometer
    if isinstance(location.get("event"), str) and location["event"]:
        fix.details["trigger"] = location["event"][:MAX_CUSTOM_VALUE]  # motionchange, heartbeat...
    activity = location.get("activity")
    if isinstance(activity, dict) and isinstance(activity.get("type"), str):
        fix.details["activity"] = activity["type"][:MAX_CUSTOM_VALUE]
    extras = location.get("extras")
    extras = extras if isinstance(extras, dict) else {}
    alarm = location.get("alarm", extras.get("alarm"))
    if alarm is not None:
        if not isinstance(alarm, str):
            raise Refused("JSON alarm is not a string")
        _set_alarm(fix, alarm)
    for key, value in list(extras.items())[:MAX_QUERY_FIELDS]:
        if key == "alarm":
            continue
        if isinstance(value, str):
            fix.details[key[:64]] = value[:MAX_CUSTOM_VALUE]
        elif isinstance(value, bool) or _finite(value):
            fix.details[key[:64]] = value


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------

def records_of(report: Report) -> list[Record]:
    return [record for fix in report.fixes for record in _fix_records(report.device_id, fix)]


def _fix_records(device_id: str, fix: Fix) -> list[Record]:
    out: list[Record] = []
    position = Position(
        protocol=NAME, device_id=device_id, time=fix.time, valid=fix.valid, lat=fix.lat, lon=fix.lon,
        altitude_m=fix.altitude_m, speed_kmh=fix.speed_kmh, course_deg=fix.course_deg, hdop=fix.hdop,
        battery_pct=fix.battery_pct, cells=list(fix.cells), wifi=list(fix.wifi),
        alarms=[fix.alarm] if fix.alarm is not None else [],
    )
    if position.has_location():
        out.append(position)
        if fix.alarm is not None:
            out.append(Alert.from_fix(position, fix.alarm))
    elif fix.alarm is not None:
        out.append(Alert(protocol=NAME, device_id=device_id, time=fix.time, alarm=fix.alarm,
                         battery_pct=fix.battery_pct))
    details = dict(fix.details)
    if fix.alarm_code is not None:
        details["alarm_code"] = fix.alarm_code
    if details or not out:
        out.append(Event(protocol=NAME, device_id=device_id, time=fix.time, event="status",
                         battery_pct=fix.battery_pct, details=details))
    return out
