"""What a receiver gets: the event type, the stable webhook-id and the JSON body. Pure.

The body is the Standard Webhooks payload structure:

    {"type": "alert.open", "timestamp": "2026-12-01T21:30:00.123Z", "data": {...}}

`data` holds the alert: device_id, alarm, state, time, the fix (lat/lon of the alert itself, else
the device's last known fix, and `fix_source` saying which: "alert", "last_known" or null), battery,
the episode (repeat_count, first_time, last_time), a map link and the source frame (frame_id,
frame_index). Absent values are null, so every body has the same keys.

The webhook-id is derived, not random: the same alert (its frame_id and frame_index, which the
processors give every record) for the same webhook and event type always has the same id, across
retries, notifier restarts and a processor replaying the frame. A receiver that de-duplicates on
webhook-id therefore sees each episode's open and cleared exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from schemas.records import Alert, Position, format_time

OPEN_TYPE = "alert.open"
CLEARED_TYPE = "alert.cleared"
TEST_TYPE = "alert.test"


def event_type(alert: Alert) -> str:
    """alert.cleared for the end of an episode; alert.open for its start and for one-shot device alarms."""
    return CLEARED_TYPE if alert.state == "cleared" else OPEN_TYPE


def alert_identity(alert: Alert, record_bytes: bytes) -> str:
    """Identifies the alert across replays: its source frame and index, else its exact bytes."""
    if alert.frame_id is not None and alert.frame_index is not None:
        return f"frame:{alert.frame_id}:{alert.frame_index}"
    return "bytes:" + hashlib.blake2b(record_bytes, digest_size=16).hexdigest()


def webhook_id(identity: str, webhook: str, kind: str) -> str:
    """`msg_` + 32 hex digits; no '.', which the signed content uses as its separator."""
    digest = hashlib.blake2b(f"{identity}\n{webhook}\n{kind}".encode(), digest_size=16).hexdigest()
    return f"msg_{digest}"


@dataclass(frozen=True, slots=True)
class Fix:
    lat: float
    lon: float
    time: datetime | None
    valid: bool | None


class LastFixes:
    """The newest usable fix per device, for alerts that came without one. Bounded: the devices seen
    longest ago are forgotten first once `max_devices` is reached."""

    def __init__(self, max_devices: int = 100_000) -> None:
        self.max_devices = max_devices
        self._fixes: OrderedDict[str, Fix] = OrderedDict()

    def __len__(self) -> int:
        return len(self._fixes)

    def observe(self, record: Position | Alert) -> None:
        if record.device_id is None or record.lat is None or record.lon is None or record.valid is False:
            return
        old = self._fixes.get(record.device_id)
        if old is not None and old.time is not None and record.time is not None and record.time < old.time:
            return  # an older fix read late (a replay, another partition's lag) does not win
        self._fixes[record.device_id] = Fix(record.lat, record.lon, record.time, record.valid)
        self._fixes.move_to_end(record.device_id)
        while len(self._fixes) > self.max_devices:
            self._fixes.popitem(last=False)

    def get(self, device_id: str | None) -> Fix | None:
        return None if device_id is None else self._fixes.get(device_id)


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def event_timestamp(alert: Alert, record_ms: int) -> str:
    """When the event happened: the episode's start (open) or last press (cleared), on the server's
    clock; else the device's time; else when the record reached Kafka."""
    when = (alert.last_time if alert.state == "cleared" else alert.first_time) or alert.time
    if when is not None:
        return format_time(when)
    return format_time(datetime.fromtimestamp(record_ms / 1000, timezone.utc))


def alert_data(alert: Alert, last_fix: Fix | None, map_link: str) -> dict[str, Any]:
    if alert.lat is not None and alert.lon is not None:
        lat, lon, source, fix_time, valid = alert.lat, alert.lon, "alert", alert.time, alert.valid
    elif last_fix is not None:
        lat, lon, source, fix_time, valid = last_fix.lat, last_fix.lon, "last_known", last_fix.time, last_fix.valid
    else:
        lat = lon = source = fix_time = valid = None
    return {
        "device_id": alert.device_id,
        "alarm": alert.alarm.value,
        "state": alert.state,
        "time": _time(alert.time),
        "lat": lat,
        "lon": lon,
        "fix_source": source,
        "fix_time": _time(fix_time),
        "fix_valid": valid,
        "battery_pct": alert.battery_pct,
        "repeat_count": alert.repeat_count,
        "first_time": _time(alert.first_time),
        "last_time": _time(alert.last_time),
        "map_url": map_link.format(lat=lat, lon=lon) if lat is not None else None,
        "protocol": alert.protocol,
        "frame_id": alert.frame_id,
        "frame_index": alert.frame_index,
    }


def body_json(kind: str, timestamp: str, data: dict[str, Any]) -> str:
    """The exact text that is signed and sent: compact JSON, keys in a fixed order."""
    return json.dumps({"type": kind, "timestamp": timestamp, "data": data}, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
