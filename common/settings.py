"""Settings shared by every stage, from environment variables (prefix TRACKWIRE_) or CLI options.

pydantic-settings gives typed parsing and a precise message for a bad value, so a bad config fails
at start saying what to fix. KAFKA_BOOTSTRAP_SERVERS, the conventional name, is accepted too.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    # populate_by_name: CLI overrides pass field names (topic_prefix=...), the environment the aliases.
    model_config = SettingsConfigDict(env_prefix="TRACKWIRE_", extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, host:port[,host:port]",
    )
    topic_prefix: str = Field(
        default="trackwire.",
        validation_alias=AliasChoices("TRACKWIRE_TOPIC_PREFIX"),
        description="Prefix of every topic name, to share a cluster",
    )
    topic_partitions: int = Field(
        default=6,
        ge=1,
        validation_alias=AliasChoices("TRACKWIRE_TOPIC_PARTITIONS"),
        description="Partitions of each data topic (schemas/topics.py); raised on existing topics, never lowered",
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        validation_alias=AliasChoices("TRACKWIRE_TOPIC_REPLICATION_FACTOR"),
        description="Replication factor of topics that `trackwire topics` creates (3 on a production cluster)",
    )


class ConfigError(SystemExit):
    """Raised for bad configuration: exits with status 1 and prints a message that says what to fix."""

    def __init__(self, message: str):
        super().__init__(f"trackwire: configuration error: {message}")


def load(settings_cls: type[BaseSettings], **overrides) -> BaseSettings:
    """Build settings from env + explicit overrides (CLI), turning validation errors into ConfigError."""
    try:
        return settings_cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise ConfigError(problems) from None
