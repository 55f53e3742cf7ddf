"""Processor settings: env prefix TRACKWIRE_PROCESSOR_, thresholds global and per device.

Every threshold can be switched off with null, globally or for one device. Per-device overrides
are a JSON mapping from device id to the fields that differ, e.g.

    TRACKWIRE_PROCESSOR_DEVICE_THRESHOLDS='{"359339080000001": {"heart_rate_high_bpm": 150,
                                            "offline_after_s": 3600}}'

Semantics of each threshold: "high" alerts open when a reading goes ABOVE the threshold, "low"
alerts when it goes BELOW; an open alert clears when the reading is back inside the threshold by
the hysteresis margin (so a value jittering around the threshold is one episode, not a flood).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Thresholds(BaseModel):
    """The thresholds that apply to one device. None switches a check off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offline_after_s: float | None = Field(600.0, gt=0, description="Open `offline` after this long without a frame")
    battery_low_pct: float | None = Field(20.0, description="Open `low_battery` when battery_pct goes below this")
    battery_clear_margin_pct: float = Field(5.0, ge=0, description="`low_battery` clears at threshold + margin")
    heart_rate_high_bpm: float | None = Field(120.0, description="Open `heart_rate_high` above this")
    heart_rate_low_bpm: float | None = Field(40.0, description="Open `heart_rate_low` below this")
    heart_rate_clear_margin_bpm: float = Field(5.0, ge=0)
    spo2_low_pct: float | None = Field(90.0, description="Open `spo2_low` below this")
    spo2_clear_margin_pct: float = Field(1.0, ge=0)
    body_temp_high_c: float | None = Field(38.0, description="Open `body_temp_high` above this")
    body_temp_clear_margin_c: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _heart_rate_order(self) -> "Thresholds":
        high, low = self.heart_rate_high_bpm, self.heart_rate_low_bpm
        if high is not None and low is not None and low >= high:
            raise ValueError(f"heart_rate_low_bpm ({low}) must be below heart_rate_high_bpm ({high})")
        return self

    def override(self, changes: dict) -> "Thresholds":
        """These thresholds with `changes` applied, validated like the global ones."""
        return Thresholds.model_validate({**self.model_dump(), **changes})


_THRESHOLD_FIELDS = frozenset(Thresholds.model_fields)


class ProcessorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKWIRE_PROCESSOR_", extra="ignore")

    app_id: str | None = Field(
        None, description="Faust app id = consumer group and prefix of its changelog topics "
                          "(default: the topic prefix + 'processor', e.g. trackwire.processor)")
    web_port: int | None = Field(None, ge=1, le=65535, description="Faust web server port; None disables it")
    http_host: str = Field("0.0.0.0", description="address of the health/readiness/metrics server")
    http_port: int | None = Field(
        9101, ge=0, le=65535, description="/healthz, /readyz and /metrics (Prometheus); empty or None disables it")
    batch_max: int = Field(500, ge=1, description="Raw frames processed together at most (Faust's take_events; one "
                                                   "state write per device per batch). 1 reads event by event: "
                                                   "~1.7x the CPU per frame (benchmarks/bench_processors.py)")
    batch_wait_s: float = Field(
        0.01, gt=0, description="How long a batch waits for more frames before it is processed: the latency "
                                "it may add to an SOS alert when the stream is quiet")
    store: str = Field("memory://", description="Faust table store; state is recovered from the changelog topic")
    standby_replicas: int = Field(0, ge=0, description="Faust table standby replicas")
    tick_interval_s: float = Field(1.0, gt=0, description="How often the timer looks for due offline/SOS deadlines")
    sos_episode_gap_s: float = Field(
        300.0, gt=0, description="An SOS/fall repeat within this long of the previous one belongs to the same episode")
    max_future_s: float = Field(86400.0, gt=0, description="Fixes timed further ahead of reception are rejected")
    commit_interval_s: float = Field(1.0, gt=0, description="Kafka offset commit interval")
    fetch_wait_s: float = Field(
        0.05, gt=0, le=1.0,
        description="Longest wait of one fetch for new raw frames. Faust asks with 1 s, and under steady load "
                    "that wait was seen to run its full length (SOS alerts 1.1-1.3 s late); see app.bound_fetch_wait")
    session_timeout_s: float | None = Field(
        None, gt=0, description="Consumer group session timeout: how soon a crashed worker's partitions move "
                                "(None: Faust's default, 60 s; the broker's minimum is usually 6 s)")
    log_level: str | None = Field(None, description="our loggers' level; None: TRACKWIRE_LOG_LEVEL (common/logging.py)")

    # Thresholds, global (flattened so each is one env var, e.g. TRACKWIRE_PROCESSOR_SPO2_LOW_PCT=92)
    offline_after_s: float | None = Thresholds.model_fields["offline_after_s"].default
    battery_low_pct: float | None = Thresholds.model_fields["battery_low_pct"].default
    battery_clear_margin_pct: float = Thresholds.model_fields["battery_clear_margin_pct"].default
    heart_rate_high_bpm: float | None = Thresholds.model_fields["heart_rate_high_bpm"].default
    heart_rate_low_bpm: float | None = Thresholds.model_fields["heart_rate_low_bpm"].default
    heart_rate_clear_margin_bpm: float = Thresholds.model_fields["heart_rate_clear_margin_bpm"].default
    spo2_low_pct: float | None = Thresholds.model_fields["spo2_low_pct"].default
    spo2_clear_margin_pct: float = Thresholds.model_fields["spo2_clear_margin_pct"].default
    body_temp_high_c: float | None = Thresholds.model_fields["body_temp_high_c"].default
    body_temp_clear_margin_c: float = Thresholds.model_fields["body_temp_clear_margin_c"].default

    device_thresholds: dict[str, dict] = Field(
        default_factory=dict, description="JSON: device id -> threshold fields that differ for that device")

    @field_validator("http_port", mode="before")
    @classmethod
    def _empty_disables(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
            return None
        return value

    @model_validator(mode="after")
    def _validate_thresholds(self) -> "ProcessorSettings":
        base = self.global_thresholds()  # raises with the field name if a global value is bad
        for device_id, changes in self.device_thresholds.items():
            unknown = set(changes) - _THRESHOLD_FIELDS
            if unknown:
                raise ValueError(f"device_thresholds[{device_id!r}]: unknown field(s) {sorted(unknown)}; "
                                 f"known: {sorted(_THRESHOLD_FIELDS)}")
            try:
                base.override(changes)
            except ValueError as exc:
                raise ValueError(f"device_thresholds[{device_id!r}]: {exc}") from None
        return self

    def global_thresholds(self) -> Thresholds:
        return Thresholds(**{name: getattr(self, name) for name in _THRESHOLD_FIELDS})

    def thresholds(self) -> "ThresholdBook":
        return ThresholdBook(self.global_thresholds(), self.device_thresholds)


class ThresholdBook:
    """Thresholds per device: the global ones with that device's overrides, built once per device."""

    def __init__(self, default: Thresholds, overrides: dict[str, dict] | None = None) -> None:
        self.default = default
        self._overrides = dict(overrides or {})
        self._cache: dict[str, Thresholds] = {}

    def for_device(self, device_id: str | None) -> Thresholds:
        if device_id is None or device_id not in self._overrides:
            return self.default
        found = self._cache.get(device_id)
        if found is None:
            found = self._cache[device_id] = self.default.override(self._overrides[device_id])
        return found
