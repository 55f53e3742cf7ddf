"""`trackwire sink` and `trackwire migrate`."""

from __future__ import annotations

import sys
from typing import TextIO

from common import eventloop
from common.settings import KafkaSettings, load
from sinks.settings import SinkSettings


def run_sink(
    clickhouse_url: str | None = None,
    batch_max_rows: int | None = None,
    batch_max_seconds: float | None = None,
    ttl_days: int | None = None,
    group_id: str | None = None,
    http_port: int | None = None,
    bootstrap_servers: str | None = None,
    topic_prefix: str | None = None,
) -> None:
    """Run the sink until SIGINT/SIGTERM (a clean stop) or an error it cannot wait out (exit 1)."""
    settings = load(SinkSettings, clickhouse_url=clickhouse_url, batch_max_rows=batch_max_rows,
                    batch_max_seconds=batch_max_seconds, ttl_days=ttl_days, group_id=group_id, http_port=http_port)
    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)
    try:
        eventloop.run(_serve(settings, kafka))
    except Exception as exc:  # noqa: BLE001 - the message is what the operator needs; the traceback is logged
        raise SystemExit(f"trackwire sink: {exc}") from None


async def _serve(settings: SinkSettings, kafka: KafkaSettings) -> None:
    from common.service import run_until_signal
    from sinks.service import Sink

    # A signal also ends a start that is still waiting for ClickHouse; an error the sink cannot
    # wait out is raised here.
    await run_until_signal(Sink(settings, kafka))


def run_migrate(clickhouse_url: str | None = None, ttl_days: int | None = None, out: TextIO | None = None) -> None:
    """Bring the ClickHouse schema to this build's version and TTL; print what was done."""
    from schemas.clickhouse import SchemaError, migrate

    settings = load(SinkSettings, clickhouse_url=clickhouse_url, ttl_days=ttl_days)
    target = settings.target
    out = out or sys.stdout
    try:
        client = target.connect()
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"trackwire migrate: cannot reach {target.display}: {exc}") from None
    try:
        done = migrate(client, target.database, settings.ttl_days)
    except SchemaError as exc:
        raise SystemExit(f"trackwire migrate: {exc}") from None
    finally:
        client.close()
    for line in done:
        print(line, file=out)
    print(f"{target.display} database {target.database}: schema up to date"
          + ("" if done else " (nothing to do)"), file=out)
