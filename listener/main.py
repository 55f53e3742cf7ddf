"""`trackwire listen`: run the listener until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from listener.ingest import TopicNames
from listener.server import ListenerServer
from listener.settings import ListenerSettings
from schemas import topics as topic_layout
from trackwire.settings import KafkaSettings

log = logging.getLogger(__name__)


def topic_names(kafka: KafkaSettings) -> TopicNames:
    names = topic_layout.topic_names(kafka.topic_prefix)
    return TopicNames(
        raw_frames=names.raw_frames,
        dead_letters=names.dead_letters,
        commands=names.commands,
        devices=names.devices,
    )


async def serve(settings: ListenerSettings, kafka: KafkaSettings, ready: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await topic_layout.ensure_topics_for(kafka)
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
