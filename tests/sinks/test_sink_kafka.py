"""The sink against the real broker and the embedded ClickHouse engine."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest
from prometheus_client import REGISTRY

from sink_samples import dead_letter, every_kind, position, telemetry
from kafka_harness import (
    Switch,
    all_committed,
    by_content,
    count,
    create_topics,
    eventually,
    kafka_settings,
    offsets,
    produce,
    read_dead_letters,
    read_records,
    record_messages,
    sink_settings,
)
from sinks.service import Sink
from sinks.writer import ClickHouseWriter, WriteError

pytestmark = pytest.mark.kafka


def fleet(n: int, start: int = 0, devices: int = 7) -> list:
    """n distinct positions and readings over a few devices."""
    out = []
    for i in range(start, start + n):
        device = f"86{i % devices:013d}"
        if i % 3:
            out.append(position(device_id=device, seconds=i, lat=40 + i / 1e4, frame=f"f{i}"))
        else:
            out.append(telemetry(device_id=device, seconds=i, heart_rate_bpm=60 + i % 50, frame_id=f"f{i}"))
    return out


async def test_records_in_exactly_the_same_rows_out(kafka_bootstrap, kafka_prefix, ch_url, ch_client, ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix)
    await create_topics(kafka)
    records = every_kind() + fleet(300)
    letter = dead_letter()
    garbage = b"\x93not a record"
    await produce(kafka, record_messages(records) + [
        ("dead-letters", None, letter.to_msgpack()),
        ("positions", b"359339080000009", garbage),
    ])
    async with Sink(settings, kafka) as sink:
        await eventually(lambda: all_committed(kafka, settings.group_id), "every offset committed")
        assert not sink.waiting
    rows = await asyncio.to_thread(read_records, ch_client, ch_database)
    assert by_content(rows) == by_content(records)  # the SOS alert went to `sos` too: still one row
    raw = await asyncio.to_thread(read_records, ch_client, ch_database, False)
    assert len(raw) == len(records)  # no duplicate even before merges
    letters = await asyncio.to_thread(read_dead_letters, ch_client, ch_database)
    assert len(letters) == 2 and letter in letters  # the listener's dead letter, as it was
    mine = next(d for d in letters if d.stage == "sink")  # and the sink's own, for the garbage
    assert (mine.data, mine.device_id, mine.source_topic) == (garbage, "359339080000009", f"{kafka_prefix}positions")
    assert "undecodable record" in mine.reason


async def test_a_replay_and_a_retransmitted_frame_leave_no_duplicates(kafka_bootstrap, kafka_prefix, ch_url, ch_client,
                                                                      ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    await create_topics(kafka)
    records = fleet(200)
    # The device sent some fixes again: new frames, new messages, the same fixes.
    retransmitted = [dataclasses.replace(r, frame_id=r.frame_id + "-again") for r in records[:40]]
    await produce(kafka, record_messages(records + retransmitted))

    first = sink_settings(ch_url, kafka_prefix)
    async with Sink(first, kafka):
        await eventually(lambda: all_committed(kafka, first.group_id), "the first pass committed")
    # A replay: a consumer group that starts from the beginning writes every message a second time.
    replay = sink_settings(ch_url, kafka_prefix, group_id=f"{kafka_prefix}replay", batch_max_rows=64)
    async with Sink(replay, kafka):
        await eventually(lambda: all_committed(kafka, replay.group_id), "the replay committed")

    db = ch_database
    written = await count(ch_client, f"SELECT count() FROM {db}.positions") + await count(
        ch_client, f"SELECT count() FROM {db}.telemetry")
    assert written >= len(records)  # (merges may already have collapsed some of the copies)
    rows = await asyncio.to_thread(read_records, ch_client, db)
    assert len(rows) == len(records)
    assert {(r.device_id, r.time) for r in rows} == {(r.device_id, r.time) for r in records}
    # The views built from the same inserts count each reading once too.
    readings = await count(ch_client, f"SELECT sum(n) FROM (SELECT uniqMerge(readings) AS n FROM {db}.health_hourly GROUP BY device_id, hour)")
    assert readings == sum(1 for r in records if r.type == "telemetry")


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_clickhouse_unreachable_then_back_loses_nothing(kafka_bootstrap, kafka_prefix, ch_url, ch_client,
                                                               ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix, batch_max_rows=50, http_port=0, http_host="127.0.0.1")
    await create_topics(kafka)
    target = settings.target
    switch = Switch(target.connect)
    writer = ClickHouseWriter(switch.connect, target.database, target.display)
    db = ch_database

    async def written() -> int:
        return await count(ch_client, f"SELECT count() FROM {db}.positions FINAL") + await count(
            ch_client, f"SELECT count() FROM {db}.telemetry FINAL")

    before = fleet(100)
    during = fleet(300, start=100)
    lost_ack = fleet(60, start=400)
    await produce(kafka, record_messages(before))
    async with Sink(settings, kafka, writer=writer) as sink, aiohttp.ClientSession() as http:
        health = f"http://127.0.0.1:{sink.http_port}/health"
        await eventually(lambda: all_committed(kafka, settings.group_id), "the first records committed")
        assert await written() == 100
        committed_before, _ = await offsets(kafka, settings.group_id)

        switch.up = False  # ClickHouse goes away mid-stream
        await produce(kafka, record_messages(during))
        await eventually(lambda: sink.waiting and switch.refused >= 3, "the sink to wait and retry")
        assert metric("trackwire_sink_waiting_for_clickhouse") == 1
        async with http.get(health) as response:
            assert response.status == 503
            assert (await response.json())["state"] == "waiting"
        await asyncio.sleep(1.0)  # a few more retries
        assert sink.batch.count <= settings.batch_max_rows  # bounded: it stopped reading
        committed_now, _ = await offsets(kafka, settings.group_id)
        assert committed_now == committed_before  # nothing committed while ClickHouse was away

        switch.up = True
        await eventually(lambda: all_committed(kafka, settings.group_id), "everything committed after recovery")
        assert not sink.waiting and metric("trackwire_sink_waiting_for_clickhouse") == 0
        async with http.get(health) as response:
            assert response.status == 200

        # An insert that lands but whose answer is lost: retried with the same token, dropped by ClickHouse.
        switch.lose_acks = 1
        await produce(kafka, record_messages(lost_ack))
        await eventually(lambda: all_committed(kafka, settings.group_id), "the lost-ack batch committed")

    assert await written() == 460
    rows = await asyncio.to_thread(read_records, ch_client, db)
    assert by_content(rows) == by_content(before + during + lost_ack)
    raw = await count(ch_client, f"SELECT count() FROM {db}.positions") + await count(
        ch_client, f"SELECT count() FROM {db}.telemetry")
    assert raw == 460  # not even a transient duplicate: the retried insert was dropped by its token


async def test_a_stop_while_clickhouse_is_down_commits_nothing_and_a_restart_writes_it(
        kafka_bootstrap, kafka_prefix, ch_url, ch_client, ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix, shutdown_timeout_s=0.5)
    await create_topics(kafka)
    target = settings.target
    switch = Switch(target.connect)
    records = fleet(120)
    async with Sink(settings, kafka, writer=ClickHouseWriter(switch.connect, target.database, target.display)) as sink:
        switch.up = False
        await produce(kafka, record_messages(records))
        await eventually(lambda: sink.waiting, "the sink to wait")
    committed, _ = await offsets(kafka, settings.group_id)
    assert sum(committed.values()) == 0

    async with Sink(settings, kafka):  # ClickHouse is back (a plain writer)
        await eventually(lambda: all_committed(kafka, settings.group_id), "everything committed after the restart")
    rows = await asyncio.to_thread(read_records, ch_client, ch_database)
    assert by_content(rows) == by_content(records)


async def test_a_start_waits_for_clickhouse_and_a_stop_ends_the_wait(kafka_bootstrap, kafka_prefix, ch_url):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix)
    target = settings.target

    switch = Switch(target.connect)
    switch.up = False
    sink = Sink(settings, kafka, writer=ClickHouseWriter(switch.connect, target.database, target.display))
    starting = asyncio.create_task(sink.start())
    await eventually(lambda: switch.refused >= 2, "the start to retry")
    assert metric("trackwire_sink_waiting_for_clickhouse") == 1 and not starting.done()
    switch.up = True
    await asyncio.wait_for(starting, 10)  # ClickHouse is back: the start completes
    await sink.stop()

    switch.up = False
    sink = Sink(settings, kafka, writer=ClickHouseWriter(switch.connect, target.database, target.display))
    starting = asyncio.create_task(sink.start())
    await eventually(lambda: switch.refused >= 4, "the second start to retry")
    await asyncio.wait_for(sink.stop(), 10)  # a stop (SIGTERM) ends a start that waits for ClickHouse
    await asyncio.wait_for(starting, 1)  # without an error
    await sink.wait()


async def test_an_error_no_retry_can_fix_stops_the_sink_without_committing(kafka_bootstrap, kafka_prefix, ch_url,
                                                                             ch_client, ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix)
    await create_topics(kafka)
    async with Sink(settings, kafka) as sink:
        await asyncio.to_thread(ch_client.command, f"DROP TABLE {ch_database}.telemetry")  # someone's mistake
        await produce(kafka, record_messages([telemetry()]))
        with pytest.raises(WriteError, match="UNKNOWN_TABLE") as raised:
            await asyncio.wait_for(sink.wait(), 20)
        assert not raised.value.retriable
    committed, _ = await offsets(kafka, settings.group_id)
    assert sum(committed.values()) == 0  # read again once the table is back


async def test_a_rebalance_while_clickhouse_is_down_loses_nothing(kafka_bootstrap, kafka_prefix, ch_url, ch_client,
                                                                   ch_database):
    kafka = kafka_settings(kafka_bootstrap, kafka_prefix)
    settings = sink_settings(ch_url, kafka_prefix, batch_max_rows=40, retry_max_s=3.0)  # long waits: the
    await create_topics(kafka)                                                         # rebalance lands in one
    target = settings.target
    switch = Switch(target.connect)
    records = fleet(240)
    first = Sink(settings, kafka, writer=ClickHouseWriter(switch.connect, target.database, target.display))
    discarded = metric("trackwire_sink_discarded_rows_total")
    await first.start()
    try:
        switch.up = False  # the first worker's ClickHouse connection fails
        await produce(kafka, record_messages(records))
        await eventually(lambda: switch.refused >= 6, "the first worker to wait")
        # A second worker joins: the first gives its partitions up (dropping what it held, uncommitted),
        # then both read and write their share; the first waits again for its ClickHouse.
        async with Sink(settings, kafka) as second:
            await eventually(lambda: metric("trackwire_sink_discarded_rows_total") > discarded,
                             "the held rows dropped")
            await asyncio.sleep(1.0)
            switch.up = True
            await eventually(lambda: all_committed(kafka, settings.group_id), "everything committed")
            assert not first.waiting and not second.waiting
    finally:
        await first.stop()
    rows = await asyncio.to_thread(read_records, ch_client, ch_database)
    assert by_content(rows) == by_content(records)
