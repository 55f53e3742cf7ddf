"""`trackwire query`: SQL over the stored data while the pipeline runs.

- ClickHouse server (`TRACKWIRE_SINK_CLICKHOUSE_URL=http(s)://…`): the query goes straight to it,
  with `readonly = 1` (a query tool, not a migration tool).
- Embedded engine (`chdb:…`): the running sink owns the directory, so the query goes to the sink's
  loopback-only, read-only endpoint (sinks/query_server.py); when no sink answers there, the
  directory is opened here, read-only.

Output: `--format table` (default on a terminal), `csv`, or `json` (one JSON array of objects).
Named queries are the README's analysts' queries (schemas/queries.py): `--named NAME --param k=v`.
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import click

from schemas.queries import NAMED
from sinks.query_server import QueryRefused, check_read_only, plain
from sinks.settings import ClickHouseTarget, SinkSettings
from common.settings import ConfigError, load


@dataclass(frozen=True, slots=True)
class Answer:
    columns: list[str]
    rows: list[list[Any]]


class QueryFailed(click.ClickException):
    exit_code = 1


def via_sink(port: int, sql: str, parameters: dict[str, str], timeout_s: float = 60) -> Answer | None:
    """The sink's answer, or None when no sink listens on that port."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/query", method="POST",
                                     data=json.dumps({"sql": sql, "parameters": parameters}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise QueryFailed(str(message)) from None
    except OSError:
        return None
    return Answer(body["columns"], body["rows"])


def direct(target: ClickHouseTarget, sql: str, parameters: dict[str, str]) -> Answer:
    try:
        client = target.connect()
    except Exception as exc:  # noqa: BLE001 - the engine's own message says what is wrong
        raise QueryFailed(f"cannot open {target.display}: {exc}") from None
    try:
        result = client.query(sql, parameters=parameters, settings={"readonly": 1})
    except Exception as exc:  # noqa: BLE001
        raise QueryFailed(str(exc)) from None
    finally:
        client.close()
    return Answer(list(result.column_names), [[plain(v) for v in row] for row in result.result_rows])


def run_query(sql: str, parameters: dict[str, str], settings: SinkSettings) -> Answer:
    target = settings.target
    if target.kind == "chdb":
        try:
            check_read_only(sql)
        except QueryRefused as exc:
            raise QueryFailed(str(exc)) from None
        if settings.query_port is not None:
            answer = via_sink(settings.query_port, sql, parameters)
            if answer is not None:
                return answer
    return direct(target, sql, parameters)


def render(answer: Answer, fmt: str, out) -> None:
    if fmt == "json":
        json.dump([dict(zip(answer.columns, row)) for row in answer.rows], out, ensure_ascii=False)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(answer.columns)
        writer.writerows([_cell(v) for v in row] for row in answer.rows)
    else:
        cells = [[_cell(v) for v in row] for row in answer.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(answer.columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(answer.columns, widths)).rstrip() + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for row in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")
        out.write(f"({len(cells)} row{'s' if len(cells) != 1 else ''})\n")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parameters(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: write --param name=value", param_hint="--param")
        out[name] = value
    return out


@click.command("query")
@click.argument("sql", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default=None,
              help="Output format (default: table on a terminal, else json).")
@click.option("--named", type=click.Choice(sorted(NAMED)), default=None, help="One of the README's analysts' queries.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A {name:Type} parameter of the query.")
@click.option("--clickhouse-url", default=None, help="As for `trackwire sink` (default: TRACKWIRE_SINK_CLICKHOUSE_URL).")
def query(sql: str | None, fmt: str | None, named: str | None, params: tuple[str, ...], clickhouse_url: str | None) -> None:
    """Run read-only SQL on the stored data (SQL as argument, or - for stdin), also while the pipeline runs."""
    if named and sql:
        raise click.UsageError("give either SQL or --named, not both")
    if named:
        sql = NAMED[named]
    elif sql == "-" or (sql is None and not sys.stdin.isatty()):
        sql = sys.stdin.read()
    if not sql or not sql.strip():
        raise click.UsageError("no SQL: give it as an argument, '-' for stdin, or --named NAME")
    try:
        settings = load(SinkSettings, clickhouse_url=clickhouse_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    answer = run_query(sql, _parameters(params), settings)
    render(answer, fmt or ("table" if sys.stdout.isatty() else "json"), sys.stdout)
