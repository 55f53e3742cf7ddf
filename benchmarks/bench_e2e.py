"""End-to-end benchmark: fixes per second from device sockets to rows committed in ClickHouse, with
the latency from a frame sent to its row visible, per-stage CPU and memory, and the raw aiokafka
producer baseline of the same run.

    python benchmarks/bench_e2e.py [--devices 2000] [--duration 60] [--processors 1]

Everything runs on this machine: the broker (KAFKA_BOOTSTRAP_SERVERS, default the local one), the
stages as their own processes exactly as operators start them (`trackwire listen`, `trackwire
process` xN, `trackwire sink` on the embedded engine in a temporary directory), and this process as
the fleet: `--devices` GT06 trackers over real TCP, each logs in and then sends its next location as
soon as the previous one was acknowledged (closed loop; a device resends what is not acknowledged
within 20 s, as GT06 trackers do). Topics are a fresh prefix, deleted at the end.

Each frame carries its own device time (a per-device clock advancing one second per fix), so
(device_id, time) names one frame. The fleet notes the wall time it sent every frame; after the run
the rows' `ingested_at` (the server's insert time, migration 2) gives "sent -> row visible" for
every stored fix. Stored fixes/s is counted over the sustained window from the sink's metrics
(`trackwire_sink_rows_written_total{table="positions"}`) sampled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from schemas.envelopes import RawFrame  # noqa: E402
from simulator import frames as F  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def broker_pid() -> int | None:
    try:
        return int((REPO / "var" / "kafka" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def metric(url: str, name: str, labels: str = "") -> float:
    """Sum of a Prometheus metric's samples (optionally only those whose labels contain `labels`)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return float("nan")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- the raw producer baseline ---------------------------------------------------------------

async def raw_producer_rate(bootstrap: str, topic: str, size: int, seconds: float, partitions: int) -> float:
    """Messages/s a bare aiokafka producer (acks=all, idempotent) gets on this broker, same size,
    with as many sends in flight as the listener may have (it waits for every ack too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    for _ in range(100):  # the new topic's leaders, before the clock starts
        if producer.client.cluster.partitions_for_topic(topic):
            break
        await producer.client.force_metadata_update()
        await asyncio.sleep(0.1)
    payload = os.urandom(size)
    sent = 0
    try:
        stop = time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < stop:
            futures = [await producer.send(topic, payload, key=b"k%d" % (i % 997)) for i in range(2000)]
            await asyncio.gather(*futures)
            sent += len(futures)
        return sent / (time.perf_counter() - start)
    finally:
        await producer.stop()


# -- the fleet -------------------------------------------------------------------------------

class Device(asyncio.Protocol):
    """One GT06 tracker on its own TCP connection, closed loop: it logs in, then sends its next
    location as soon as the previous frame was acknowledged (and the same frame again when no ack
    came within RESEND_S). Callbacks, not a task per device: the fleet shares the machine with the
    pipeline, and a coroutine per device awaiting two reads per ack cost the fleet ~0.04 ms of CPU
    per fix (40 % of a core at 9,500 fixes/s), CPU the stages under test did not get."""

    RESEND_S = 20.0

    def __init__(self, fleet: "Fleet", index: int) -> None:
        self.fleet = fleet
        self.device_id = f"35{index:013d}"
        rng = random.Random(index)
        self.rng = rng
        self.lat, self.lon = -33.86 + rng.random() * 0.1, 151.20 + rng.random() * 0.1
        self.serial = 1
        self.second = 0
        self.buffer = b""
        self.frame = b""  # the frame waiting for its ack
        self.sent_mono = 0.0
        self.logged_in = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.running = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.transport.write(F.gt06_login(self.device_id, self.serial))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while len(buffer) >= 3 and len(buffer) >= buffer[2] + 5:
            buffer = buffer[buffer[2] + 5:]
            self.on_ack()
        self.buffer = buffer

    def on_ack(self) -> None:
        if not self.logged_in.done():
            self.logged_in.set_result(None)
            return
        if not self.frame:
            return  # an ack for nothing outstanding (a resend's second ack)
        self.frame = b""
        self.fleet.acked += 1
        if self.running:
            self.send_next()

    def start(self) -> None:
        self.running = True
        self.send_next()

    def send_next(self) -> None:
        if time.monotonic() >= self.fleet.stop_at:
            self.running = False
            self.transport.close()
            return
        self.second += 1
        self.serial = (self.serial + 1) & 0xFFFF
        self.lat += self.rng.uniform(-0.0005, 0.0005)
        self.lon += self.rng.uniform(-0.0005, 0.0005)
        fix = F.Fix(self.fleet.base_time + timedelta(seconds=self.second), self.lat, self.lon, speed_kmh=5.0,
                    course_deg=90.0)
        self.frame = F.gt06_location(fix, self.serial)
        self.send()

    def send(self) -> None:
        self.fleet.sent_at[(self.device_id, self.second)] = time.time()
        self.sent_mono = time.monotonic()
        self.transport.write(self.frame)

    def resend_if_late(self, now: float) -> None:
        if self.frame and now - self.sent_mono > self.RESEND_S:
            self.fleet.resent += 1
            self.send()

    def connection_lost(self, exc) -> None:
        self.running = False
        if not self.logged_in.done():
            self.logged_in.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)


class Fleet:
    def __init__(self, devices: int, port: int, base_time: datetime) -> None:
        self.port = port
        self.devices = devices
        self.base_time = base_time
        self.sent_at: dict[tuple[str, int], float] = {}  # (device id, device time s) -> wall time sent
        self.acked = 0
        self.resent = 0
        self.connected = 0
        self.stop_at = float("inf")
        self.members: list[Device] = []

    async def connect(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(60):
            try:
                _, device = await loop.create_connection(lambda: Device(self, index), "127.0.0.1", self.port)
                break
            except OSError:
                await asyncio.sleep(0.5)
        else:
            return
        self.connected += 1
        await device.logged_in
        self.members.append(device)

    async def run(self) -> None:
        """Every connected device sends until stop_at; returns when all connections closed."""
        for device in self.members:
            device.start()
        while any(device.running for device in self.members):
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for device in self.members:
                device.resend_if_late(now)
            if now > self.stop_at + Device.RESEND_S + 5:
                break  # the last frames got no ack at all
        for device in self.members:
            if device.transport is not None:
                device.transport.close()
        await asyncio.gather(*(device.closed for device in self.members))


# -- the run ---------------------------------------------------------------------------------

class Stage:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = open(log_dir / f"{name}.log", "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "trackwire.cli", *args], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        self.cpu0 = 0.0
        self.peak_rss = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def wait_http(url: str, timeout: float, stage: Stage) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stage.process.poll() is not None:
            raise SystemExit(f"{stage.name} exited with {stage.process.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{stage.name} not ready at {url} within {timeout} s")


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


async def main_async(args: argparse.Namespace) -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    work = Path(tempfile.mkdtemp(prefix="trackwire-e2e-"))
    port, listener_http, sink_http = free_port(), free_port(), free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TRACKWIRE_TOPIC_PREFIX": prefix,
           "TRACKWIRE_TOPIC_PARTITIONS": str(args.partitions), "TRACKWIRE_LOG_LEVEL": "warning",
           "TRACKWIRE_LISTENER_PORT": str(port), "TRACKWIRE_LISTENER_HTTP_PORT": str(listener_http),
           "TRACKWIRE_SINK_HTTP_PORT": str(sink_http), "TRACKWIRE_SINK_CLICKHOUSE_URL": f"chdb:{work}/clickhouse",
           "TRACKWIRE_SINK_TTL_DAYS": "0", "PYTHONPATH": str(REPO)}
    print(f"machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}; broker {bootstrap}")
    print(f"fleet: {args.devices} GT06 devices, closed loop, {args.duration:.0f} s; processors: {args.processors}; "
          f"partitions: {args.partitions}")
    subprocess.run([sys.executable, "-m", "trackwire.cli", "topics"], env=env, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)

    sample = RawFrame(frame_id="l-1-1", received_at_ms=int(time.time() * 1000), transport="tcp",
                      peer="127.0.0.1:50000", listener_id="bench", connection_id="c1", protocol="gt06",
                      device_id="350000000000001", data=F.gt06_location(
                          F.Fix(datetime.now(timezone.utc), -33.0, 151.0), 7)).to_msgpack()
    baseline = await raw_producer_rate(bootstrap, f"{prefix}baseline", len(sample), args.baseline_seconds,
                                       args.partitions)
    print(f"raw aiokafka producer (acks=all, idempotent, {len(sample)} B): {baseline:,.0f} msgs/s")

    stages = [Stage("listener", ["listen", "--port", str(port), "--http-port", str(listener_http)], env, work)]
    stages += [Stage(f"processor{i}", ["process", "--app-id", f"{prefix}processor"], env, work)
               for i in range(args.processors)]
    stages.append(Stage("sink", ["sink", "--http-port", str(sink_http)], env, work))
    samples: list[tuple[float, float]] = []  # (monotonic, positions rows written)
    try:
        wait_http(f"http://127.0.0.1:{listener_http}/readyz", 120, stages[0])
        wait_http(f"http://127.0.0.1:{sink_http}/health", 120, stages[-1])
        await asyncio.sleep(args.warmup)  # processors join their group
        fleet = Fleet(args.devices, port, datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=12))
        for first in range(0, args.devices, 500):  # logins in waves: not 10,000 SYNs at once
            await asyncio.gather(*(fleet.connect(i) for i in range(first, min(first + 500, args.devices))))
        broker = broker_pid()
        cpu0 = {s.name: proc_cpu_s(s.pid) for s in stages}
        broker_cpu0 = proc_cpu_s(broker) if broker else 0.0
        self_cpu0 = time.process_time()
        started = time.monotonic()
        fleet.stop_at = started + args.duration
        running = asyncio.ensure_future(fleet.run())
        rows_url = f"http://127.0.0.1:{sink_http}/metrics"
        while time.monotonic() < fleet.stop_at:
            await asyncio.sleep(1.0)
            samples.append((time.monotonic(), metric(rows_url, "trackwire_sink_rows_written_total", 'table="positions"')))
            for s in stages:
                s.peak_rss = max(s.peak_rss, proc_rss_mib(s.pid))
        await running
        fleet_s = time.monotonic() - started
        cpu = {s.name: proc_cpu_s(s.pid) - cpu0[s.name] for s in stages}
        broker_cpu = (proc_cpu_s(broker) - broker_cpu0) if broker else float("nan")
        self_cpu = time.process_time() - self_cpu0
        # drain: until every acknowledged fix is a row, or 120 s
        drain_deadline = time.monotonic() + 120
        while time.monotonic() < drain_deadline:
            rows = metric(rows_url, "trackwire_sink_rows_written_total", 'table="positions"')
            samples.append((time.monotonic(), rows))
            if rows >= fleet.acked:
                break
            await asyncio.sleep(0.5)
        drained_s = time.monotonic() - started
    finally:
        for s in reversed(stages):
            s.stop()

    # Sustained stored rate: rows written between 10 % and 90 % of the fleet's run.
    window = [(t - started, r) for t, r in samples if 0.1 * args.duration <= t - started <= 0.9 * args.duration]
    sustained = ((window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])) if len(window) >= 2 else float("nan")

    from sinks.settings import ClickHouseTarget  # after the sink stopped: the embedded store is ours now

    target = ClickHouseTarget.parse(env["TRACKWIRE_SINK_CLICKHOUSE_URL"])
    client = target.connect()
    database = target.database
    stored = client.query(f"SELECT count() FROM {database}.positions FINAL").result_rows[0][0]
    base = fleet.base_time
    rows = client.query(f"SELECT device_id, toUnixTimestamp(time), toUnixTimestamp64Milli(ingested_at) "
                        f"FROM {database}.positions FINAL").result_rows
    latencies = []
    for device_id, device_s, ingested_ms in rows:
        sent = fleet.sent_at.get((device_id, int(device_s - base.timestamp())))
        if sent is not None:
            latencies.append(ingested_ms / 1000 - sent)
    client.close()
    await delete_topics(bootstrap, prefix)
    shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"acknowledged fixes: {fleet.acked:,} in {fleet_s:.1f} s = {fleet.acked / fleet_s:,.0f}/s "
          f"(devices connected {fleet.connected}, resends {fleet.resent})")
    print(f"stored (positions FINAL): {stored:,} = {stored / max(fleet.acked, 1):.4f} of acknowledged; "
          f"all stored {drained_s:.1f} s after the start")
    print(f"sustained stored rate (sink metric, middle 80 % of the run): {sustained:,.0f} fixes/s")
    print(f"overall stored rate: {stored / drained_s:,.0f} fixes/s")
    print(f"ratio to the raw producer baseline: {sustained / baseline:.2f}")
    if latencies:
        print(f"frame sent -> row visible ({len(latencies):,} fixes): p50 {percentile(latencies, 0.5) * 1000:,.0f} ms, "
              f"p90 {percentile(latencies, 0.9) * 1000:,.0f} ms, p99 {percentile(latencies, 0.99) * 1000:,.0f} ms, "
              f"max {max(latencies) * 1000:,.0f} ms")
    print("\nstage        CPU s   CPU %  peak RSS MiB")
    for s in stages:
        print(f"{s.name:<12} {cpu[s.name]:>6.1f} {100 * cpu[s.name] / fleet_s:>6.0f}% {s.peak_rss:>10.0f}")
    print(f"{'broker':<12} {broker_cpu:>6.1f} {100 * broker_cpu / fleet_s:>6.0f}%")
    print(f"{'fleet':<12} {self_cpu:>6.1f} {100 * self_cpu / fleet_s:>6.0f}%")
    return 0 if stored >= fleet.acked else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--processors", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
