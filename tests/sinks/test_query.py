"""`trackwire query` and the sink's read-only query endpoint on the embedded engine: answers while
the sink owns the store, refuses writes (by statement and by ClickHouse's readonly mode), refuses
non-loopback access, and prints table / csv / json."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from click.testing import CliRunner

from schemas import clickhouse as ch
from schemas.queries import NAMED
from schemas.records import Position
from sinks.query_server import QueryRefused, QueryServer, check_read_only, is_loopback
from sinks.rows import COLUMN_NAMES, COLUMN_TYPES, Source, row_for_record
from sinks.writer import ClickHouseWriter
from trackwire.cli import main
from trackwire.query_cmd import Answer, render, run_query
from sinks.settings import ClickHouseTarget, SinkSettings

README = Path(__file__).resolve().parents[2] / "README.md"
T = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def test_named_queries_are_the_readmes_sql_blocks_verbatim():
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(), flags=re.S)
    assert sorted(blocks) == sorted(NAMED.values())
    for name, sql in NAMED.items():
        assert sql.startswith(f"-- name: {name}\n")


@pytest.mark.parametrize("sql", [
    "SELECT 1", "  with x AS (SELECT 1) SELECT * FROM x", "-- note\nSELECT 1", "/* c */ select 1", "SHOW TABLES",
    "DESCRIBE TABLE trackwire.positions", "EXPLAIN SELECT 1", NAMED["device_track_for_a_day"],
])
def test_reads_pass_the_statement_check(sql):
    check_read_only(sql)


@pytest.mark.parametrize("sql", [
    "INSERT INTO trackwire.positions VALUES (1)", "ALTER TABLE trackwire.positions DELETE WHERE 1",
    "DROP TABLE trackwire.positions", "TRUNCATE trackwire.positions", "OPTIMIZE TABLE trackwire.positions",
    "SELECT 1 INTO OUTFILE '/tmp/x'", "", "SYSTEM SHUTDOWN",
])
def test_writes_and_other_statements_are_refused(sql):
    with pytest.raises(QueryRefused):
        check_read_only(sql)


def test_loopback_is_recognised():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert not is_loopback("192.0.2.10") and not is_loopback("10.0.0.1") and not is_loopback(None)
    with pytest.raises(ValueError, match="loopback only"):
        QueryServer(lambda *a, **k: None, host="0.0.0.0")


@pytest.fixture
async def store(tmp_path):
    writer = ClickHouseWriter(ClickHouseTarget.parse(f"chdb:{tmp_path}/ch").connect, "trackwire")
    await writer.migrate(0)
    rows = [row_for_record(Position(protocol="gt06", device_id=f"dev-{i}", time=T, lat=1.0 + i, lon=2.0, valid=True),
                           Source("t", 0, i, 0))[1] for i in range(3)]
    await writer.insert(ch.POSITIONS, rows, COLUMN_NAMES[ch.POSITIONS], COLUMN_TYPES[ch.POSITIONS], token="t1")
    server = QueryServer(writer.query, port=0)
    await server.start()
    yield writer, server
    await server.stop()
    await writer.close()


async def post(port: int, body: dict) -> tuple[int, dict]:
    import aiohttp
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/query", json=body) as response:
            return response.status, await response.json()


async def test_the_endpoint_answers_reads_with_parameters(store):
    _writer, server = store
    status, body = await post(server.port, {
        "sql": "SELECT device_id, lat FROM trackwire.positions FINAL WHERE lat > {min:Float64} ORDER BY device_id",
        "parameters": {"min": 1.5}})
    assert status == 200, body
    assert body["columns"] == ["device_id", "lat"] and body["rows"] == [["dev-1", 2.0], ["dev-2", 3.0]]


async def test_the_endpoint_refuses_writes_and_the_engine_would_too(store):
    writer, server = store
    status, body = await post(server.port, {"sql": "INSERT INTO trackwire.positions (device_id) VALUES ('x')"})
    assert status == 403 and "only reads" in body["error"]
    # Past the statement check, ClickHouse's readonly mode is the second wall:
    with pytest.raises(Exception, match="(?i)readonly"):
        await writer.query("CREATE TABLE trackwire.evil (x UInt8) ENGINE = Memory", settings={"readonly": 1})
    status, body = await post(server.port, {"sql": "SELECT count() FROM trackwire.positions"})
    assert body["rows"] == [[3]]


async def test_the_endpoint_refuses_a_non_loopback_peer(store):
    _writer, server = store
    request = make_mocked_request("POST", "/query", transport=_Transport("192.0.2.7"))
    response = await server._query(request)
    assert response.status == 403 and b"not a loopback address" in response.body


class _Transport:
    def __init__(self, host: str) -> None:
        self._host = host

    def get_extra_info(self, name, default=None):
        return (self._host, 40000) if name == "peername" else default


async def test_trackwire_query_goes_through_the_running_sink_in_every_format(store, tmp_path, monkeypatch):
    _writer, server = store
    monkeypatch.setenv("TRACKWIRE_SINK_CLICKHOUSE_URL", f"chdb:{tmp_path}/ch")
    monkeypatch.setenv("TRACKWIRE_SINK_QUERY_PORT", str(server.port))
    settings = SinkSettings()
    sql = "SELECT device_id, lat, time FROM trackwire.positions FINAL ORDER BY device_id"
    import asyncio
    answer = await asyncio.to_thread(run_query, sql, {}, settings)  # the store is open in this process: via the sink
    assert answer.columns == ["device_id", "lat", "time"] and len(answer.rows) == 3
    out = io.StringIO()
    render(answer, "json", out)
    assert json.loads(out.getvalue())[0] == {"device_id": "dev-0", "lat": 1.0, "time": "2026-11-30T08:00:00+00:00"}
    out = io.StringIO()
    render(answer, "csv", out)
    assert list(csv.reader(io.StringIO(out.getvalue())))[:2] == [["device_id", "lat", "time"],
                                                                 ["dev-0", "1.0", "2026-11-30T08:00:00+00:00"]]
    out = io.StringIO()
    render(answer, "table", out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["device_id", "lat", "time"] and lines[-1] == "(3 rows)"
    result = await asyncio.to_thread(CliRunner().invoke, main, ["query", "--format", "json", "INSERT INTO x VALUES (1)"])
    assert result.exit_code == 1 and "only reads" in result.output
    result = await asyncio.to_thread(CliRunner().invoke, main, ["query", "--format", "json", "--named",
                                                                "device_track_for_a_day", "--param", "device_id=dev-1",
                                                                "--param", "day=2026-11-30"])
    assert result.exit_code == 0, result.output
    assert [row["lat"] for row in json.loads(result.output)] == [2.0]
