"""ClickHouse as a destination of the consume -> deliver -> commit loop (common/delivery.py).

`prepare` turns each Kafka record into its table row as it is read, straight from the decoded
msgpack map (a record that cannot be read becomes a dead-letter row, counted and logged); `deliver`
inserts each table's rows of the batch with a deduplication token built from the rows' dedup ids
in order (sinks/batching.py), so a retried insert that had landed after all is dropped by
ClickHouse; `retriable` is the writer's classification of ClickHouse errors (sinks/writer.py).
"""

from __future__ import annotations

import logging

from common.delivery import PendingBatch
from schemas import topics
from sinks import metrics
from sinks.batching import Batch
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, DEDUP_INDEX, Source, row_for_message
from sinks.writer import ClickHouseWriter, WriteError

log = logging.getLogger("sinks.service")


class ClickHouseDestination:
    name = "ClickHouse"

    def __init__(self, writer: ClickHouseWriter, topic_prefix: str) -> None:
        self.writer = writer
        self._dead_letter_topic = topics.DEAD_LETTERS.full_name(topic_prefix)

    def prepare(self, m) -> tuple[str, list]:
        source = Source(m.topic, m.partition, m.offset, m.timestamp, m.key)
        table, row, problem = row_for_message(m.value, source, dead_letters=m.topic == self._dead_letter_topic)
        if problem is not None:
            metrics.DEAD_LETTERS.inc()
            log.warning("%s[%d]@%d stored as a dead letter: %s", m.topic, m.partition, m.offset, problem)
        return table, row

    async def deliver(self, batch: PendingBatch) -> None:
        """One insert per table for the whole batch; raises WriteError (all partitions failed) or returns."""
        tables = Batch(DEDUP_INDEX)
        for tp, items in batch.items.items():
            for table, row in items:
                tables.add(table, row, tp, 0, 0.0)
        for table, entry in tables.tables.items():
            # Rows, not columns: pivoting them here (rows.columns_for_rows) for column_oriented=True cost
            # more CPU per row on chdb than clickhouse-connect's own pivot (benchmarks/bench_sink.py).
            await self.writer.insert(table, entry.rows, COLUMN_NAMES[table], COLUMN_TYPES[table], tables.token(table))
        for table, entry in tables.tables.items():
            metrics.ROWS_WRITTEN.labels(table).inc(len(entry.rows))

    def retriable(self, error: BaseException) -> bool:
        return isinstance(error, WriteError) and error.retriable
