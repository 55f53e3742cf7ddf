"""The notifier against the real broker and real local HTTP receivers (aiohttp on 127.0.0.1).

Alerts are published to the test prefix's SOS topic as the processors publish them (Alert records,
msgpack, keyed by device id); the notifier runs in this process (the SIGKILL test runs
`trackwire notify` as a child process).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from standardwebhooks import WebhookVerificationError

from notifier.service import Notifier, group_id
from notifier.settings import NotifierSettings
from schemas.alarms import Alarm
from schemas.envelopes import DeadLetter
from schemas.records import Alert, Position, to_msgpack
from schemas.topics import SOS, topic_names
from tests.notifier.notify_harness import (SECRET_A, SECRET_B, Receiver, committed, config, config_text, produce,
                                           read_all, verify)
from trackwire.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 2
NOW = datetime.now(timezone.utc).replace(microsecond=0)


METRICS = (
    ("trackwire_notify_delivered_total", {"webhook": "flaky-desk"}),
    ("trackwire_notify_retried_total", {"webhook": "flaky-desk"}),
    ("trackwire_notify_failed_attempts_total", {"webhook": "flaky-desk", "kind": "5xx"}),
    ("trackwire_notify_failed_attempts_total", {"webhook": "flaky-desk", "kind": "timeout"}),
    ("trackwire_notify_latency_seconds_count", {"webhook": "flaky-desk"}),
)


def metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def sos(device: str, n: int, **kw) -> Alert:
    values = dict(protocol="gt06", device_id=device, time=NOW, alarm=Alarm.SOS, state="open", repeat_count=1,
                  first_time=NOW, last_time=NOW, frame_id=f"test-{device}-{n}", frame_index=0)
    values.update(kw)
    return Alert(**values)


def hook(name: str, receiver: Receiver, secret: str = SECRET_A, **kw) -> dict:
    return {"name": name, "url": receiver.url, "secret": secret, "retry_schedule_s": [0.2, 0.2, 0.2],
            "retry_jitter": 0, "timeout_s": 2, **kw}


def settings(**kw) -> NotifierSettings:
    values = dict(http_port=None, commit_interval_s=0.1, session_timeout_s=6, last_fix_warmup_s=5,
                  start_lookback_s=600)
    return NotifierSettings(**{**values, **kw})


@pytest.fixture
async def receivers():
    started: list[Receiver] = []

    async def make(behaviour=None) -> Receiver:
        receiver = Receiver(behaviour) if behaviour else Receiver()
        started.append(await receiver.start())
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()


def kafka_settings(bootstrap: str, prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=PARTITIONS)


async def test_payload_headers_and_signature(kafka_bootstrap, kafka_prefix, receivers):
    receiver = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    async with Notifier(config(hook("care-desk", receiver)), settings(http_port=0), kafka) as notifier:
        # The device's last fix comes from the positions topic; its SOS came without one.
        await produce(kafka_bootstrap, names.positions, [
            Position(protocol="gt06", device_id="861", time=NOW, lat=25.827437, lon=-80.376458, valid=True)])
        await asyncio.sleep(1.5)  # the positions follower polls every 0.5 s
        await produce(kafka_bootstrap, names.sos, [sos("861", 1, battery_pct=62)])
        await receiver.wait_for(lambda rs: len(rs) == 1 and rs[0].status == 200)
        await asyncio.sleep(0.5)  # a commit interval
        assert await committed(kafka_bootstrap, group_id(notifier.settings, kafka), names.sos, PARTITIONS) == 1
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{notifier.http_port}/health") as response:
                assert response.status == 200
                assert await response.json() == {"state": "running", "unfinished_alerts": 0, "webhooks": {
                    "care-desk": {"backlog": 0, "in_flight": 0, "disabled": False}}}
            async with session.get(f"http://127.0.0.1:{notifier.http_port}/metrics") as response:
                assert 'trackwire_notify_delivered_total{webhook="care-desk"}' in await response.text()

    (request,) = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.webhook_id.startswith("msg_")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
    assert request.headers["webhook-signature"].startswith("v1,")
    body = verify(SECRET_A, request)  # the reference library accepts it
    assert body == request.json()
    assert body["type"] == "alert.open"
    data = body["data"]
    assert data == {
        "device_id": "861", "alarm": "sos", "state": "open", "time": data["time"], "lat": 25.827437,
        "lon": -80.376458, "fix_source": "last_known", "fix_time": data["time"], "fix_valid": True,
        "battery_pct": 62, "repeat_count": 1, "first_time": data["time"], "last_time": data["time"],
        "map_url": "https://www.openstreetmap.org/?mlat=25.827437&mlon=-80.376458#map=17/25.827437/-80.376458",
        "protocol": "gt06", "frame_id": "test-861-1", "frame_index": 0,
    }
    assert data["time"] == NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z") == body["timestamp"]
    # Signed with A's secret: B's does not verify it.
    with pytest.raises(WebhookVerificationError):
        verify(SECRET_B, request)


async def test_retries_after_500s_and_timeouts_with_one_webhook_id(kafka_bootstrap, kafka_prefix, receivers):
    async def flaky(_request, n):
        if n == 0:
            return 500
        if n == 1:
            await asyncio.sleep(3)  # longer than timeout_s: the notifier gives up on this attempt
            return 200
        return 200

    receiver = await receivers(flaky)
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    before = {(name, tuple(labels.values())): metric(name, **labels) for name, labels in METRICS}
    async with Notifier(config(hook("flaky-desk", receiver, timeout_s=1)), settings(last_fix_devices=0),
                        kafka) as notifier:
        await produce(kafka_bootstrap, names.sos, [sos("862", 1)])
        await receiver.wait_for(lambda rs: len(rs) >= 2)
        await asyncio.sleep(0.5)
        group = group_id(notifier.settings, kafka)
        assert await committed(kafka_bootstrap, group, names.sos, PARTITIONS) == 0  # not delivered yet
        await receiver.wait_for(lambda rs: len(rs) >= 3 and rs[2].status == 200)
        await asyncio.sleep(0.5)
        assert await committed(kafka_bootstrap, group, names.sos, PARTITIONS) == 1
    first, timed_out, delivered = receiver.requests[:3]
    assert first.status == 500
    assert len({r.webhook_id for r in receiver.requests}) == 1
    assert delivered.at - first.at >= 0.2 * 2  # two waits of the schedule
    for request in (first, timed_out, delivered):
        assert verify(SECRET_A, request)["data"]["frame_id"] == "test-862-1"
    grown = {(name, tuple(labels.values())): metric(name, **labels) - before[(name, tuple(labels.values()))]
             for name, labels in METRICS}
    assert grown == {
        ("trackwire_notify_delivered_total", ("flaky-desk",)): 1,
        ("trackwire_notify_retried_total", ("flaky-desk",)): 2,
        ("trackwire_notify_failed_attempts_total", ("flaky-desk", "5xx")): 1,
        ("trackwire_notify_failed_attempts_total", ("flaky-desk", "timeout")): 1,
        ("trackwire_notify_latency_seconds_count", ("flaky-desk",)): 1,
    }


async def test_dead_lettered_after_the_schedule(kafka_bootstrap, kafka_prefix, receivers):
    async def down(_request, _n):
        return 503

    receiver = await receivers(down)
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    alert = sos("863", 1)
    async with Notifier(config(hook("care-desk", receiver)), settings(last_fix_devices=0), kafka) as notifier:
        await produce(kafka_bootstrap, names.sos, [alert])
        (message,) = await read_all(kafka_bootstrap, names.dead_letters, 1)
        await asyncio.sleep(0.5)
        assert await committed(kafka_bootstrap, group_id(notifier.settings, kafka), names.sos, PARTITIONS) == 1
    assert len(receiver.requests) == 4  # the first attempt and the three of the schedule
    assert len({r.webhook_id for r in receiver.requests}) == 1
    letter = DeadLetter.from_msgpack(message.value)
    assert letter.stage == "notifier"
    assert letter.reason == (f"webhook care-desk: retry schedule exhausted after 4 attempt(s); last: HTTP 503: "
                             f"receiver says 503; webhook-id {receiver.requests[0].webhook_id}, type alert.open")
    assert letter.data == to_msgpack(alert)  # the alert as read, re-publishable as it is
    assert (letter.device_id, letter.frame_id, letter.source_topic) == ("863", "test-863-1", names.sos)
    assert message.key == b"863"


async def test_410_disables_the_webhook_loudly(kafka_bootstrap, kafka_prefix, receivers, caplog):
    async def gone(_request, _n):
        return 410

    gone_receiver = await receivers(gone)
    other = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    hooks = config(hook("old-desk", gone_receiver), hook("care-desk", other, secret=SECRET_B))
    with caplog.at_level(logging.ERROR, logger="trackwire.notify"):
        async with Notifier(hooks, settings(last_fix_devices=0), kafka):
            await produce(kafka_bootstrap, names.sos, [sos("864", 1)])
            await gone_receiver.wait_for(lambda rs: len(rs) == 1 and rs[0].status == 410)
            await produce(kafka_bootstrap, names.sos, [sos("865", 1)])
            letters = [DeadLetter.from_msgpack(m.value) for m in await read_all(kafka_bootstrap, names.dead_letters, 2)]
            await other.wait_for(lambda rs: len(rs) == 2)
    assert len(gone_receiver.requests) == 1  # nothing more after the 410
    assert sorted(l.device_id for l in letters) == ["864", "865"]
    reasons = {l.device_id: l.reason for l in letters}
    assert reasons["864"].startswith("webhook old-desk: 410 Gone: webhook disabled after 1 attempt(s)")
    assert reasons["865"].startswith("webhook old-desk: webhook disabled after 410 Gone; not sent")
    assert [verify(SECRET_B, r)["data"]["device_id"] for r in other.requests] == ["864", "865"]
    assert any("WEBHOOK DISABLED: old-desk answered 410 Gone" in r.getMessage() for r in caplog.records)


async def test_one_device_reaches_the_receiver_in_order(kafka_bootstrap, kafka_prefix, receivers):
    async def first_fails(request, _n):
        data = request.json()["data"]
        if data["frame_id"] == "test-866-1" and not any(r.json()["data"]["frame_id"] == "test-866-1"
                                                        for r in receiver.requests[:-1]):
            return 500
        return 200

    receiver = await receivers(first_fails)
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    async with Notifier(config(hook("care-desk", receiver)), settings(last_fix_devices=0), kafka):
        await produce(kafka_bootstrap, names.sos, [sos("866", 1), sos("866", 2, state="cleared"), sos("866", 3),
                                                   sos("867", 1)])
        await receiver.wait_for(lambda rs: len([r for r in rs if r.status == 200]) == 4)
    sent = [(r.json()["data"]["device_id"], r.json()["data"]["frame_id"], r.status) for r in receiver.requests]
    device_866 = [(frame, status) for device, frame, status in sent if device == "866"]
    assert device_866 == [("test-866-1", 500), ("test-866-1", 200), ("test-866-2", 200), ("test-866-3", 200)]
    # The other device did not wait for 866's retry.
    order = [frame for _device, frame, status in sent if status == 200]
    assert order.index("test-867-1") < order.index("test-866-1")


async def test_a_slow_receiver_does_not_delay_a_fast_one(kafka_bootstrap, kafka_prefix, receivers):
    async def slow(_request, _n):
        await asyncio.sleep(2)
        return 200

    slow_receiver = await receivers(slow)
    fast = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    hooks = config(hook("slow", slow_receiver, max_in_flight=1, timeout_s=10),
                   hook("fast", fast, secret=SECRET_B))
    async with Notifier(hooks, settings(last_fix_devices=0), kafka):
        # Warm-up: one alert through both, so the group has its partitions before the clock starts.
        await produce(kafka_bootstrap, names.sos, [sos("869", 1)])
        await slow_receiver.wait_for(lambda rs: len(slow_receiver.answered()) == 1, timeout_s=60)
        await fast.wait_for(lambda rs: len(fast.answered()) == 1)
        t0 = time.time()
        await produce(kafka_bootstrap, names.sos, [sos(f"87{n}", 1) for n in range(5)])
        await fast.wait_for(lambda rs: len(fast.answered()) == 6, timeout_s=10)
        fast_done = time.time()
        slow_by_then = len(slow_receiver.answered())
        await slow_receiver.wait_for(lambda rs: len(slow_receiver.answered()) == 6, timeout_s=30)
    assert slow_by_then <= 2  # the slow one was still on its first alert of the five (or its second)
    assert fast_done - t0 < 3  # the slow one needs 10 s for the five
    assert slow_receiver.answered()[-1].at - t0 >= 4 * 2  # one at a time, 2 s each


async def test_other_alarms_come_from_the_alerts_topic(kafka_bootstrap, kafka_prefix, receivers):
    receiver = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    offline = sos("880", 1, alarm=Alarm.OFFLINE, repeat_count=None)
    async with Notifier(config(hook("fleet", receiver, alarms=["sos", "offline"])), settings(last_fix_devices=0),
                        kafka):
        # An SOS is on both topics: it must arrive once (from the SOS topic).
        await produce(kafka_bootstrap, names.alerts, [sos("881", 1), offline])
        await produce(kafka_bootstrap, names.sos, [sos("881", 1)])
        await receiver.wait_for(lambda rs: len(rs) == 2)
        await asyncio.sleep(1.0)
    assert sorted(r.json()["data"]["alarm"] for r in receiver.requests) == ["offline", "sos"]


def _notify_process(config_path: Path, kafka_bootstrap: str, prefix: str, log_path: Path):
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "TRACKWIRE_TOPIC_PREFIX": prefix, "TRACKWIRE_TOPIC_PARTITIONS": str(PARTITIONS),
           "TRACKWIRE_NOTIFY_HTTP_PORT": "0", "TRACKWIRE_NOTIFY_SESSION_TIMEOUT_S": "6",
           "TRACKWIRE_NOTIFY_COMMIT_INTERVAL_S": "0.2", "TRACKWIRE_NOTIFY_LAST_FIX_DEVICES": "0",
           "TRACKWIRE_LOG_FORMAT": "text"}
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "trackwire.cli", "notify", "--config", str(config_path)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO)


async def test_sigkill_mid_retry_resumes_with_the_same_webhook_id(kafka_bootstrap, kafka_prefix, receivers,
                                                                  tmp_path):
    healthy = asyncio.Event()

    async def down_until_healthy(_request, _n):
        return 200 if healthy.is_set() else 503

    receiver = await receivers(down_until_healthy)
    names = topic_names(kafka_prefix)
    path = tmp_path / "notify.toml"
    path.write_text(config_text(hook("care-desk", receiver, retry_schedule_s=[0.5] * 100)))
    log_path = tmp_path / "notify.log"
    first = _notify_process(path, kafka_bootstrap, kafka_prefix, log_path)
    second = None
    try:
        await produce(kafka_bootstrap, names.sos, [sos("890", 1)])
        await receiver.wait_for(lambda rs: len(rs) >= 2 and rs[1].status == 503, timeout_s=60)
        first.send_signal(signal.SIGKILL)  # mid-retry: nothing delivered, nothing committed
        await asyncio.to_thread(first.wait, 10)
        before = len(receiver.requests)
        healthy.set()
        second = _notify_process(path, kafka_bootstrap, kafka_prefix, log_path)
        await receiver.wait_for(lambda rs: any(r.status == 200 for r in rs), timeout_s=90)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(process.wait, 30)
    assert second.returncode == 0, log_path.read_text()[-3000:]
    assert "Unclosed" not in log_path.read_text()  # SIGTERM closed every client before exiting
    assert before >= 2
    (delivered,) = receiver.answered(200)
    assert receiver.requests.index(delivered) >= before  # sent by the second process
    assert {r.webhook_id for r in receiver.requests} == {delivered.webhook_id}
    assert verify(SECRET_A, delivered)["data"]["frame_id"] == "test-890-1"
    assert await committed(kafka_bootstrap, f"{kafka_prefix}notifier", names.sos, PARTITIONS) == 1


async def test_notify_test_sends_one_signed_request(kafka_bootstrap, receivers, tmp_path):
    receiver = await receivers()
    path = tmp_path / "notify.toml"
    path.write_text(config_text(hook("care-desk", receiver)))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trackwire.cli", "notify", "--config", str(path), "--test", "care-desk",
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    printed = json.loads(out)
    (request,) = receiver.requests
    assert printed == {"webhook": "care-desk", "url": receiver.url, "webhook_id": request.webhook_id, "status": 200,
                       "error": None, "answer": "ok", "verdict": "delivered"}
    body = verify(SECRET_A, request)
    assert body["type"] == "alert.test" and body["data"]["test"] is True

    missing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trackwire.cli", "notify", "--config", str(path), "--test", "nobody",
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(missing.communicate(), 60)
    assert missing.returncode == 1
    assert "no webhook named 'nobody' (the config has: care-desk)" in err.decode()


async def test_a_new_group_starts_by_time_and_unreadable_records_are_dead_lettered(kafka_bootstrap, kafka_prefix,
                                                                                   receivers):
    receiver = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    await ensure_topics(kafka, [SOS])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        hour_ago_ms = int((time.time() - 3600) * 1000)
        await producer.send_and_wait(names.sos, to_msgpack(sos("895", 1)), key=b"895", partition=0,
                                     timestamp_ms=hour_ago_ms)  # older than start_lookback_s: not sent
        await producer.send_and_wait(names.sos, to_msgpack(sos("895", 2)), key=b"895", partition=0)
        await producer.send_and_wait(names.sos, b"\x93not a record", key=b"896", partition=0)
    finally:
        await producer.stop()
    async with Notifier(config(hook("care-desk", receiver)), settings(last_fix_devices=0), kafka) as notifier:
        (message,) = await read_all(kafka_bootstrap, names.dead_letters, 1)
        await receiver.wait_for(lambda rs: len(rs) == 1)
        await asyncio.sleep(1.0)
        assert await committed(kafka_bootstrap, group_id(notifier.settings, kafka), names.sos, PARTITIONS) == 3
    assert [r.json()["data"]["frame_id"] for r in receiver.requests] == ["test-895-2"]
    letter = DeadLetter.from_msgpack(message.value)
    assert letter.stage == "notifier" and letter.data == b"\x93not a record" and letter.source_topic == names.sos
    assert letter.reason.startswith(f"unreadable record on {names.sos}: ")


async def test_a_rebalance_hands_unfinished_alerts_to_the_new_owner(kafka_bootstrap, kafka_prefix, receivers,
                                                                    caplog):
    caplog.set_level(logging.INFO, logger="trackwire.notify")
    healthy = asyncio.Event()

    async def down_until_healthy(_request, _n):
        return 200 if healthy.is_set() else 503

    receiver = await receivers(down_until_healthy)
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    hooks = config(hook("care-desk", receiver, retry_schedule_s=[0.3] * 200))
    devices = [f"90{n}" for n in range(6)]  # spread over both partitions
    first = Notifier(hooks, settings(last_fix_devices=0), kafka)
    second = Notifier(hooks, settings(last_fix_devices=0), kafka)
    await first.start()
    try:
        await produce(kafka_bootstrap, names.sos, [sos(d, 1) for d in devices])
        await receiver.wait_for(lambda rs: {r.json()["data"]["device_id"] for r in rs} == set(devices))
        await second.start()  # the group rebalances: the first drops what it hands over, unfinished
        await asyncio.sleep(8)
        healthy.set()
        await receiver.wait_for(lambda rs: {r.json()["data"]["device_id"] for r in receiver.answered()}
                                == set(devices), timeout_s=60)
        await asyncio.sleep(1.0)
        assert await committed(kafka_bootstrap, group_id(first.settings, kafka), names.sos, PARTITIONS) == 6
        owned = [len(n._consumer.assignment()) for n in (first, second)]
    finally:
        await second.stop()
        await first.stop()
    assert owned == [1, 1]  # one partition each after the rebalance
    assert any("held deliveries dropped (the new owner sends them again)" in r.getMessage() for r in caplog.records)
    by_device: dict[str, set[str]] = {}
    for request in receiver.requests:
        by_device.setdefault(request.json()["data"]["device_id"], set()).add(request.webhook_id)
    assert all(len(ids) == 1 for ids in by_device.values())  # one webhook-id per alert, whoever sent it


@pytest.fixture
def slow_start_lookup(monkeypatch) -> asyncio.Event:
    """A new group's look-up of its start offsets (by time) takes 3 s; the event is set when it begins."""
    import notifier.service as service
    from notifier.kafka_offsets import offsets_since

    began = asyncio.Event()

    async def slow_offsets_since(consumer, tps, seconds):
        began.set()
        await asyncio.sleep(3)
        return await offsets_since(consumer, tps, seconds)

    monkeypatch.setattr(service, "offsets_since", slow_offsets_since)
    return began


async def test_an_alert_fetched_before_the_start_position_is_set_is_sent_once(kafka_bootstrap, kafka_prefix,
                                                                              receivers, slow_start_lookup):
    # A new group seeks back by start_lookback_s in its rebalance callback, after aiokafka has set
    # the assignment. An alert written while that look-up is under way must be sent once: neither
    # skipped (a fetch from "latest" before the seek) nor sent twice (fetched, then read again after
    # the seek). The window is widened here by a slow look-up of the start offsets.
    looked_up = slow_start_lookup
    receiver = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    async with Notifier(config(hook("care-desk", receiver)), settings(last_fix_devices=0), kafka):
        await asyncio.wait_for(looked_up.wait(), 30)  # assigned; the fetcher is running at "latest"
        await produce(kafka_bootstrap, names.sos, [sos("870", 1)])
        await receiver.wait_for(lambda rs: len(rs) >= 1)
        await asyncio.sleep(4)  # past the seek and a second read, if there were one
    assert [(r.status, verify(SECRET_A, r)["data"]["frame_id"]) for r in receiver.requests] == [(200, "test-870-1")]


async def test_a_committed_partition_read_while_a_new_one_is_looked_up_loses_nothing(kafka_bootstrap, kafka_prefix,
                                                                                     receivers, slow_start_lookup):
    # One partition has a committed offset (it starts there at once), the other is new to the group
    # (its start is looked up by time, slowly here). Alerts fetched from the first meanwhile must be
    # handled: marking it positioned only after the look-up dropped them for good (an alert never sent).
    receiver = await receivers()
    names = topic_names(kafka_prefix)
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    await ensure_topics(kafka, [SOS])
    partition = (murmur2(b"871") & 0x7FFFFFFF) % PARTITIONS
    [offset] = await produce(kafka_bootstrap, names.sos, [sos("871", 1)])
    committer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group_id(settings(), kafka),
                                 enable_auto_commit=False)
    await committer.start()
    try:
        tp = TopicPartition(names.sos, partition)
        committer.assign([tp])
        await committer.commit({tp: offset})  # the alert is the next to read on its partition
    finally:
        await committer.stop()
    async with Notifier(config(hook("care-desk", receiver)), settings(last_fix_devices=0), kafka):
        await receiver.wait_for(lambda rs: len(rs) >= 1, timeout_s=30)
        await asyncio.sleep(1)
    assert [(r.status, verify(SECRET_A, r)["data"]["frame_id"]) for r in receiver.requests] == [(200, "test-871-1")]
