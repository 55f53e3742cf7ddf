"""Overload benchmark: what the listener survives, at what cost, while real devices keep being served.

    python benchmarks/bench_overload.py [--idle 100000] [--seconds 20]

The listener runs as operators start it (`trackwire listen`, its own process) against the broker
(KAFKA_BOOTSTRAP_SERVERS, default the local one) on a fresh topic prefix. Throughout, 50 "probe"
GT06 trackers report every 200 ms and wait for their acks; each scenario prints the probes' ack
latency (p50/p99/max) and failures next to what the attack achieved:

1. idle: `--idle` connections (each logged in as a GT06 tracker, then silent), opened from worker
   processes over source addresses 127.0.0.2… (each address has ~28k ephemeral ports); listener
   RSS before and after, per connection. Target: < 1 GB for 100,000.
2. flood: connect-and-close as fast as `--flooders` tasks can for `--seconds`.
3. slowloris: `--slow` clients trickle one byte of a never-ending frame per second.
4. garbage: `--garbage` peers send random bytes and oversized frames, reconnecting when closed.

Loopback only (127.0.0.0/8); every loop is bounded in count and time. Run as root or with a high
`ulimit -n`: the script raises RLIMIT_NOFILE for itself and the listener it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import frames as F  # noqa: E402

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect(), per 4-tuple


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def metric(port: int, name: str, timeout_s: float = 10) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as response:
            text = response.read().decode()
    except OSError:
        return float("nan")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name)] in " {")


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, soft), max(wanted, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def connect_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.setblocking(False)
    sock.bind((source, 0))
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def read_ack(reader: asyncio.StreamReader) -> None:
    head = await reader.readexactly(3)
    await reader.readexactly(head[2] + 2)


# -- probes: real devices that must keep being served ----------------------------------------

class Probes:
    def __init__(self, port: int, count: int = 50) -> None:
        self.port, self.count = port, count
        self.latencies: list[float] = []
        self.failures = 0
        self.running = True

    def take(self) -> tuple[list[float], int]:
        latencies, failures = self.latencies, self.failures
        self.latencies, self.failures = [], 0
        return latencies, failures

    async def device(self, index: int) -> None:
        rng = random.Random(index)
        device_id = f"99{index:013d}"
        while self.running:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(F.gt06_login(device_id, 1))
                await asyncio.wait_for(read_ack(reader), 10)
                serial = 1
                while self.running:
                    serial += 1
                    fix = F.Fix(datetime.now(timezone.utc).replace(microsecond=0),
                                -33.8 + rng.random() / 10, 151.2 + rng.random() / 10)
                    sent = time.perf_counter()
                    writer.write(F.gt06_location(fix, serial & 0xFFFF))
                    await asyncio.wait_for(read_ack(reader), 10)
                    self.latencies.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.2)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                self.failures += 1
                await asyncio.sleep(0.5)

    def start(self) -> list[asyncio.Task]:
        return [asyncio.ensure_future(self.device(i)) for i in range(self.count)]


# -- idle connections, opened by worker processes --------------------------------------------

def idle_worker(port: int, first_ip: int, count: int, hold_s: float, opened: multiprocessing.Value,
                done: multiprocessing.Event) -> None:
    raise_fd_limit(count + 1000)

    async def run() -> None:
        writers = []
        per_ip = 25_000
        for start in range(0, count, 500):
            batch = []
            for i in range(start, min(count, start + 500)):
                source = f"127.0.{(first_ip + i // per_ip) // 256}.{(first_ip + i // per_ip) % 256}"
                batch.append(connect_from(source, port))
            for result in await asyncio.gather(*batch, return_exceptions=True):
                if isinstance(result, tuple):
                    reader, writer = result
                    writer.write(F.gt06_login(f"77{first_ip:04d}{len(writers):09d}", 1))
                    writers.append((reader, writer))
            with opened.get_lock():
                opened.value = len(writers)
        deadline = time.monotonic() + hold_s
        while time.monotonic() < deadline and not done.is_set():
            await asyncio.sleep(0.2)
        for _reader, writer in writers:
            writer.close()

    asyncio.run(run())


async def scenario_idle(args, port: int, http: int, pid: int, probes: Probes) -> None:
    base = rss_mib(pid)
    base_fds = open_fds(pid)
    asked = args.idle
    limit = args.fd_limit - base_fds - probes.count - 500  # what the listener's open-files limit lets it hold
    if asked > limit:
        print(f"idle: this machine caps open files at {args.fd_limit:,} per process (RLIMIT_NOFILE hard limit; "
              f"raising it is refused here), so the listener can hold {limit:,} connections, not {asked:,}: "
              f"holding {limit:,} and extrapolating its memory to {asked:,}")
    args = argparse.Namespace(**{**vars(args), "idle": min(asked, limit)})
    per_process = min(25_000, args.fd_limit - 1000)
    workers, opened = [], []
    done = multiprocessing.Event()
    for n, start in enumerate(range(0, args.idle, per_process)):
        value = multiprocessing.Value("i", 0)
        proc = multiprocessing.Process(target=idle_worker, args=(
            port, 2 + n * 2, min(per_process, args.idle - start), 600, value, done), daemon=True)
        proc.start()
        workers.append(proc)
        opened.append(value)
    started = time.monotonic()
    while time.monotonic() - started < 300:
        await asyncio.sleep(1)
        total = sum(v.value for v in opened)
        connected = open_fds(pid) - base_fds  # the listener's own count, without asking it over HTTP
        if total >= args.idle and connected >= args.idle * 0.99:
            break
    await asyncio.sleep(3)  # logins acknowledged, buffers settled
    reported = metric(http, "trackwire_listener_connections") - probes.count
    connected = open_fds(pid) - base_fds
    rss = rss_mib(pid)
    print(f"idle: {sum(v.value for v in opened):,} opened by the clients, {connected:,} new sockets in the listener, "
          f"{reported:,.0f} by its connections gauge")
    probes.take()
    await asyncio.sleep(args.seconds)
    latencies, failures = probes.take()
    print(f"idle: {int(connected):,} connections held (asked {args.idle:,}) in {time.monotonic() - started:.0f} s; "
          f"listener RSS {base:.0f} -> {rss:.0f} MiB = {(rss - base) * 1024 / max(connected, 1):.1f} KiB per connection; "
          f"probes p50 {pct(latencies, 0.5):.0f} ms p99 {pct(latencies, 0.99):.0f} ms, failures {failures}")
    if asked > args.idle and connected > 0:
        per_connection = (rss - base) / connected
        print(f"idle, extrapolated: {asked:,} connections x {per_connection * 1024:.1f} KiB + {base:.0f} MiB at start "
              f"= {(base + per_connection * asked) / 1024:.2f} GiB (target < 1 GB)")
    done.set()
    for proc in workers:
        proc.join(30)
    await asyncio.sleep(3)


async def scenario_flood(args, port: int, http: int, pid: int, probes: Probes) -> None:
    stop = time.monotonic() + args.seconds
    counts = {"connected": 0, "refused": 0}

    async def flooder(n: int) -> None:
        while time.monotonic() < stop:
            try:
                _reader, writer = await connect_from(f"127.0.3.{n % 250 + 1}", port)
                counts["connected"] += 1
                writer.close()
            except OSError:
                counts["refused"] += 1
                await asyncio.sleep(0.01)

    cpu0 = cpu_s(pid)
    probes.take()
    await asyncio.gather(*(flooder(n) for n in range(args.flooders)))
    latencies, failures = probes.take()
    print(f"flood: {counts['connected'] / args.seconds:,.0f} connects/s ({counts['refused']} refused) for "
          f"{args.seconds:.0f} s; listener CPU {100 * (cpu_s(pid) - cpu0) / args.seconds:.0f} %, RSS {rss_mib(pid):.0f} MiB; "
          f"probes p50 {pct(latencies, 0.5):.0f} ms p99 {pct(latencies, 0.99):.0f} ms, failures {failures}")


async def scenario_slowloris(args, port: int, http: int, pid: int, probes: Probes) -> None:
    closed_by_server = 0
    stop = time.monotonic() + args.seconds

    async def slow(n: int) -> None:
        nonlocal closed_by_server
        try:
            reader, writer = await connect_from(f"127.0.4.{n % 250 + 1}", port)
        except OSError:
            return
        try:
            writer.write(b"\x78\x78\xff")  # a GT06 start and a length it never fulfils
            while time.monotonic() < stop:
                writer.write(b"\x00")
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                        closed_by_server += 1
                        return
                except asyncio.TimeoutError:
                    pass
        except OSError:
            closed_by_server += 1
        finally:
            writer.close()

    probes.take()
    await asyncio.gather(*(slow(n) for n in range(args.slow)))
    latencies, failures = probes.take()
    print(f"slowloris: {args.slow} clients trickling 1 B/s for {args.seconds:.0f} s, {closed_by_server} closed by the "
          f"listener; RSS {rss_mib(pid):.0f} MiB; probes p50 {pct(latencies, 0.5):.0f} ms p99 "
          f"{pct(latencies, 0.99):.0f} ms, failures {failures}")


async def scenario_garbage(args, port: int, http: int, pid: int, probes: Probes) -> None:
    stop = time.monotonic() + args.seconds
    sent = {"garbage": 0, "oversized": 0}
    rng = random.Random(7)
    dead0 = metric(http, "trackwire_listener_dead_letters_total")

    async def peer(n: int) -> None:
        while time.monotonic() < stop:
            try:
                reader, writer = await connect_from(f"127.0.5.{n % 250 + 1}", port)
                if n % 2:
                    writer.write(rng.randbytes(rng.randrange(16, 4096)))
                    sent["garbage"] += 1
                else:  # a valid start, then a frame far beyond the frame limit
                    writer.write(b"[3G*4700186508*FFFF*" + b"A" * 70_000)
                    sent["oversized"] += 1
                await writer.drain()
                await asyncio.wait_for(reader.read(), 5)
                writer.close()
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)

    cpu0 = cpu_s(pid)
    probes.take()
    await asyncio.gather(*(peer(n) for n in range(args.garbage)))
    latencies, failures = probes.take()
    dead = metric(http, "trackwire_listener_dead_letters_total") - dead0
    print(f"garbage: {sent['garbage']:,} random and {sent['oversized']:,} oversized inputs from {args.garbage} peers in "
          f"{args.seconds:.0f} s, {dead:,.0f} dead-lettered; listener CPU {100 * (cpu_s(pid) - cpu0) / args.seconds:.0f} %, "
          f"RSS {rss_mib(pid):.0f} MiB; probes p50 {pct(latencies, 0.5):.0f} ms p99 {pct(latencies, 0.99):.0f} ms, "
          f"failures {failures}")


async def main_async(args) -> int:
    args.fd_limit = raise_fd_limit(args.idle + 20_000)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = f"overload-{uuid.uuid4().hex[:8]}."
    port, http = free_port(), free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TRACKWIRE_TOPIC_PREFIX": prefix,
           "TRACKWIRE_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO),
           "TRACKWIRE_LISTENER_MAX_CONNECTIONS": str(args.idle + 10_000),
           "TRACKWIRE_LISTENER_MAX_CONNECTIONS_PER_IP": "30000"}
    subprocess.run([sys.executable, "-m", "trackwire.cli", "topics"], env=env, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    log = open(Path(tempfile.gettempdir()) / f"{prefix}listener.log", "wb")
    listener = subprocess.Popen([sys.executable, "-m", "trackwire.cli", "listen", "--port", str(port),
                                 "--http-port", str(http)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    print(f"machine: {os.cpu_count()} cores; listener pid {listener.pid} on :{port}; broker {bootstrap}")
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=1):
                    break
            except OSError:
                await asyncio.sleep(0.5)
        probes = Probes(port)
        tasks = probes.start()
        await asyncio.sleep(3)
        for name in args.scenarios:
            await globals()[f"scenario_{name}"](args, port, http, listener.pid, probes)
        probes.running = False
        await asyncio.gather(*tasks, return_exceptions=True)
        alive = listener.poll() is None
        print(f"listener alive after every scenario: {alive}")
        return 0 if alive else 1
    finally:
        listener.send_signal(signal.SIGTERM)
        try:
            listener.wait(30)
        except subprocess.TimeoutExpired:
            listener.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flooders", type=int, default=200)
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--garbage", type=int, default=200)
    parser.add_argument("--scenarios", nargs="+", default=["idle", "flood", "slowloris", "garbage"],
                        choices=["idle", "flood", "slowloris", "garbage"])
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
