"""`trackwire process` start-up: configuration errors and topic preparation."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from processors.app import changelog_topic, default_app_id
from processors.cli_cmd import prepare_topics
from common.settings import ConfigError, KafkaSettings

from harness import REPO


def test_a_bad_threshold_stops_the_command_with_what_to_fix():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "TRACKWIRE_PROCESSOR_SPO2_LOW_PCT": "low"}
    done = subprocess.run([sys.executable, "-m", "trackwire.cli", "process"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0  # 1: trackwire.settings.ConfigError is SystemExit(message)
    assert "trackwire: configuration error: spo2_low_pct" in done.stderr


@pytest.mark.kafka
async def test_prepare_topics_creates_the_stage_topics_and_returns_the_raw_partition_count(
        kafka_bootstrap, kafka_prefix):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=kafka_prefix, topic_partitions=4)
    changelog = changelog_topic(default_app_id(kafka))
    assert changelog == f"{kafka_prefix}processor-devices-changelog"
    assert await prepare_topics(kafka, changelog) == 4
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        assert {kafka_prefix + n for n in ("raw-frames", "positions", "alerts", "sos", "telemetry", "events",
                                           "dead-letters")} <= names
        await admin.create_topics([NewTopic(changelog, 2, 1)])
        for _ in range(50):  # until the broker's metadata shows it
            if changelog in await admin.list_topics():
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    with pytest.raises(ConfigError, match="has 4 partitions but the processor state changelog .* has 2"):
        await prepare_topics(kafka, changelog)
