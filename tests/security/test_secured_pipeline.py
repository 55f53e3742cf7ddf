"""The stages against a secured broker (tests/security/conftest.py): the listener, a processor worker
and the sink as processes over SASL_SSL with SCRAM-SHA-512, end to end into ClickHouse (embedded);
a wrong password stops each stage at start with a message that says what to check.

Device bytes: GT06 login and SOS alarm (tests/protocols/frames_gt06.py, cited there).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import clickhouse_connect
import pytest

from tests.protocols import frames_gt06 as GT06
from tests.security.conftest import USER, free_port

pytestmark = pytest.mark.kafka

WRONG = re.compile(
    rf"Kafka rejected the credentials of user '{USER}' \(SASL SCRAM-SHA-512\) at 127\.0\.0\.1:\d+: "
    r"check TRACKWIRE_KAFKA_SASL_USERNAME/PASSWORD")


def _stage(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trackwire.cli", *command], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _metric(http_port: int, name: str, labels: str = "") -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=2) as response:
        text = response.read().decode()
    found = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _wait_until(check, what: str, processes: list[subprocess.Popen], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args} exited early: {process.stdout.read()[-3000:]}"
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def _ready(http_port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as response:
        return response.status == 200


async def test_listener_processor_and_sink_over_sasl_ssl_end_to_end(secured_broker, kafka_prefix, tmp_path):
    port, listener_http, sink_http = free_port(), free_port(), free_port()
    store = tmp_path / "clickhouse"
    env = {**os.environ, **secured_broker.env(), "TRACKWIRE_TOPIC_PREFIX": kafka_prefix,
           "TRACKWIRE_TOPIC_PARTITIONS": "1", "TRACKWIRE_SINK_CLICKHOUSE_URL": f"chdb://{store}",
           "TRACKWIRE_SINK_BATCH_MAX_SECONDS": "0.5", "TRACKWIRE_PROCESSOR_SESSION_TIMEOUT_S": "6",
           # The sample frames are years old; the default TTL (365 days of device time) would drop them.
           "TRACKWIRE_SINK_TTL_DAYS": "0", "TRACKWIRE_LOG_LEVEL": "WARNING"}
    stages = [
        _stage(["listen", "--host", "127.0.0.1", "--port", str(port), "--http-port", str(listener_http)], env),
        _stage(["process"], env),
        _stage(["sink", "--http-port", str(sink_http)], env),
    ]
    try:
        await asyncio.to_thread(_wait_until, lambda: _ready(listener_http), "listener ready", stages)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GT06.NAVTRACK_LOGIN)
        # The listener replies only after Kafka (over SASL_SSL) acknowledged the frame.
        assert await asyncio.wait_for(reader.readexactly(10), 30) == GT06.NAVTRACK_LOGIN_REPLY
        writer.write(GT06.FORK_ALARM_SOS_SEEWORLD)
        assert len(await asyncio.wait_for(reader.readexactly(10), 30)) == 10
        writer.close()
        # The processor decodes the SOS into a position and an alert; the sink writes both.
        await asyncio.to_thread(
            _wait_until,
            lambda: (_metric(sink_http, "trackwire_sink_rows_written_total", '{table="positions"}') >= 1
                     and _metric(sink_http, "trackwire_sink_rows_written_total", '{table="alerts"}') >= 1),
            "the sink wrote the position and the alert", stages, 180)
    finally:
        for process in stages:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        outputs = [await asyncio.to_thread(process.communicate, timeout=120) for process in stages]
    for process, (output, _) in zip(stages, outputs):
        assert process.returncode == 0, f"{process.args}: {output[-3000:]}"

    client = clickhouse_connect.get_client(dsn=f"chdb://{store}")
    positions = client.query("SELECT device_id, protocol, round(lat, 6), round(lon, 6) FROM trackwire.positions FINAL"
                             ).result_rows
    assert positions == [("123456789012345", "gt06", 25.827437, -80.376458)]
    alerts = client.query("SELECT device_id, alarm, state FROM trackwire.alerts FINAL").result_rows
    assert ("123456789012345", "sos", "open") in alerts


@pytest.mark.parametrize("command", [
    ["listen", "--host", "127.0.0.1", "--port", "0", "--http-port", "0"],
    ["process"],
    ["sink", "--http-port", "0"],
    ["topics"],
    ["devices", "add", "4700186508"],
    ["devices", "list"],
], ids=lambda command: " ".join(command[:2]) if command[0] == "devices" else command[0])
def test_a_wrong_password_stops_the_command_at_start_saying_what_to_check(secured_broker, kafka_prefix, tmp_path,
                                                                          command):
    env = {**os.environ, **secured_broker.env(password="not-the-password"), "TRACKWIRE_TOPIC_PREFIX": kafka_prefix,
           "TRACKWIRE_SINK_CLICKHOUSE_URL": f"chdb://{tmp_path}/clickhouse"}
    name = " ".join(command[:2]) if command[0] == "devices" else command[0]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "trackwire.cli", *command], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"trackwire {name}: "), done.stderr[-2000:]
    assert WRONG.search(last_line), done.stderr[-2000:]
    assert "not-the-password" not in done.stdout + done.stderr
    assert time.monotonic() - started < 60  # no retrying: one attempt per bootstrap server


def test_the_device_allow_list_commands_work_over_sasl_ssl(secured_broker, kafka_prefix):
    env = {**os.environ, **secured_broker.env(mechanism="SCRAM-SHA-256"), "TRACKWIRE_TOPIC_PREFIX": kafka_prefix}

    def trackwire(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "trackwire.cli", *args], env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    trackwire("topics")
    assert trackwire("devices", "add", "4700186508", "--name", "Ward 3") == "registered 4700186508\n"
    assert trackwire("devices", "list") == '{"device_id": "4700186508", "display_name": "Ward 3"}\n'
