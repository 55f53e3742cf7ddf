"""`trackwire run`: the whole pipeline on one machine — listener, processor worker and sink as
child processes (as they run as separate pods in Kubernetes), the notifier too when
TRACKWIRE_NOTIFY_CONFIG names its webhooks file, and optionally a device simulator.

A small supervisor: SIGINT/SIGTERM is passed to every child, and if one stage exits on its own
the others are stopped too, so a broken pipeline is never left half-running.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request

STAGES = ("listen", "process", "sink")

log = logging.getLogger("trackwire.run")


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trackwire.cli", *args], env=os.environ.copy())


def _wait_until_ready(listener: subprocess.Popen, timeout_s: float = 120.0) -> None:
    """Until the listener's /readyz answers 200 (it creates topics and connects to Kafka first)."""
    from listener.settings import ListenerSettings

    url = f"http://127.0.0.1:{ListenerSettings().http_port}/readyz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and listener.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)


def run_pipeline(*, simulate_devices: int, simulate_interval_s: float, port: int) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from common.kafka import TopicError
    from common.settings import KafkaSettings, load
    from trackwire.topics_cmd import ensure_topics

    # Create/update topics once, before the stages start; logged like everything else.
    kafka = load(KafkaSettings)
    try:
        actions = asyncio.run(ensure_topics(kafka))
    except (KafkaError, TopicError) as exc:
        raise SystemExit(f"trackwire run: {exc} (bootstrap servers {kafka.bootstrap_servers}; "
                         "for a local broker run: bash deploy/local/kafka.sh start)") from None
    for action in actions:
        log.info("topic %s", action)
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop_all(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    children["listen"] = _spawn(["listen", "--port", str(port)])
    children["process"] = _spawn(["process"])
    children["sink"] = _spawn(["sink"])
    if os.environ.get("TRACKWIRE_NOTIFY_CONFIG"):
        children["notify"] = _spawn(["notify"])
    if simulate_devices:
        _wait_until_ready(children["listen"])
        children["simulate"] = _spawn(["simulate", "--port", str(port), "--devices", str(simulate_devices),
                                       "--interval", str(simulate_interval_s), "--duration", "31536000"])
    log.info("pipeline running (%s); devices on port %d; Ctrl-C stops it", ", ".join(children), port)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                log.error("%s exited with %s; stopping the pipeline", name, child.returncode)
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code
