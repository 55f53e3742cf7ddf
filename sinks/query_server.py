"""Read-only SQL over the embedded engine, answered by the sink process that owns its directory.

chdb keeps its data directory to one process, so while the sink runs nobody else can open it;
`trackwire query` asks the sink instead. The endpoint is deliberately narrow:

- it listens on the loopback interface only (a non-loopback host is refused at start) and also
  refuses any request whose peer is not a loopback address (403);
- read-only twice over: statements must begin with SELECT/WITH/SHOW/DESCRIBE/DESC/EXISTS/EXPLAIN
  (403 otherwise, with the reason), and every query runs with ClickHouse's `readonly = 1`, so the
  engine itself rejects writes that slip through (a SELECT … INTO OUTFILE, a table function);
- queries share the sink's single ClickHouse thread, so they never race an insert, and results are
  capped at `max_rows` rows.

POST /query  {"sql": "...", "parameters": {"name": "value"}}  ->  {"columns", "types", "rows"}
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import logging
import re
import uuid
from typing import Any

from aiohttp import web

log = logging.getLogger("trackwire.sink.query")

READ_ONLY_START = re.compile(r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b",
                             re.IGNORECASE | re.DOTALL)
DEFAULT_MAX_ROWS = 100_000


class QueryRefused(ValueError):
    """The statement is not a read (or the peer is not local); the message says why."""


def check_read_only(sql: str) -> None:
    if not READ_ONLY_START.match(sql):
        first = sql.strip().split(None, 1)[0] if sql.strip() else "(empty)"
        raise QueryRefused(f"only reads are answered here (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN), "
                           f"not {first!r}: the embedded store belongs to the sink")
    if re.search(r"\bINTO\s+OUTFILE\b", sql, re.IGNORECASE):
        raise QueryRefused("INTO OUTFILE is not answered: the result comes back over HTTP")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def plain(value: Any) -> Any:
    """A JSON-able form of a ClickHouse value (times ISO-8601, decimals as strings, tuples as lists)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


class QueryServer:
    """`await start()` / `await stop()`; runs queries through `run_query(sql, parameters, settings)`."""

    def __init__(self, run_query, *, host: str = "127.0.0.1", port: int = 0, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if not is_loopback(host):
            raise ValueError(f"the query endpoint listens on loopback only, not {host!r}")
        self._run_query = run_query
        self._host, self._port = host, port
        self._max_rows = max_rows
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.port = self._runner.addresses[0][1]
        log.info("read-only query endpoint on http://%s:%d/query", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _query(self, request: web.Request) -> web.Response:
        if not is_loopback(request.remote):
            return web.json_response({"error": f"refused: {request.remote} is not a loopback address"}, status=403)
        try:
            body = await request.json()
            sql, parameters = body["sql"], body.get("parameters") or {}
            if not isinstance(sql, str) or not isinstance(parameters, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'send {"sql": "...", "parameters": {...}}'}, status=400)
        try:
            check_read_only(sql)
        except QueryRefused as exc:
            return web.json_response({"error": str(exc)}, status=403)
        settings = {"readonly": 1, "max_result_rows": self._max_rows, "result_overflow_mode": "break"}
        try:
            result = await self._run_query(sql, parameters=parameters, settings=settings)
        except Exception as exc:  # noqa: BLE001 - ClickHouse's message is the answer the analyst needs
            text = str(exc)
            status = 403 if "readonly" in text.lower() or "READONLY" in text else 400
            return web.json_response({"error": text}, status=status)
        rows = [[plain(v) for v in row] for row in result.result_rows]
        types = [t.name for t in getattr(result, "column_types", ())]
        return web.Response(text=json.dumps({"columns": list(result.column_names), "types": types, "rows": rows}),
                            content_type="application/json")
