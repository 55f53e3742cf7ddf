"""Kafka administration shared by every stage: `ensure_topics`.

`ensure_topics` is what the pipeline stages call at start: through the Kafka admin API it creates
missing topics, sets the managed configs (cleanup.policy, retention.ms) of existing ones back to the
registry's values, and adds partitions to topics that have fewer than configured. It never removes
partitions (that would move keys between partitions) and never touches a config it does not manage.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Iterable, Literal, Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaError, LeaderNotAvailableError, TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code,
)

from common.kafka_security import aiokafka_options, start_checked
from common.settings import KafkaSettings

# DescribeConfigs config_source: the value was set on the topic itself (not a broker or default value).
_TOPIC_OVERRIDE = 1


class TopicSpec(Protocol):
    """What ensure_topics needs of a topic; schemas.topics.TopicSpec is one (common does not import
    schemas: the registry lives there, the admin code here)."""

    def full_name(self, prefix: str) -> str: ...

    def partition_count(self, default: int) -> int: ...

    def configs(self) -> dict[str, str]: ...


class TopicError(RuntimeError):
    """The broker refused to create or change a topic; the message says which and why."""


@dataclass(frozen=True, slots=True)
class TopicAction:
    topic: str
    outcome: Literal["created", "updated", "unchanged"]
    changes: tuple[str, ...] = ()  # "retention.ms 604800000 -> 2592000000", "partitions 2 -> 6"
    notes: tuple[str, ...] = ()  # what was configured but deliberately left as it is

    def __str__(self) -> str:
        text = f"{self.topic}: {self.outcome}"
        if self.changes:
            text += " " + ", ".join(self.changes)
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text


@dataclass(frozen=True, slots=True)
class _Wanted:
    name: str
    partitions: int
    configs: dict[str, str]


def _raise_for(code: int, what: str, message: str | None) -> None:
    if code:
        raise TopicError(f"{what}: {for_code(code).__name__}: {message or 'no message from the broker'}")


async def ensure_topics(
    settings: KafkaSettings,
    topics: Iterable[TopicSpec],
    *,
    timeout_s: float = 30.0,
) -> list[TopicAction]:
    """Make the broker's topics match `topics` (e.g. schemas.topics.TOPICS); one action per topic, in order."""
    wanted = [
        _Wanted(spec.full_name(settings.topic_prefix), spec.partition_count(settings.topic_partitions), spec.configs())
        for spec in topics
    ]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="trackwire-topics",
        request_timeout_ms=int(timeout_s * 1000),
        **aiokafka_options(settings),
    )
    try:
        # The first connection of every stage: a wrong password or CA fails here, saying so.
        await start_checked(admin, settings)
        return await _ensure(admin, wanted, settings.topic_replication_factor, timeout_s)
    finally:
        await admin.close()


async def _ensure(
    admin: AIOKafkaAdminClient, wanted: list[_Wanted], replication: int, timeout_s: float
) -> list[TopicAction]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    # List first and describe only topics that exist: a metadata request naming a missing topic
    # makes a broker with auto.create.topics.enable (Kafka's default) create it with default configs.
    existing = set(await admin.list_topics())
    actions: dict[str, TopicAction] = {}

    missing = [w for w in wanted if w.name not in existing]
    if missing:
        response = await admin.create_topics(
            [NewTopic(w.name, w.partitions, replication, topic_configs=w.configs) for w in missing],
            timeout_ms=int(timeout_s * 1000),
        )
        for error in response.to_object()["topic_errors"]:
            if error["error_code"] == TopicAlreadyExistsError.errno:
                existing.add(error["topic"])  # another stage created it meanwhile: check it below
                continue
            _raise_for(error["error_code"], f"cannot create topic {error['topic']}", error["error_message"])
            w = next(w for w in missing if w.name == error["topic"])
            configs = ", ".join(f"{k}={v}" for k, v in w.configs.items())
            count = f"{w.partitions} partition" + ("s" if w.partitions != 1 else "")
            actions[w.name] = TopicAction(w.name, "created", (count, configs))

    to_check = [w for w in wanted if w.name in existing]
    if to_check:
        partitions = await _partition_counts(admin, {w.name: 1 for w in to_check}, deadline)
        configs = await _topic_configs(admin, [w.name for w in to_check], deadline)
        alter: list[ConfigResource] = []
        grow: dict[str, NewPartitions] = {}
        for w in to_check:
            changes, notes = [], []
            current = {k: value for k, (value, _source) in configs[w.name].items()}
            differs = {k: v for k, v in w.configs.items() if _normalise(k, current.get(k)) != _normalise(k, v)}
            if differs:
                changes += [f"{k} {current.get(k)} -> {v}" for k, v in differs.items()]
                # AlterConfigs replaces all of a topic's own configs: send the ones set today
                # (by us or by an operator) with ours on top, so nothing else is reset.
                overrides = {k: value for k, (value, source) in configs[w.name].items() if source == _TOPIC_OVERRIDE}
                alter.append(ConfigResource(ConfigResourceType.TOPIC, w.name, configs={**overrides, **w.configs}))
            have = partitions[w.name]
            if have < w.partitions:
                changes.append(f"partitions {have} -> {w.partitions}")
                grow[w.name] = NewPartitions(w.partitions)
            elif have > w.partitions:
                notes.append(f"has {have} partitions, configured {w.partitions}: partitions are never removed")
            outcome = "updated" if changes else "unchanged"
            actions[w.name] = TopicAction(w.name, outcome, tuple(changes), tuple(notes))
        if alter:
            for response in await admin.alter_configs(alter):
                for resource in response.to_object()["resources"]:
                    _raise_for(resource["error_code"], f"cannot alter configs of topic {resource['resource_name']}",
                               resource["error_message"])
        if grow:
            try:
                await admin.create_partitions(grow, timeout_ms=int(timeout_s * 1000))
            except KafkaError as exc:
                raise TopicError(f"cannot add partitions: {exc}") from exc

    # Return once every topic is usable: the broker's metadata lags its controller a little after
    # a topic is created (or another one deleted), and a stage produces right after this.
    await _partition_counts(admin, {w.name: w.partitions for w in wanted}, deadline)
    return [actions[w.name] for w in wanted]


# Metadata of a topic that exists but has not reached the broker's metadata cache yet.
_NOT_YET = frozenset({UnknownTopicOrPartitionError.errno, LeaderNotAvailableError.errno})


async def _partition_counts(admin: AIOKafkaAdminClient, minimum: dict[str, int], deadline: float) -> dict[str, int]:
    """topic -> partition count, once each topic is known with at least `minimum[topic]` partitions."""
    loop = asyncio.get_running_loop()
    while True:
        counts, waiting = {}, []
        for topic in await admin.describe_topics(list(minimum)):
            name, code = topic["topic"], topic["error_code"]
            partitions = topic["partitions"]
            if code in _NOT_YET or (code == 0 and len(partitions) < minimum[name]):
                waiting.append(name)
                continue
            _raise_for(code, f"cannot describe topic {name}", None)
            counts[name] = len(partitions)
        if not waiting:
            return counts
        if loop.time() > deadline:
            raise TopicError(f"topics not ready in the broker's metadata in time: {', '.join(waiting)}")
        await asyncio.sleep(0.1)


async def _topic_configs(
    admin: AIOKafkaAdminClient, names: list[str], deadline: float
) -> dict[str, dict[str, tuple[str | None, int | None]]]:
    """topic -> config name -> (value, config_source)."""
    loop = asyncio.get_running_loop()
    while True:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        configs, waiting = {}, False
        for response in responses:
            for resource in response.to_object()["resources"]:
                name, code = resource["resource_name"], resource["error_code"]
                if code in _NOT_YET and loop.time() < deadline:
                    waiting = True
                    continue
                _raise_for(code, f"cannot describe configs of topic {name}", resource["error_message"])
                configs[name] = {
                    e["config_names"]: (e["config_value"], e.get("config_source")) for e in resource["config_entries"]
                }
        if not waiting:
            return configs
        await asyncio.sleep(0.1)


def _normalise(name: str, value: str | None) -> object:
    if name == "cleanup.policy" and value is not None:
        return frozenset(part.strip() for part in value.split(","))  # "compact,delete" == "delete,compact"
    return value

