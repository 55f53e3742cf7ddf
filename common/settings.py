"""Settings shared by every stage, from environment variables (prefix TRACKWIRE_) or CLI options.

pydantic-settings gives typed parsing and a precise message for a bad value, so a bad config fails
at start saying what to fix. KAFKA_BOOTSTRAP_SERVERS, the conventional name, is accepted too.
"""

from __future__ import annotations

import re
import ssl
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# The environment variable of each security setting: validation messages name what to fix.
_ENV = {
    "security_protocol": "TRACKWIRE_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "TRACKWIRE_KAFKA_SASL_MECHANISM",
    "sasl_username": "TRACKWIRE_KAFKA_SASL_USERNAME",
    "sasl_password": "TRACKWIRE_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "TRACKWIRE_KAFKA_SSL_CAFILE",
    "ssl_certfile": "TRACKWIRE_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "TRACKWIRE_KAFKA_SSL_KEYFILE",
    "ssl_key_password": "TRACKWIRE_KAFKA_SSL_KEY_PASSWORD",
}
_SASL_FIELDS = ("sasl_mechanism", "sasl_username", "sasl_password")
_TLS_FIELDS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")


def readable_file(value: str | None) -> str | None:
    """`value` if it names a file this process can read (pydantic's message names the setting)."""
    if value is None:
        return None
    try:
        with open(value, "rb"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or exc}") from None
    return value


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

    # Security of every Kafka client (common/kafka_security.py turns these into client options).
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices(_ENV["security_protocol"]),
        description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)",
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, validation_alias=AliasChoices(_ENV["sasl_mechanism"]),
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols only)",
    )
    sasl_username: str | None = Field(default=None, min_length=1, validation_alias=AliasChoices(_ENV["sasl_username"]))
    sasl_password: SecretStr | None = Field(default=None, validation_alias=AliasChoices(_ENV["sasl_password"]))
    ssl_cafile: str | None = Field(
        default=None, validation_alias=AliasChoices(_ENV["ssl_cafile"]),
        description="PEM file of the CA that signed the brokers' certificates (default: the system's CAs)",
    )
    ssl_certfile: str | None = Field(
        default=None, validation_alias=AliasChoices(_ENV["ssl_certfile"]),
        description="PEM client certificate, for brokers that require one (mTLS); needs ssl_keyfile",
    )
    ssl_keyfile: str | None = Field(
        default=None, validation_alias=AliasChoices(_ENV["ssl_keyfile"]),
        description="PEM private key of the client certificate",
    )
    ssl_key_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices(_ENV["ssl_key_password"]),
        description="Password of an encrypted ssl_keyfile",
    )

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _file_readable(cls, value: str | None) -> str | None:
        return readable_file(value)

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _security_consistent(self) -> "KafkaSettings":
        protocol = f"{_ENV['security_protocol']}={self.security_protocol}"
        if self.uses_sasl:
            missing = [_ENV[name] for name in _SASL_FIELDS if getattr(self, name) is None]
            if missing:
                raise ValueError(f"{protocol} needs {', '.join(missing)}")
        else:
            stray = [_ENV[name] for name in _SASL_FIELDS if getattr(self, name) is not None]
            if stray:
                raise ValueError(f"{', '.join(stray)} set but {protocol} does not use SASL "
                                 "(set it to SASL_SSL or SASL_PLAINTEXT)")
        if not self.uses_tls:
            stray = [_ENV[name] for name in _TLS_FIELDS if getattr(self, name) is not None]
            if stray:
                raise ValueError(f"{', '.join(stray)} set but {protocol} does not use TLS "
                                 "(set it to SSL or SASL_SSL)")
            return self
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            given, needed = ("ssl_certfile", "ssl_keyfile") if self.ssl_keyfile is None else ("ssl_keyfile", "ssl_certfile")
            raise ValueError(f"{_ENV[given]} needs {_ENV[needed]} too (a client certificate and its key)")
        if self.ssl_key_password is not None and self.ssl_keyfile is None:
            raise ValueError(f"{_ENV['ssl_key_password']} set without {_ENV['ssl_keyfile']}")
        self.ssl_context()  # unreadable PEM, a key that does not match its certificate, a wrong key password
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of every client (aiokafka's create_ssl_context: hostname checked)."""
        from aiokafka.helpers import create_ssl_context

        # Without a configured password a callable that refuses: OpenSSL would prompt on the terminal.
        password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else _no_key_password
        try:
            context = create_ssl_context(cafile=self.ssl_cafile)
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"{_ENV['ssl_cafile']}={self.ssl_cafile}: not a PEM CA certificate: {exc}") from None
        if self.ssl_certfile is not None:
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password)
            except (ssl.SSLError, ValueError) as exc:
                raise ValueError(
                    f"{_ENV['ssl_certfile']}={self.ssl_certfile} with {_ENV['ssl_keyfile']}={self.ssl_keyfile}: "
                    f"cannot load the client certificate and key (not PEM, not a pair, or a wrong "
                    f"{_ENV['ssl_key_password']}): {exc}") from None
        return context


class ConfigError(SystemExit):
    """Raised for bad configuration: exits with status 1 and prints a message that says what to fix."""

    def __init__(self, message: str):
        super().__init__(f"trackwire: configuration error: {message}")


def load(settings_cls: type[BaseSettings], **overrides) -> BaseSettings:
    """Build settings from env + explicit overrides (CLI), turning validation errors into ConfigError."""
    try:
        return settings_cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(problems) from None


def _no_key_password() -> str:
    raise ValueError(f"the key is encrypted: set {_ENV['ssl_key_password']}")


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    if not where:  # a check across fields: its input is every setting, passwords too, so leave it out
        return message
    if "password" in where.lower():
        return f"{where}: {message}"
    value = err.get("input")
    shown = redact_url(value) if isinstance(value, str) else repr(value)
    return f"{where}: {message} (got {shown})"


def redact_url(value: str) -> str:
    """A URL's password hidden (user:secret@host -> user:***@host), as the repr of the string."""
    return repr(re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", value))
