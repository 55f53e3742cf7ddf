"""The ClickHouse schema on the embedded engine: migrations, TTL, de-duplication, the views."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from schemas import clickhouse as ch
from sink_samples import T0, position, telemetry
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, record_from_row, row_for_record


def insert(client, db, records, token=None):
    for record in records:
        table, row = row_for_record(record)
        settings = {"insert_deduplication_token": token} if token else None
        client.insert(table, [row], column_names=COLUMN_NAMES[table], column_type_names=COLUMN_TYPES[table],
                      database=db, settings=settings)


def count(client, sql):
    return client.query(sql).result_rows[0][0]


def test_migrate_is_idempotent_and_the_columns_are_what_the_sink_writes(ch_client, ch_database):
    first = ch.migrate(ch_client, ch_database, ttl_days=30)
    assert first[0].startswith("applied migration 1")
    assert ch.migrate(ch_client, ch_database, ttl_days=30) == []
    for table, columns in ch.COLUMNS.items():
        got = ch_client.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            parameters={"db": ch_database, "t": table}).result_rows
        assert tuple(got) == columns + ch.SERVER_FILLED.get(table, ()), table


def test_ttl_follows_the_setting(ch_client, ch_database):
    ch.migrate(ch_client, ch_database, ttl_days=30)
    assert ch.migrate(ch_client, ch_database, ttl_days=7) == [f"{t}: TTL 30 days -> 7 days" for t in ch.TTL_TABLES]
    engine = ch_client.query(f"SELECT engine_full FROM system.tables WHERE database = '{ch_database}' AND name = 'positions'").result_rows[0][0]
    assert ch.current_ttl_days(engine) == 7
    assert len(ch.migrate(ch_client, ch_database, ttl_days=0)) == len(ch.TTL_TABLES)
    engine = ch_client.query(f"SELECT engine_full FROM system.tables WHERE database = '{ch_database}' AND name = 'positions'").result_rows[0][0]
    assert "TTL" not in engine


def test_an_edited_migration_is_refused(ch_client, ch_database, monkeypatch):
    ch.migrate(ch_client, ch_database, ttl_days=0)
    edited = dataclasses.replace(ch.MIGRATIONS[0], statements=ch.MIGRATIONS[0].statements + ("SELECT 1",))
    monkeypatch.setattr(ch, "MIGRATIONS", (edited, *ch.MIGRATIONS[1:]))
    with pytest.raises(ch.SchemaError, match="must not change once applied"):
        ch.migrate(ch_client, ch_database, ttl_days=0)


def test_a_newer_schema_is_refused(ch_client, ch_database):
    ch.migrate(ch_client, ch_database, ttl_days=0)
    ch_client.insert(f"{ch_database}.schema_migrations", [[99, "future", "x"]], column_names=["version", "name", "checksum"])
    with pytest.raises(ch.SchemaError, match="newer than this build"):
        ch.migrate(ch_client, ch_database, ttl_days=0)


def test_final_collapses_retransmissions_and_the_token_drops_a_retried_insert(ch_client, ch_database):
    db = ch_database
    ch.migrate(ch_client, db, ttl_days=0)
    insert(ch_client, db, [position(frame="a"), position(frame="b"), position(seconds=1)])
    assert count(ch_client, f"SELECT count() FROM {db}.positions") == 3
    assert count(ch_client, f"SELECT count() FROM {db}.positions FINAL") == 2
    insert(ch_client, db, [telemetry()], token="tok-1")
    insert(ch_client, db, [telemetry()], token="tok-1")  # the same insert, retried
    assert count(ch_client, f"SELECT count() FROM {db}.telemetry") == 1


def test_latest_position_last_seen_and_hourly_health(ch_client, ch_database):
    db = ch_database
    ch.migrate(ch_client, db, ttl_days=0)
    dev = "dev-1"
    newest = position(device_id=dev, seconds=600, lat=10.0, lon=20.0)
    older_late = position(device_id=dev, seconds=60, lat=11.0, lon=21.0)  # arrives after the newest
    invalid = position(device_id=dev, seconds=700, valid=False, lat=0.0, lon=0.0)  # not a fix to show
    network_only = position(device_id=dev, seconds=800, lat=None, lon=None)  # cells and Wi-Fi, no coordinates
    insert(ch_client, db, [newest, older_late, invalid, network_only])
    rows = ch_client.query(f"SELECT lat, lon, time FROM {db}.latest_positions FINAL WHERE device_id = '{dev}'").result_rows
    assert rows == [(10.0, 20.0, newest.time)]
    assert ch_client.query(f"SELECT max(last_seen) FROM {db}.device_last_seen WHERE device_id = '{dev}'").result_rows == [
        (network_only.time,)]

    readings = [telemetry(device_id=dev, seconds=s, heart_rate_bpm=hr, frame_id=f"f{s}")
                for s, hr in ((0, 70), (60, 90), (120, None))]
    retransmitted = dataclasses.replace(readings[1], frame_id="again")
    next_hour = telemetry(device_id=dev, seconds=3600, heart_rate_bpm=60)
    insert(ch_client, db, readings + [retransmitted, next_hour])
    rows = ch_client.query(f"""
        SELECT hour, uniqMerge(readings), uniqIfMerge(heart_rate_readings), min(heart_rate_min), max(heart_rate_max)
        FROM {db}.health_hourly WHERE device_id = '{dev}' GROUP BY hour ORDER BY hour""").result_rows
    hour = T0.replace(minute=0, second=0, microsecond=0)
    # the retransmitted reading is not counted twice
    assert rows == [(hour, 3, 2, 70, 90), (hour + timedelta(hours=1), 1, 1, 60, 60)]


def test_rows_read_back_are_the_records(ch_client, ch_database):
    db = ch_database
    ch.migrate(ch_client, db, ttl_days=0)
    records = [position(), telemetry()]
    insert(ch_client, db, records)
    got = [record_from_row(table, row) for table in (ch.POSITIONS, ch.TELEMETRY)
           for row in ch_client.query(f"SELECT * FROM {db}.{table} FINAL").named_results()]
    assert got == records
