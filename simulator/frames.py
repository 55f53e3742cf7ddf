"""Device-side frame builders for the simulator: what a GOTOP, watch or GT06 device would send.

Layouts follow the same public sources the codecs cite (SeTracker/Beesure watch protocol, Concox
GT06 document, GOTOP frames in tests/protocols/frames_gotop.py); tests/simulator checks that every
built frame decodes with the codec to the values it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from protocols import gt06


@dataclass(frozen=True, slots=True)
class Fix:
    time: datetime
    lat: float
    lon: float
    speed_kmh: float = 0.0
    course_deg: float = 0.0
    satellites: int = 8
    battery_pct: int = 80


def _hemisphere(value: float, positive: str, negative: str) -> tuple[float, str]:
    return (abs(value), positive if value >= 0 else negative)


# -- watch ---------------------------------------------------------------------------------------
WATCH_SOS_BIT = 1 << 16  # status field, high word bit 0: SOS (SeTracker protocol, "terminal status")


def watch_frame(device_id: str, content: str, prefix: str = "3G") -> bytes:
    body = content.encode()
    return f"[{prefix}*{device_id}*{len(body):04X}*".encode() + body + b"]"


def watch_keepalive(device_id: str, steps: int = 0, battery_pct: int = 80) -> bytes:
    return watch_frame(device_id, f"LK,{steps},0,{battery_pct}")


def watch_location(device_id: str, fix: Fix, *, sos: bool = False) -> bytes:
    lat, ns = _hemisphere(fix.lat, "N", "S")
    lon, ew = _hemisphere(fix.lon, "E", "W")
    status = WATCH_SOS_BIT if sos else 0
    kind = "AL" if sos else "UD"
    content = (
        f"{kind},{fix.time:%d%m%y},{fix.time:%H%M%S},A,{lat:.6f},{ns},{lon:.7f},{ew},"
        f"{fix.speed_kmh:.2f},{fix.course_deg:.1f},0.0,{fix.satellites},100,{fix.battery_pct},0,0,{status:08X},"
        f"1,1,460,0,9360,4082,131,0,10.0"
    )
    return watch_frame(device_id, content)


def watch_heart_rate(device_id: str, bpm: int) -> bytes:
    return watch_frame(device_id, f"heart,{bpm}")


# -- GOTOP ---------------------------------------------------------------------------------------
def gotop_location(imei: str, fix: Fix, *, sos: bool = False) -> bytes:
    lat, ns = _hemisphere(fix.lat, "N", "S")
    lon, ew = _hemisphere(fix.lon, "E", "W")
    kind = "CMD-KEY" if sos else "CMD-T"
    return (
        f"#{imei},{kind},A,DATE:{fix.time:%y%m%d},TIME:{fix.time:%H%M%S},LAT:{lat:010.7f}{ns},"
        f"LON:{lon:011.7f}{ew},Speed:{fix.speed_kmh:05.1f},{fix.battery_pct:03d}-20,01.00#"
    ).encode()


def gotop_heartbeat(imei: str) -> bytes:
    return f"#{imei},CMD-X#".encode()


# -- GT06 ----------------------------------------------------------------------------------------
def _imei_bcd(imei: str) -> bytes:
    return bytes.fromhex(imei.rjust(16, "0"))


def gt06_login(imei: str, serial: int) -> bytes:
    return gt06.build_packet(0x01, _imei_bcd(imei), serial)


def _gt06_gps(fix: Fix) -> bytes:
    t = fix.time
    course_status = (1 << 12) | int(fix.course_deg) & 0x3FF  # positioned
    if fix.lon < 0:
        course_status |= 1 << 11  # west
    if fix.lat >= 0:
        course_status |= 1 << 10  # north
    return (
        bytes([t.year - 2000, t.month, t.day, t.hour, t.minute, t.second, 0xC0 | min(fix.satellites, 15)])
        + round(abs(fix.lat) * 1_800_000).to_bytes(4, "big")
        + round(abs(fix.lon) * 1_800_000).to_bytes(4, "big")
        + bytes([min(int(fix.speed_kmh), 255)])
        + course_status.to_bytes(2, "big")
    )


_GT06_CELL = (460).to_bytes(2, "big") + bytes([0]) + (0x2795).to_bytes(2, "big") + (0x0E0A).to_bytes(3, "big")


def gt06_location(fix: Fix, serial: int) -> bytes:
    """0x12 GPS + LBS."""
    return gt06.build_packet(0x12, _gt06_gps(fix) + _GT06_CELL, serial)


def gt06_sos(fix: Fix, serial: int) -> bytes:
    """0x16 alarm: GPS, LBS with its length byte, terminal info, voltage level, GSM, alarm SOS, language."""
    lbs = bytes([9]) + _GT06_CELL
    status = bytes([0x40 | 0x04, 0x05, 0x04, 0x01, 0x02])  # GPS on, charging off; level 5; GSM 4; SOS; English
    return gt06.build_packet(0x16, _gt06_gps(fix) + lbs + status, serial)


def gt06_heartbeat(serial: int) -> bytes:
    return gt06.build_packet(0x13, bytes([0x44, 0x05, 0x04, 0x00, 0x02]), serial)
