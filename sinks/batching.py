"""The rows of a batch per table, with their deduplication tokens: pure, no Kafka, no ClickHouse.

The batching policy is common/delivery.py (BatchPolicy), the retry backoff common/backoff.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class _TableRows:
    rows: list[list[Any]] = field(default_factory=list)
    digest: Any = field(default_factory=lambda: hashlib.blake2b(digest_size=16))


class Batch:
    """Rows per table, and per Kafka partition the next offset to commit once they are written.

    Each table's insert gets a deduplication token made from its rows' dedup ids, in order: a retry
    of the same insert carries the same token, so ClickHouse drops it if the first attempt landed
    after all; and a token can only ever match an insert of exactly the same records.
    """

    def __init__(self, dedup_index: dict[str, int]) -> None:
        self._dedup_index = dedup_index
        self.tables: dict[str, _TableRows] = {}
        self.offsets: dict[Any, int] = {}  # partition -> next offset to read (what Kafka commits)
        self.count = 0
        self.started_at: float | None = None

    def add(self, table: str, row: list[Any], partition: Any, offset: int, now: float) -> None:
        entry = self.tables.get(table)
        if entry is None:
            entry = self.tables[table] = _TableRows()
        entry.rows.append(row)
        entry.digest.update(row[self._dedup_index[table]].to_bytes(8, "little"))
        self.offsets[partition] = max(self.offsets.get(partition, 0), offset + 1)
        self.count += 1
        if self.started_at is None:
            self.started_at = now

    def age_s(self, now: float) -> float:
        return 0.0 if self.started_at is None else now - self.started_at

    def token(self, table: str) -> str:
        entry = self.tables[table]
        return f"trackwire-{table}-{len(entry.rows)}-{entry.digest.copy().hexdigest()}"

    def clear(self) -> None:
        self.tables.clear()
        self.offsets.clear()
        self.count = 0
        self.started_at = None
