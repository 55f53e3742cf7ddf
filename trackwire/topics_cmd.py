"""`trackwire topics`: create or update every topic of schemas/topics.py, idempotently.

The admin code is common/kafka.py (every stage calls it at start); this is the command around it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Iterable, TextIO

from aiokafka.errors import KafkaError

from common import kafka as _kafka
from common.kafka import TopicAction, TopicError  # noqa: F401 - re-exported for older callers
from common.kafka_security import KafkaAccessError
from common.settings import KafkaSettings, load
from schemas.topics import TOPICS, TopicSpec


async def ensure_topics(settings: KafkaSettings, topics: Iterable[TopicSpec] = TOPICS, *,
                        timeout_s: float = 30.0) -> list[TopicAction]:
    """common.kafka.ensure_topics with every topic of the registry by default."""
    return await _kafka.ensure_topics(settings, topics, timeout_s=timeout_s)


def run_topics(
    bootstrap_servers: str | None = None, topic_prefix: str | None = None, out: TextIO | None = None
) -> None:
    """The `trackwire topics` command: ensure every topic, print one line per topic."""
    settings = load(KafkaSettings, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)
    out = out or sys.stdout
    try:
        actions = asyncio.run(ensure_topics(settings))
    except KafkaAccessError as exc:  # credentials, certificates: the message says what to check
        raise SystemExit(f"trackwire topics: {exc}") from None
    except (KafkaError, TopicError) as exc:
        raise SystemExit(
            f"trackwire topics: {exc} (bootstrap servers {settings.bootstrap_servers}; "
            "for a local broker run: bash deploy/local/kafka.sh start)"
        ) from None
    for action in actions:
        print(action, file=out)
