"""notifier/payload.py and notifier/routing.py: body, webhook-id, last known fix, who gets what."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from notifier.config import parse_config
from notifier.payload import LastFixes, alert_identity, webhook_id
from notifier.routing import Source, deliveries_for, wanted
from schemas.alarms import Alarm
from schemas.records import Alert, Position, to_msgpack

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)
CONFIG = parse_config(f"""
[[webhooks]]
name = "care-desk"
url = "https://example.org/a"
secret = "{SECRET}"

[[webhooks]]
name = "fleet"
url = "https://example.org/b"
secret = "{SECRET}"
alarms = ["sos", "offline"]
devices = ["861"]
""")


def sos(state="open", **kw) -> Alert:
    values = dict(protocol="gt06", device_id="861", time=T0, alarm=Alarm.SOS, state=state, repeat_count=1,
                  first_time=T0, last_time=T0, frame_id="l1-c1-7", frame_index=0, battery_pct=62)
    values.update(kw)
    return Alert(**values)


def route(alert: Alert, fixes: LastFixes | None = None):
    value = to_msgpack(alert)
    return deliveries_for(Source("t.sos", "tp0", 3, value, alert), 1_764_583_200_500, CONFIG, fixes or LastFixes())


def test_body_of_an_alert_with_its_own_fix():
    out = route(sos(lat=25.827437, lon=-80.376458, valid=True))
    assert [name for name, _ in out] == ["care-desk", "fleet"]
    body = json.loads(out[0][1].body)
    assert body == {
        "type": "alert.open",
        "timestamp": "2026-12-01T10:00:00.000Z",
        "data": {
            "device_id": "861", "alarm": "sos", "state": "open", "time": "2026-12-01T10:00:00.000Z",
            "lat": 25.827437, "lon": -80.376458, "fix_source": "alert", "fix_time": "2026-12-01T10:00:00.000Z",
            "fix_valid": True, "battery_pct": 62, "repeat_count": 1,
            "first_time": "2026-12-01T10:00:00.000Z", "last_time": "2026-12-01T10:00:00.000Z",
            "map_url": "https://www.openstreetmap.org/?mlat=25.827437&mlon=-80.376458#map=17/25.827437/-80.376458",
            "protocol": "gt06", "frame_id": "l1-c1-7", "frame_index": 0,
        },
    }
    assert out[0][1].body == out[1][1].body  # one body for every webhook
    assert out[0][1].lane == "861" and out[0][1].kind == "alert.open"


def test_the_last_known_fix_fills_in_and_says_so():
    fixes = LastFixes()
    fixes.observe(Position(protocol="gt06", device_id="861", time=T0, lat=1.5, lon=2.5, valid=True))
    data = json.loads(route(sos(), fixes)[0][1].body)["data"]
    assert (data["lat"], data["lon"], data["fix_source"], data["fix_time"]) == (1.5, 2.5, "last_known",
                                                                                "2026-12-01T10:00:00.000Z")
    assert data["map_url"].startswith("https://www.openstreetmap.org/?mlat=1.5&mlon=2.5")
    nothing = json.loads(route(sos())[0][1].body)["data"]
    assert (nothing["lat"], nothing["lon"], nothing["fix_source"], nothing["map_url"]) == (None, None, None, None)


def test_last_fixes_keep_the_newest_valid_fix_and_are_bounded():
    fixes = LastFixes(max_devices=2)
    later = T0.replace(hour=11)
    fixes.observe(Position(protocol="p", device_id="a", time=later, lat=1.0, lon=1.0))
    fixes.observe(Position(protocol="p", device_id="a", time=T0, lat=9.0, lon=9.0))  # older: ignored
    fixes.observe(Position(protocol="p", device_id="a", time=later, lat=5.0, lon=5.0, valid=False))  # invalid
    fixes.observe(Position(protocol="p", device_id="a", time=later, cells=[]))  # no coordinates
    assert (fixes.get("a").lat, fixes.get("a").lon) == (1.0, 1.0)
    fixes.observe(Position(protocol="p", device_id="b", lat=2.0, lon=2.0))
    fixes.observe(Position(protocol="p", device_id="c", lat=3.0, lon=3.0))
    assert fixes.get("a") is None and len(fixes) == 2  # the device seen longest ago went first


def test_cleared_episode():
    last = T0.replace(minute=2)
    ((_, care), _fleet) = route(sos(state="cleared", repeat_count=4, last_time=last, frame_id="l1-c1-9", frame_index=2))
    body = json.loads(care.body)
    assert body["type"] == "alert.cleared" and body["timestamp"] == "2026-12-01T10:02:00.000Z"
    assert body["data"]["repeat_count"] == 4 and care.kind == "alert.cleared"


def test_webhook_ids_are_stable_and_distinct():
    first = {name: d.webhook_id for name, d in route(sos())}
    again = {name: d.webhook_id for name, d in route(sos(battery_pct=10))}  # same alert, read again
    assert first == again
    assert first["care-desk"] != first["fleet"]
    cleared = {name: d.webhook_id for name, d in route(sos(state="cleared"))}
    assert cleared["care-desk"] != first["care-desk"]
    other = {name: d.webhook_id for name, d in route(sos(frame_index=1))}
    assert other["care-desk"] != first["care-desk"]
    assert all(i.startswith("msg_") and "." not in i and len(i) == 36 for i in first.values())
    assert webhook_id(alert_identity(sos(), b""), "care-desk", "alert.open") == first["care-desk"]


def test_alert_without_frame_id_is_identified_by_its_bytes():
    alert = sos(frame_id=None, frame_index=None)
    assert alert_identity(alert, b"abc") == alert_identity(alert, b"abc") != alert_identity(alert, b"abd")


def test_who_gets_what():
    assert [n for n, _ in route(sos(device_id="other"))] == ["care-desk"]
    assert [n for n, _ in route(sos(alarm=Alarm.FALL))] == ["care-desk"]
    assert [n for n, _ in route(sos(alarm=Alarm.OFFLINE, state="open"))] == ["fleet"]
    assert route(sos(alarm=Alarm.LOW_BATTERY)) == []
    # From the alerts topic, sos/fall are skipped (they come from the SOS topic); others are read.
    assert wanted(sos(), sos_topic=True) and not wanted(sos(), sos_topic=False)
    assert wanted(sos(alarm=Alarm.OFFLINE), sos_topic=False)
    assert not wanted(Position(protocol="p"), sos_topic=True)


def test_device_alarm_without_episode_is_an_open():
    ((_, care),) = route(sos(alarm=Alarm.FALL, state=None, repeat_count=None, first_time=None, last_time=None))
    body = json.loads(care.body)
    assert body["type"] == "alert.open" and body["data"]["state"] is None
    assert body["timestamp"] == "2026-12-01T10:00:00.000Z"  # the device's time when there is no episode
