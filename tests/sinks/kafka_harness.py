"""Helpers for the sink tests that use the real broker: produce, wait, read back, switch ClickHouse off."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from clickhouse_connect.driver.exceptions import OperationalError

from schemas import clickhouse as ch
from schemas import topics
from schemas.records import to_dict, to_msgpack
from sinks.rows import dead_letter_from_row, record_from_row
from sinks.service import SINK_TOPICS
from sinks.settings import SinkSettings
from common.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics


def kafka_settings(bootstrap: str, prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=3)


def sink_settings(ch_url: str, prefix: str, **changes: Any) -> SinkSettings:
    values = dict(clickhouse_url=ch_url, group_id=f"{prefix}sink", http_port=None, batch_max_rows=500,
                  batch_max_seconds=0.2, retry_initial_s=0.05, retry_max_s=0.4, shutdown_timeout_s=5.0, ttl_days=0)
    values.update(changes)
    return SinkSettings(**values)


async def create_topics(kafka: KafkaSettings) -> None:
    await ensure_topics(kafka, SINK_TOPICS + (topics.SOS,))


async def produce(kafka: KafkaSettings, messages: list[tuple[str, bytes | None, bytes | None]]) -> None:
    """(topic spec name, key, value) each, sent with acks=all and flushed."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        for name, key, value in messages:
            await producer.send(kafka.topic_prefix + name, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def record_messages(records) -> list[tuple[str, bytes | None, bytes]]:
    """The messages a processor publishes for these records (an SOS alert goes to `sos` too)."""
    return [(spec.name, r.device_id.encode() if r.device_id else None, to_msgpack(r))
            for r in records for spec in topics.topics_for(r)]


async def offsets(kafka: KafkaSettings, group_id: str) -> tuple[dict, dict]:
    """(committed, end) offsets of the sink's topics, by partition (0 where nothing is committed)."""
    tps = [TopicPartition(spec.full_name(kafka.topic_prefix), p)
           for spec in SINK_TOPICS for p in range(spec.partition_count(kafka.topic_partitions))]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        found = await admin.list_consumer_group_offsets(group_id, partitions=tps)
        committed = {tp: found[tp].offset if tp in found and found[tp].offset >= 0 else 0 for tp in tps}
        return committed, await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
        await admin.close()


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


async def count(client, sql: str) -> int:
    return (await asyncio.to_thread(lambda: client.query(sql).result_rows))[0][0]


async def all_committed(kafka: KafkaSettings, group_id: str) -> bool:
    committed, end = await offsets(kafka, group_id)
    return committed == end


def read_records(client, db: str, final: bool = True) -> list:
    out = []
    for table in (ch.POSITIONS, ch.ALERTS, ch.TELEMETRY, ch.EVENTS):
        sql = f"SELECT * FROM {db}.{table}{' FINAL' if final else ''}"
        out += [record_from_row(table, row) for row in client.query(sql).named_results()]
    return out


def read_dead_letters(client, db: str) -> list:
    result = client.query(f"SELECT * FROM {db}.dead_letters FINAL", column_formats={"data": "bytes"})
    return [dead_letter_from_row(row) for row in result.named_results()]


def by_content(records) -> list[str]:
    """Records as sortable canonical text: compare record lists regardless of order."""
    return sorted(json.dumps(to_dict(r), sort_keys=True) for r in records)


class Switch:
    """ClickHouse that the test can make unreachable and bring back.

    The sink's client factory and every client it made go through here: while `up` is False,
    connecting and every call fail as a refused connection would, without reaching the engine.
    `lose_acks = n` makes the next n inserts land and then fail anyway (the answer lost on the way).
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self.up = True
        self.lose_acks = 0
        self.refused = 0

    def _check(self) -> None:
        if not self.up:
            self.refused += 1
            raise OperationalError("Error HTTPConnectionPool: connection refused (ClickHouse switched off by the test)")

    def connect(self) -> "_SwitchedClient":
        self._check()
        return _SwitchedClient(self, self._connect())


class _SwitchedClient:
    def __init__(self, switch: Switch, client: Any) -> None:
        self._switch = switch
        self._client = client

    def _landed(self, result: Any) -> Any:
        if self._switch.lose_acks:
            self._switch.lose_acks -= 1
            raise OperationalError("connection reset by peer while reading the insert's response")
        return result

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self._switch._check()
        return self._landed(self._client.insert(*args, **kwargs))

    def raw_insert(self, *args: Any, **kwargs: Any) -> Any:  # the sink's insert (sinks/msgpack_block.py)
        self._switch._check()
        return self._landed(self._client.raw_insert(*args, **kwargs))

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self._switch._check()
        return self._client.query(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        self._switch._check()
        return self._client.command(*args, **kwargs)

    def close(self) -> None:
        self._client.close()
