"""Sink settings: env TRACKWIRE_SINK_* (the URL also as TRACKWIRE_CLICKHOUSE_URL) or CLI options.

The ClickHouse target is one URL:

    chdb:///var/lib/trackwire/clickhouse     the embedded engine (chdb) keeping its data in that directory
    chdb:var/clickhouse                      the same, relative to the working directory (the default)
    chdb://memory                            embedded, in memory (gone when the process ends)
    http://user:password@host:8123/trackwire a ClickHouse server (https:// for TLS); /trackwire is the database
    https://host:8443/trackwire              with TRACKWIRE_SINK_CLICKHOUSE_USERNAME/_PASSWORD (a Secret
                                             rather than a password in the URL) and _CA_FILE (the CA
                                             of the server's certificate; default: certifi's CAs)

Both go through clickhouse-connect's client, the embedded one through its chdb backend. For chdb
the database is `?database=NAME` (default "trackwire"). The embedded engine allows one process per
data directory: to query while the sink runs, use a ClickHouse server (or a copy of the directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import readable_file, redact_url
from schemas.clickhouse import SchemaError, check_database_name

DEFAULT_DATABASE = "trackwire"
DEFAULT_URL = "chdb:var/clickhouse"  # var/ is where local runs keep data (and git ignores)


@dataclass(frozen=True, slots=True)
class ClickHouseTarget:
    kind: str  # "chdb" | "http"
    dsn: str  # for clickhouse_connect.get_client(dsn=...), without the database
    database: str
    display: str  # the URL without its password, for logs
    # More clickhouse_connect.get_client arguments: username, password, ca_cert, verify.
    client_options: dict = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, url: str) -> "ClickHouseTarget":
        parts = urlsplit(url.strip())
        query = dict(parse_qsl(parts.query))
        if parts.scheme == "chdb":
            database = query.pop("database", DEFAULT_DATABASE)
            if parts.netloc in ("memory", ":memory:") or (not parts.netloc and parts.path in ("", ":memory:")):
                dsn = "chdb://memory"
            elif parts.netloc:
                raise ValueError(f"chdb URL {redact_url(url)}: write chdb:///absolute/path or chdb:relative/path")
            else:
                dsn = "chdb://" + os.path.abspath(unquote(parts.path))
            if query:
                dsn += "?" + urlencode(query)
            display = dsn
        elif parts.scheme in ("http", "https"):
            if not parts.hostname:
                raise ValueError(f"ClickHouse URL {redact_url(url)} names no host")
            database = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
            dsn = urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))
            host = parts.hostname + (f":{parts.port}" if parts.port else "")
            user = f"{parts.username}@" if parts.username else ""
            display = f"{parts.scheme}://{user}{host}/{database}"
        else:
            raise ValueError(f"ClickHouse URL {redact_url(url)}: the scheme must be chdb, http or https")
        try:
            check_database_name(database)
        except SchemaError as exc:
            raise ValueError(str(exc)) from None
        # clickhouse-connect ignores a DSN's scheme (it infers https from ports 443/8443 only), so
        # https://host:9443 would be plain http without `interface`.
        options = {"interface": parts.scheme} if parts.scheme in ("http", "https") else {}
        return cls(kind="chdb" if parts.scheme == "chdb" else "http", dsn=dsn, database=database, display=display,
                   client_options=options)

    def with_access(self, *, username: str | None = None, password: str | None = None,
                    ca_file: str | None = None, verify: bool = True) -> "ClickHouseTarget":
        """This target with credentials and TLS settings that are not in the URL."""
        options = dict(self.client_options)
        if username is not None:
            options["username"] = username
        if password is not None:
            options["password"] = password
        if ca_file is not None:
            options["ca_cert"] = ca_file
        if not verify:
            options["verify"] = False
        display = self.display
        if username is not None:
            scheme, _, rest = display.partition("://")
            display = f"{scheme}://{username}@{rest.rpartition('@')[2]}"
        return replace(self, client_options=options, display=display)

    def connect(self):
        """A new clickhouse-connect client (blocking: call it off the event loop)."""
        import clickhouse_connect

        # tz_mode "aware": DateTime64('UTC') columns come back as aware UTC datetimes.
        return clickhouse_connect.get_client(dsn=self.dsn, tz_mode="aware", **self.client_options)


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKWIRE_SINK_", extra="ignore", populate_by_name=True)

    clickhouse_url: str = Field(
        DEFAULT_URL,
        validation_alias=AliasChoices("TRACKWIRE_SINK_CLICKHOUSE_URL", "TRACKWIRE_CLICKHOUSE_URL"),
        description="chdb:///data/dir (embedded, default chdb:var/clickhouse) or http(s)://user:pass@host:8123/db",
    )
    batch_max_rows: int = Field(50_000, ge=1, le=1_000_000, description="Write a batch when it holds this many rows "
                                "(50,000 inserted ~40 % more rows per CPU-second than 10,000 on chdb)")
    batch_max_seconds: float = Field(1.0, gt=0, le=3600, description="... or when its oldest row is this old")
    ttl_days: int = Field(365, ge=0, description="Keep raw rows this many days after their time; 0 keeps them forever")
    retry_initial_s: float = Field(0.5, gt=0, description="First wait after a failed ClickHouse write")
    retry_max_s: float = Field(30.0, gt=0, description="Longest wait between write attempts")
    group_id: str | None = Field(
        None, min_length=1, description="Kafka consumer group (default: topic prefix + 'sink', so deployments "
                                        "sharing a cluster never share a group)")
    http_host: str = "0.0.0.0"
    http_port: int | None = Field(9102, ge=0, le=65535, description="metrics and health; None disables")
    query_port: int | None = Field(
        9104, ge=0, le=65535, description="Loopback-only, read-only SQL endpoint on the embedded engine for "
                                          "`trackwire query` while the sink owns the directory; None disables")
    shutdown_timeout_s: float = Field(15.0, gt=0, description="How long a stop may spend writing the last batch")
    fetch_max_records: int = Field(5_000, ge=1, description="Records taken from Kafka per poll at most")
    # A ClickHouse server's access, besides the URL (production: https with a Secret's password).
    clickhouse_username: str | None = Field(None, min_length=1, description="ClickHouse user (http(s) URLs)")
    clickhouse_password: SecretStr | None = Field(None, description="Password of clickhouse_username")
    clickhouse_ca_file: str | None = Field(
        None, description="PEM CA of the ClickHouse server's certificate (https); default: certifi's CAs")
    clickhouse_verify: bool = Field(True, description="Check the https server's certificate (false: tests only)")

    @field_validator("clickhouse_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        ClickHouseTarget.parse(value)
        return value

    @field_validator("clickhouse_ca_file")
    @classmethod
    def _ca_readable(cls, value: str | None) -> str | None:
        return readable_file(value)

    @model_validator(mode="after")
    def _access_fits_the_url(self) -> "SinkSettings":
        parts = urlsplit(self.clickhouse_url.strip())
        given = {name: getattr(self, f"clickhouse_{name}") for name in ("username", "password", "ca_file")}
        named = [f"TRACKWIRE_SINK_CLICKHOUSE_{name.upper()}" for name, value in given.items() if value is not None]
        if parts.scheme == "chdb" and (named or not self.clickhouse_verify):
            raise ValueError(f"{', '.join(named) or 'TRACKWIRE_SINK_CLICKHOUSE_VERIFY'} set but the ClickHouse URL "
                             "is the embedded engine (chdb): they are for http(s) servers")
        if parts.scheme == "http" and (given["ca_file"] is not None or not self.clickhouse_verify):
            raise ValueError("TRACKWIRE_SINK_CLICKHOUSE_CA_FILE/VERIFY set but the ClickHouse URL is http://: "
                             "use https:// for TLS")
        if given["ca_file"] is not None and not self.clickhouse_verify:
            raise ValueError("TRACKWIRE_SINK_CLICKHOUSE_CA_FILE set but TRACKWIRE_SINK_CLICKHOUSE_VERIFY is false: "
                             "an unchecked certificate needs no CA")
        for name in ("username", "password"):
            if given[name] is not None and getattr(parts, name):
                raise ValueError(f"the ClickHouse {name} is both in the URL and in "
                                 f"TRACKWIRE_SINK_CLICKHOUSE_{name.upper()}: give it once")
        return self

    @property
    def target(self) -> ClickHouseTarget:
        password = self.clickhouse_password.get_secret_value() if self.clickhouse_password is not None else None
        return ClickHouseTarget.parse(self.clickhouse_url).with_access(
            username=self.clickhouse_username, password=password, ca_file=self.clickhouse_ca_file,
            verify=self.clickhouse_verify)
