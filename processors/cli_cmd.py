"""`trackwire process` (and `python -m processors`): run one processor worker until SIGTERM/SIGINT.

At start it makes sure the topics it reads and writes exist (common.kafka.ensure_topics),
reads the raw-frames topic's actual partition count (the table changelog must have as many: a
device's state lives in the changelog partition its id hashes to, as its frames do), then runs the
Faust worker. Run several, anywhere: they share the partitions through the consumer group.
"""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from common import eventloop
from common.kafka import ensure_topics
from common.kafka_security import KafkaAccessError, aiokafka_options
from common.logging import configure
from common.settings import ConfigError, KafkaSettings, load
from processors.settings import ProcessorSettings
from schemas import topics as spec

STAGE_TOPICS = (spec.RAW_FRAMES, spec.POSITIONS, spec.ALERTS, spec.SOS, spec.TELEMETRY, spec.EVENTS,
                spec.DEAD_LETTERS)


async def prepare_topics(kafka: KafkaSettings, changelog: str, timeout_s: float = 30.0) -> int:
    """Ensure the stage's topics exist; return the raw-frames topic's partition count.

    Refuses to start when the state changelog (if it exists already) has another partition count
    than the raw-frames topic: device state would no longer sit with the device's frames.
    """
    await ensure_topics(kafka, STAGE_TOPICS, timeout_s=timeout_s)
    raw = spec.RAW_FRAMES.full_name(kafka.topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="trackwire-processor",
                                request_timeout_ms=int(timeout_s * 1000), **aiokafka_options(kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        described = {t["topic"]: t for t in await admin.describe_topics([n for n in (raw, changelog) if n in existing])}
    finally:
        await admin.close()
    if raw not in described or described[raw]["error_code"]:
        raise ConfigError(f"cannot describe topic {raw}: {described.get(raw, {}).get('error_code', 'missing')}")
    partitions = len(described[raw]["partitions"])
    if changelog in described and not described[changelog]["error_code"]:
        have = len(described[changelog]["partitions"])
        if have != partitions:
            raise ConfigError(
                f"{raw} has {partitions} partitions but the processor state changelog {changelog} has {have}: "
                "device ids now hash to other partitions than their state. Stop every processor worker, then "
                f"either delete {changelog} (per-device state starts afresh) or give both the same count")
    return partitions


def run_process(
    *,
    bootstrap_servers: str | None = None,
    topic_prefix: str | None = None,
    app_id: str | None = None,
    web_port: int | None = None,
    log_level: str | None = None,
) -> None:
    """Run one processor worker in the foreground until SIGTERM/SIGINT. Arguments override the
    environment (TRACKWIRE_* for Kafka, TRACKWIRE_PROCESSOR_* for the processor)."""
    import faust

    from processors.app import ProcessorApp, changelog_topic, default_app_id

    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)
    settings = load(ProcessorSettings, app_id=app_id, web_port=web_port, log_level=log_level)
    if settings.log_level:  # TRACKWIRE_PROCESSOR_LOG_LEVEL
        configure("processor", level=settings.log_level)
    try:
        partitions = asyncio.run(prepare_topics(kafka, changelog_topic(settings.app_id or default_app_id(kafka))))
    except ConfigError:
        raise
    except KafkaAccessError as exc:
        raise SystemExit(f"trackwire process: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - say what to fix instead of a traceback
        raise SystemExit(f"trackwire process: cannot prepare topics on {kafka.bootstrap_servers}: {exc!r} "
                         "(for a local broker run: bash deploy/local/kafka.sh start)") from None
    eventloop.install()  # before Faust makes its loops (the worker's and its consumer thread's)
    processor = ProcessorApp(settings, kafka, partitions)
    # override_logging=False: the process keeps common.logging's one format (Faust would install
    # its own colour handler and banner), and no terminal spinner (installed for levels >= WARNING,
    # it sets the root logger to DEBUG: a third of the CPU formatting debug lines nobody sees).
    worker = faust.Worker(processor.app, quiet=True, override_logging=False)
    worker.spinner = None
    worker.execute_from_commandline()
