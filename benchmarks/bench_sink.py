"""Rows per second one sink worker inserts into the embedded ClickHouse engine (chdb).

    python benchmarks/bench_sink.py [--records 200000] [--batch-rows 50000] [--fetch-records 5000] [--data-dir DIR]

Three figures, each over the same mix of records (2/3 positions with cells and Wi-Fi, 1/3 health
readings, from 1,000 devices):

1. mapping:  Kafka message bytes -> ClickHouse row (decode, validate, dedup hash), in process;
2. insert:   those rows inserted in batches into chdb, no Kafka: as the sink does it (one MsgPack
             block per table, parsed by ClickHouse: sinks/msgpack_block.py), and for comparison through
             clickhouse-connect's own `insert` as rows and pivoted to columns (`column_oriented=True`);
3. raw:      a plain aiokafka consumer reading the same topics (same messages, same run) and doing
             nothing with them: the ceiling one Python consumer sets, the sink's baseline;
4. sink:     a real `Sink` (one worker, one process) reading the records from Kafka and writing them,
             from its start until ClickHouse holds every row (commits included), and its ratio to (3).

(3) and (4) need a Kafka broker: KAFKA_BOOTSTRAP_SERVERS, or 127.0.0.1:9092 (`bash deploy/local/kafka.sh start`).
The benchmark's topics (prefix bench-<random>.) are deleted at the end; the chdb directory is a
temporary one unless --data-dir is given.

What it showed (2026-12, the shared 2-core machine at load 8-18, so wall-clock figures swing 2-4x;
the per-CPU-second figure is the steadier one). cProfile of the former mapping: from_dict and the
Record build ~26 % of it, the dedup hash ~31 % (dict comprehension, msgpack, blake2b), the rest
msgpack decoding and per-field range checks; of an insert: chdb's engine ~50-60 %, clickhouse-connect
writing the Array(Tuple) columns (cells, wifi) ~20 %. Mapping straight from the msgpack map (no
Record) gained ~10-25 % per CPU-second; pivoting rows to columns for `column_oriented=True` cost
more CPU than clickhouse-connect's own row path (so the sink sends rows); batches of 50,000 rows
instead of 10,000 cut the insert's CPU per row by ~30 %. The sink stays far below the raw consumer:
it maps on the event loop and waits for each insert before it reads on.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas import clickhouse as ch  # noqa: E402
from schemas.records import Cell, Position, Telemetry, Wifi, to_msgpack  # noqa: E402
from schemas.topics import RECORD_TOPICS  # noqa: E402
from sinks import metrics  # noqa: E402
from sinks.batching import Batch  # noqa: E402
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, DEDUP_INDEX, Source, columns_for_rows, row_for_message  # noqa: E402

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def make_records(n: int, devices: int = 1000) -> list:
    out = []
    for i in range(n):
        device = f"86{i % devices:013d}"
        when = T0 + timedelta(seconds=10 * (i // devices))
        if i % 3:
            out.append(Position(
                protocol="gt06", device_id=device, time=when, valid=True, lat=52.5 + (i % 977) / 1e5,
                lon=13.4 + (i % 991) / 1e5, speed_kmh=float(i % 60), course_deg=float(i % 360), satellites=8 + i % 4,
                battery_pct=90 - i % 50, rssi=-70 - i % 20, cells=[Cell(mcc=262, mnc=1, lac=4711, cid=i % 5000, rssi=-80)],
                wifi=[Wifi(mac=f"aa:bb:cc:dd:{i % 256:02x}:01", rssi=-60)], frame_id=f"bench-{i}", frame_index=0))
        else:
            out.append(Telemetry(
                protocol="watch", device_id=device, time=when, heart_rate_bpm=60 + i % 60, spo2_pct=95.0 + i % 5,
                battery_pct=80 - i % 40, steps=i, frame_id=f"bench-{i}", frame_index=0))
    return out


def bench_mapping(payloads: list[bytes]) -> tuple[float, float, list]:
    """(rows/s, rows per CPU-second, the mapped rows): CPU time too, as the machine may be shared."""
    started, cpu = time.perf_counter(), time.process_time()
    mapped = [row_for_message(p, Source("t", 0, i, 0), dead_letters=False) for i, p in enumerate(payloads)]
    return len(payloads) / (time.perf_counter() - started), len(payloads) / (time.process_time() - cpu), mapped


def bench_insert(dsn: str, database: str, mapped: list, batch_rows: int, how: str) -> float:
    """Rows/s of inserting the mapped rows in batches: "msgpack" (the sink's block, encoding included),
    or clickhouse-connect's `insert` with "rows" or "columns"."""
    import clickhouse_connect
    from clickhouse_connect.driver.binding import quote_identifier

    from sinks.msgpack_block import encode_rows, time_columns

    client = clickhouse_connect.get_client(dsn=dsn, tz_mode="aware")
    try:
        ch.migrate(client, database, ttl_days=0)
        started = time.perf_counter()
        for first in range(0, len(mapped), batch_rows):
            batch = Batch(DEDUP_INDEX)
            for i, (table, row, _) in enumerate(mapped[first:first + batch_rows]):
                batch.add(table, row, 0, first + i, 0.0)
            for table, entry in batch.tables.items():
                settings = {"insert_deduplication_token": batch.token(table)}
                if how == "msgpack":
                    block = encode_rows(entry.rows, time_columns(COLUMN_TYPES[table]))
                    client.raw_insert(f"{quote_identifier(database)}.{quote_identifier(table)}",
                                      column_names=COLUMN_NAMES[table], insert_block=block, settings=settings,
                                      fmt="MsgPack")
                    continue
                column_oriented = how == "columns"
                data = columns_for_rows(table, entry.rows) if column_oriented else entry.rows
                client.insert(table, data, column_names=COLUMN_NAMES[table], column_type_names=COLUMN_TYPES[table],
                              database=database, settings=settings, column_oriented=column_oriented)
        elapsed = time.perf_counter() - started
        stored = sum(client.query(f"SELECT count() FROM {database}.{t}").result_rows[0][0] for t in (ch.POSITIONS, ch.TELEMETRY))
        assert stored == len(mapped), (stored, len(mapped))
        return len(mapped) / elapsed
    finally:
        client.close()


async def bench_raw_consumer(bootstrap: str, topic_names: list[str], expected: int, fetch_records: int) -> float:
    """Messages/s of a bare aiokafka consumer over the sink's topics: getmany, count, nothing else."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topic_names, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < expected:
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"the raw consumer read {seen:,} of {expected:,} messages within 5 minutes")
            batches = await consumer.getmany(timeout_ms=500, max_records=fetch_records)
            seen += sum(len(messages) for messages in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def bench_sink(bootstrap: str, dsn: str, records: list, batch_rows: int, partitions: int,
                     fetch_records: int) -> tuple[float, float] | None:
    """(raw consumer messages/s, sink rows/s) over the same messages in one run; None without Kafka."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    from sinks.service import SINK_TOPICS, Sink
    from sinks.settings import SinkSettings
    from common.settings import KafkaSettings
    from trackwire.topics_cmd import ensure_topics

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=partitions)
    try:
        await ensure_topics(kafka, SINK_TOPICS)
    except Exception as exc:  # noqa: BLE001
        print(f"sink: skipped, no Kafka at {bootstrap} ({exc}); start one: bash deploy/local/kafka.sh start")
        return None
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024, acks="all")
        await producer.start()
        started = time.perf_counter()
        try:
            pending = [await producer.send(RECORD_TOPICS[r.type].full_name(prefix), to_msgpack(r), key=r.device_id.encode())
                       for r in records]
            await asyncio.gather(*pending)
        finally:
            await producer.stop()
        print(f"(produced {len(records):,} records to Kafka in {time.perf_counter() - started:.1f} s)")
        names = [spec.full_name(prefix) for spec in SINK_TOPICS]
        raw = await bench_raw_consumer(bootstrap, names, len(records), fetch_records)

        database = f"bench_sink_{uuid.uuid4().hex[:6]}"
        settings = SinkSettings(clickhouse_url=f"{dsn}?database={database}", group_id=f"{prefix}sink", http_port=None,
                                batch_max_rows=batch_rows, batch_max_seconds=1.0, ttl_days=0,
                                fetch_max_records=fetch_records)
        sink = Sink(settings, kafka)
        await sink.start()  # topics, migration, group join
        before = _written()
        started = time.perf_counter()
        try:
            while _written() - before < len(records):
                if time.perf_counter() - started > 600:
                    raise RuntimeError("the sink did not write every row within 10 minutes")
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            await sink.stop()
        return raw, len(records) / elapsed
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([t for t in await admin.list_topics() if t.startswith(prefix)])
        finally:
            await admin.close()


def _written() -> float:
    return sum(metrics.ROWS_WRITTEN.labels(t)._value.get() for t in ch.RAW_TABLES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=50_000, help="the sink's batch_max_rows (its default)")
    parser.add_argument("--fetch-records", type=int, default=5_000,
                        help="the sink's fetch_max_records (its default), also the raw consumer's max_records")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (the project default)")
    parser.add_argument("--data-dir", default=None, help="chdb data directory (default: a temporary one)")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="trackwire-bench-") as tmp:
        data_dir = os.path.abspath(args.data_dir or tmp)
        dsn = f"chdb://{data_dir}"
        records = make_records(args.records)
        payloads = [to_msgpack(r) for r in records]
        print(f"{args.records:,} records ({sum(map(len, payloads)) / len(payloads):.0f} bytes each on Kafka), "
              f"batches of {args.batch_rows:,} rows, chdb at {data_dir}, {os.cpu_count()} CPUs")
        rate, cpu_rate, mapped = bench_mapping(payloads)
        print(f"mapping  message -> row (one thread):            {rate:>10,.0f} rows/s ({cpu_rate:,.0f} per CPU-second)")
        for how, label in (("msgpack", "MsgPack block (the sink)"), ("rows", "clickhouse-connect rows  "),
                           ("columns", "clickhouse-connect cols  ")):
            rate = bench_insert(dsn, f"bench_insert_{uuid.uuid4().hex[:6]}", mapped, args.batch_rows, how)
            print(f"insert   {label} -> chdb, no Kafka: {rate:>10,.0f} rows/s")
        rates = asyncio.run(bench_sink(args.bootstrap_servers, dsn, records, args.batch_rows, args.partitions,
                                       args.fetch_records))
        if rates is not None:
            raw, rate = rates
            print(f"raw      aiokafka consumer, no work (baseline):  {raw:>10,.0f} messages/s")
            print(f"sink     Kafka -> chdb, one worker, end to end:  {rate:>10,.0f} rows/s "
                  f"({rate / raw:.2f} x the raw consumer)")


if __name__ == "__main__":
    main()
