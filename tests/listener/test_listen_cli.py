"""`trackwire listen` as operators run it: a process (uvloop), ready endpoint, SIGTERM; bad config."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.protocols import frames_watch as WATCH


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_config_fails_at_start_saying_what_to_fix():
    env = {**os.environ, "TRACKWIRE_LISTENER_PORT": "eighty"}
    done = subprocess.run([sys.executable, "-m", "trackwire.cli", "listen"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "configuration error" in done.stderr and "port" in done.stderr and "eighty" in done.stderr


@pytest.mark.kafka
def test_listen_serves_and_stops_gracefully_on_sigterm(kafka_bootstrap, kafka_prefix):
    port, http_port = _free_port(), _free_port()
    env = {**os.environ, "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRACKWIRE_TOPIC_PREFIX": kafka_prefix,
           "TRACKWIRE_TOPIC_PARTITIONS": "1", "TRACKWIRE_LOG_FORMAT": "json"}
    process = subprocess.Popen(
        [sys.executable, "-m", "trackwire.cli", "listen", "--host", "127.0.0.1", "--port", str(port),
         "--http-port", str(http_port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "listener did not become ready"
                time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as device:
            device.sendall(WATCH.LK_FULL)
            assert device.recv(100) == b"[3G*4700186508*0002*LK]"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(10)
            udp.sendto(WATCH.LK_FULL, ("127.0.0.1", port))
            assert udp.recvfrom(100)[0] == b"[3G*4700186508*0002*LK]"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert '"msg": "listener stopped"' in stderr
