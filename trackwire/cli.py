"""`trackwire` console script: one group, one subcommand per stage.

Subcommands import their stage lazily so `trackwire decode` does not pay for Kafka/Faust imports.
"""

from __future__ import annotations

import click

# Protocol and transport names come from their registries (light imports: codecs and device
# profiles, no Kafka/Faust), so a new protocol appears here without touching this file.
from protocols.base import Transport
from simulator.profiles import PROFILES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trackwire")
def main() -> None:
    """trackwire: ingestion pipeline for GPS wearables and trackers."""


@main.command()
@click.option("--hex", "as_hex", is_flag=True, help="Lines are hex-encoded bytes (spaces allowed).")
@click.option("--transport", type=click.Choice([t.value for t in Transport]), default="tcp", show_default=True,
              help="tcp: all lines are one connection's byte stream; udp: each line is one datagram.")
@click.argument("source", type=click.File("rb"), default="-")
def decode(as_hex: bool, transport: str, source) -> None:
    """Decode captured device traffic from SOURCE (a file or - for stdin), one capture per line.

    Prints one JSON object per line for each record, reply and error; each carries "line", the
    1-based input line whose bytes completed its frame.
    """
    from trackwire.decode_cmd import run_decode

    run_decode(source, as_hex=as_hex, transport=transport, out=click.get_text_stream("stdout"))


@main.command()
@click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic name prefix (default: env or 'trackwire.').")
def topics(bootstrap_servers: str | None, topic_prefix: str | None) -> None:
    """Create or update every trackwire topic (idempotent) and print what was done."""
    from trackwire.topics_cmd import run_topics

    run_topics(bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)


def _listener_options(fn):
    options = [
        click.option("--host", default=None, help="Address for TCP+UDP (default 0.0.0.0)."),
        click.option("--port", type=int, default=None, help="Device port, TCP and UDP (default 8888)."),
        click.option("--http-port", type=int, default=None, help="Metrics/health port (default 9100)."),
        click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers."),
        click.option("--allowlist/--no-allowlist", "allowlist_enabled", default=None,
                     help="Only accept devices registered with `trackwire devices add`."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@main.command()
@_listener_options
def listen(host, port, http_port, bootstrap_servers, allowlist_enabled) -> None:
    """Serve devices on one port (TCP and UDP), publishing every frame to Kafka."""
    from common.logging import configure
    from common.settings import KafkaSettings, load
    from listener.main import run_listen
    from listener.settings import ListenerSettings

    configure("listener")
    settings = load(ListenerSettings, host=host, port=port, http_port=http_port, allowlist_enabled=allowlist_enabled)
    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers)
    run_listen(settings, kafka)


@main.group()
def devices() -> None:
    """Manage the device allow-list (a compacted Kafka topic shared by all listeners)."""


def _run_kafka(command: str, coro):
    """asyncio.run(coro); refused credentials or certificates exit saying what to check."""
    import asyncio

    from common.kafka_security import KafkaAccessError

    try:
        return asyncio.run(coro)
    except KafkaAccessError as exc:
        raise SystemExit(f"trackwire {command}: {exc}") from None


@devices.command("add")
@click.argument("device_id")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--group", default=None, help="Group (e.g. care home, fleet).")
@click.option("--bootstrap-servers", default=None)
def devices_add(device_id, display_name, group, bootstrap_servers) -> None:
    """Register DEVICE_ID (IMEI or watch id)."""
    from listener.devices import DeviceSettings, put_device
    from listener.main import topic_names
    from common.settings import KafkaSettings, load

    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers)
    _run_kafka("devices add", put_device(kafka, topic_names(kafka).devices, device_id,
                                         DeviceSettings(display_name=display_name, group=group)))
    click.echo(f"registered {device_id}")


@devices.command("remove")
@click.argument("device_id")
@click.option("--bootstrap-servers", default=None)
def devices_remove(device_id, bootstrap_servers) -> None:
    """Remove DEVICE_ID from the allow-list."""
    from listener.devices import put_device
    from listener.main import topic_names
    from common.settings import KafkaSettings, load

    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers)
    _run_kafka("devices remove", put_device(kafka, topic_names(kafka).devices, device_id, None))
    click.echo(f"removed {device_id}")


@devices.command("list")
@click.option("--bootstrap-servers", default=None)
def devices_list(bootstrap_servers) -> None:
    """Print registered devices, one JSON object per line."""
    import json
    from dataclasses import asdict

    from listener.devices import list_devices
    from listener.main import topic_names
    from common.settings import KafkaSettings, load

    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers)
    for device_id, settings in sorted(_run_kafka("devices list", list_devices(kafka, topic_names(kafka).devices)).items()):
        click.echo(json.dumps({"device_id": device_id, **{k: v for k, v in asdict(settings).items() if v is not None}}))


@main.command()
@click.option("--clickhouse-url", default=None,
              help="chdb:///data/dir (embedded; default env or chdb:var/clickhouse) or http(s)://user:pass@host:8123/db.")
@click.option("--batch-rows", "batch_max_rows", type=int, default=None, help="Write a batch at this many rows (default 50000).")
@click.option("--batch-seconds", "batch_max_seconds", type=float, default=None,
              help="... or when its oldest row is this old (default 1.0).")
@click.option("--ttl-days", type=int, default=None, help="Keep raw rows this many days; 0 forever (default 365).")
@click.option("--group-id", default=None, help="Kafka consumer group (default trackwire-sink).")
@click.option("--http-port", type=int, default=None, help="Port of /metrics and /health (default 9102).")
@click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic name prefix (default: env or 'trackwire.').")
def sink(**options) -> None:
    """Write positions, alerts, telemetry, device events and dead letters from Kafka into ClickHouse.

    Applies the schema migrations first. Offsets are committed only after ClickHouse took the rows;
    while ClickHouse is down the sink holds its batch and waits (logs, /health, metrics say so).
    """
    from common.logging import configure
    from sinks.cli_cmd import run_sink

    configure("sink")
    run_sink(**options)


@main.command()
@click.option("--clickhouse-url", default=None, help="As for `trackwire sink`.")
@click.option("--ttl-days", type=int, default=None, help="Keep raw rows this many days; 0 forever (default 365).")
def migrate(clickhouse_url: str | None, ttl_days: int | None) -> None:
    """Create or upgrade the ClickHouse tables and views (idempotent, versioned) and set the TTL."""
    from sinks.cli_cmd import run_migrate

    run_migrate(clickhouse_url=clickhouse_url, ttl_days=ttl_days)

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8888, show_default=True)
@click.option("--devices", type=int, default=100, show_default=True, help="Simulated devices, one TCP connection each.")
@click.option("--protocol", "protocols", multiple=True, type=click.Choice(sorted(PROFILES)),
              help="Protocols to mix (default: every protocol with a device profile).")
@click.option("--interval", "interval_s", type=float, default=10.0, show_default=True,
              help="Seconds between reports per device; 0 = send again as soon as acknowledged.")
@click.option("--duration", "duration_s", type=float, default=60.0, show_default=True)
@click.option("--sos-probability", type=float, default=0.01, show_default=True, help="Chance a report is an SOS.")
def simulate(host, port, devices, protocols, interval_s, duration_s, sos_probability) -> None:
    """Run simulated devices (one profile per protocol) against a listener; print a JSON summary."""
    import asyncio
    import json

    from common.logging import configure
    from simulator.run import PROTOCOLS, SimConfig, simulate as run

    configure("simulator")
    config = SimConfig(host=host, port=port, devices=devices, protocols=tuple(protocols) or PROTOCOLS,
                       interval_s=interval_s, duration_s=duration_s, sos_probability=sos_probability)
    stats = asyncio.run(run(config))
    p50, p99 = stats.percentile(0.5), stats.percentile(0.99)
    click.echo(json.dumps({
        "devices": devices, "connected": stats.connected, "connect_failures": stats.connect_failures,
        "frames_sent": stats.frames_sent, "replies": stats.replies, "reply_timeouts": stats.reply_timeouts,
        "sos_sent": stats.sos_sent, "disconnects": stats.disconnects,
        "reply_latency_ms_p50": round(p50 * 1000, 2) if p50 is not None else None,
        "reply_latency_ms_p99": round(p99 * 1000, 2) if p99 is not None else None,
    }))


@main.command()
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="Webhooks TOML file (default: env TRACKWIRE_NOTIFY_CONFIG); see examples/notify.toml.")
@click.option("--test", "test_webhook", default=None, metavar="NAME",
              help="Send one signed test notification to webhook NAME, print the answer and exit.")
@click.option("--http-port", type=int, default=None, help="Port of /metrics and /health (default 9103).")
@click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic name prefix (default: env or 'trackwire.').")
def notify(config_path, test_webhook, http_port, bootstrap_servers, topic_prefix) -> None:
    """Send SOS and fall alerts (and any other alarm a webhook asks for) to webhooks, signed per the
    Standard Webhooks specification, at least once, retrying on the specification's schedule.

    Offsets are committed only once every matching webhook answered 2xx or the alert went to the
    dead-letter topic; a restart resends unfinished alerts with the same webhook-id.
    """
    if test_webhook is not None:
        from notifier.cli_cmd import run_test

        raise SystemExit(run_test(test_webhook, config=config_path))
    from notifier.cli_cmd import run_notify

    run_notify(config=config_path, http_port=http_port, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)


@main.command()
@click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic name prefix (default: env or 'trackwire.').")
@click.option("--app-id", default=None,
              help="Faust app id = consumer group and changelog prefix (default: env or '<prefix>processor').")
@click.option("--web-port", type=int, default=None, help="Serve Faust's web views on this port (default: off).")
@click.option("--log-level", default=None, help="debug, info, warning... (default: env or info).")
def process(bootstrap_servers, topic_prefix, app_id, web_port, log_level) -> None:
    """Run a processor worker: raw frames -> positions, alerts, SOS, telemetry and device events.

    Per-device state (last fix, battery, health readings, open alarms) lives in a changelog-backed
    table. Run several: they share the raw-frames partitions and the state moves with them.
    Thresholds and timings come from TRACKWIRE_PROCESSOR_* variables (processors/settings.py).
    """
    from common.logging import configure
    from processors.cli_cmd import run_process

    configure("processor", level=log_level)
    run_process(bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix, app_id=app_id, web_port=web_port,
                log_level=log_level)


from trackwire.query_cmd import query  # noqa: E402  (commands of their own modules)
from trackwire.run_cmd import run  # noqa: E402
from trackwire.status_cmd import status  # noqa: E402

main.add_command(query)
main.add_command(run)
main.add_command(status)


if __name__ == "__main__":
    main()
