"""Notifier benchmark: latency from an SOS frame written on the device socket to the receiver's 2xx,
through the whole pipeline under background load.

    python benchmarks/bench_notify.py [--presses 1000] [--rate 20] [--background-devices 200]

Needs a broker (deploy/local/kafka.sh start, or KAFKA_BOOTSTRAP_SERVERS). Topics of a fresh prefix
(`bench-<random>.`), deleted at the end. Each stage is its own process, as in `trackwire run`:
`trackwire listen`, `python -m processors`, `trackwire notify`, and `trackwire simulate` for the
background devices (GOTOP/watch/GT06 reporting every `--background-interval` s). This process is
the webhook receiver (aiohttp on 127.0.0.1, verifying every signature with the reference library)
and the SOS wearers: `--sos-devices` watch connections, each pressing SOS in turn, spread evenly to
`--rate` presses per second in total. Each press has its own fix time, so the receiver can tell
which press a notification is for; a device presses again only after the SOS episode gap.

Latency = receiver's clock when the request arrived (it answers 200 at once) minus this process's
clock just before the frame was written to the socket: device -> listener -> Kafka -> processor ->
SOS topic -> notifier -> HTTP. Only `alert.open` notifications are counted (the `alert.cleared`
that follows each episode is delivered too, and counted separately).
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

from aiohttp import web  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from schemas.records import format_time, from_msgpack  # noqa: E402
from simulator.frames import Fix, watch_location  # noqa: E402
from trackwire.settings import KafkaSettings  # noqa: E402
from trackwire.topics_cmd import ensure_topics  # noqa: E402

SECRET = "whsec_YmVuY2htYXJrLXJlY2VpdmVyLXNlY3JldC0zMmJ5dGVz"
EPISODE_GAP_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def wait_http(url: str, process: subprocess.Popen, name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{name} not ready at {url}")


def notifier_latency_mean_ms(http_port: int) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("trackwire_notify_latency_seconds_") and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            values[name.split("{")[0]] = float(number)
    count = values.get("trackwire_notify_latency_seconds_count")
    return 1000 * values["trackwire_notify_latency_seconds_sum"] / count if count else None


class ReceiverApp:
    """The webhook receiver: verifies each request, notes when it arrived, answers 200."""

    def __init__(self) -> None:
        self.signer = Webhook(SECRET)
        self.arrived: dict[tuple[str, str], float] = {}  # (device, fix time) of alert.open -> arrival
        self.received_by_listener: dict[tuple[str, str], float] = {}  # ... -> data.first_time (listener clock)
        self.cleared = 0
        self.bad_signatures = 0
        self.seen_ids: set[str] = set()
        self.duplicates = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.time()
        body = await request.read()
        try:
            payload = self.signer.verify(body, dict(request.headers))
        except Exception:  # noqa: BLE001 - counted, then refused as a receiver would
            self.bad_signatures += 1
            return web.Response(status=401)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self.seen_ids:
            self.duplicates += 1
        self.seen_ids.add(webhook_id)
        data = payload["data"]
        if payload["type"] == "alert.open":
            key = (data["device_id"], data["time"])
            self.arrived.setdefault(key, now)
            first = datetime.fromisoformat(data["first_time"].replace("Z", "+00:00")).timestamp()
            self.received_by_listener.setdefault(key, first)
        else:
            self.cleared += 1
        return web.Response(text="ok")


async def follow_sos(bootstrap: str, topic: str, seen: dict[tuple[str, str], float]) -> None:
    """(device, fix time) of each alert.open on the SOS topic -> the wall time a plain consumer read it, to
    split the latency at the SOS topic: before it is listener + processor, after it the notifier."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for messages in batches.values():
                for m in messages:
                    alert = from_msgpack(m.value)
                    if alert.state == "open" and alert.time is not None:
                        seen.setdefault((alert.device_id, format_time(alert.time)), now)
    finally:
        await consumer.stop()


async def wearer(device_id: str, presses: list[tuple[float, datetime]], sent: dict, port: int,
                 t0: float, acked: dict) -> None:
    """One watch: connect, then press SOS at each planned moment (offset from t0). `acked` gets the
    time of the listener's AL reply to each press (sent only once Kafka has the frame)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    keys: list = []

    async def drain() -> None:  # the listener's AL replies, one per press, in order
        replies = 0
        while chunk := await reader.read(4096):
            now = time.time()
            for _ in range(chunk.count(b"*AL]")):
                if replies < len(keys):
                    acked.setdefault(keys[replies], now)
                replies += 1

    drainer = asyncio.create_task(drain())
    try:
        for at, fix_time in presses:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = watch_location(device_id, Fix(time=fix_time, lat=52.52, lon=13.405, battery_pct=70), sos=True)
            key = (device_id, fix_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            sent[key] = time.time()
            keys.append(key)
            writer.write(frame)
            await writer.drain()
    finally:
        await asyncio.sleep(0.5)
        writer.close()
        drainer.cancel()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="SOS presses per second, all wearers together")
    parser.add_argument("--sos-devices", type=int, default=100)
    parser.add_argument("--background-devices", type=int, default=200)
    parser.add_argument("--background-interval", type=float, default=1.0)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()

    bootstrap = KafkaSettings().bootstrap_servers
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=args.partitions)
    await ensure_topics(kafka)
    logdir = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    receiver = ReceiverApp()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    receiver_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    config = logdir / "notify.toml"
    config.write_text(f'[[webhooks]]\nname = "bench"\nurl = "http://127.0.0.1:{receiver_port}/hook"\n'
                      f'secret = "{SECRET}"\nretry_schedule_s = [0.5, 1, 2]\n')

    port, listener_http, notify_http = free_port(), free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "TRACKWIRE_TOPIC_PREFIX": prefix, "TRACKWIRE_TOPIC_PARTITIONS": str(args.partitions),
           "TRACKWIRE_LISTENER_HTTP_PORT": str(listener_http), "TRACKWIRE_NOTIFY_HTTP_PORT": str(notify_http),
           "TRACKWIRE_PROCESSOR_SOS_EPISODE_GAP_S": str(EPISODE_GAP_S), "TRACKWIRE_LOG_LEVEL": "WARNING",
           "TRACKWIRE_LOG_FORMAT": "text"}
    procs: dict[str, subprocess.Popen] = {}

    def spawn(name: str, argv: list[str]) -> subprocess.Popen:
        log = open(logdir / f"{name}.log", "ab")
        procs[name] = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return procs[name]

    try:
        print(f"broker {bootstrap}, prefix {prefix}, {args.partitions} partitions, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; logs in {logdir}")
        spawn("listener", ["-m", "trackwire.cli", "listen", "--host", "127.0.0.1", "--port", str(port)])
        spawn("processor", ["-m", "processors"])
        spawn("notifier", ["-m", "trackwire.cli", "notify", "--config", str(config)])
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{listener_http}/readyz", procs["listener"], "listener")
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{notify_http}/health", procs["notifier"], "notifier")

        # Warm-up: until one press goes all the way through (processor and notifier have their partitions).
        warm: dict = {}
        base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
        deadline = time.monotonic() + 180
        n = 0
        while not (set(warm) & set(receiver.arrived)):
            if time.monotonic() > deadline:
                raise SystemExit(f"no notification within 180 s of warm-up presses; see {logdir}")
            await wearer("9100000000", [(0, base + timedelta(seconds=n))], warm, port, time.monotonic(), {})
            n += 1
            await asyncio.sleep(2)
        print(f"pipeline ready (warm-up presses: {n})")

        spawn("simulator", ["-m", "trackwire.cli", "simulate", "--port", str(port), "--devices",
                            str(args.background_devices), "--interval", str(args.background_interval),
                            "--duration", "3600", "--sos-probability", "0"])
        await asyncio.sleep(5)  # background traffic flowing
        cpu_before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        # Press plan: press i at i / rate seconds, by wearer i % sos_devices; a wearer's presses are
        # sos_devices / rate seconds apart, which must exceed the episode gap to open new episodes.
        spacing = args.sos_devices / args.rate
        if spacing <= EPISODE_GAP_S * 1.5:
            raise SystemExit(f"--sos-devices / --rate = {spacing:.2f} s must exceed {EPISODE_GAP_S * 1.5} s")
        plans: dict[str, list] = {}
        for i in range(args.presses):
            device = f"{9200000000 + i % args.sos_devices}"
            plans.setdefault(device, []).append((i / args.rate, base + timedelta(seconds=i)))
        sent: dict = {}
        seen_on_sos: dict = {}
        follower = asyncio.create_task(follow_sos(bootstrap, prefix + "sos", seen_on_sos))
        t0 = time.monotonic() + 1
        acked: dict = {}
        await asyncio.gather(*(wearer(d, p, sent, port, t0, acked) for d, p in plans.items()))
        press_s = time.monotonic() - t0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(sent) <= set(receiver.arrived):
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
        follower.cancel()
        cpu = {name: (cpu_seconds(p.pid) - cpu_before.get(name, 0)) / elapsed for name, p in procs.items()}
        latencies = [(receiver.arrived[k] - sent[k]) * 1000 for k in sent if k in receiver.arrived]
        missing = len(sent) - len(latencies)
        print(f"{len(sent)} SOS presses in {press_s:.1f} s ({len(sent) / press_s:.1f}/s) from {len(plans)} watches, "
              f"with {args.background_devices} background devices reporting every {args.background_interval:g} s")
        if latencies:
            print(f"SOS frame on the device socket -> receiver's request (2xx): p50 {pct(latencies, .5):.0f} ms, "
                  f"p99 {pct(latencies, .99):.0f} ms, max {max(latencies):.0f} ms; "
                  f"{len(latencies)} received, {missing} missing after 30 s")
            got = [k for k in sent if k in receiver.arrived]
            to_listener = [(receiver.received_by_listener[k] - sent[k]) * 1000 for k in got]
            after_listener = [(receiver.arrived[k] - receiver.received_by_listener[k]) * 1000 for k in got]
            print(f"  of which socket -> listener's receive time (first_time): p50 {pct(to_listener, .5):.0f} ms, "
                  f"p99 {pct(to_listener, .99):.0f} ms; listener -> receiver: p50 {pct(after_listener, .5):.0f} ms, "
                  f"p99 {pct(after_listener, .99):.0f} ms (first_time has millisecond resolution)")
            to_ack = [(acked[k] - sent[k]) * 1000 for k in got if k in acked]
            if to_ack:
                print(f"  socket -> the listener's ack (Kafka has the raw frame): p50 {pct(to_ack, .5):.0f} ms, "
                      f"p99 {pct(to_ack, .99):.0f} ms ({len(to_ack)} acks)")
            split = [k for k in got if k in seen_on_sos]
            if split:
                # Split at the moment a plain consumer reads the SOS record (its CreateTime is the listener's
                # receive time of the frame, so it cannot split the path).
                upstream = [(seen_on_sos[k] - sent[k]) * 1000 for k in split]
                notifier = [(receiver.arrived[k] - seen_on_sos[k]) * 1000 for k in split]
                print(f"  socket -> SOS record readable on Kafka (listener + processor): p50 {pct(upstream, .5):.0f} ms, "
                      f"p99 {pct(upstream, .99):.0f} ms; from there -> receiver (notifier): p50 "
                      f"{pct(notifier, .5):.0f} ms, p99 {pct(notifier, .99):.0f} ms ({len(split)} alerts)")
        print(f"notifier's own metric (SOS record on Kafka -> 2xx, all notifications): mean "
              f"{notifier_latency_mean_ms(notify_http) or float('nan'):.1f} ms")
        print(f"receiver: {len(receiver.arrived)} alert.open, {receiver.cleared} other, {receiver.duplicates} "
              f"duplicate webhook-ids, {receiver.bad_signatures} bad signatures")
        print("CPU (share of one core) during the presses: " +
              ", ".join(f"{name} {share:.0%}" for name, share in cpu.items()) +
              f"; load average now {os.getloadavg()[0]:.1f}")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        await runner.cleanup()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
