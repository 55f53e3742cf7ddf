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

from simulator.profiles import PROFILES, DeviceProfile

PROTOCOLS = tuple(PROFILES)


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


async def _run_device(device: DeviceProfile, config: SimConfig, stats: SimStats, stop_at: list[float],
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
        pending = list(device.hello())
        while time.monotonic() < stop_at[0]:
            if not pending:
                if config.interval_s > 0:
                    await asyncio.sleep(max(0.0, config.interval_s * device.rng.uniform(0.9, 1.1)))
                    if time.monotonic() >= stop_at[0]:
                        break
                is_sos = config.sos_probability > 0 and device.rng.random() < config.sos_probability
                pending.append(device.report(sos=is_sos))
                stats.sos_sent += is_sos
            out = pending[0]
            sent_at = time.perf_counter()
            writer.write(out.data)
            stats.frames_sent += 1
            if out.expects_reply:
                try:
                    await asyncio.wait_for(device.read_reply(reader), config.reply_timeout_s)
                except asyncio.TimeoutError:
                    stats.reply_timeouts += 1
                    continue  # resend the same frame, as a device does when it gets no ack
                stats.replies += 1
                stats.record_latency(time.perf_counter() - sent_at)
            else:
                await writer.drain()
            pending.pop(0)
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
        profile = PROFILES[config.protocols[index % len(config.protocols)]]
        device = profile(index, random.Random(rng.random()))
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
