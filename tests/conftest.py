"""Fixtures shared by the whole suite.

`kafka_bootstrap` gives tests marked `kafka` a real Apache Kafka broker, decided once per session:

1. KAFKA_BOOTSTRAP_SERVERS / TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS set: that cluster, nothing started;
2. else a broker that already answers on 127.0.0.1:$TRACKWIRE_KAFKA_PORT (default 9092) and was
   not started for a test run (by hand, or not by deploy/local/kafka.sh): used, left running;
3. else `deploy/local/kafka.sh start` starts one, holding a lease for this process, and the session
   releases the lease at the end, which stops the broker. Test runs going on at the same time share
   that broker, and the last one to end stops it; a test run that is killed loses its lease within
   a second (kafka.sh's watchdog), so no broker is left behind either way.

`kafka_prefix` gives each test its own topic prefix and deletes the test's topics afterwards, so
tests and test runs never share a topic and a long-lived local broker does not fill up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"
RUN_ID = uuid.uuid4().hex[:8]


# In CI, property tests use a fixed seed: a failure there is reproducible, never a coin toss.
if os.environ.get("CI"):
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    _hypothesis_settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka: needs a real Kafka broker (uses the kafka_bootstrap fixture)")
    config.addinivalue_line("markers", "slow: takes minutes (the end-to-end fault test); CI runs it")


def _kafka_sh(*args: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(KAFKA_SH), *args],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def kafka_sh():
    """Runs deploy/local/kafka.sh: kafka_sh("status", timeout=30, env=None) -> CompletedProcess."""
    return _kafka_sh


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """bootstrap_servers of a real broker (see the module docstring for which one)."""
    # The same order as trackwire.settings.KafkaSettings.
    external = os.environ.get("TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    lease = {**os.environ, "TRACKWIRE_KAFKA_OWNER_PID": str(os.getpid())}
    # A cold start includes the Maven download of the jars: allow for a slow registry.
    started = _kafka_sh("start", timeout=900, env=lease)
    if started.returncode != 0:
        pytest.fail(f"deploy/local/kafka.sh start failed:\n{started.stdout}{started.stderr}", pytrace=False)
    try:
        yield f"127.0.0.1:{os.environ.get('TRACKWIRE_KAFKA_PORT', '9092')}"
    finally:
        released = _kafka_sh("release", timeout=120, env=lease)
        assert released.returncode == 0, released.stdout + released.stderr


@pytest.fixture
def kafka_prefix(kafka_bootstrap, request):
    """A topic prefix of this test alone; its topics are deleted when the test ends (kept with
    TRACKWIRE_TEST_KEEP_TOPICS=1, to read them after a failure)."""
    prefix = f"test-{RUN_ID}-{uuid.uuid4().hex[:6]}."
    yield prefix
    if os.environ.get("TRACKWIRE_TEST_KEEP_TOPICS"):
        return  # kept for a post-mortem
    asyncio.run(_delete_topics(kafka_bootstrap, prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="trackwire-tests")
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
