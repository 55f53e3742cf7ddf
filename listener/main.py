"""`trackwire listen`: run the listener until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from common.kafka import ensure_topics
from listener.server import ListenerServer
from listener.settings import ListenerSettings
from schemas.topics import TOPICS, TopicNames
from schemas.topics import topic_names as _names
from common.settings import KafkaSettings

log = logging.getLogger(__name__)


def topic_names(kafka: KafkaSettings) -> TopicNames:
    return _names(kafka.topic_prefix)


async def serve(settings: ListenerSettings, kafka: KafkaSettings, ready: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    for action in await ensure_topics(kafka, TOPICS):
        log.info("topic %s", action)
    server = ListenerServer(settings, kafka.bootstrap_servers, topic_names(kafka))
    async with server:
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("signal received: shutting down")


def run_listen(settings: ListenerSettings, kafka: KafkaSettings) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        asyncio.run(serve(settings, kafka))
    else:
        uvloop.run(serve(settings, kafka))
