"""Downlink: read the commands topic and write each command to its device if this instance holds
the device's connection. Every instance reads every command (no shared group) and ignores the ones
for devices it does not hold, so each is delivered by the one instance the device is connected to.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiokafka import AIOKafkaConsumer

from common.kafka_security import aiokafka_options
from common.service import supervise
from common.settings import KafkaSettings
from protocols.base import Command
from schemas.envelopes import DownlinkCommand

log = logging.getLogger(__name__)


class CommandFollower:
    def __init__(self, kafka: KafkaSettings, topic: str, deliver: Callable[[DownlinkCommand, Command], bool],
                 on_failure: Callable[[BaseException], None] | None = None) -> None:
        self._kafka = kafka
        self._on_failure = on_failure  # the follower died: downlink is gone, the owner decides (the listener stops)
        self._topic = topic
        self._deliver = deliver
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Future | None = None

    async def start(self) -> None:
        # Only commands issued from now on: a command queued while no listener held the device is
        # not replayed on reconnect (that is a later feature with per-command status).
        self._consumer = AIOKafkaConsumer(
            self._topic, bootstrap_servers=self._kafka.bootstrap_servers, group_id=None, auto_offset_reset="latest",
            **aiokafka_options(self._kafka),
            enable_auto_commit=False,
        )
        await self._consumer.start()
        # Fix the start position now, so a command sent right after start() returns is not skipped.
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = supervise(asyncio.ensure_future(self._follow()), "listener.commands", self._on_failure)

    async def _follow(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            try:
                command = DownlinkCommand.from_msgpack(message.value)
            except Exception as exc:  # noqa: BLE001 - a bad command must not stop the follower
                log.warning("unreadable command at offset %s: %r", message.offset, exc)
                continue
            if self._deliver(command, Command(command.name, dict(command.params))):
                log.info("delivered command %s (%s) to %s", command.command_id, command.name, command.device_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # a failure was logged by supervise
        if self._consumer is not None:
            await self._consumer.stop()
