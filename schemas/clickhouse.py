"""The ClickHouse schema: tables, materialized views, and the versioned migrations that build them.

Applied by `migrate()` (at sink start and by `trackwire migrate`): idempotent, in version order,
each version recorded in `schema_migrations` with a checksum of its SQL so a migration edited after
it ran is refused rather than silently skipped. A schema change is a NEW migration, never an edit.

Tables (one per record type, plus dead letters), all `ReplacingMergeTree`:

    ORDER BY (device_id, time, dedup_id)    per-device time-range reads touch only that range
    PARTITION BY toYYYYMM(time)             monthly parts; the TTL drops old months
    dedup_id = 64-bit hash of the record's content (see sinks/rows.py)

Duplicates of one record (a replayed Kafka batch, a device retransmitting the same fix, a processor
re-reading a frame) carry the same (device_id, time, dedup_id), so ReplacingMergeTree keeps one of
them: read with `FINAL` (`SELECT ... FROM positions FINAL WHERE ...`) to see every record exactly
once, whether or not the background merge has run yet. The sink also gives each insert a
deduplication token, so a retried insert whose first attempt did land is dropped by ClickHouse.

Views, kept by materialized views at insert time:

    latest_positions   one row per device, its newest fix (ReplacingMergeTree(time); read FINAL)
    device_last_seen   one row per device, newest record of any kind (max of `time`)
    health_hourly      per device and hour: readings, heart-rate/SpO2/temperature/battery extremes

The materialized views see every insert, duplicates included, so they only use aggregates that a
duplicate cannot change: max/min, argMax-by-version, and `uniq(dedup_id)` for counts (no sum/avg).
Averages come from the raw table read with FINAL (README, analysts' section).

`COLUMNS` lists each table's columns as the sink writes them (name, ClickHouse type); a test checks
them against the migrated database so the two cannot drift.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

# Tables written by the sink, by record type.
POSITIONS = "positions"
ALERTS = "alerts"
TELEMETRY = "telemetry"
EVENTS = "device_events"
DEAD_LETTERS = "dead_letters"
RAW_TABLES = (POSITIONS, ALERTS, TELEMETRY, EVENTS, DEAD_LETTERS)
# Kept by materialized views.
LATEST_POSITIONS = "latest_positions"
DEVICE_LAST_SEEN = "device_last_seen"
HEALTH_HOURLY = "health_hourly"
MIGRATIONS_TABLE = "schema_migrations"

TIME = "DateTime64(3, 'UTC')"

_HEAD = (
    ("device_id", "String"),  # '' when the record names no device
    ("time", TIME),  # the device's time; when it sent none, the Kafka timestamp of the record
    ("time_from_device", "Bool"),  # false when `time` is the Kafka timestamp
    ("dedup_id", "UInt64"),
    ("protocol", "LowCardinality(String)"),
)
_FIX = (
    ("valid", "Nullable(Bool)"),
    ("lat", "Nullable(Float64)"),
    ("lon", "Nullable(Float64)"),
    ("altitude_m", "Nullable(Float64)"),
    ("speed_kmh", "Nullable(Float64)"),
    ("course_deg", "Nullable(Float64)"),
    ("satellites", "Nullable(UInt8)"),
    ("hdop", "Nullable(Float64)"),
    ("battery_pct", "Nullable(UInt8)"),
    ("rssi", "Nullable(Int16)"),
    ("steps", "Nullable(UInt32)"),
    ("cells", "Array(Tuple(mcc UInt16, mnc UInt16, lac UInt32, cid UInt64, rssi Nullable(Int16)))"),
    ("wifi", "Array(Tuple(mac String, rssi Nullable(Int16), ssid Nullable(String)))"),
    ("ble", "Array(Tuple(mac String, rssi Nullable(Int16)))"),
    ("alarms", "Array(LowCardinality(String))"),
)
_FRAME = (
    ("frame_id", "Nullable(String)"),
    ("frame_index", "Nullable(UInt32)"),
)

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    POSITIONS: _HEAD + _FIX + _FRAME,
    ALERTS: _HEAD + (("alarm", "LowCardinality(String)"),) + _FIX + (
        ("state", "LowCardinality(Nullable(String))"),
        ("repeat_count", "Nullable(UInt32)"),
        ("first_time", f"Nullable({TIME})"),
        ("last_time", f"Nullable({TIME})"),
    ) + _FRAME,
    TELEMETRY: _HEAD + (
        ("heart_rate_bpm", "Nullable(UInt16)"),
        ("spo2_pct", "Nullable(Float64)"),
        ("bp_systolic_mmhg", "Nullable(UInt16)"),
        ("bp_diastolic_mmhg", "Nullable(UInt16)"),
        ("body_temp_c", "Nullable(Float64)"),
        ("steps", "Nullable(UInt32)"),
        ("battery_pct", "Nullable(UInt8)"),
        ("battery_v", "Nullable(Float64)"),
        ("rssi", "Nullable(Int16)"),
    ) + _FRAME,
    EVENTS: _HEAD + (
        ("event", "LowCardinality(String)"),
        ("battery_pct", "Nullable(UInt8)"),
        ("rssi", "Nullable(Int16)"),
        ("text", "Nullable(String)"),
        ("details", "String"),  # JSON object: {"key": value}; read with JSONExtract*(details, 'key')
    ) + _FRAME,
    DEAD_LETTERS: (
        ("at", TIME),
        ("stage", "LowCardinality(String)"),
        ("reason", "String"),
        ("dedup_id", "UInt64"),
        ("data", "String"),  # the offending bytes, as they were
        ("protocol", "LowCardinality(Nullable(String))"),
        ("device_id", "Nullable(String)"),
        ("peer", "Nullable(String)"),
        ("frame_id", "Nullable(String)"),
        ("source_topic", "LowCardinality(Nullable(String))"),
    ),
}

# Tables the TTL setting applies to, with their time column.
TTL_TABLES = {POSITIONS: "time", ALERTS: "time", TELEMETRY: "time", EVENTS: "time", DEAD_LETTERS: "at"}


# -- the migrations: append only ------------------------------------------------------------------
# Codecs: DoubleDelta for per-device increasing times, Gorilla for slowly moving floats
# (coordinates), ZSTD(1) after them and on everything else large. LowCardinality for the few-valued
# strings (protocol, alarm, event, stage). device_id is a plain String: a fleet has far more
# devices than LowCardinality dictionaries suit, and as the first key column it compresses to
# almost nothing anyway.

_HEAD_DDL = """
    device_id         String                  CODEC(ZSTD(1)),
    time              DateTime64(3, 'UTC')    CODEC(DoubleDelta, ZSTD(1)),
    time_from_device  Bool,
    dedup_id          UInt64,
    protocol          LowCardinality(String),"""

_FIX_DDL = """
    valid             Nullable(Bool),
    lat               Nullable(Float64)       CODEC(Gorilla, ZSTD(1)),
    lon               Nullable(Float64)       CODEC(Gorilla, ZSTD(1)),
    altitude_m        Nullable(Float64)       CODEC(Gorilla, ZSTD(1)),
    speed_kmh         Nullable(Float64)       CODEC(ZSTD(1)),
    course_deg        Nullable(Float64)       CODEC(ZSTD(1)),
    satellites        Nullable(UInt8),
    hdop              Nullable(Float64)       CODEC(ZSTD(1)),
    battery_pct       Nullable(UInt8),
    rssi              Nullable(Int16),
    steps             Nullable(UInt32)        CODEC(ZSTD(1)),
    cells             Array(Tuple(mcc UInt16, mnc UInt16, lac UInt32, cid UInt64, rssi Nullable(Int16))) CODEC(ZSTD(1)),
    wifi              Array(Tuple(mac String, rssi Nullable(Int16), ssid Nullable(String))) CODEC(ZSTD(1)),
    ble               Array(Tuple(mac String, rssi Nullable(Int16))) CODEC(ZSTD(1)),
    alarms            Array(LowCardinality(String)),"""

_FRAME_DDL = """
    frame_id          Nullable(String)        CODEC(ZSTD(1)),
    frame_index       Nullable(UInt32)"""

# ReplacingMergeTree: rows with equal ORDER BY collapse to one (read FINAL for the collapsed view).
# non_replicated_deduplication_window: remember the last inserts' tokens (insert_deduplication_token).
_DEVICE_TABLE_TAIL = """
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
PRIMARY KEY (device_id, time)
ORDER BY (device_id, time, dedup_id)
SETTINGS non_replicated_deduplication_window = 1000"""

_V1 = [
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{MIGRATIONS_TABLE}
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version""",
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{POSITIONS}
({_HEAD_DDL}{_FIX_DDL}{_FRAME_DDL}
){_DEVICE_TABLE_TAIL}""",
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{ALERTS}
({_HEAD_DDL}
    alarm             LowCardinality(String),{_FIX_DDL}
    state             LowCardinality(Nullable(String)),
    repeat_count      Nullable(UInt32),
    first_time        Nullable(DateTime64(3, 'UTC')),
    last_time         Nullable(DateTime64(3, 'UTC')),{_FRAME_DDL}
){_DEVICE_TABLE_TAIL}""",
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{TELEMETRY}
({_HEAD_DDL}
    heart_rate_bpm    Nullable(UInt16)        CODEC(ZSTD(1)),
    spo2_pct          Nullable(Float64)       CODEC(ZSTD(1)),
    bp_systolic_mmhg  Nullable(UInt16)        CODEC(ZSTD(1)),
    bp_diastolic_mmhg Nullable(UInt16)        CODEC(ZSTD(1)),
    body_temp_c       Nullable(Float64)       CODEC(ZSTD(1)),
    steps             Nullable(UInt32)        CODEC(ZSTD(1)),
    battery_pct       Nullable(UInt8),
    battery_v         Nullable(Float64)       CODEC(ZSTD(1)),
    rssi              Nullable(Int16),{_FRAME_DDL}
){_DEVICE_TABLE_TAIL}""",
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{EVENTS}
({_HEAD_DDL}
    event             LowCardinality(String),
    battery_pct       Nullable(UInt8),
    rssi              Nullable(Int16),
    text              Nullable(String)        CODEC(ZSTD(1)),
    details           String                  CODEC(ZSTD(1)),{_FRAME_DDL}
){_DEVICE_TABLE_TAIL}""",
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{DEAD_LETTERS}
(
    at                DateTime64(3, 'UTC')    CODEC(DoubleDelta, ZSTD(1)),
    stage             LowCardinality(String),
    reason            String                  CODEC(ZSTD(1)),
    dedup_id          UInt64,
    data              String                  CODEC(ZSTD(3)),
    protocol          LowCardinality(Nullable(String)),
    device_id         Nullable(String)        CODEC(ZSTD(1)),
    peer              Nullable(String)        CODEC(ZSTD(1)),
    frame_id          Nullable(String)        CODEC(ZSTD(1)),
    source_topic      LowCardinality(Nullable(String))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (stage, at, dedup_id)
SETTINGS non_replicated_deduplication_window = 1000""",
    # Latest fix per device, from positions and from alerts that carry one. The version column
    # `time` makes the newest fix win, whatever order fixes arrive in. (No `expr AS lat` in these
    # views: ClickHouse would read `lat` in the WHERE as that alias, not as the column.)
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{LATEST_POSITIONS}
(
    device_id         String,
    time              DateTime64(3, 'UTC'),
    source            LowCardinality(String),
    protocol          LowCardinality(String),
    valid             Nullable(Bool),
    lat               Nullable(Float64),      -- never NULL here: typed as in `positions` so the
    lon               Nullable(Float64),      -- views select the column itself (see below)
    altitude_m        Nullable(Float64),
    speed_kmh         Nullable(Float64),
    course_deg        Nullable(Float64),
    satellites        Nullable(UInt8),
    hdop              Nullable(Float64),
    battery_pct       Nullable(UInt8)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY device_id""",
    *(
        f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{LATEST_POSITIONS}_from_{source} TO {{db}}.{LATEST_POSITIONS} AS
SELECT device_id, time, '{kind}' AS source, protocol, valid, lat, lon,
       altitude_m, speed_kmh, course_deg, satellites, hdop, battery_pct
FROM {{db}}.{source}
WHERE device_id != '' AND lat IS NOT NULL AND lon IS NOT NULL AND ifNull(valid, true)"""
        for source, kind in ((POSITIONS, "position"), (ALERTS, "alert"))
    ),
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{DEVICE_LAST_SEEN}
(
    device_id         String,
    last_seen         SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY device_id""",
    *(
        f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{DEVICE_LAST_SEEN}_from_{source} TO {{db}}.{DEVICE_LAST_SEEN} AS
SELECT device_id, max(time) AS last_seen
FROM {{db}}.{source}
WHERE device_id != ''
GROUP BY device_id"""
        for source in (POSITIONS, ALERTS, TELEMETRY, EVENTS)
    ),
    f"""
CREATE TABLE IF NOT EXISTS {{db}}.{HEALTH_HOURLY}
(
    device_id         String,
    hour              DateTime('UTC'),
    readings          AggregateFunction(uniq, UInt64),
    heart_rate_readings AggregateFunction(uniqIf, UInt64, UInt8),
    heart_rate_min    SimpleAggregateFunction(min, Nullable(UInt16)),
    heart_rate_max    SimpleAggregateFunction(max, Nullable(UInt16)),
    spo2_min          SimpleAggregateFunction(min, Nullable(Float64)),
    body_temp_max     SimpleAggregateFunction(max, Nullable(Float64)),
    bp_systolic_max   SimpleAggregateFunction(max, Nullable(UInt16)),
    battery_min       SimpleAggregateFunction(min, Nullable(UInt8)),
    steps_max         SimpleAggregateFunction(max, Nullable(UInt32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (device_id, hour)""",
    f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{HEALTH_HOURLY}_from_{TELEMETRY} TO {{db}}.{HEALTH_HOURLY} AS
SELECT device_id,
       toStartOfHour(time) AS hour,
       uniqState(dedup_id) AS readings,
       uniqIfState(dedup_id, toUInt8(heart_rate_bpm IS NOT NULL)) AS heart_rate_readings,
       min(heart_rate_bpm) AS heart_rate_min,
       max(heart_rate_bpm) AS heart_rate_max,
       min(spo2_pct) AS spo2_min,
       max(body_temp_c) AS body_temp_max,
       max(bp_systolic_mmhg) AS bp_systolic_max,
       min(battery_pct) AS battery_min,
       max(steps) AS steps_max
FROM {{db}}.{TELEMETRY}
WHERE device_id != ''
GROUP BY device_id, hour""",
]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]  # `{db}` stands for the database name

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n;\n".join(self.statements).encode()).hexdigest()[:16]


# Columns the server fills on insert (the sink never writes them), after COLUMNS in each table.
SERVER_FILLED: dict[str, tuple[tuple[str, str], ...]] = {
    table: (("ingested_at", TIME),) for table in (POSITIONS, ALERTS, TELEMETRY, EVENTS)
}

# When each row reached ClickHouse (its insert), for freshness queries and the end-to-end
# benchmark's "frame sent -> row visible" latency; inserts never name it, the server fills it.
_V2 = [
    f"ALTER TABLE {{db}}.{table} ADD COLUMN IF NOT EXISTS ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) "
    f"CODEC(DoubleDelta, ZSTD(1))"
    for table in (POSITIONS, ALERTS, TELEMETRY, EVENTS)
]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables, latest positions, last seen, hourly health", tuple(_V1)),
    Migration(2, "ingested_at on the device tables", tuple(_V2)),
)


# -- applying them ---------------------------------------------------------------------------------
class Client(Protocol):
    """The part of clickhouse_connect's Client that migrations use."""

    def command(self, cmd: str, parameters=None, settings=None): ...

    def query(self, query: str, parameters=None, settings=None): ...

    def insert(self, table: str, data, column_names=..., database=None, settings=None): ...


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to this build's version; the message says why."""


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_database_name(database: str) -> str:
    if not _IDENTIFIER.match(database):
        raise SchemaError(f"database name {database!r} must be letters, digits and underscores")
    return database


def migrate(client: Client, database: str, ttl_days: int) -> list[str]:
    """Bring `database` to the newest schema and TTL; returns one line per thing done (empty: nothing)."""
    check_database_name(database)
    done: list[str] = []
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(_V1[0].format(db=database))  # the log itself, so it can be read below
    applied = {
        int(version): checksum
        for version, checksum in client.query(
            f"SELECT version, argMax(checksum, applied_at) FROM {database}.{MIGRATIONS_TABLE} GROUP BY version"
        ).result_rows
    }
    known = {m.version for m in MIGRATIONS}
    newer = sorted(set(applied) - known)
    if newer:
        raise SchemaError(
            f"database {database} has schema version {newer[-1]}, newer than this build knows "
            f"({max(known)}): run a newer trackwire"
        )
    for migration in MIGRATIONS:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise SchemaError(
                    f"migration {migration.version} ({migration.name}) was applied to {database} with checksum "
                    f"{applied[migration.version]} but this build's is {migration.checksum}: a migration must not "
                    "change once applied; add a new one"
                )
            continue
        # Every statement is idempotent (IF NOT EXISTS), so a migration cut short re-runs whole.
        for statement in migration.statements:
            client.command(statement.format(db=database))
        client.insert(
            f"{database}.{MIGRATIONS_TABLE}", [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(f"applied migration {migration.version}: {migration.name}")
    done += apply_ttl(client, database, ttl_days)
    return done


_TTL_DAYS = re.compile(r"\bTTL\b.*?toIntervalDay\((\d+)\)")


def current_ttl_days(engine_full: str) -> int:
    """The TTL in days from system.tables.engine_full; 0 when the table has none."""
    found = _TTL_DAYS.search(engine_full)
    return int(found.group(1)) if found else 0


def apply_ttl(client: Client, database: str, ttl_days: int) -> list[str]:
    """Set the raw tables' TTL to `ttl_days` (0: keep forever), altering only tables that differ."""
    if ttl_days < 0:
        raise SchemaError(f"ttl_days must be 0 (keep forever) or more, got {ttl_days}")
    engines = dict(client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows)
    done = []
    for table, column in TTL_TABLES.items():
        have = current_ttl_days(engines.get(table, ""))
        if have == ttl_days:
            continue
        if ttl_days == 0:
            client.command(f"ALTER TABLE {database}.{table} REMOVE TTL")
        else:
            client.command(f"ALTER TABLE {database}.{table} MODIFY TTL toDateTime({column}) + INTERVAL {ttl_days} DAY")
        done.append(f"{table}: TTL {_days(have)} -> {_days(ttl_days)}")
    return done


def _days(days: int) -> str:
    return f"{days} days" if days else "none"
