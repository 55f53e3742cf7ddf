"""Run many simulated devices against a listener over real TCP sockets.

Each device behaves like its real counterpart: it opens a connection, logs in or sends a keep-alive,
then reports a fix every `interval_s` (sometimes an SOS), and waits for the server's reply where the
protocol has one; an SOS that is not acknowledged is sent again, as the devices do.
With `interval_s=0` every device sends its next frame as soon as the previous one is acknowledged
(closed loop), which is how the benchmark measures throughput.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from simulator import frames as F

PROTOCOLS = ("watch", "gt06", "gotop")


@dataclass(slots=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 8888
    devices: int = 100
    protocols: tuple[str, ...] = PROTOCOLS
    interval_s: float = 10.0
    duration_s: float = 60.0
    sos_probability: float = 0.01
    connect_rate_per_s: float = 2000.0
    reply_timeout_s: float = 20.0
    seed: int = 1
    # Connect and log in every device first, then start reporting together (benchmarks: measures
    # steady traffic, not the accept queue of a listener busy with the first devices' traffic).
    start_together: bool = False


@dataclass(slots=True)
class SimStats:
    connected: int = 0
    connect_failures: int = 0
    frames_sent: int = 0
    replies: int = 0
    reply_timeouts: int = 0
    sos_sent: int = 0
    disconnects: int = 0
    traffic_s: float = 0.0  # from the first report (all devices connected, with start_together) to the last
    latencies_s: list[float] = field(default_factory=list)
    _max_samples: int = 200_000

    def record_latency(self, seconds: float) -> None:
        if len(self.latencies_s) < self._max_samples:
            self.latencies_s.append(seconds)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Device:
    """One device's frames and how its replies look on the wire."""

    def __init__(self, protocol: str, index: int, rng: random.Random) -> None:
        self.protocol = protocol
        self.rng = rng
        self.serial = 0
        self.lat = -33.86 + rng.random() * 0.1
        self.lon = 151.20 + rng.random() * 0.1
        self.device_id = (f"{8800000000 + index:010d}" if protocol == "watch"
                          else f"86{index:013d}")

    def _serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    def _fix(self) -> F.Fix:
        self.lat += self.rng.uniform(-0.0005, 0.0005)
        self.lon += self.rng.uniform(-0.0005, 0.0005)
        return F.Fix(datetime.now(timezone.utc).replace(microsecond=0), self.lat, self.lon,
                     speed_kmh=round(self.rng.uniform(0, 6), 1), course_deg=float(self.rng.randrange(360)))

    def hello(self) -> bytes:
        if self.protocol == "gt06":
            return F.gt06_login(self.device_id, self._serial())
        if self.protocol == "watch":
            return F.watch_keepalive(self.device_id)
        return F.gotop_heartbeat(self.device_id)

    def report(self, sos: bool) -> bytes:
        fix = self._fix()
        if self.protocol == "gt06":
            return F.gt06_sos(fix, self._serial()) if sos else F.gt06_location(fix, self._serial())
        if self.protocol == "watch":
            # A watch location report gets no reply; its keep-alive does, so closed loops alternate.
            return F.watch_location(self.device_id, fix, sos=True) if sos else F.watch_keepalive(self.device_id)
        return F.gotop_location(self.device_id, fix, sos=sos)

    @property
    def has_replies(self) -> bool:
        return self.protocol != "gotop"  # GOTOP servers send nothing back

    async def read_reply(self, reader: asyncio.StreamReader) -> bytes:
        if self.protocol == "watch":
            return await reader.readuntil(b"]")
        # GT06 acks are 78 78 05 <protocol> <serial:2> <crc:2> 0D 0A; a CRC can contain 0D 0A itself.
        head = await reader.readexactly(3)
        return head + await reader.readexactly(head[2] + 2)


async def _run_device(device: _Device, config: SimConfig, stats: SimStats, stop_at: list[float],
                      all_connected: "_Countdown") -> None:
    while True:  # devices keep trying to reach their server
        try:
            reader, writer = await asyncio.open_connection(config.host, config.port)
            break
        except OSError:
            if time.monotonic() + 1.0 >= stop_at[0]:
                stats.connect_failures += 1
                all_connected.done()
                return
            await asyncio.sleep(1.0)
    stats.connected += 1
    all_connected.done()
    if config.start_together:
        await all_connected.wait()
    try:
        frame, is_sos = device.hello(), False
        while time.monotonic() < stop_at[0]:
            sent_at = time.perf_counter()
            writer.write(frame)
            stats.frames_sent += 1
            stats.sos_sent += is_sos
            if device.has_replies:
                try:
                    await asyncio.wait_for(device.read_reply(reader), config.reply_timeout_s)
                except asyncio.TimeoutError:
                    stats.reply_timeouts += 1
                    continue  # resend the same frame, as a device does when it gets no ack
                stats.replies += 1
                stats.record_latency(time.perf_counter() - sent_at)
            else:
                await writer.drain()
            if config.interval_s > 0:
                await asyncio.sleep(max(0.0, config.interval_s * device.rng.uniform(0.9, 1.1)))
            is_sos = config.sos_probability > 0 and device.rng.random() < config.sos_probability
            frame = device.report(sos=is_sos)
    except (ConnectionError, asyncio.IncompleteReadError):
        stats.disconnects += 1
    finally:
        writer.close()


class _Countdown:
    def __init__(self, count: int) -> None:
        self._left = count
        self._event = asyncio.Event()
        if count <= 0:
            self._event.set()

    def done(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


async def simulate(config: SimConfig) -> SimStats:
    rng = random.Random(config.seed)
    stats = SimStats()
    stop_at = [time.monotonic() + config.duration_s]
    all_connected = _Countdown(config.devices)
    tasks = []
    for index in range(config.devices):
        device = _Device(config.protocols[index % len(config.protocols)], index, random.Random(rng.random()))
        tasks.append(asyncio.ensure_future(_run_device(device, config, stats, stop_at, all_connected)))
        if config.connect_rate_per_s and index % 100 == 99:
            await asyncio.sleep(100 / config.connect_rate_per_s)
    traffic_started = time.monotonic()
    if config.start_together:
        await all_connected.wait()
        traffic_started = time.monotonic()
        stop_at[0] = traffic_started + config.duration_s  # the duration counts from the common start
    await asyncio.gather(*tasks)
    stats.traffic_s = time.monotonic() - traffic_started
    return stats
