"""One Kafka message in, the deliveries it makes out (one per webhook that wants it). Pure.

- From the SOS topic: every alert (sos, fall).
- From the alerts topic (read only when some webhook wants another alarm): every alert except
  sos/fall, which come from the SOS topic (each is on both topics; read once).
- Anything else (not an alert, an unreadable value) makes no delivery; the caller dead-letters
  what it could not read.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifier.config import NotifyConfig
from notifier.lanes import Delivery
from notifier.payload import LastFixes, alert_data, alert_identity, body_json, event_timestamp, event_type, webhook_id
from schemas.alarms import SOS_ALARMS
from schemas.records import Alert, Record


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """Where a delivery's alert came from: reported back when it is finished, kept for dead letters."""

    topic: str
    tp: object  # aiokafka TopicPartition (any hashable in tests)
    offset: int
    value: bytes
    alert: Alert | None  # None: the value could not be read (it is dead-lettered as it is)


def wanted(record: Record, *, sos_topic: bool) -> bool:
    """Is this record something the notifier delivers from this topic?"""
    if not isinstance(record, Alert):
        return False
    return sos_topic or record.alarm not in SOS_ALARMS


def deliveries_for(source: Source, record_ms: int, config: NotifyConfig, last_fixes: LastFixes) -> list[tuple[str, Delivery]]:
    """(webhook name, delivery) for every webhook that wants this alert; the same body for all of them,
    a webhook-id of each one's own."""
    alert = source.alert
    assert alert is not None
    hooks = [hook for hook in config.webhooks if hook.wants(alert.alarm.value, alert.device_id)]
    if not hooks:
        return []
    kind = event_type(alert)
    data = alert_data(alert, last_fixes.get(alert.device_id), config.map_link)
    body = body_json(kind, event_timestamp(alert, record_ms), data)
    identity = alert_identity(alert, source.value)
    lane = alert.device_id if alert.device_id is not None else identity
    return [(hook.name, Delivery(ref=source, lane=lane, webhook_id=webhook_id(identity, hook.name, kind), kind=kind,
                                 body=body, record_ms=record_ms))
            for hook in hooks]
