"""The notifier's TOML config: which webhooks get which alerts. Pure: text in, a checked config out.

    map_link = "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"   # optional

    [[webhooks]]
    name = "care-desk"
    url = "https://example.org/hooks/sos"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"   # or secret_env = "CARE_DESK_SECRET"
    alarms = ["sos", "fall"]          # default; any code of schemas/alarms.py, derived ones too
    devices = ["861234567890123"]     # optional; default: every device
    retry_schedule_s = [5, 300, 1800] # optional; default: the Standard Webhooks example schedule
    timeout_s = 15                    # optional
    max_in_flight = 8                 # optional: concurrent requests to this webhook
    max_backlog = 10000               # optional: alerts waiting for this webhook, at most

Every problem is reported with the key it is about (`webhooks[0].secret: ...`), and unknown keys
are refused, so a typo never silently turns a setting off.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.alarms import SOS_ALARMS, Alarm

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24  # Standard Webhooks: "Random. At least 24 bytes (192 bits, 512 maximum)"
MAX_SECRET_BYTES = 64
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a metric label and part of the webhook-id
DEFAULT_MAP_LINK = "https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"

# The example retry schedule of the Standard Webhooks specification (spec/standard-webhooks.md,
# "Deliverability and reliability"): the wait before each retry after the first, immediate, attempt.
SPEC_RETRY_SCHEDULE_S: tuple[float, ...] = (
    5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
)


class ConfigProblem(ValueError):
    """The config cannot be used; the message names the key and says what is wrong."""


def check_secret(value: str) -> bytes:
    """The key bytes of a `whsec_<base64>` secret, or ValueError saying what is wrong."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r} followed by base64 (a Standard Webhooks secret)")
    text = value[len(SECRET_PREFIX):]
    try:
        # Unpadded base64 is accepted, as the reference library accepts it.
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"is not base64 after {SECRET_PREFIX!r}") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"holds {len(key)} bytes; a Standard Webhooks secret holds {MIN_SECRET_BYTES} to "
                         f"{MAX_SECRET_BYTES} random bytes")
    return key


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    secret: str | None = Field(None, repr=False)
    secret_env: str | None = None
    alarms: tuple[Alarm, ...] = tuple(sorted(SOS_ALARMS))
    devices: frozenset[str] | None = None
    retry_schedule_s: tuple[Annotated[float, Field(ge=0, le=7 * 24 * 3600)], ...] = SPEC_RETRY_SCHEDULE_S
    retry_jitter: float = Field(0.1, ge=0, le=0.5)
    retry_after_max_s: float = Field(3600, ge=0)
    timeout_s: float = Field(15.0, gt=0, le=300)
    max_in_flight: int = Field(8, ge=1, le=256)
    max_backlog: int = Field(10_000, ge=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("use 1 to 64 letters, digits, '-' or '_'")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None:
            check_secret(value)
        return value

    @field_validator("alarms")
    @classmethod
    def _alarms(cls, value: tuple[Alarm, ...]) -> tuple[Alarm, ...]:
        if not value:
            raise ValueError("must name at least one alarm")
        return value

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        if value is not None and not value:
            raise ValueError("an empty list matches no device; leave `devices` out to match every device")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> "WebhookConfig":
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of `secret` and `secret_env`")
        return self

    def signing_secret(self, environ: Mapping[str, str] = os.environ) -> str:
        """The `whsec_` secret, from the file or from the environment variable it names."""
        if self.secret is not None:
            return self.secret
        assert self.secret_env is not None
        value = environ.get(self.secret_env)
        if value is None:
            raise ConfigProblem(f"webhook {self.name!r}: secret_env: the environment variable "
                                f"{self.secret_env} is not set")
        try:
            check_secret(value)
        except ValueError as exc:
            raise ConfigProblem(f"webhook {self.name!r}: secret_env: {self.secret_env} {exc}") from None
        return value

    def wants(self, alarm: str, device_id: str | None) -> bool:
        """Does this webhook want an alert of `alarm` from `device_id`?"""
        if alarm not in self.alarms:
            return False
        return self.devices is None or (device_id is not None and device_id in self.devices)


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: tuple[WebhookConfig, ...]
    map_link: str = DEFAULT_MAP_LINK

    @field_validator("webhooks")
    @classmethod
    def _unique(cls, value: tuple[WebhookConfig, ...]) -> tuple[WebhookConfig, ...]:
        if not value:
            raise ValueError("define at least one [[webhooks]] table")
        seen: set[str] = set()
        for hook in value:
            if hook.name in seen:
                raise ValueError(f"two webhooks are named {hook.name!r}; names must be unique")
            seen.add(hook.name)
        return value

    @field_validator("map_link")
    @classmethod
    def _map_link(cls, value: str) -> str:
        try:
            value.format(lat=0.0, lon=0.0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may only use the placeholders {{lat}} and {{lon}} ({exc!r})") from None
        return value

    def webhook(self, name: str) -> WebhookConfig:
        for hook in self.webhooks:
            if hook.name == name:
                return hook
        raise ConfigProblem(f"no webhook named {name!r} (the config has: {', '.join(h.name for h in self.webhooks)})")

    def alarms(self) -> frozenset[Alarm]:
        """Every alarm some webhook wants."""
        return frozenset(a for hook in self.webhooks for a in hook.alarms)


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "config"


def parse_config(text: str, source: str = "config") -> NotifyConfig:
    """Parse and check the TOML text; ConfigProblem names the file, the key and the problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigProblem(f"{source}: not valid TOML: {exc}") from None
    try:
        return NotifyConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            elif err["type"] == "missing":
                message = "missing"
            problems.append(f"{_location(err['loc'])}: {message}")
        raise ConfigProblem(f"{source}: " + "; ".join(problems)) from None


def load_config(path: str) -> NotifyConfig:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigProblem(f"cannot read the notifier config {path}: {exc.strerror or exc}") from None
    config = parse_config(text, source=path)
    for hook in config.webhooks:
        hook.signing_secret()  # a missing secret_env variable fails the start, not the first alert
    return config
