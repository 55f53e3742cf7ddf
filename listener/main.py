"""`trackwire listen`: run the listener until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging

from common import eventloop
from common.kafka import ensure_topics
from common.kafka_security import KafkaAccessError
from common.service import run_until_signal
from common.settings import KafkaSettings
from listener.server import ListenerServer
from listener.settings import ListenerSettings
from schemas.topics import TOPICS, TopicNames
from schemas.topics import topic_names as _names

log = logging.getLogger(__name__)


def topic_names(kafka: KafkaSettings) -> TopicNames:
    return _names(kafka.topic_prefix)


async def serve(settings: ListenerSettings, kafka: KafkaSettings, ready: asyncio.Event | None = None) -> None:
    for action in await ensure_topics(kafka, TOPICS):
        log.info("topic %s", action)
    server = ListenerServer(settings, kafka, topic_names(kafka))
    await run_until_signal(server, on_ready=ready.set if ready is not None else None)


def run_listen(settings: ListenerSettings, kafka: KafkaSettings) -> None:
    try:
        eventloop.run(serve(settings, kafka))
    except KafkaAccessError as exc:  # wrong credentials or CA: the message says what to fix
        raise SystemExit(f"trackwire listen: {exc}") from None
