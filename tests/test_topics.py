"""The topic registry (schemas/topics.py), its documentation, and `trackwire topics` / ensure_topics
against a real broker: idempotent, and the broker reports what the registry says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from click.testing import CliRunner

from schemas.alarms import SOS_ALARMS, Alarm
from schemas.records import RECORD_TYPES, Alert, Event, Position, Telemetry
from schemas.topics import (
    ALERTS, DEVICES, EVENTS, POSITIONS, RAW_FRAMES, SOS, TELEMETRY, TOPICS, Cleanup, device_key, markdown_table,
    topic_names, topics_for,
)
from trackwire.cli import main
from common.settings import KafkaSettings
from trackwire.topics_cmd import ensure_topics

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "topics.md").read_text()


# --- the registry, no broker ---------------------------------------------------------------------

def test_every_topic_the_pipeline_needs_is_named_once():
    names = [spec.name for spec in TOPICS]
    assert len(set(names)) == len(names)
    assert set(names) >= {
        "raw-frames", "positions", "alerts", "sos", "telemetry", "events", "dead-letters", "commands", "devices"
    }
    assert RAW_FRAMES.full_name("acme.") == "acme.raw-frames"


def test_devices_is_compacted_and_the_others_are_deleted_after_their_retention():
    assert DEVICES.configs() == {"cleanup.policy": "compact"}
    for spec in TOPICS:
        if spec is not DEVICES:
            assert spec.cleanup is Cleanup.DELETE and int(spec.configs()["retention.ms"]) >= 24 * 3600 * 1000


def test_records_go_to_their_topic_and_only_sos_and_fall_to_sos():
    assert topics_for(Position(protocol="gt06")) == (POSITIONS,)
    assert topics_for(Telemetry(protocol="watch")) == (TELEMETRY,)
    assert topics_for(Event(protocol="watch", event="login")) == (EVENTS,)
    for alarm in Alarm:
        expected = (ALERTS, SOS) if alarm in SOS_ALARMS else (ALERTS,)
        assert topics_for(Alert(protocol="watch", alarm=alarm)) == expected, alarm
    assert SOS_ALARMS == {Alarm.SOS, Alarm.FALL}


def test_keys_are_utf8_device_ids_and_names_follow_the_prefix():
    assert device_key("358688000000158") == b"358688000000158"
    names = topic_names("acme.")
    assert [getattr(names, f.name) for f in dataclasses.fields(names)] == [spec.full_name("acme.") for spec in TOPICS]


# --- docs/topics.md is in step with the registry and the records ---------------------------------

def test_docs_contain_the_topic_table_of_the_registry():
    assert markdown_table() in DOCS


def value_classes() -> dict[str, type]:
    from listener.devices import DeviceSettings
    from schemas.envelopes import DeadLetter, DownlinkCommand, RawFrame

    classes = {cls.__name__: cls for cls in RECORD_TYPES.values()}
    classes.update((cls.__name__, cls) for cls in (RawFrame, DeadLetter, DownlinkCommand, DeviceSettings))
    return classes


def docs_section(title: str) -> str:
    return DOCS.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("value", sorted({spec.value for spec in TOPICS}))
def test_docs_list_every_field_of_every_value(value):
    cls = value_classes()[value]
    section = docs_section(value)
    if value == "Alert":  # documented as "all the fields of Position, and:"
        section += docs_section("Position")
    fields = [f.name for f in dataclasses.fields(cls)] + ["v"]
    for name in fields:
        assert f"`{name}`" in section, f"{value}.{name} is not in docs/topics.md"
    if cls in RECORD_TYPES.values():  # records say which they are; envelopes have one kind per topic
        assert f'`"{cls.type}"`' in section


def test_docs_list_every_alarm_code():
    for alarm in Alarm:
        assert f"`{alarm.value}`" in DOCS.split("## Alarm codes", 1)[1], alarm


# --- against the broker --------------------------------------------------------------------------

async def broker_view(bootstrap: str, names: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
    """topic -> (partition count, {config: value}) as the broker reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
        view = {}
        for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names]):
            for resource in response.to_object()["resources"]:
                configs = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
                view[resource["resource_name"]] = (counts[resource["resource_name"]], configs)
        return view
    finally:
        await admin.close()


async def alter(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    finally:
        await admin.close()


@pytest.mark.kafka
async def test_ensure_topics_creates_all_then_changes_nothing(kafka_bootstrap, kafka_prefix):
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=kafka_prefix, topic_partitions=2)
    names = [spec.full_name(kafka_prefix) for spec in TOPICS]

    first = await ensure_topics(settings)
    assert [(a.topic, a.outcome) for a in first] == [(n, "created") for n in names]

    view = await broker_view(kafka_bootstrap, names)
    for spec, name in zip(TOPICS, names):
        partitions, configs = view[name]
        assert partitions == 2, name
        assert configs["cleanup.policy"] == spec.cleanup.value, name
        if spec.retention_ms is not None:
            assert configs["retention.ms"] == str(spec.retention_ms), name

    second = await ensure_topics(settings)
    assert [str(a) for a in second] == [f"{n}: unchanged" for n in names]


@pytest.mark.kafka
async def test_ensure_topics_repairs_drifted_configs_and_grows_but_never_shrinks(kafka_bootstrap, kafka_prefix):
    topics = [POSITIONS, DEVICES]
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=kafka_prefix, topic_partitions=1)
    positions, devices = (spec.full_name(kafka_prefix) for spec in topics)
    await ensure_topics(settings, topics)
    # An operator changed our retention and set a config we do not manage.
    await alter(kafka_bootstrap, positions, {"retention.ms": "1000", "max.message.bytes": "200000"})

    grown = await ensure_topics(settings.model_copy(update={"topic_partitions": 3}), topics)
    assert [str(a) for a in grown] == [
        f"{positions}: updated retention.ms 1000 -> {POSITIONS.retention_ms}, partitions 1 -> 3",
        f"{devices}: updated partitions 1 -> 3",
    ]
    view = await broker_view(kafka_bootstrap, [positions, devices])
    assert view[positions][0] == view[devices][0] == 3
    assert view[positions][1]["retention.ms"] == str(POSITIONS.retention_ms)
    assert view[positions][1]["max.message.bytes"] == "200000"  # left alone
    assert view[devices][1]["cleanup.policy"] == "compact"

    fewer = await ensure_topics(settings, topics)  # configured 1 again: partitions are never removed
    assert [a.outcome for a in fewer] == ["unchanged", "unchanged"]
    assert "has 3 partitions, configured 1" in str(fewer[0])
    assert (await broker_view(kafka_bootstrap, [positions]))[positions][0] == 3


@pytest.mark.kafka
def test_trackwire_topics_command_prints_one_line_per_topic(kafka_bootstrap, kafka_prefix, monkeypatch):
    monkeypatch.setenv("TRACKWIRE_TOPIC_PARTITIONS", "1")
    args = ["topics", "--bootstrap-servers", kafka_bootstrap, "--prefix", kafka_prefix]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert first.output.splitlines() == [
        f"{spec.full_name(kafka_prefix)}: created 1 partition, "
        + ", ".join(f"{k}={v}" for k, v in spec.configs().items())
        for spec in TOPICS
    ]
    assert second.output.splitlines() == [f"{spec.full_name(kafka_prefix)}: unchanged" for spec in TOPICS]


def test_trackwire_topics_says_what_to_do_when_no_broker_answers(unused_tcp_port):
    result = CliRunner().invoke(main, ["topics", "--bootstrap-servers", f"127.0.0.1:{unused_tcp_port}"])
    assert result.exit_code == 1
    assert "deploy/local/kafka.sh start" in str(result.exception)
