"""Row mapping: records -> rows -> records again, the dedup key, and what becomes a dead letter."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from datetime import datetime, timezone

import msgpack
import pytest

from schemas import clickhouse as ch
from row_reference import reference_dedup_id, reference_row
from schemas.records import Ble, Cell, Position, Telemetry, Wifi, to_dict, to_msgpack
from sink_samples import T0, alert, dead_letter, event, every_kind, position, sparse_position, telemetry
from sinks.rows import (
    COLUMN_NAMES,
    RowError,
    Source,
    columns_for_rows,
    dead_letter_from_row,
    dedup_id,
    record_from_row,
    row_for_dead_letter,
    row_for_message,
    row_for_record,
)

SRC = Source(topic="t.positions", partition=2, offset=41, timestamp_ms=1714558899000, key=b"359339080000001")


def as_mapping(table: str, row: list) -> dict:
    # What a SELECT returns for these values: tuples come back as dicts of their named elements.
    out = dict(zip(COLUMN_NAMES[table], row))
    for name in ("cells", "wifi", "ble"):
        if name in out:
            fields = {"cells": ("mcc", "mnc", "lac", "cid", "rssi"), "wifi": ("mac", "rssi", "ssid"), "ble": ("mac", "rssi")}[name]
            out[name] = [dict(zip(fields, item)) for item in out[name]]
    return out


@pytest.mark.parametrize("record", every_kind(), ids=lambda r: f"{r.type}-{r.time is not None}")
def test_record_row_record_round_trip(record):
    table, row = row_for_record(record, SRC)
    assert len(row) == len(COLUMN_NAMES[table])
    assert record_from_row(table, as_mapping(table, row)) == record


def test_tables_by_record_type():
    tables = [row_for_record(r, SRC)[0] for r in (position(), alert(), telemetry(), event())]
    assert tables == [ch.POSITIONS, ch.ALERTS, ch.TELEMETRY, ch.EVENTS]


def test_a_retransmitted_fix_has_the_same_dedup_id_whatever_its_frame():
    first = position(frame="l1-c1-1")
    again = position(frame="l2-c9-77")  # the device sent the same fix again, on a new connection
    assert dedup_id(first) == dedup_id(again)
    assert row_for_record(first, SRC)[1][:4] == row_for_record(again, SRC)[1][:4]  # device, time, flag, dedup_id


@pytest.mark.parametrize("change", [{"lat": -33.0}, {"battery_pct": 86}, {"alarms": []}, {"protocol": "watch"}])
def test_different_content_at_the_same_time_is_a_different_row(change):
    assert dedup_id(position()) != dedup_id(position(**change))


def test_a_record_without_device_time_takes_the_kafka_timestamp():
    record = event(seconds=None)
    table, row = row_for_record(record, SRC)
    values = dict(zip(COLUMN_NAMES[table], row))
    assert values["time"] == datetime(2024, 5, 1, 10, 21, 39, tzinfo=timezone.utc)
    assert values["time_from_device"] is False


def test_time_less_records_dedupe_by_frame_then_by_kafka_coordinates():
    record = event(seconds=None)
    assert dedup_id(record, SRC) == dedup_id(record, dataclasses.replace(SRC, offset=99))  # frame decides
    assert dedup_id(record, SRC) != dedup_id(dataclasses.replace(record, frame_index=1), SRC)
    bare = dataclasses.replace(record, frame_id=None, frame_index=None)
    assert dedup_id(bare, SRC) == dedup_id(bare, SRC)  # the same message replayed
    assert dedup_id(bare, SRC) != dedup_id(bare, dataclasses.replace(SRC, offset=42))  # another message


def test_an_unknown_device_is_an_empty_device_id():
    record = position(device_id=None)
    table, row = row_for_record(record, SRC)
    assert row[0] == ""
    assert record_from_row(table, as_mapping(table, row)).device_id is None


@pytest.mark.parametrize("record", every_kind(), ids=lambda r: f"{r.type}-{r.time is not None}")
def test_a_message_gives_the_row_of_its_record(record):
    table, row, problem = row_for_message(to_msgpack(record), SRC, dead_letters=False)
    assert problem is None
    assert (table, row) == row_for_record(record, SRC)  # dedup_id from the wire map == from the record


@pytest.mark.parametrize("record, column", [
    (position(satellites=256), "satellites"),
    (position(battery_pct=-1), "battery_pct"),
    (telemetry(heart_rate_bpm=70000), "heart_rate_bpm"),
    (sparse_position().__class__(protocol="x", device_id="d", time=T0, rssi=40000), "rssi"),
])
def test_values_outside_their_column_become_dead_letters(record, column):
    with pytest.raises(RowError, match=column):
        row_for_record(record, SRC)
    payload = to_msgpack(record)
    table, row, problem = row_for_message(payload, SRC, dead_letters=False)
    assert table == ch.DEAD_LETTERS and column in problem
    letter = dead_letter_from_row(as_mapping(table, row))
    assert (letter.stage, letter.data, letter.source_topic, letter.device_id) == ("sink", payload, SRC.topic, "359339080000001")
    assert letter.at_ms == SRC.timestamp_ms


@pytest.mark.parametrize("payload, why", [
    (b"\xc1garbage", "undecodable record"),
    (msgpack.packb({"type": "position", "v": 99, "protocol": "x"}), "unsupported record schema version"),
    (msgpack.packb({"type": "spaceship", "v": 1}), "undecodable record"),
    (None, "empty message"),
])
def test_undecodable_messages_become_dead_letters(payload, why):
    table, row, problem = row_for_message(payload, SRC, dead_letters=False)
    assert table == ch.DEAD_LETTERS and why in problem
    assert dead_letter_from_row(as_mapping(table, row)).data == (payload or b"")


def test_dead_letter_envelopes_round_trip():
    letter = dead_letter()
    table, row, problem = row_for_message(letter.to_msgpack(), SRC, dead_letters=True)
    assert (table, problem) == (ch.DEAD_LETTERS, None)
    assert dead_letter_from_row(as_mapping(table, row)) == letter
    assert row_for_dead_letter(letter) == row  # a replay is the same row, dedup_id included


def test_connection_keys_are_not_device_ids():
    _, row, _ = row_for_message(b"\xc1", dataclasses.replace(SRC, key=b"conn:l1-c7"), dead_letters=False)
    assert as_mapping(ch.DEAD_LETTERS, row)["device_id"] is None


def test_rows_hold_exactly_the_records_fields():
    # Every record field has a column (or is device_id/time, handled apart): a new field fails here.
    for cls, table in ((Position, ch.POSITIONS), (Telemetry, ch.TELEMETRY)):
        names = {f.name for f in dataclasses.fields(cls)}
        assert names <= set(COLUMN_NAMES[table]), names - set(COLUMN_NAMES[table])
    for record in every_kind():
        table, _ = row_for_record(record, SRC)
        assert {f.name for f in dataclasses.fields(record)} <= set(COLUMN_NAMES[table])


# -- the wire mapping against the former record-by-record one, and columns against rows -----------------
def many_kinds() -> list:
    """every_kind and variants that reach each branch of the mapping (absent lists, time-less ones)."""
    return every_kind() + [
        position(cells=[], wifi=[], ble=[], alarms=[]), position(device_id=None, frame=None, frame_index=None),
        alert(first_time=None, last_time=None, state=None, repeat_count=None, cells=position().cells),
        telemetry(heart_rate_bpm=None, spo2_pct=None), telemetry(time=None),
        event(details={}, text=None), event(seconds=None, frame_id=None, frame_index=None),
        sparse_position().__class__(protocol="x", time=None),
    ]


@pytest.mark.parametrize("record", many_kinds(), ids=lambda r: f"{r.type}-{r.time is not None}")
def test_a_message_gives_the_row_the_former_mapping_gave(record):
    expected = reference_row(record, SRC)
    assert row_for_message(to_msgpack(record), SRC, dead_letters=False) == (*expected, None)
    assert row_for_record(record, SRC) == expected
    assert dedup_id(record, SRC) == reference_dedup_id(record, SRC)


def test_the_benchmark_mix_maps_as_before(monkeypatch):
    # The benchmark's records: the mix whose speed is measured is the mix checked here.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_sink

    for i, record in enumerate(bench_sink.make_records(300)):
        source = dataclasses.replace(SRC, offset=i)
        assert row_for_message(to_msgpack(record), source, dead_letters=False) == (*reference_row(record, source), None)


def test_columns_are_the_rows_of_each_table_transposed():
    rows: dict[str, list] = {}
    for i, record in enumerate(many_kinds()):
        table, row = row_for_record(record, dataclasses.replace(SRC, offset=i))
        rows.setdefault(table, []).append(row)
    assert set(rows) == {ch.POSITIONS, ch.ALERTS, ch.TELEMETRY, ch.EVENTS}
    for table, table_rows in rows.items():
        columns = columns_for_rows(table, table_rows)
        assert len(columns) == len(COLUMN_NAMES[table])
        for r, row in enumerate(table_rows):
            assert [column[r] for column in columns] == row
    assert columns_for_rows(ch.TELEMETRY, []) == [[] for _ in COLUMN_NAMES[ch.TELEMETRY]]


@pytest.mark.parametrize("name, type_text", [
    ("cells", "Tuple(mcc UInt16, mnc UInt16, lac UInt32, cid UInt64, rssi Nullable(Int16))"),
    ("wifi", "Tuple(mac String, rssi Nullable(Int16), ssid Nullable(String))"),
    ("ble", "Tuple(mac String, rssi Nullable(Int16))"),
])
def test_nested_tuples_follow_their_column_types(name, type_text):
    # The tuples are built in the dataclass's field order: it must be the column's element order.
    column = dict(ch.COLUMNS[ch.POSITIONS])[name]
    assert column == f"Array({type_text})"
    elements = [part.split()[0] for part in type_text[len("Tuple("):-1].split(", ")]
    assert elements == [f.name for f in dataclasses.fields({"cells": Cell, "wifi": Wifi, "ble": Ble}[name])]


def wire_of(record, **changes) -> bytes:
    body = {**to_dict(record), "v": 1, **changes}
    return msgpack.packb({k: v for k, v in body.items() if v is not DROP}, use_bin_type=True)


DROP = object()


@pytest.mark.parametrize("payload, why", [
    (wire_of(position(), colour="red"), "TypeError"),  # a field no Position has
    (wire_of(position(), protocol=DROP), "TypeError"),  # a required field missing
    (wire_of(alert(), alarm=DROP), "TypeError"),
    (wire_of(event(), event=DROP), "TypeError"),
    (wire_of(position(), alarm="sos"), "TypeError"),  # an alert's field on a position
    (wire_of(alert(), alarm="meteor"), "not a valid Alarm"),
    (wire_of(position(), alarms=["sos", "meteor"]), "not a valid Alarm"),
    (wire_of(position(), cells=[{"mcc": 1, "mnc": 1, "lac": 1}]), "Cell item"),  # no cid
    (wire_of(position(), wifi=[{"mac": "aa", "colour": 1}]), "Wifi item"),
    (wire_of(position(), time="yesterday"), "ValueError"),
    (wire_of(alert(), first_time="soon"), "ValueError"),
    (wire_of(position(), cells=None), "TypeError"),
    (wire_of(position(), lat=None, satellites="nine"), "TypeError"),  # compared with its range: not a number
])
def test_wire_maps_that_are_no_record_become_dead_letters(payload, why):
    table, row, problem = row_for_message(payload, SRC, dead_letters=False)
    assert table == ch.DEAD_LETTERS and problem.startswith("undecodable record") and why in problem, problem
    assert dead_letter_from_row(as_mapping(table, row)).data == payload


@pytest.mark.parametrize("changes, column", [
    ({"cells": [{"mcc": 70000, "mnc": 1, "lac": 1, "cid": 1}]}, "cell.mcc"),
    ({"wifi": [{"mac": "aa", "rssi": 99999}]}, "wifi.rssi"),
    ({"ble": [{"mac": "aa", "rssi": -99999}]}, "ble.rssi"),
    ({"frame_index": -1}, "frame_index"),
    ({"steps": 2**32}, "steps"),
])
def test_nested_and_frame_values_outside_their_columns_become_dead_letters(changes, column):
    table, _, problem = row_for_message(wire_of(position(), **changes), SRC, dead_letters=False)
    assert table == ch.DEAD_LETTERS and problem.startswith(f"unstorable record: {column}=")
