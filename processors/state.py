"""Per-device state kept by the processors, and its msgpack form for the table changelog.

One `DeviceState` per device id: when and through which frame it was last seen, its last fix,
battery and health readings, and its open episodes (SOS/fall repeats, derived alerts). All times
are Unix epoch milliseconds of the server's reception (the raw envelope's `received_at_ms`) unless
a field says otherwise, so episodes never depend on a device's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

STATE_VERSION = 1

# Fix fields kept as the device's last fix (as in the record's JSON form: time is ISO-8601).
FIX_FIELDS = ("time", "valid", "lat", "lon", "altitude_m", "speed_kmh", "course_deg", "satellites", "hdop")
# Telemetry readings kept as the last health readings.
HEALTH_FIELDS = ("heart_rate_bpm", "spo2_pct", "bp_systolic_mmhg", "bp_diastolic_mmhg", "body_temp_c")


@dataclass(slots=True)
class Episode:
    """One open alarm episode.

    `first_ms`/`last_ms`: when it began and when it was last seen active; `count`: how many frames
    (SOS/fall repeats) or readings (thresholds) showed it. `alert` is the latest SOS/fall alert as a
    record dict, so the episode's closing summary carries the latest fix.
    """

    first_ms: int
    last_ms: int
    count: int = 1
    alert: dict[str, Any] | None = None

    def to_list(self) -> list:
        return [self.first_ms, self.last_ms, self.count, self.alert]

    @classmethod
    def from_list(cls, data: list) -> "Episode":
        first_ms, last_ms, count, alert = data
        return cls(first_ms, last_ms, count, alert)


@dataclass(slots=True)
class DeviceState:
    device_id: str
    protocol: str | None = None  # protocol of the latest frame (derived alerts carry it)
    last_seen_ms: int | None = None
    # The latest frame and the next free record index in it: records raised later by the timer
    # (offline, SOS episode end) are numbered on from there, so (frame_id, frame_index) stays unique.
    last_frame_id: str | None = None
    next_index: int = 0
    last_fix: dict[str, Any] | None = None  # FIX_FIELDS of the latest fix with coordinates, valid not False
    last_fix_ms: int | None = None
    battery_pct: int | None = None
    battery_ms: int | None = None
    health: dict[str, list] = field(default_factory=dict)  # HEALTH_FIELDS name -> [value, received ms]
    open: dict[str, Episode] = field(default_factory=dict)  # alarm code -> open episode
    # The latest numbered frames, to recognise a resend (processors.resends). Added in STATE_VERSION
    # 1 without a version change: a state written before it loads with an empty list.
    recent_frames: list[list] = field(default_factory=list)

    def take_index(self) -> int:
        """The next free record index in `last_frame_id` (for records raised outside a frame)."""
        index = self.next_index
        self.next_index += 1
        return index

    def to_msgpack(self) -> bytes:
        body = {
            "v": STATE_VERSION,
            "device_id": self.device_id,
            "protocol": self.protocol,
            "last_seen_ms": self.last_seen_ms,
            "last_frame_id": self.last_frame_id,
            "next_index": self.next_index,
            "last_fix": self.last_fix,
            "last_fix_ms": self.last_fix_ms,
            "battery_pct": self.battery_pct,
            "battery_ms": self.battery_ms,
            "health": self.health,
            "open": {code: ep.to_list() for code, ep in self.open.items()},
            "recent_frames": self.recent_frames,
        }
        return msgpack.packb(body, use_bin_type=True)

    @classmethod
    def from_msgpack(cls, payload: bytes) -> "DeviceState":
        data = msgpack.unpackb(payload, raw=False)
        version = data.pop("v", None)
        if version != STATE_VERSION:
            raise ValueError(f"unsupported device state version {version!r} (this build reads {STATE_VERSION})")
        data["open"] = {code: Episode.from_list(ep) for code, ep in data.get("open", {}).items()}
        return cls(**data)
