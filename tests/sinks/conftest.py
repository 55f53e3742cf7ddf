"""ClickHouse for the sink tests: the embedded engine (chdb), one data directory per test session.

chdb hosts one engine per process, so every test shares the session's directory and gets its own
database instead; `ch_url` is the sink's URL for that database.
"""

from __future__ import annotations

import uuid

import clickhouse_connect
import pytest


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def ch_database() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ch_url(chdb_dir, ch_database) -> str:
    return f"chdb://{chdb_dir}?database={ch_database}"


@pytest.fixture
def ch_client(chdb_dir, ch_database):
    """A client of the test's own: queries the same engine the sink writes to."""
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_dir}", tz_mode="aware")
    yield client
    client.command(f"DROP DATABASE IF EXISTS {ch_database} SYNC")
    client.close()
