"""Running processor workers as subprocesses and talking to them through a real broker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.topics import TopicNames
from schemas.envelopes import DeadLetter, RawFrame
from schemas.records import from_msgpack, to_json_dict

REPO = Path(__file__).resolve().parents[2]
READY = "trackwire-processor: active partitions"
HTTP = "trackwire-processor: health and metrics on "


class Worker:
    """`python -m processors` with its own environment; output in a log file."""

    def __init__(self, bootstrap: str, prefix: str, log_path: Path, *, partitions: int = 3,
                 fault: str | None = None, **settings: object) -> None:
        """`fault`: a module of tests/processors/faults/ imported before the worker starts (it
        patches the worker to provoke a race); the worker itself is unchanged."""
        self.log_path = log_path
        self.fault = fault
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TRACKWIRE_TOPIC_PREFIX": prefix,  # the app id defaults to <prefix>processor: its topics too
            "TRACKWIRE_TOPIC_PARTITIONS": str(partitions),
            "TRACKWIRE_PROCESSOR_TICK_INTERVAL_S": "0.2",
            "TRACKWIRE_PROCESSOR_COMMIT_INTERVAL_S": "0.2",
            "TRACKWIRE_PROCESSOR_HTTP_PORT": "0",  # a free port each (see http_port()): workers run side by side
        }
        self.env.update({f"TRACKWIRE_PROCESSOR_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "Worker":
        self._log = open(self.log_path, "ab")
        self._started_at = self.log_path.stat().st_size
        argv = [sys.executable, "-m", "processors"]
        if self.fault:
            argv = [sys.executable, "-c", f"import faults.{self.fault}, runpy; runpy.run_module('processors', "
                                          "run_name='__main__', alter_sys=True)"]
        env = dict(self.env, PYTHONPATH=f"{REPO}{os.pathsep}{Path(__file__).parent}") if self.fault else self.env
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def log(self) -> str:
        return self.log_path.read_bytes()[self._started_at:].decode(errors="replace")

    def wait_ready(self, timeout_s: float = 45.0) -> None:
        """Until the worker has partitions, recovered its table and ran its first timer tick."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if READY in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready in {timeout_s} s:\n{self.log()[-4000:]}")

    def http_port(self, timeout_s: float = 30.0) -> int:
        """The port the worker's /healthz, /readyz and /metrics server bound (from its log)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.findall(re.escape(HTTP) + r"http://[^:]+:(\d+)", self.log())
            if found:
                return int(found[-1])
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker announced no HTTP port in {timeout_s} s:\n{self.log()[-4000:]}")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the worker process used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def last_partitions(worker: Worker) -> set[int]:
    """The raw-frames partitions the worker last said it actively owns."""
    found = re.findall(re.escape(READY) + r" \[([0-9, ]*)\]", worker.log())
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


async def publish(bootstrap: str, topic: str, envelopes: list[RawFrame], key: bytes | None = None) -> None:
    """Publish envelopes keyed by device id (as the listener does), acknowledged, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        acks = []
        for env in envelopes:
            k = key if key is not None else (env.device_id or "").encode()
            acks.append(await producer.send(topic, env.to_msgpack(), key=k))
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def publish_raw(bootstrap: str, topic: str, key: bytes | None, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


class Outputs:
    """Everything on the processor's output topics, decoded: topic -> [(key, record dict | DeadLetter)]."""

    def __init__(self, bootstrap: str, topics: TopicNames) -> None:
        self.topics = topics
        self.got: dict[str, list] = defaultdict(list)
        self._consumer = AIOKafkaConsumer(topics.positions, topics.alerts, topics.sos, topics.telemetry, topics.events, topics.dead_letters, bootstrap_servers=bootstrap,
                                          auto_offset_reset="earliest", enable_auto_commit=False)

    async def __aenter__(self) -> "Outputs":
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> None:
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        for tp, messages in batch.items():
            for m in messages:
                if tp.topic == self.topics.dead_letters:
                    value = DeadLetter.from_msgpack(m.value)
                else:
                    value = to_json_dict(from_msgpack(m.value))
                self.got[tp.topic].append((m.key, value))

    async def until(self, counts: dict[str, int], timeout_s: float = 30.0, settle_s: float = 1.0) -> dict[str, list]:
        """Wait until each topic has at least its count, then `settle_s` more for anything extra."""
        deadline = time.monotonic() + timeout_s
        while any(len(self.got[t]) < n for t, n in counts.items()):
            if time.monotonic() > deadline:
                have = {t: len(self.got[t]) for t in counts}
                raise AssertionError(f"timed out waiting for {counts}, have {have}: {dict(self.got)}")
            await self.poll()
        settle = time.monotonic() + settle_s
        while time.monotonic() < settle:
            await self.poll()
        return self.got

    def take(self) -> dict[str, list]:
        got, self.got = dict(self.got), defaultdict(list)
        return got


def by_frame(messages: list) -> list:
    """Messages sorted by frame id and index (partitions interleave devices; one device keeps order)."""
    return sorted(messages, key=lambda kv: (kv[1].get("frame_id") or "", kv[1].get("frame_index") or 0,
                                            kv[1].get("state") or ""))


async def wait(seconds: float) -> None:
    await asyncio.sleep(seconds)
