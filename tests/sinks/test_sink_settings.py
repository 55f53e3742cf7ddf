"""The ClickHouse URL, the sink's settings and the `trackwire migrate` / `sink` commands."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from sinks.settings import ClickHouseTarget, SinkSettings
from trackwire.cli import main


@pytest.mark.parametrize("url, kind, dsn, database, display", [
    ("chdb:///var/lib/tw", "chdb", "chdb:///var/lib/tw", "trackwire", "chdb:///var/lib/tw"),
    ("chdb:///var/lib/tw?database=fleet", "chdb", "chdb:///var/lib/tw", "fleet", "chdb:///var/lib/tw"),
    ("chdb:data/ch", "chdb", "chdb://" + os.path.abspath("data/ch"), "trackwire", "chdb://" + os.path.abspath("data/ch")),
    ("chdb://memory", "chdb", "chdb://memory", "trackwire", "chdb://memory"),
    ("http://bob:s3cret@ch.internal:8123/fleet", "http", "http://bob:s3cret@ch.internal:8123", "fleet",
     "http://bob@ch.internal:8123/fleet"),
    ("https://ch.example:8443", "http", "https://ch.example:8443", "trackwire", "https://ch.example:8443/trackwire"),
])
def test_one_url_names_the_engine_the_place_and_the_database(url, kind, dsn, database, display):
    target = ClickHouseTarget.parse(url)
    assert (target.kind, target.dsn, target.database, target.display) == (kind, dsn, database, display)
    assert "s3cret" not in target.display


@pytest.mark.parametrize("url, why", [
    ("clickhouse://host:9000/db", "scheme"),
    ("http:///db", "names no host"),
    ("chdb:///x?database=bad-name", "letters, digits and underscores"),
    ("chdb://somehost/x", "chdb:///absolute/path"),
])
def test_bad_urls_say_what_is_wrong(url, why):
    with pytest.raises(ValueError, match=why):
        ClickHouseTarget.parse(url)


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRACKWIRE_CLICKHOUSE_URL", "http://ch:8123/x")
    monkeypatch.setenv("TRACKWIRE_SINK_BATCH_MAX_ROWS", "500")
    settings = SinkSettings()
    assert (settings.target.database, settings.batch_max_rows) == ("x", 500)


def test_migrate_command(chdb_dir, ch_database, ch_client):
    url = f"chdb://{chdb_dir}?database={ch_database}"
    runner = CliRunner()
    first = runner.invoke(main, ["migrate", "--clickhouse-url", url, "--ttl-days", "30"])
    assert first.exit_code == 0, first.output
    assert "applied migration 1" in first.output and "positions: TTL none -> 30 days" in first.output
    again = runner.invoke(main, ["migrate", "--clickhouse-url", url, "--ttl-days", "30"])
    assert again.exit_code == 0 and "nothing to do" in again.output


@pytest.mark.parametrize("command", ["migrate", "sink"])
def test_a_bad_url_is_a_configuration_error(command):
    result = CliRunner().invoke(main, [command, "--clickhouse-url", "ftp://x"])
    assert result.exit_code != 0
    assert "configuration error: clickhouse_url" in str(result.exception)
    assert "the scheme must be chdb, http or https" in str(result.exception)
