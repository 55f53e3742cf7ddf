"""The whole pipeline as `trackwire run` starts it: devices on real sockets -> listener -> Kafka ->
processor worker -> Kafka -> sink -> ClickHouse (embedded engine), checked in ClickHouse.

Device bytes: GT06 login and SOS alarm (Concox document / tests/protocols/frames_gt06.py), a watch
blood-pressure + heart-rate reading and a GOTOP fix (tests/protocols/frames_*.py, cited there).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer

from schemas.records import from_msgpack
from schemas.topics import topic_names
from tests.protocols import frames_gotop as GOTOP
from tests.protocols import frames_gt06 as GT06
from tests.protocols import frames_watch as WATCH

pytestmark = pytest.mark.kafka

GT06_LOGIN = GT06.NAVTRACK_LOGIN  # IMEI 123456789012345
GT06_SOS = GT06.FORK_ALARM_SOS_SEEWORLD  # 0x16 alarm, SOS, fix at 25.827437,-80.376458


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipeline_env(kafka_bootstrap: str, kafka_prefix: str, clickhouse_dir, **extra: str) -> tuple[dict, dict]:
    """(environment, ports) for `trackwire run` on free ports, against the test's broker and prefix,
    with an embedded ClickHouse in `clickhouse_dir`: the settings every end-to-end test shares."""
    ports = {name: _free_port() for name in ("device", "listener_http", "sink_http", "processor_web")}
    env = {**os.environ, "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRACKWIRE_TOPIC_PREFIX": kafka_prefix,
           "TRACKWIRE_TOPIC_PARTITIONS": "2", "TRACKWIRE_CLICKHOUSE_URL": f"chdb://{clickhouse_dir}",
           "TRACKWIRE_LISTENER_HTTP_PORT": str(ports["listener_http"]),
           "TRACKWIRE_SINK_HTTP_PORT": str(ports["sink_http"]),
           "TRACKWIRE_PROCESSOR_WEB_PORT": str(ports["processor_web"]), "TRACKWIRE_SINK_BATCH_MAX_SECONDS": "0.5",
           # The sample frames are years old; the default TTL (365 days of device time) would drop them.
           "TRACKWIRE_SINK_TTL_DAYS": "0", **extra}
    return env, ports


def _wait_ready(http_port: int, process: subprocess.Popen, timeout_s: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "trackwire run exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("listener did not become ready")


async def _first_sos(bootstrap: str, topic: str, timeout_s: float = 90):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    return from_msgpack(message.value)
    finally:
        await consumer.stop()
    raise AssertionError(f"no SOS alert on {topic} within {timeout_s}s")


def assert_one_log_format(output: str) -> None:
    """Every line the pipeline printed is one JSON log entry of a stage; libraries only at warning."""
    entries = []
    for line in output.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    assert {e["stage"] for e in entries} == {"run", "listener", "processor", "sink"}
    assert all(set(e) >= {"ts", "level", "stage", "logger", "msg"} for e in entries)
    ours = ("trackwire", "listener", "processors", "sinks", "common", "simulator")
    chatter = [e for e in entries if not e["logger"].startswith(ours) and e["level"] in ("debug", "info")]
    assert chatter == []


async def test_devices_to_clickhouse_through_the_whole_pipeline(kafka_bootstrap, kafka_prefix, tmp_path):
    # The default level: what an operator sees (checked below: one format, no library chatter).
    env, ports = pipeline_env(kafka_bootstrap, kafka_prefix, tmp_path / "clickhouse", TRACKWIRE_LOG_FORMAT="json",
                              TRACKWIRE_RUN_LOG_DIR=str(tmp_path / "logs"))
    port, listener_http = ports["device"], ports["listener_http"]
    env.pop("TRACKWIRE_LOG_LEVEL", None)
    env.pop("TRACKWIRE_LOG_LIBRARY_LEVEL", None)
    run = subprocess.Popen([sys.executable, "-m", "trackwire.cli", "run", "--port", str(port), "--simulate", "0"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        await asyncio.to_thread(_wait_ready, listener_http, run)
        gt_reader, gt_writer = await asyncio.open_connection("127.0.0.1", port)
        gt_writer.write(GT06_LOGIN)
        assert await asyncio.wait_for(gt_reader.readexactly(10), 20) == GT06.NAVTRACK_LOGIN_REPLY
        gt_writer.write(GT06_SOS)
        await asyncio.wait_for(gt_reader.readexactly(10), 20)  # acknowledged: Kafka has it
        w_reader, w_writer = await asyncio.open_connection("127.0.0.1", port)
        w_writer.write(WATCH.BPHRT)
        await asyncio.wait_for(w_reader.readuntil(b"]"), 20)
        _g_reader, g_writer = await asyncio.open_connection("127.0.0.1", port)
        g_writer.write(b"#" + GOTOP.TRACCAR_CMD_T_WIFI_BLE + b"#")
        await g_writer.drain()

        sos = await _first_sos(kafka_bootstrap, topic_names(kafka_prefix).sos)
        assert (sos.device_id, sos.alarm.value, sos.state) == ("123456789012345", "sos", "open")
        await asyncio.sleep(8)  # the sink's batches are half a second; give it room on a loaded machine
        for writer in (gt_writer, w_writer, g_writer):
            writer.close()
    finally:
        run.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(run.communicate, timeout=120)
    assert run.returncode == 0, output[-3000:]
    # `trackwire run` shows its own screen; every stage's log lines are in <log dir>/<stage>.log.
    assert output.startswith("trackwire run: starting")
    assert_one_log_format("".join(path.read_text() for path in sorted((tmp_path / "logs").glob("*.log"))))

    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path}/clickhouse")
    positions = client.query(
        "SELECT device_id, protocol, round(lat, 6), round(lon, 6) FROM trackwire.positions FINAL ORDER BY device_id"
    ).result_rows
    assert positions == [
        ("123456789012345", "gt06", 25.827437, -80.376458),
        ("860264050778076", "gotop", 48.763698, -3.46524),
    ]
    alerts = client.query("SELECT device_id, alarm, state FROM trackwire.alerts FINAL").result_rows
    assert ("123456789012345", "sos", "open") in alerts
    readings = client.query(
        "SELECT device_id, heart_rate_bpm, bp_systolic_mmhg, bp_diastolic_mmhg FROM trackwire.telemetry FINAL "
        "WHERE heart_rate_bpm IS NOT NULL").result_rows
    assert readings == [("4700609403", 73, 120, 79)]
    logins = client.query("SELECT device_id FROM trackwire.device_events FINAL WHERE event = 'login'").result_rows
    assert logins == [("123456789012345",)]
