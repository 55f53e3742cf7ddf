"""Listener settings: env TRACKWIRE_LISTENER_* or `trackwire listen` options."""

from __future__ import annotations

import socket
import uuid

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocols.base import ServerContext

DEVELOPMENT_AUTH_KEY = ServerContext().auth_key.decode()


def _default_instance_id() -> str:
    # Pod name in Kubernetes (HOSTNAME), plus a short random part so a restarted pod is a new instance.
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


class ListenerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKWIRE_LISTENER_", extra="ignore")

    host: str = "0.0.0.0"
    port: int = Field(8888, ge=0, le=65535)
    http_host: str = "0.0.0.0"
    http_port: int = Field(9100, ge=0, le=65535, description="metrics, health and readiness")
    instance_id: str = Field(default_factory=_default_instance_id)

    max_frame_bytes: int = Field(16 * 1024, ge=64, le=16 * 1024 * 1024)
    max_detect_bytes: int = Field(256, ge=16, le=64 * 1024)
    # Devices of this family send a keep-alive every 5-10 minutes; allow one missed.
    idle_timeout_s: float = Field(1200.0, gt=0)
    # A frame begun must be whole within this: the idle timeout is reset by every byte, so without
    # it a client trickling one byte a minute (slowloris) would hold its connection for ever.
    frame_timeout_s: float = Field(120.0, gt=0)
    max_connections: int = Field(20000, ge=1)
    max_connections_per_ip: int = Field(2000, ge=1)
    max_udp_sessions: int = Field(50000, ge=1)

    # Frames published but not yet acknowledged by Kafka, over all connections; reading stops above it.
    max_inflight_frames: int = Field(20000, ge=1)
    # Per connection: above this many unacknowledged frames the connection stops reading.
    max_inflight_per_connection: int = Field(64, ge=1)
    ack_timeout_s: float = Field(15.0, gt=0)
    # Under load, frames queued for one partition share a Kafka message (a frame batch, schemas/
    # envelopes.py) of up to this many frames: each message costs the producer and the processors'
    # Faust stream a fixed amount of work. 1: one message per frame, always.
    frames_per_message: int = Field(64, ge=1, le=4096)
    # A frame unacknowledged this long means a stalled producer: not ready, and the producer is
    # replaced (listener/publisher.py). Default: twice ack_timeout_s (the producer's request timeout).
    producer_overdue_s: float | None = Field(None, gt=0)
    shutdown_timeout_s: float = Field(10.0, gt=0)

    allowlist_enabled: bool = False
    allowlist_max_rejected_frames: int = Field(3, ge=1)

    # Signs the JT/T 808 authentication codes issued at registration; every instance needs the same
    # key. Rotating it invalidates issued codes (terminals register again). The default is public.
    # A SecretStr so that printing the settings does not print the key.
    auth_key: SecretStr = Field(SecretStr(DEVELOPMENT_AUTH_KEY), description="JT/T 808 auth-code key")

    @field_validator("auth_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("use at least 16 characters")
        return value

    @field_validator("host", "http_host")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be an address such as 0.0.0.0 or 127.0.0.1")
        return value
