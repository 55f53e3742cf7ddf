"""The sink's insert block (sinks/msgpack_block.py): ClickHouse's MsgPack input, rows unchanged.

The end-to-end proof that every table's rows survive it is tests/sinks/test_sink_kafka.py (records
through Kafka and the sink, read back equal); here the encoding's own edges, and one insert per
table through the writer read back from the embedded engine."""

from __future__ import annotations

from datetime import datetime, timezone

import msgpack

from schemas import clickhouse as ch
from sink_samples import dead_letter, every_kind
from sinks.msgpack_block import encode_rows, time_columns
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, Source, record_from_row, row_for_dead_letter, row_for_record
from sinks.settings import ClickHouseTarget
from sinks.writer import ClickHouseWriter

T = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=timezone.utc)


def _values(block: bytes):
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(block)
    yield from unpacker


def test_the_time_columns_are_found_plain_and_nullable():
    assert time_columns(["String", "DateTime64(3, 'UTC')", "Nullable(DateTime64(3, 'UTC'))", "UInt64"]) == (1, 2)
    assert time_columns(COLUMN_TYPES[ch.POSITIONS]) == (1,)


def test_rows_become_values_one_after_another_without_array_headers():
    for width in (3, 15, 16, 40):  # a fixarray header is one byte, an array16 header three
        rows = [[f"r{r}c{c}" for c in range(width)] for r in range(2)]
        assert list(_values(encode_rows(rows, ()))) == [v for row in rows for v in row]


def test_times_go_as_milliseconds_and_the_rows_are_not_changed():
    naive = datetime(2024, 5, 1, 10, 20, 30, 123999)  # UTC; sub-millisecond digits are cut, not rounded
    rows = [["a", T, None], ["b", naive, T], ["c", 1714558830123, None]]
    before = [list(row) for row in rows]
    values = list(_values(encode_rows(rows, (1, 2))))
    assert values == ["a", 1714558830123, None, "b", 1714558830123, 1714558830123, "c", 1714558830123, None]
    assert rows == before
    assert encode_rows([], (1,)) == b""


async def test_every_table_reads_back_what_was_inserted(tmp_path):
    writer = ClickHouseWriter(ClickHouseTarget.parse(f"chdb:{tmp_path}/ch").connect, "trackwire")
    try:
        await writer.migrate(0)
        records = every_kind()
        by_table: dict[str, list] = {}
        record_of: dict[int, object] = {}  # dedup id -> the record its row was made from
        for i, record in enumerate(records):
            table, row = row_for_record(record, Source("t", 0, i, 1714558830000))
            by_table.setdefault(table, []).append(row)
            record_of[row[COLUMN_NAMES[table].index("dedup_id")]] = record
        by_table[ch.DEAD_LETTERS] = [row_for_dead_letter(dead_letter())]
        assert len(by_table) == 5
        for table, rows in by_table.items():
            await writer.insert(table, rows, COLUMN_NAMES[table], COLUMN_TYPES[table], token=f"t-{table}")
        for table, rows in by_table.items():
            result = await writer.query(f"SELECT {', '.join(COLUMN_NAMES[table])} FROM trackwire.{table} "
                                        "ORDER BY dedup_id" if table != ch.DEAD_LETTERS else
                                        f"SELECT {', '.join(COLUMN_NAMES[table])} FROM trackwire.{table}")
            stored = [dict(zip(result.column_names, values)) for values in result.result_rows]
            assert len(stored) == len(rows), table
            if table == ch.DEAD_LETTERS:
                sent = dict(zip(COLUMN_NAMES[table], rows[0]))
                raw = await writer.query(f"SELECT lower(hex(data)) FROM trackwire.{table}")
                assert raw.result_rows[0][0] == sent["data"].hex()  # the bytes as they were, not as text
                assert {k: v for k, v in stored[0].items() if k != "data"} == \
                    {k: v for k, v in sent.items() if k != "data"}
                continue
            for got in stored:
                assert record_from_row(table, got) == record_of[got["dedup_id"]]
            if table == ch.EVENTS:  # the time-less event stored the Kafka timestamp that stood in for it
                assert any(not got["time_from_device"] and got["time"] == datetime(2024, 5, 1, 10, 20, 30,
                                                                                   tzinfo=timezone.utc)
                           for got in stored)
    finally:
        await writer.close()
