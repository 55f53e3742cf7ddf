"""Pieces of the end-to-end fault test: a broker of its own, the stages as processes, a fleet of
devices that wait for their acknowledgements and resend, and read-outs of Kafka and ClickHouse.

The stages are reached only as an operator reaches them: `python -m trackwire.cli <stage>` with
environment variables, their HTTP health endpoints, their consumer groups' offsets in Kafka, and
the ClickHouse data directory once the sink has stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from protocols import gt06
from simulator import frames as F

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "local" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout_s: float = 2.0) -> tuple[int | None, str]:
    """(status, body) of a GET, (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return None, str(exc)


# -- the broker --------------------------------------------------------------------------------
class OwnBroker:
    """A broker of this test alone (deploy/local/kafka.sh on free ports and a data dir of its own),
    leased to this process so it cannot outlive the test run."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._env = {**os.environ, "TRACKWIRE_KAFKA_PORT": str(self.port),
                     "TRACKWIRE_KAFKA_CONTROLLER_PORT": str(free_port()),
                     "TRACKWIRE_KAFKA_DATA_DIR": str(data_dir), "TRACKWIRE_KAFKA_OWNER_PID": str(os.getpid())}

    def run(self, command: str) -> None:
        done = subprocess.run(["bash", str(KAFKA_SH), command], env=self._env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"kafka.sh {command} failed:\n{done.stdout}{done.stderr}"

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")


# -- the stages ----------------------------------------------------------------------------------
class Stage:
    """One stage as a process: `python -m trackwire.cli <args>`, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path,
                 health_url: str | None = None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.health_url = health_url
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} is already running"
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"\n===== start {self.starts} at {datetime.now(timezone.utc):%H:%M:%S.%f} =====\n")
            log.flush()
            self.process = subprocess.Popen([sys.executable, "-m", "trackwire.cli", *self.args], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.log_path.parent)  # what a stage writes stays there

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or a container dies."""
        assert self.alive(), f"{self.name} was not running when it was to be killed:\n{self.tail()}"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout_s: float = 60) -> int | None:
        if not self.alive():
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            return None

    def wait_healthy(self, timeout_s: float) -> None:
        """Until its health URL answers 200 (a stage without one: until it has been up 1 s)."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            assert self.alive(), f"{self.name} exited (code {self.process.returncode}) while starting:\n{self.tail()}"
            if self.health_url is None:
                time.sleep(1.0)
                return
            status, last = http_status(self.health_url)
            if status == 200:
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.name} not healthy within {timeout_s:.0f} s ({self.health_url}: {last}):\n"
                             f"{self.tail()}")

    def tail(self, lines: int = 25) -> str:
        """Its last log lines, each distinct line once (a broker outage repeats the same few)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        seen: set[str] = set()
        distinct = []
        for line in reversed(text):
            message = line.split('"msg":', 1)[-1]
            if message not in seen:
                seen.add(message)
                distinct.append(line)
            if len(distinct) == lines:
                break
        return "\n".join(f"  [{self.name}] {line}" for line in reversed(distinct))


def limit_file_writes(pid: int, allowed: bool) -> None:
    """Let process `pid` write to files again, or make every file write of it fail (RLIMIT_FSIZE 0:
    write() returns EFBIG; CPython ignores SIGXFSZ). Sockets and pipes are not files: Kafka and
    its log output keep working; only the embedded ClickHouse engine's storage is gone."""
    _soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard if allowed else 0, hard))


# -- the fleet -----------------------------------------------------------------------------------
ACK_WAIT_S = 5.0  # a device gives up on a reply after this long, reconnects and resends
RECONNECT_PAUSE_S = (0.5, 1.5)


@dataclass
class Sent:
    """One frame a device wants delivered: how often it went out, and whether it was acknowledged."""

    kind: str  # "fix" | "sos" | "keepalive" | "unanswered_fix"
    sends: int = 0
    acked: bool = False


@dataclass
class FleetBook:
    """Everything the fleet sent, keyed so the stores can be checked against it."""

    fixes: dict[tuple[str, int], Sent] = field(default_factory=dict)  # (device id, device time ms)
    keepalives: dict[tuple[str, int], Sent] = field(default_factory=dict)  # (watch id, steps)
    sos_presses: dict[str, tuple[int, Sent]] = field(default_factory=dict)  # device id -> (time ms, frame)
    acks: int = 0
    sends: int = 0
    reconnects: int = 0
    last_ack_at: float = 0.0  # time.monotonic() of the latest acknowledgement

    def acked(self, sent: Sent) -> None:
        sent.acked = True
        self.acks += 1
        self.last_ack_at = time.monotonic()

    def frames(self) -> int:
        return len(self.fixes) + len(self.keepalives)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class FixClock:
    """A device's own clock: fix n is at base + n seconds, so every fix of a device is distinct."""

    def __init__(self, base: datetime, index: int) -> None:
        self._base = base
        self._index = index
        self.count = 0

    def next(self) -> F.Fix:
        moment = self._base + timedelta(seconds=self.count)
        self.count += 1
        lat = 48.0 + self._index * 0.01 + self.count * 1e-5
        lon = 2.0 + self._index * 0.01 - self.count * 1e-5
        return F.Fix(time=moment, lat=round(lat, 6), lon=round(lon, 6), speed_kmh=float(self.count % 90),
                     course_deg=float(self.count % 360))


class _Link:
    """One device's TCP connection to the listener; any failure closes it for a reconnect."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @property
    def up(self) -> bool:
        return self.writer is not None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), ACK_WAIT_S)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), ACK_WAIT_S)

    async def exchange(self, data: bytes, read) -> bytes:
        await self.send(data)
        return await asyncio.wait_for(read(self.reader), ACK_WAIT_S)


async def _read_gt06_reply(reader: asyncio.StreamReader) -> bytes:
    return await reader.readexactly(10)  # 78 78 05 <protocol> <serial 2> <crc 2> 0D 0A


async def _read_watch_reply(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"]")


class Device:
    """A device that waits for the reply to each frame; on a timeout or a broken connection it
    reconnects (identifying itself again where its protocol wants it) and resends the same frame."""

    def __init__(self, device_id: str, port: int, book: FleetBook, clock: FixClock, rng: random.Random) -> None:
        self.device_id = device_id
        self.book = book
        self.clock = clock
        self.rng = rng
        self.link = _Link(port)
        self.sos_due = asyncio.Event()

    async def _hello(self) -> None:
        """What the device sends after connecting, before anything else (nothing by default)."""

    async def deliver(self, data: bytes, expected: bytes, sent: Sent, read, stop_at: float) -> bool:
        """Send until acknowledged with `expected` or until `stop_at` (monotonic): the frame is then
        left unacknowledged, as a device switched off would leave it."""
        while time.monotonic() < stop_at:
            try:
                if not self.link.up:
                    await self.link.open()
                    await self._hello()
                sent.sends += 1
                self.book.sends += 1
                reply = await self.link.exchange(data, read)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ConnectionError):
                self.link.close()
                self.book.reconnects += 1
                await asyncio.sleep(self.rng.uniform(*RECONNECT_PAUSE_S))
                continue
            assert reply == expected, f"{self.device_id}: reply {reply!r}, expected {expected!r} to {data!r}"
            self.book.acked(sent)
            return True
        return False

    async def tick(self, stop_at: float) -> None:
        raise NotImplementedError

    async def run(self, keep_sending: asyncio.Event, interval_s: float, stop_at: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, interval_s))
        try:
            while keep_sending.is_set() and time.monotonic() < stop_at:
                started = time.monotonic()
                await self.tick(stop_at)
                await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
        finally:
            self.link.close()


class Gt06Tracker(Device):
    """GT06: login, then 0x12 GPS+LBS fixes; an SOS press is a 0x16 alarm with a fix. Every one is
    answered with the same protocol number and serial (Concox GT06 document)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.serial = 0

    def _next_serial(self) -> int:
        self.serial = (self.serial + 1) % 0x10000
        return self.serial

    async def _hello(self) -> None:
        serial = self._next_serial()
        reply = await self.link.exchange(F.gt06_login(self.device_id, serial), _read_gt06_reply)
        assert reply[3] == 0x01 and reply[4:6] == serial.to_bytes(2, "big"), f"{self.device_id}: login reply {reply!r}"

    async def tick(self, stop_at: float) -> None:
        fix = self.clock.next()
        sos = self.sos_due.is_set() and self.device_id not in self.book.sos_presses
        serial = self._next_serial()
        frame = F.gt06_sos(fix, serial) if sos else F.gt06_location(fix, serial)
        protocol = 0x16 if sos else 0x12
        sent = self.book.fixes[(self.device_id, _ms(fix.time))] = Sent("sos" if sos else "fix")
        if sos:
            self.book.sos_presses[self.device_id] = (_ms(fix.time), sent)
        expected = gt06.build_packet(protocol, b"", serial)
        await self.deliver(frame, expected, sent, _read_gt06_reply, stop_at)


class Watch(Device):
    """SeTracker watch: a UD fix (never answered: it is sent once and may be lost), then an LK
    keep-alive whose step count is a counter, answered with LK; an SOS press is an AL alarm with a
    fix, answered with AL (SeTracker protocol document, I.1 and I.4)."""

    async def tick(self, stop_at: float) -> None:
        fix = self.clock.next()
        key = (self.device_id, _ms(fix.time))
        if self.sos_due.is_set() and self.device_id not in self.book.sos_presses:
            sent = self.book.fixes[key] = Sent("sos")
            self.book.sos_presses[self.device_id] = (key[1], sent)
            reply = F.watch_frame(self.device_id, "AL")
            await self.deliver(F.watch_location(self.device_id, fix, sos=True), reply, sent, _read_watch_reply,
                               stop_at)
            return
        unanswered = self.book.fixes[key] = Sent("unanswered_fix")
        if self.link.up:
            try:
                await self.link.send(F.watch_location(self.device_id, fix))
                unanswered.sends += 1
                self.book.sends += 1
            except (OSError, asyncio.TimeoutError, ConnectionError):
                self.link.close()
        steps = self.clock.count
        sent = self.book.keepalives[(self.device_id, steps)] = Sent("keepalive")
        await self.deliver(F.watch_keepalive(self.device_id, steps=steps), F.watch_frame(self.device_id, "LK"), sent,
                           _read_watch_reply, stop_at)


# -- read-outs -----------------------------------------------------------------------------------
async def partitions_of(admin, topics: list[str]) -> list:
    """Every partition of `topics` (each must exist and have some)."""
    from aiokafka.structs import TopicPartition

    found = []
    for described in await admin.describe_topics(topics):
        assert not described["error_code"] and described["partitions"], f"topic {described['topic']}: {described}"
        found += [TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]]
    return found


async def group_lag(bootstrap: str, group_id: str, topics: list[str]) -> int:
    """Messages in `topics` that consumer group `group_id` has not committed yet."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, request_timeout_ms=10000)
    await admin.start()
    await consumer.start()
    try:
        partitions = await partitions_of(admin, topics)
        committed = await admin.list_consumer_group_offsets(group_id)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    lag = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        lag += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
    return lag


async def read_whole_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list[bytes]:
    """Every message value on `topic`, from the start to its end offsets now."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        partitions = await partitions_of(admin, [topic])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp, begin in (await consumer.beginning_offsets(partitions)).items():
            consumer.seek(tp, begin)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end within {timeout_s} s"
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                values += [m.value for m in messages]
        return values
    finally:
        await consumer.stop()


_QUERY_SCRIPT = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
print(json.dumps({name: client.query(sql).result_rows for name, sql in json.loads(sys.stdin.read()).items()},
                 default=str))
"""


def query_clickhouse(dsn: str, queries: dict[str, str]) -> dict[str, list[list]]:
    """Run queries on the embedded engine's data in a process of its own (the embedded engine
    allows one data directory per process; this test process may have opened another)."""
    done = subprocess.run([sys.executable, "-c", _QUERY_SCRIPT, dsn], input=json.dumps(queries),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"querying {dsn} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
