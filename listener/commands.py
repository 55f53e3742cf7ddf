"""Downlink: read the commands topic and write each command to its device if this instance holds
the device's connection. Every instance reads every command (no shared group) and ignores the ones
for devices it does not hold, so each is delivered by the one instance the device is connected to.

Nothing a command contains can stop the follower: an unreadable command, a command the codec
cannot encode (`UnsupportedCommand`), a codec bug while encoding, even a bug in delivery, each
ends as a failed `CommandResult` (logged, counted, dead-lettered by the connection) and the next
command is read. The follower task is supervised: should the consumer itself fail, it is restarted
with a backoff, and `stop()` never raises, so a shutdown always goes on to flush the producer.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Callable

from aiokafka import AIOKafkaConsumer
from prometheus_client import Counter

from common.kafka_security import aiokafka_options
from common.settings import KafkaSettings
from protocols.base import Command
from schemas.envelopes import DownlinkCommand

log = logging.getLogger(__name__)

COMMANDS_FAILED = Counter(
    "trackwire_listener_commands_failed_total",
    "Downlink commands not sent: unsupported (the codec refused them) or codec_bug / delivery_bug (ours)",
    ["protocol", "kind"],
)
FOLLOWER_RESTARTS = Counter("trackwire_listener_command_follower_restarts_total",
                            "Times the command follower failed and was restarted")

RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
RECENT_RESULTS = 256  # kept for operators (and tests) to look at the last outcomes


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What became of one command on this listener."""

    command_id: str
    device_id: str
    status: str  # "delivered", "not_connected" (not held here), "failed"
    protocol: str | None = None
    reason: str | None = None  # why it failed
    bug: bool = False  # it failed on a bug of ours (codec or listener), not on the command

    @property
    def failed(self) -> bool:
        return self.status == "failed"


Deliver = Callable[[DownlinkCommand, Command], CommandResult]


class CommandFollower:
    def __init__(self, kafka: KafkaSettings, topic: str, deliver: Deliver) -> None:
        self._kafka = kafka
        self._topic = topic
        self._deliver = deliver
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self._restart: asyncio.TimerHandle | None = None
        self._restart_delay = RESTART_DELAY_S
        self._stopping = False
        self.results: collections.deque[CommandResult] = collections.deque(maxlen=RECENT_RESULTS)

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
        self._spawn()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _spawn(self) -> None:
        self._restart = None
        if self._stopping:
            return
        self._task = asyncio.ensure_future(self._follow())
        self._task.add_done_callback(self._on_follow_done)

    def _on_follow_done(self, task: asyncio.Task) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is None:
            log.warning("command follower ended: its consumer was stopped")
            return
        FOLLOWER_RESTARTS.inc()
        log.error("command follower failed, restarting in %.0f s: %r", self._restart_delay, exc, exc_info=exc)
        self._restart = asyncio.get_running_loop().call_later(self._restart_delay, self._spawn)
        self._restart_delay = min(self._restart_delay * 2, MAX_RESTART_DELAY_S)

    async def _follow(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            self._restart_delay = RESTART_DELAY_S
            self.handle(message.value, message.offset)

    def handle(self, payload: bytes, offset: int = -1) -> CommandResult | None:
        """Deliver one command from the topic; never raises."""
        try:
            command = DownlinkCommand.from_msgpack(payload)
            # Parameters are text (`Command.params`); a producer that sent 30 meant "30".
            neutral = Command(str(command.name), {str(k): str(v) for k, v in dict(command.params).items()})
        except Exception as exc:  # noqa: BLE001 - a bad command must not stop the follower
            log.warning("unreadable command at offset %s: %r", offset, exc)
            return None
        try:
            result = self._deliver(command, neutral)
        except Exception as exc:  # noqa: BLE001 - a bug in delivery: this command fails, the next goes on
            log.exception("delivering command %s to %s failed", command.command_id, command.device_id)
            result = CommandResult(command.command_id, command.device_id, "failed",
                                   reason=f"delivery failed (bug): {type(exc).__name__}: {exc}", bug=True)
        self._report(command, result)
        return result

    def _report(self, command: DownlinkCommand, result: CommandResult) -> None:
        if result.status == "not_connected":
            return  # another instance holds the device (or nobody does): not ours to report
        self.results.append(result)
        if result.status == "delivered":
            log.info("delivered command %s (%s) to %s", command.command_id, command.name, command.device_id)
            return
        kind = "unsupported" if not result.bug else ("codec_bug" if result.protocol else "delivery_bug")
        COMMANDS_FAILED.labels(result.protocol or "unknown", kind).inc()
        level = logging.ERROR if result.bug else logging.WARNING
        log.log(level, "command %s (%s) for %s not sent: %s", command.command_id, command.name,
                command.device_id, result.reason)

    async def stop(self) -> None:
        """Stop following; never raises (a shutdown must go on to flush the producer)."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])  # its outcome is the done-callback's; ours may still be cancelled
        if self._consumer is not None:
            try:
                await self._consumer.stop()
            except Exception as exc:  # noqa: BLE001 - logged; the rest of the shutdown still runs
                log.warning("command consumer did not stop cleanly: %r", exc)
            self._consumer = None
