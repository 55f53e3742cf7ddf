"""Listener benchmark: frames/s and memory per connection for N concurrent simulated devices,
next to a raw aiokafka producer sending as many same-sized messages to the same broker.

    python benchmarks/bench_listener.py [--devices 10000] [--duration 30]

Needs a broker (deploy/local/kafka.sh start, or KAFKA_BOOTSTRAP_SERVERS). The listener runs as its
own process (`trackwire listen`, uvloop); this process is the device fleet (closed loop: each
device sends its next GT06 location as soon as the previous one was acknowledged). Every reply
counted was written only after Kafka acknowledged the frame (acks=all, idempotent producer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.envelopes import RawFrame  # noqa: E402
from simulator import frames as F  # noqa: E402
from simulator.run import SimConfig, simulate  # noqa: E402
from common.settings import KafkaSettings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local broker's pid (deploy/local/kafka.sh), to report its CPU share; None if external."""
    pid_file = REPO / "var" / "kafka" / "kafka.pid"
    try:
        pid = int(pid_file.read_text().strip())
        return pid if Path(f"/proc/{pid}").exists() else None
    except (OSError, ValueError):
        return None


def listener_histograms(http_port: int) -> dict[str, float | None]:
    """Mean produce-ack latency, and the share of replies written within 1 s of the frame, as the
    listener itself measured them (the simulator's own figures include its event-loop lag)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("trackwire_listener_") and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            values[name] = float(number)
    produce_count = values.get("trackwire_listener_produce_latency_seconds_count")
    replies = values.get("trackwire_listener_reply_latency_seconds_count")
    within_1s = values.get('trackwire_listener_reply_latency_seconds_bucket{le="1.0"}')
    within_5s = values.get('trackwire_listener_reply_latency_seconds_bucket{le="5.0"}')
    return {
        "listener_produce_ack_ms_mean": round(values["trackwire_listener_produce_latency_seconds_sum"]
                                              / produce_count * 1000, 1) if produce_count else None,
        "listener_replies_within_1s_pct": round(100 * within_1s / replies, 1) if replies else None,
        "listener_replies_within_5s_pct": round(100 * within_5s / replies, 1) if replies else None,
        # frame batches (TRACKWIRE_LISTENER_FRAMES_PER_MESSAGE): frames per raw-frames message
        "listener_frames_per_message_mean": round(values["trackwire_listener_frames_per_message_sum"] / messages, 1)
        if (messages := values.get("trackwire_listener_frames_per_message_count")) else 1.0,
    }


def wait_ready(http_port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("listener did not become ready")


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kib(pid))
        await asyncio.sleep(0.5)


async def raw_producer_baseline(bootstrap: str, topic: str, count: int, size: int) -> float:
    """Messages/s of a bare aiokafka producer with the listener's producer settings."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # the same partition count as the raw-frames topic (schemas/topics.py default)
        await admin.create_topics([NewTopic(topic, KafkaSettings().topic_partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    payload = os.urandom(size)
    in_flight = asyncio.Semaphore(20000)
    try:
        started = time.perf_counter()
        futures = []
        for i in range(count):
            await in_flight.acquire()
            fut = await producer.send(topic, value=payload, key=f"dev{i % 10000}".encode())
            fut.add_done_callback(lambda _f: in_flight.release())
            futures.append(fut)
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of traffic after the ramp-up")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.devices + 100 > hard:
        raise SystemExit(f"open-file limit {hard} is too low for {args.devices} connections")

    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    port, http_port = free_port(), free_port()
    env = {**os.environ, "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": args.bootstrap, "TRACKWIRE_TOPIC_PREFIX": prefix,
           "TRACKWIRE_LISTENER_MAX_CONNECTIONS_PER_IP": str(args.devices + 100),
           "TRACKWIRE_LISTENER_MAX_CONNECTIONS": str(args.devices + 100), "TRACKWIRE_LOG_LEVEL": "WARNING"}
    listener = subprocess.Popen(
        [sys.executable, "-m", "trackwire.cli", "listen", "--host", "127.0.0.1", "--port", str(port),
         "--http-port", str(http_port)],
        cwd=REPO, env=env, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)),
    )
    try:
        wait_ready(http_port)
        idle_kib = rss_kib(listener.pid)
        peak = [idle_kib]
        stop = asyncio.Event()
        sampler = asyncio.ensure_future(sample_rss(listener.pid, peak, stop))
        config = SimConfig(port=port, devices=args.devices, protocols=("gt06",), interval_s=0.0,
                           duration_s=args.duration, sos_probability=0.0, connect_rate_per_s=1000,
                           start_together=True)
        started = time.perf_counter()
        kafka_pid = broker_pid()
        kafka_cpu_before = cpu_seconds(kafka_pid) if kafka_pid else 0.0
        listener_cpu_before, own_cpu_before = cpu_seconds(listener.pid), time.process_time()
        stats = await simulate(config)
        elapsed = time.perf_counter() - started
        listener_cpu = cpu_seconds(listener.pid) - listener_cpu_before
        simulator_cpu = time.process_time() - own_cpu_before
        kafka_cpu = cpu_seconds(kafka_pid) - kafka_cpu_before if kafka_pid else None
        server_side = listener_histograms(http_port)
        stop.set()
        await sampler
        frames_per_s = stats.replies / stats.traffic_s
        frame = F.gt06_location(F.Fix(time_now(), -33.8, 151.2), 1)
        envelope_size = len(RawFrame(frame_id="x" * 24, received_at_ms=0, transport="tcp", peer="127.0.0.1:50000",
                                     listener_id="bench", connection_id="x" * 20, protocol="gt06",
                                     device_id="860000000000001", data=frame).to_msgpack())
        baseline = await raw_producer_baseline(args.bootstrap, prefix + "baseline", stats.replies, envelope_size)
    finally:
        listener.terminate()
        listener.wait(30)
    print(json.dumps({
        "devices": args.devices, "connected": stats.connected, "connect_failures": stats.connect_failures,
        "seconds_with_ramp_up": round(elapsed, 1), "seconds_of_traffic": round(stats.traffic_s, 1), "frames_acknowledged": stats.replies, "reply_timeouts": stats.reply_timeouts,
        "listener_frames_per_s": round(frames_per_s),
        "reply_latency_ms_p50": round(stats.percentile(0.5) * 1000, 1) if stats.latencies_s else None,
        "reply_latency_ms_p99": round(stats.percentile(0.99) * 1000, 1) if stats.latencies_s else None,
        "listener_cpu_share": round(listener_cpu / elapsed, 2),
        "listener_cpu_ms_per_frame": round(listener_cpu * 1000 / max(stats.replies, 1), 3), "simulator_cpu_share": round(simulator_cpu / elapsed, 2),
        "kafka_cpu_share": round(kafka_cpu / elapsed, 2) if kafka_cpu is not None else None,
        **server_side,
        "listener_rss_idle_mib": round(idle_kib / 1024, 1), "listener_rss_peak_mib": round(peak[0] / 1024, 1),
        "memory_per_connection_kib": round((peak[0] - idle_kib) / max(stats.connected, 1), 1),
        "raw_producer_msgs_per_s": round(baseline), "message_bytes": envelope_size,
        "ratio_listener_to_raw_producer": round(frames_per_s / baseline, 3),
    }, indent=2))


def time_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
