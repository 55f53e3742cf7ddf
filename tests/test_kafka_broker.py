"""The local Kafka broker (deploy/local/kafka.sh) with the clients the pipeline uses: aiokafka, and
a minimal Faust app, producing and consuming real messages."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from datetime import datetime, timezone

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.alarms import Alarm
from schemas.records import Alert, Position, Telemetry, from_msgpack, to_msgpack
from schemas.topics import device_key

T = datetime(2024, 5, 1, 10, 20, 30, tzinfo=timezone.utc)


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        assert all(e["error_code"] == 0 for e in response.to_object()["topic_errors"]), response
    finally:
        await admin.close()


async def consume(bootstrap: str, topic: str, count: int, timeout_s: float = 20, **kwargs) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **kwargs)
    await consumer.start()
    messages = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(messages) < count:
                batch = await consumer.getmany(timeout_ms=500)
                messages += [m for part in batch.values() for m in part]
        if kwargs.get("group_id"):
            await consumer.commit()
    finally:
        await consumer.stop()
    return messages


@pytest.mark.kafka
async def test_aiokafka_round_trip_of_msgpack_records_keyed_by_device(kafka_bootstrap, kafka_prefix):
    topic = kafka_prefix + "records"
    await create_topics(kafka_bootstrap, topic, partitions=3)
    records = [
        Position(protocol="gt06", device_id="358688000000158", time=T, valid=True, lat=-33.5, lon=151.25),
        Alert(protocol="watch", device_id="3G*9613050381", time=T, alarm=Alarm.SOS, alarms=[Alarm.SOS]),
        Telemetry(protocol="watch", device_id="3G*9613050381", time=T, heart_rate_bpm=72, spo2_pct=98.0),
        Position(protocol="gt06", device_id="358688000000158", time=T, valid=False),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        acks = [await (await producer.send(topic, to_msgpack(r), key=device_key(r.device_id))) for r in records]
    finally:
        await producer.stop()

    # The broker acknowledged each one, and one device's records share a partition, in order.
    assert acks[0].partition == acks[3].partition and acks[0].offset < acks[3].offset
    assert acks[1].partition == acks[2].partition

    messages = await consume(kafka_bootstrap, topic, len(records), group_id=kafka_prefix + "group")
    by_offset = sorted(messages, key=lambda m: (m.partition, m.offset))
    expected = sorted(zip(acks, records), key=lambda pair: (pair[0].partition, pair[0].offset))
    assert [(m.key, from_msgpack(m.value)) for m in by_offset] == [(device_key(r.device_id), r) for _, r in expected]


@pytest.mark.kafka
async def test_consumer_group_resumes_after_its_committed_offset(kafka_bootstrap, kafka_prefix):
    topic, group = kafka_prefix + "resume", kafka_prefix + "group"
    await create_topics(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, b"first-%d" % i)
        assert [m.value for m in await consume(kafka_bootstrap, topic, 3, group_id=group)] == [
            b"first-0", b"first-1", b"first-2"
        ]
        await producer.send_and_wait(topic, b"second")
    finally:
        await producer.stop()
    assert [m.value for m in await consume(kafka_bootstrap, topic, 1, group_id=group)] == [b"second"]


@pytest.mark.kafka
async def test_minimal_faust_app_consumes_and_produces(kafka_bootstrap, kafka_prefix, tmp_path):
    source, sink = kafka_prefix + "faust-in", kafka_prefix + "faust-out"
    await create_topics(kafka_bootstrap, source, sink)
    app = faust.App(
        kafka_prefix + "faust",  # app id; Faust's own topics get it as their prefix (deleted after)
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        datadir=str(tmp_path),  # not `<app id>-data` in the working directory
        web_enabled=False,
        topic_partitions=1,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
    )
    source_topic = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    sink_topic = app.topic(sink, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    @app.agent(source_topic)
    async def mark_sos(stream):
        async for event in stream.events():
            record = from_msgpack(event.value)
            if isinstance(record, Alert) and record.alarm == Alarm.SOS:
                await sink_topic.send(key=event.key, value=to_msgpack(record))

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    sos = Alert(protocol="watch", device_id="1", time=T, alarm=Alarm.SOS)
    try:
        await producer.send_and_wait(source, to_msgpack(Position(protocol="watch", device_id="2", time=T)), key=b"2")
        await producer.send_and_wait(source, to_msgpack(sos), key=b"1")
    finally:
        await producer.stop()

    await app.start()
    try:
        [message] = await consume(kafka_bootstrap, sink, 1, timeout_s=30)
    finally:
        await app.stop()
    assert message.key == b"1" and from_msgpack(message.value) == sos


@pytest.mark.kafka
def test_start_is_idempotent_and_status_answers(kafka_bootstrap, kafka_sh):
    if kafka_bootstrap != f"127.0.0.1:{os.environ.get('TRACKWIRE_KAFKA_PORT', '9092')}":
        pytest.skip("an external broker is configured")
    again = kafka_sh("start", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout or "not started by this script" in again.stdout
    assert kafka_sh("status", timeout=30).returncode == 0


def test_start_refuses_a_port_taken_by_something_else(tmp_path, kafka_sh):
    # Not Kafka: a server that answers every connection with a line of HTTP. Nothing is fetched or
    # started, and the broker of the session (another data directory) is not involved.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        stop = threading.Event()

        def answer_http() -> None:
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_http, daemon=True)
        thread.start()
        env = {
            "PATH": "/usr/bin:/bin",
            "TRACKWIRE_KAFKA_PORT": str(port),
            "TRACKWIRE_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
        }
        try:
            status = kafka_sh("status", timeout=30, env=env)
            started = kafka_sh("start", timeout=30, env=env)
        finally:
            stop.set()
            thread.join()
    assert status.returncode == 3, status.stdout
    assert started.returncode == 1
    assert f"port {port} is in use by something that is not a Kafka broker" in started.stderr
