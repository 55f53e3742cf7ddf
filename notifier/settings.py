"""Notifier process settings: env TRACKWIRE_NOTIFY_* or CLI options (pydantic-settings, as every stage).

The webhooks themselves are in the TOML file named by TRACKWIRE_NOTIFY_CONFIG / --config
(notifier/config.py); these are the knobs of the process around them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKWIRE_NOTIFY_", extra="ignore", populate_by_name=True)

    config: str | None = Field(None, description="Path of the webhooks TOML file")
    group_id: str | None = Field(None, min_length=1, description="Kafka consumer group (default: prefix + 'notifier')")
    http_host: str = "0.0.0.0"
    http_port: int | None = Field(9103, ge=0, le=65535, description="metrics and health; None disables")
    start_lookback_s: float = Field(
        600.0, ge=0, description="A new consumer group starts with the alerts of this many seconds back "
                                 "(not the topic's whole retention, which would page people about old alarms)")
    commit_interval_s: float = Field(0.5, gt=0, description="How often finished offsets are committed")
    session_timeout_s: float = Field(10.0, ge=1, description="Kafka consumer group session timeout")
    fetch_max_records: int = Field(500, ge=1, description="Alerts taken from Kafka per poll at most")
    max_unfinished: int = Field(
        50_000, ge=1, description="Alerts read and not finished by every webhook, at most; past it reading pauses")
    last_fix_devices: int = Field(100_000, ge=0, description="Devices whose last fix is kept; 0 disables the "
                                                             "positions follower")
    last_fix_lookback_s: float = Field(3600.0, ge=0, description="How far back the positions topic is read at start")
    last_fix_warmup_s: float = Field(10.0, ge=0, description="How long the start waits for that read to catch up")
    shutdown_timeout_s: float = Field(10.0, gt=0, description="How long a stop lets requests in flight finish")
