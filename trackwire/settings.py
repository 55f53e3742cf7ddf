"""Moved to common/settings.py (stages import it from there); kept so older imports still work."""

from common.settings import ConfigError, KafkaSettings, load  # noqa: F401
