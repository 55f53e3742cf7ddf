"""`trackwire status`: one deployment's figures from its stages' metrics endpoints and Kafka's
consumer-group lag, per stage and instance; non-zero exit when a stage is down or not ready.

Endpoints default to the local ports (listener 9100, processor 9101, sink 9102, notifier 9103, or
the stages' own variables: TRACKWIRE_LISTENER_HTTP_PORT, TRACKWIRE_PROCESSOR_HTTP_PORT,
TRACKWIRE_SINK_HTTP_PORT, TRACKWIRE_NOTIFY_HTTP_PORT, so the same environment finds them);
`--stage sink=http://10.0.0.5:9102` (repeatable, several instances per stage) or
TRACKWIRE_STATUS_ENDPOINTS="listener=http://a:9100,listener=http://b:9100,sink=…" point it at a
remote deployment. A stage with no endpoint given is looked for locally; the notifier is optional
(absent is not an error unless named explicitly).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Iterable

import click
from prometheus_client.parser import text_string_to_metric_families

LOCAL_PORTS = {"listener": 9100, "processor": 9101, "sink": 9102, "notifier": 9103}
OPTIONAL = {"notifier"}
PORT_VARIABLES = {"listener": "TRACKWIRE_LISTENER_HTTP_PORT", "processor": "TRACKWIRE_PROCESSOR_HTTP_PORT",
                  "sink": "TRACKWIRE_SINK_HTTP_PORT", "notifier": "TRACKWIRE_NOTIFY_HTTP_PORT"}
READY_PATHS = ("/readyz", "/health")  # the sink's older name for readiness is /health


def local_endpoints(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Each stage's endpoint on this machine, on the port its own settings variable gives it."""
    environ = os.environ if environ is None else environ
    out = {}
    for stage, default in LOCAL_PORTS.items():
        port = (environ.get(PORT_VARIABLES[stage]) or "").strip() or str(default)
        out[stage] = f"http://127.0.0.1:{port}"
    return out


@dataclass(slots=True)
class Instance:
    stage: str
    url: str
    up: bool = False
    ready: bool = False
    error: str | None = None
    samples: dict[str, float] = field(default_factory=dict)  # "name{label=value,...}" -> value

    @property
    def no_endpoint(self) -> bool:
        """Nothing listens there: the stage is not running, or runs without its metrics endpoint."""
        return not self.up and bool(self.error) and "refused" in self.error.lower()

    def total(self, name: str, **labels: str) -> float:
        out = 0.0
        for key, value in self.samples.items():
            base, _, rest = key.partition("{")
            if base != name:
                continue
            if all(f'{k}="{v}"' in rest for k, v in labels.items()):
                out += value
        return out


def parse_metrics(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def _get(url: str, timeout_s: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def probe(instance: Instance, timeout_s: float = 3.0) -> Instance:
    try:
        status, text = _get(instance.url.rstrip("/") + "/metrics", timeout_s)
        instance.up = status == 200
        if instance.up:
            instance.samples = parse_metrics(text)
        for path in READY_PATHS:
            status, _ = _get(instance.url.rstrip("/") + path, timeout_s)
            if status != 404:
                instance.ready = status == 200
                break
    except OSError as exc:
        instance.error = str(getattr(exc, "reason", exc))
    return instance


async def consumer_lag(bootstrap: str, groups: Iterable[str], security: dict | None = None) -> dict[str, int | None]:
    """Messages each consumer group is behind the end of the topics it consumes (None: group unknown)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **(security or {}))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **(security or {}))
    out: dict[str, int | None] = {}
    await admin.start()
    await consumer.start()
    try:
        for group in groups:
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except Exception:  # noqa: BLE001 - a group that never committed has no lag to show
                out[group] = None
                continue
            if not committed:
                out[group] = None
                continue
            ends = await consumer.end_offsets(list(committed))
            out[group] = sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if meta.offset >= 0)
    finally:
        await consumer.stop()
        await admin.close()
    return out


@dataclass(slots=True)
class Status:
    instances: list[Instance]
    lag: dict[str, int | None]

    def by_stage(self, stage: str) -> list[Instance]:
        return [i for i in self.instances if i.stage == stage]

    def figure(self, stage: str, name: str, **labels: str) -> float:
        return sum(i.total(name, **labels) for i in self.by_stage(stage) if i.up)

    def known(self, stage: str, name: str) -> int | None:
        """A stage's figure, or None when no instance of the stage answered (unknown, not zero)."""
        if not any(i.up for i in self.by_stage(stage)):
            return None
        return int(self.figure(stage, name))

    def summary(self) -> dict:
        dead_letters = [self.known(stage, f"trackwire_{stage}_dead_letters_total")
                        for stage in ("listener", "processor", "sink")]
        return {
            "devices_connected": self.known("listener", "trackwire_listener_connections"),
            "frames_received": self.known("listener", "trackwire_listener_frames_in_total"),
            "frames_acknowledged": self.known("listener", "trackwire_listener_frames_acked_total"),
            "records_out": self.known("processor", "trackwire_processor_records_total"),
            "records_stored": self.known("sink", "trackwire_sink_rows_written_total"),
            "open_sos": self.known("processor", "trackwire_processor_open_sos"),
            "dead_letters": None if all(d is None for d in dead_letters) else sum(d or 0 for d in dead_letters),
            "notifications_delivered": self.known("notifier", "trackwire_notify_delivered_total"),
            "lag": self.lag,
            "stages": {stage: [{"url": i.url, "up": i.up, "ready": i.ready,
                                **({"no_endpoint": True} if i.no_endpoint else {}),
                                **({"error": i.error} if i.error else {})}
                               for i in self.by_stage(stage)] for stage in dict.fromkeys(i.stage for i in self.instances)},
        }

    def healthy(self, required: set[str]) -> bool:
        for stage in required:
            found = self.by_stage(stage)
            if not found or not all(i.up and i.ready for i in found):
                return False
        return True


def endpoints_from(pairs: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        stage, sep, url = pair.partition("=")
        if not sep or stage not in LOCAL_PORTS or not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{pair!r}: write STAGE=http://host:port with STAGE one of "
                                     f"{', '.join(LOCAL_PORTS)}", param_hint="--stage")
        out.append((stage, url))
    return out


def consumer_groups(topic_prefix: str) -> dict[str, str]:
    """The consumer group of each consuming stage (their defaults: the topic prefix + a name)."""
    return {"processor": f"{topic_prefix}processor", "sink": f"{topic_prefix}sink", "notifier": f"{topic_prefix}notify"}


def collect(endpoints: list[tuple[str, str]], bootstrap: str, groups: dict[str, str], timeout_s: float = 3.0,
            security: dict | None = None) -> Status:
    instances = [probe(Instance(stage, url), timeout_s) for stage, url in endpoints]
    try:
        raw_lag = asyncio.run(asyncio.wait_for(consumer_lag(bootstrap, groups.values(), security), 15))
    except Exception:  # noqa: BLE001 - Kafka unreachable: the endpoints still say a lot
        raw_lag = {group: None for group in groups.values()}
    return Status(instances, {stage: raw_lag.get(group) for stage, group in groups.items()})


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def rates_between(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Per-second rates of the counters between two summaries (only those known in both)."""
    out = {}
    for rate, key in (("frames", "frames_received"), ("records", "records_out"), ("rows", "records_stored")):
        if seconds > 0 and before.get(key) is not None and after.get(key) is not None:
            out[rate] = max(0, after[key] - before[key]) / seconds
    return out


def format_line(summary: dict, rates: dict[str, float] | None = None) -> str:
    """One status line; "-" marks a figure whose stage did not answer."""
    rates = rates or {}

    def counter(label: str, key: str, rate: str) -> str:
        return f"{label} {_count(summary[key])}" + (f" ({rates[rate]:,.0f}/s)" if rate in rates else "")

    lag = " ".join(f"{stage} {_count(value)}" for stage, value in summary["lag"].items())
    parts = [
        f"devices {_count(summary['devices_connected'])}",
        counter("frames in", "frames_received", "frames"),
        counter("records out", "records_out", "records"),
        counter("rows stored", "records_stored", "rows"),
        f"open SOS {_count(summary['open_sos'])}",
        f"dead letters {_count(summary['dead_letters'])}",
        f"lag {lag}",
    ]
    if summary.get("notifications_delivered") is not None:
        parts.append(f"notified {summary['notifications_delivered']:,}")
    return " | ".join(parts)


def describe(instance: dict) -> str:
    if instance["ready"]:
        return "ready"
    if instance["up"]:
        return "up, NOT READY"
    if instance.get("no_endpoint"):
        return "no endpoint (nothing answers there: not running, or no metrics endpoint)"
    return f"DOWN ({instance.get('error', '')})"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--stage", "stages", multiple=True, metavar="STAGE=URL",
              help="A stage instance's HTTP endpoint (repeatable); default: the local ports.")
@click.option("--bootstrap-servers", default=None, help="Kafka, for consumer-group lag (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic prefix, for the consumer groups (default: env).")
def status(as_json: bool, stages: tuple[str, ...], bootstrap_servers: str | None, topic_prefix: str | None) -> None:
    """Figures of a running deployment, per stage and instance; exits 1 if a stage is down or not ready."""
    from common.kafka_security import aiokafka_options
    from common.settings import KafkaSettings, load

    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)
    given = list(stages) or [p for p in os.environ.get("TRACKWIRE_STATUS_ENDPOINTS", "").split(",") if p.strip()]
    endpoints = endpoints_from(given)
    named = {stage for stage, _ in endpoints}
    for stage, url in local_endpoints().items():
        if stage not in named:
            endpoints.append((stage, url))
    result = collect(endpoints, kafka.bootstrap_servers, consumer_groups(kafka.topic_prefix),
                     security=aiokafka_options(kafka))
    # an optional stage nobody named and nobody runs is not part of this deployment
    result.instances = [i for i in result.instances if i.up or i.stage not in OPTIONAL or i.stage in named]
    present = {i.stage for i in result.instances}
    result.lag = {stage: lag for stage, lag in result.lag.items() if stage in present}
    required = set(LOCAL_PORTS) - OPTIONAL | {i.stage for i in result.instances}
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(format_line(summary))
        for stage, instances in summary["stages"].items():
            for inst in instances:
                state = describe(inst)
                click.echo(f"  {stage:<9} {inst['url']:<28} {state}")
    sys.exit(0 if result.healthy(required) else 1)
