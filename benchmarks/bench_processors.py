"""Processor benchmark: decoded frames per second per worker, and raw-frame -> SOS-alert latency
(p50/p99) under background load.

    python benchmarks/bench_processors.py [--workers 1] [--frames 30000] [--load 0.3] [--duration 20]
                                          [--frames-per-message 64]

Needs a broker (deploy/local/kafka.sh start, or KAFKA_BOOTSTRAP_SERVERS). Everything runs against
topics of a fresh prefix (`bench-<random>.`), deleted at the end.

1. Throughput: a backlog of `--frames` raw-frame envelopes of real GOTOP, watch and GT06 frames
   (tests/protocols/frames_*.py, with per-device ids) from `--devices` devices is written first
   (a message per frame, or with `--frames-per-message N` frame batches per partition, as the
   listener writes them under load); then `--workers` workers (`python -m processors`, each its
   own process) start, and the rate is read off the consumer group's committed offsets on the
   raw-frames topic, from the first commit to the last frame: frames/s in total and per worker.
   Before the workers start, the same backlog is read by two baselines of the same run: a raw
   aiokafka consumer that copies each message to a topic and commits after the flush (the Kafka
   work a worker cannot avoid), and the pure pipeline (processors.pipeline over a dict, no Kafka:
   the decoding and rules a worker cannot avoid). The ratios of the per-worker rate to both are
   printed.
2. Latency under load: background frames at `--load` x the measured total rate, plus `--sos-rate`
   SOS frames per second, each from a device that has no open SOS episode (so each must give an SOS
   alert), for `--duration` seconds. Latency = from sending the raw frame to a consumer of the SOS
   topic reading its alert (both clocks on this host; it includes the consumer's fetch). The SOS
   record's own timestamp is its frame's reception time by design, so it cannot measure the path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from processors.cli_cmd import STAGE_TOPICS  # noqa: E402
from processors.pipeline import FrameProcessor  # noqa: E402
from processors.settings import ProcessorSettings  # noqa: E402
from schemas.topics import TopicNames, partition_for, topic_names  # noqa: E402
from schemas.envelopes import RawFrame, pack_frame_batch  # noqa: E402
from schemas.records import from_msgpack  # noqa: E402
from common.settings import KafkaSettings  # noqa: E402
from trackwire.topics_cmd import ensure_topics  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "processors"))
from harness import Worker, last_partitions  # noqa: E402
from sample_frames import load  # noqa: E402

GOTOP = load("frames_gotop")
WATCH = load("frames_watch")
GT06 = load("frames_gt06")


# -- frames ----------------------------------------------------------------------------------

def watch_id(n: int) -> str:
    return f"{7000000000 + n}"


def gotop_id(n: int) -> str:
    return f"{860000000000000 + n}"


def gt06_id(n: int) -> str:
    return f"{350000000000000 + n}"


def device_frames(n: int) -> tuple[str, str, list[bytes]]:
    """(device id, protocol, the frames it sends in turn): real samples with the device's own id."""
    kind = n % 3
    if kind == 0:
        dev = watch_id(n)
        heart = b"heart,%d" % (60 + n % 30)
        return dev, "watch", [
            WATCH.UD_LTE.replace(b"2104326058", dev.encode()),
            WATCH.LK_FULL.replace(b"4700186508", dev.encode()),
            b"[3G*%s*%04X*" % (dev.encode(), len(heart)) + heart + b"]",
        ]
    if kind == 1:
        dev = gotop_id(n)
        return dev, "gotop", [
            b"#" + GOTOP.TRACCAR_CMD_T_LTE.replace(b"867648044456745", dev.encode()) + b"#",
            b"#" + GOTOP.TRACCAR_CMD_X.replace(b"353327020412763", dev.encode()) + b"#",
        ]
    dev = gt06_id(n)  # GT06 location frames carry no id: the envelope (the listener's session) has it
    return dev, "gt06", [GT06.TRACCAR_GPS_LBS_22, GT06.TRACCAR_STATUS, GT06.NAVTRACK_GV25_GPS]


class Background:
    def __init__(self, devices: int) -> None:
        self.devices = [device_frames(n) for n in range(devices)]
        self.seq = 0
        self.rng = random.Random(1)

    def next(self) -> tuple[bytes, bytes]:
        dev, protocol, frames = self.devices[self.rng.randrange(len(self.devices))]
        self.seq += 1
        env = RawFrame(frame_id=f"bench-{self.seq}", received_at_ms=int(time.time() * 1000), transport="tcp",
                       peer="198.51.100.1:1", listener_id="bench", connection_id=f"bench-{dev}", protocol=protocol,
                       device_id=dev, data=frames[self.seq % len(frames)])
        return dev.encode(), env.to_msgpack()


def sos_envelope(n: int) -> tuple[str, bytes, int]:
    dev = f"{9000000000 + n}"  # a fresh device per probe: no open episode to fold into
    env = RawFrame(frame_id=f"sos-{n}", received_at_ms=int(time.time() * 1000), transport="tcp",
                   peer="198.51.100.2:1", listener_id="bench", connection_id=f"sos-{n}", protocol="watch",
                   device_id=dev, data=WATCH.AL_SOS.replace(b"8809008845", dev.encode()))
    return dev, env.to_msgpack(), env.received_at_ms


# -- CPU -------------------------------------------------------------------------------------

def process_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of a process; 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_broker_pid() -> int | None:
    """The broker deploy/local/kafka.sh started, to report its CPU too; None for another broker."""
    try:
        pid = int((REPO / "var" / "kafka" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None



async def wait_assigned(workers: list[Worker], partitions: int, timeout_s: float = 90) -> None:
    """Until every worker reports partitions and together they cover all, stable for 2 s."""
    deadline = time.monotonic() + timeout_s
    stable_since = None
    while time.monotonic() < deadline:
        for w in workers:
            if w.proc.poll() is not None:
                raise SystemExit(f"worker exited: see {w.log_path}")
        owned = [last_partitions(w) for w in workers]
        ok = all(owned) and set().union(*owned) == set(range(partitions)) and \
            sum(len(o) for o in owned) == partitions
        if ok:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 2:
                return
        else:
            stable_since = None
        await asyncio.sleep(0.2)
    raise SystemExit(f"workers did not share the partitions within {timeout_s} s: {[last_partitions(w) for w in workers]}")


# -- baselines -------------------------------------------------------------------------------

async def raw_aiokafka_rate(bootstrap: str, topic: str, copy_topic: str, total: int) -> float:
    """Messages/s of consume -> produce a copy (acks=all) -> commit after the flush, over the backlog."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(copy_topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{copy_topic}.group",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        n, started = 0, None
        while n < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if batch and started is None:
                started = time.monotonic()
            for messages in batch.values():
                for m in messages:
                    await producer.send(copy_topic, m.value, key=m.key)
                n += len(messages)
            await producer.flush()
            await consumer.commit()
        return n / (time.monotonic() - started)
    finally:
        await producer.stop()
        await consumer.stop()


def pure_pipeline_rate(topics: TopicNames, messages: list[tuple[bytes | None, bytes]], frames: int) -> float:
    """Frames/s of FrameProcessor.process_message alone (state in a dict, outputs built, nothing sent)."""
    pipeline = FrameProcessor(topics, ProcessorSettings(), {})
    started = time.perf_counter()
    for key, value in messages:
        pipeline.process_message(key, value)
    return frames / (time.perf_counter() - started)


def as_messages(frames: list[tuple[bytes, bytes]], partitions: int, per_message: int) -> list[tuple[bytes | None, int | None, bytes]]:
    """(key, partition, value) messages: one per frame, or, as the listener does under load (listener/
    publisher.py), consecutive frames of one partition packed into frame batches of `per_message`."""
    if per_message <= 1:
        return [(key, None, value) for key, value in frames]
    out: list[tuple[bytes | None, int | None, bytes]] = []
    for start in range(0, len(frames), per_message * partitions):
        groups: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, value in frames[start:start + per_message * partitions]:
            groups.setdefault(partition_for(key, partitions), []).append((key, value))
        for partition, items in groups.items():
            for i in range(0, len(items), per_message):
                chunk = items[i:i + per_message]
                out.append((chunk[0][0], None, chunk[0][1]) if len(chunk) == 1
                           else (None, partition, pack_frame_batch(chunk)))
    return out


# -- measurements ----------------------------------------------------------------------------

async def committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


async def produce_backlog(bootstrap: str, topic: str, background: Background, count: int, partitions: int,
                          per_message: int) -> list[tuple[bytes | None, bytes]]:
    """Write `count` frames (in frame batches of `per_message` if > 1); return the messages (key,
    value) for the pure-pipeline baseline."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    written = []
    try:
        pending = []
        for key, partition, value in as_messages([background.next() for _ in range(count)], partitions, per_message):
            written.append((key, value))
            pending.append(await producer.send(topic, value, key=key, partition=partition))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return written


async def throughput(bootstrap: str, group: str, topic: str, total: int, timeout_s: float,
                     workers: list[Worker], broker: int | None) -> tuple[float, float, float, float]:
    """(seconds from the first commit to all `total` committed, frames/s, workers' and broker's CPU
    seconds meanwhile)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        first_t = first_n = None
        while time.monotonic() < deadline:
            n = await committed(admin, group, topic)
            now = time.monotonic()
            if first_t is None and n > 0:
                first_t, first_n = now, n
                first_cpu, first_broker = sum(w.cpu_s() for w in workers), process_cpu_s(broker)
            if n >= total:
                elapsed = now - first_t
                cpu = sum(w.cpu_s() for w in workers) - first_cpu
                return (elapsed, (n - first_n) / elapsed if elapsed > 0 else float("inf"), cpu,
                        process_cpu_s(broker) - first_broker)
            await asyncio.sleep(0.1)
        raise SystemExit(f"backlog not processed within {timeout_s} s ({await committed(admin, group, topic)}/{total})")
    finally:
        await admin.close()


async def latency_under_load(bootstrap: str, topics: TopicNames, background: Background, load_rate: float,
                             sos_rate: float, duration_s: float, partitions: int,
                             per_message: int) -> tuple[list[float], list[float], int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)  # as the listener's producer
    consumer = AIOKafkaConsumer(topics.sos, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                fetch_max_wait_ms=50)
    await producer.start()
    await consumer.start()
    await consumer.seek_to_end()
    for tp in consumer.assignment():
        await consumer.position(tp)
    raw_ts: dict[str, int] = {}  # SOS device -> CreateTime of its raw frame
    sent_at: dict[str, float] = {}  # SOS device -> when this process sent it
    alerts: dict[str, tuple[int, float]] = {}  # SOS device -> (CreateTime of its SOS alert, when received)
    done = asyncio.Event()

    async def collect() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for messages in batch.values():
                for m in messages:
                    if from_msgpack(m.value).state == "open":
                        alerts.setdefault(m.key.decode(), (m.timestamp, now))
            if done.is_set() and (set(sent_at) <= set(alerts) or time.monotonic() > collect_deadline):
                return

    collect_deadline = float("inf")
    collector = asyncio.create_task(collect())
    background_sent = 0
    start = time.monotonic()
    next_sos = start
    n_sos = 0
    while time.monotonic() - start < duration_s:
        t = time.monotonic()
        due = int((t - start) * load_rate) - background_sent
        # The frames due in this 5 ms tick, packed as the listener would pack what it has queued at once.
        for key, partition, value in as_messages([background.next() for _ in range(max(0, due))], partitions,
                                                 per_message):
            await producer.send(topics.raw_frames, value, key=key, partition=partition)
        background_sent += max(0, due)
        if t >= next_sos:
            dev, value, _ = sos_envelope(n_sos)
            sent_at[dev] = time.time()
            ack = await producer.send(topics.raw_frames, value, key=dev.encode())
            ack.add_done_callback(lambda fut, dev=dev: raw_ts.__setitem__(dev, fut.result().timestamp))
            n_sos += 1
            next_sos += 1 / sos_rate
        await asyncio.sleep(0.005)
    await producer.flush()
    collect_deadline = time.monotonic() + 30
    done.set()
    await collector
    await producer.stop()
    await consumer.stop()
    # in sending order (sent_at keeps insertion order), so a growing backlog shows as a trend
    kafka_ms = [alerts[d][0] - raw_ts[d] for d in sent_at if d in alerts and d in raw_ts]
    seen_ms = [(alerts[d][1] - sent_at[d]) * 1000 for d in sent_at if d in alerts]
    return kafka_ms, seen_ms, background_sent, n_sos


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--devices", type=int, default=3000)
    parser.add_argument("--frames", type=int, default=30000, help="backlog size for the throughput phase")
    parser.add_argument("--load", type=float, default=0.3,
                        help="background load, as a fraction of the capacity measured on the backlog")
    parser.add_argument("--sos-rate", type=float, default=10.0, help="SOS probes per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the latency phase")
    parser.add_argument("--frames-per-message", type=int, default=1,
                        help="backlog in frame batches of this many frames per partition, as the listener "
                             "writes under load (TRACKWIRE_LISTENER_FRAMES_PER_MESSAGE); 1: a message per frame")
    args = parser.parse_args()

    kafka = KafkaSettings(topic_partitions=args.partitions)
    bootstrap = kafka.bootstrap_servers
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(topic_prefix=prefix, topic_partitions=args.partitions)
    topics = topic_names(prefix)
    await ensure_topics(kafka, STAGE_TOPICS)
    logdir = Path(tempfile.mkdtemp(prefix="bench-processors-"))
    background = Background(args.devices)
    workers: list[Worker] = []
    try:
        print(f"broker {bootstrap}, prefix {prefix}, {args.partitions} partitions, {os.cpu_count()} CPUs; "
              f"worker logs in {logdir}")
        t0 = time.monotonic()
        written = await produce_backlog(bootstrap, topics.raw_frames, background, args.frames, args.partitions,
                                        args.frames_per_message)
        per_message = args.frames / len(written)
        print(f"backlog: {args.frames} frames from {args.devices} devices in {len(written)} messages "
              f"({per_message:.1f} frames each) written in {time.monotonic() - t0:.1f} s")
        raw_msgs = await raw_aiokafka_rate(bootstrap, topics.raw_frames, prefix + "baseline-copy", len(written))
        raw_rate = raw_msgs * per_message
        print(f"baseline, raw aiokafka consume -> produce (acks=all) -> commit: {raw_msgs:,.0f} msgs/s "
              f"= {raw_rate:,.0f} frames/s")
        pure_rate = pure_pipeline_rate(topics, written, args.frames)
        print(f"baseline, pure pipeline (no Kafka, state in a dict): {pure_rate:,.0f} frames/s")

        workers = [Worker(bootstrap, prefix, logdir / f"worker{i}.log", partitions=args.partitions,
                          commit_interval_s=1.0, tick_interval_s=1.0).start()  # the defaults
               for i in range(args.workers)]
        broker = local_broker_pid()
        elapsed, message_rate, cpu, broker_cpu = await throughput(bootstrap, prefix + "processor", topics.raw_frames,
                                                                  len(written), 600, workers, broker)
        rate = message_rate * per_message  # committed offsets count messages
        frames = rate * elapsed
        print(f"throughput: {frames:,.0f} frames in {elapsed:.1f} s from the first commit to the last = "
              f"{rate:,.0f} frames/s with {args.workers} worker(s) = {rate / args.workers:,.0f} frames/s per worker")
        print(f"  ratio per worker to the raw aiokafka baseline: {rate / args.workers / raw_rate:.2f}; "
              f"to the pure pipeline: {rate / args.workers / pure_rate:.2f}")
        print(f"  workers' CPU meanwhile: {cpu:.1f} s = {cpu * 1000 / frames:.2f} ms per frame "
              f"(~{frames / cpu:,.0f} frames per CPU-second); broker: {broker_cpu / elapsed:.0%} of a core")

        await wait_assigned(workers, args.partitions)
        load_rate = max(1.0, rate * args.load)
        cpu_before, broker_before = sum(w.cpu_s() for w in workers), process_cpu_s(broker)
        _kafka_ms, seen_ms, sent, n_sos = await latency_under_load(bootstrap, topics, background, load_rate,
                                                                   args.sos_rate, args.duration, args.partitions,
                                                                   args.frames_per_message)
        print(f"latency under load: {sent} background frames at {load_rate:,.0f}/s ({args.load:.0%} of capacity) "
              f"+ {n_sos} SOS frames, {len(seen_ms)} SOS alerts received")
        if seen_ms:
            # Not CreateTime to CreateTime: an output carries its frame's reception time as its timestamp
            # (processors/app.py), so that difference is ~0 by design; the consumer's clock measures the path.
            print(f"  raw frame sent -> SOS alert read by a consumer: p50 {pct(seen_ms, .5):.1f} ms, "
                  f"p99 {pct(seen_ms, .99):.1f} ms, max {max(seen_ms):.1f} ms, mean {statistics.mean(seen_ms):.1f} ms")
            quarter = max(1, len(seen_ms) // 4)
            print(f"  trend: p50 of the first quarter {pct(seen_ms[:quarter], .5):.1f} ms, of the last quarter "
                  f"{pct(seen_ms[-quarter:], .5):.1f} ms (growing = the workers did not keep up with the load)")
        print(f"  CPU during the latency phase: workers {(sum(w.cpu_s() for w in workers) - cpu_before) / args.duration:.0%}"
              f" of a core ({args.workers} together), broker {(process_cpu_s(broker) - broker_before) / args.duration:.0%}")
    finally:
        for w in workers:
            w.stop()
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
