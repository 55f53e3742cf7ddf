"""Rows -> one ClickHouse `MsgPack` input block: the insert parsed by ClickHouse itself.

clickhouse-connect's `insert` serialises rows to its Native format in Python, value by value; on
the embedded engine that was ~60 % of an insert's time (benchmarks/bench_sink.py: 37,000 rows/s
for `insert`, 115,000 rows/s for the same rows sent with `raw_insert(fmt="MsgPack")`). ClickHouse's
MsgPack format is each row's values one after another, each one msgpack value in column order
(https://clickhouse.com/docs/interfaces/formats/MsgPack): so a row is its list packed by the C
packer, less the array header. DateTime64(3) columns take integer milliseconds; tuples are arrays,
None is nil, as msgpack packs them anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import msgpack

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def time_columns(types: Sequence[str]) -> tuple[int, ...]:
    """Indexes of the DateTime64 columns (plain or Nullable), whose values go as milliseconds."""
    return tuple(i for i, kind in enumerate(types) if kind.removeprefix("Nullable(").startswith("DateTime64(3"))


def _header_size(columns: int) -> int:
    return 1 if columns < 16 else 3  # fixarray, or array 16 (no table has 65,536 columns)


def encode_rows(rows: Sequence[list[Any]], times: tuple[int, ...]) -> bytes:
    """The block for `rows` (each in column order); rows are not changed. Times: datetime or ms."""
    if not rows:
        return b""
    pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
    skip = _header_size(len(rows[0]))
    parts = []
    for row in rows:
        values = row.copy()
        for i in times:
            value = values[i]
            if isinstance(value, datetime):
                if value.tzinfo is None:  # naive: UTC, as clickhouse-connect's insert takes it
                    value = value.replace(tzinfo=timezone.utc)
                values[i] = (value - _EPOCH) // _MS
        parts.append(pack(values)[skip:])
    return b"".join(parts)
