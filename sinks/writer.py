"""The sink's connection to ClickHouse: every blocking call on one worker thread, errors classified.

clickhouse-connect's client is synchronous (and its async client does not support chdb), so calls
run on a single-thread executor: the event loop never blocks, and calls stay in order.

`WriteError.retriable` tells the sink whether to wait and retry (server or connection trouble) or to
stop (a schema or data problem that no retry fixes). A retriable failure also drops the client,
so the next attempt connects afresh.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, NotSupportedError, ProgrammingError

from schemas.clickhouse import migrate
from sinks.msgpack_block import encode_rows, time_columns

log = logging.getLogger(__name__)

# ClickHouse error codes worth waiting out: overload, limits, timeouts, network, read-only replicas,
# full disks, Keeper trouble. Anything else with a code is a mistake in what we sent.
RETRIABLE_CODES = frozenset({
    3,    # UNEXPECTED_END_OF_FILE
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE
    252,  # TOO_MANY_PARTS
    279,  # ALL_CONNECTION_TRIES_FAILED
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    439,  # CANNOT_SCHEDULE_TASK
    999,  # KEEPER_EXCEPTION
    1000,  # POCO_EXCEPTION
})


class WriteError(Exception):
    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


def is_retriable(exc: BaseException) -> bool:
    """Connection and server trouble: yes. What we sent, or a client-side mistake: no."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if not isinstance(exc, DatabaseError):
        return False  # a bug of ours (or a value clickhouse-connect cannot serialise)
    if exc.code is not None:
        return exc.code in RETRIABLE_CODES
    # No ClickHouse code: transport trouble (refused, reset, a proxy's 502) unless the client says
    # the mistake is ours (bad SQL, a value it cannot send, a closed or unusable engine handle).
    return not isinstance(exc, (ProgrammingError, DataError, NotSupportedError))


class ClickHouseWriter:
    """`await connect()`, then `insert()`/`migrate()`; `close()` is idempotent."""

    def __init__(self, connect: Callable[[], Any], database: str, display: str = "ClickHouse") -> None:
        self._connect = connect
        self.database = database
        self.display = display
        self._client: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackwire-clickhouse")
        self._closed = False

    async def _call(self, fn: Callable[[], Any]) -> Any:
        if self._closed:
            raise WriteError("the ClickHouse writer is closed", retriable=False)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _client_now(self) -> Any:  # on the worker thread
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _drop_client(self) -> None:  # on the worker thread
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken client must not hide why it broke
                log.debug("closing the ClickHouse client failed", exc_info=True)

    def _guarded(self, what: str, fn: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return fn(self._client_now())
            except Exception as exc:
                retriable = is_retriable(exc)
                if retriable:
                    self._drop_client()
                raise WriteError(f"{what} on {self.display}: {type(exc).__name__}: {exc}", retriable=retriable) from exc
        return run

    async def connect(self) -> None:
        await self._call(self._guarded("connect", lambda client: None))

    async def migrate(self, ttl_days: int) -> list[str]:
        return await self._call(self._guarded("migrate", lambda client: migrate(client, self.database, ttl_days)))

    async def insert(self, table: str, rows: list[list[Any]], column_names: list[str], column_types: list[str],
                     token: str) -> None:
        """The rows as one MsgPack block (sinks/msgpack_block.py), encoded and sent on the worker thread."""
        settings = {"insert_deduplicate": 1, "insert_deduplication_token": token}
        target = f"{quote_identifier(self.database)}.{quote_identifier(table)}"
        times = time_columns(column_types)
        await self._call(self._guarded(f"insert into {table}", lambda client: client.raw_insert(
            target, column_names=column_names, insert_block=encode_rows(rows, times), settings=settings,
            fmt="MsgPack",
        )))

    async def query(self, sql: str, **kwargs: Any) -> Any:
        return await self._call(self._guarded("query", lambda client: client.query(sql, **kwargs)))

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._drop_client)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)
