"""The command follower without a broker: nothing a command holds stops it, and a failing consumer
is restarted (the real-broker, real-socket test is test_listener_downlink.py)."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from listener.commands import CommandFollower, CommandResult
from schemas.envelopes import DownlinkCommand


def payload(command_id: str, name: str = "locate", **params) -> bytes:
    return DownlinkCommand(command_id=command_id, device_id="d1", name=name, params=params).to_msgpack()


def delivered(command, neutral) -> CommandResult:
    return CommandResult(command.command_id, command.device_id, "delivered", "gotop")


def test_an_unreadable_command_is_skipped():
    follower = CommandFollower("unused:9092", "commands", delivered)
    assert follower.handle(b"\xc1 not msgpack") is None
    assert follower.handle(payload("c1")).status == "delivered"


def test_a_delivery_that_raises_fails_that_command_only():
    calls = []

    def deliver(command, neutral):
        calls.append(command.command_id)
        if command.command_id == "bad":
            raise RuntimeError("boom")
        return delivered(command, neutral)

    follower = CommandFollower("unused:9092", "commands", deliver)
    failed = follower.handle(payload("bad"))
    assert failed == CommandResult("bad", "d1", "failed", reason="delivery failed (bug): RuntimeError: boom", bug=True)
    assert follower.handle(payload("next")).status == "delivered"
    assert calls == ["bad", "next"] and [r.command_id for r in follower.results] == ["bad", "next"]


def test_parameters_reach_the_codec_as_text():
    seen = []
    follower = CommandFollower("unused:9092", "commands", lambda c, n: seen.append(n) or delivered(c, n))
    raw = DownlinkCommand(command_id="c", device_id="d1", name="set_interval", params={"seconds": 30})
    follower.handle(raw.to_msgpack())
    assert seen[0].params == {"seconds": "30"}


def restarts() -> float:
    return REGISTRY.get_sample_value("trackwire_listener_command_follower_restarts_total") or 0.0


class FailingThenWorkingConsumer:
    """Raises on the first iteration (a broker/consumer fault), then yields one command."""

    def __init__(self) -> None:
        self.iterations = 0
        self.stopped = False

    def __aiter__(self):
        self.iterations += 1
        return self._gen(self.iterations)

    async def _gen(self, iteration: int):
        if iteration == 1:
            raise RuntimeError("consumer fault")
        yield type("Message", (), {"value": payload("after-restart"), "offset": 7})()
        await asyncio.Event().wait()  # then nothing more, until cancelled

    async def stop(self) -> None:
        self.stopped = True
        raise RuntimeError("stop failed too")


async def test_a_failing_follower_is_restarted_and_stop_never_raises():
    follower = CommandFollower("unused:9092", "commands", delivered)
    follower._consumer = FailingThenWorkingConsumer()
    follower._restart_delay = 0.01
    before = restarts()
    follower._spawn()
    for _ in range(200):
        if follower.results:
            break
        await asyncio.sleep(0.01)
    assert [r.command_id for r in follower.results] == ["after-restart"]
    assert restarts() == before + 1
    assert follower.running
    consumer = follower._consumer
    await follower.stop()  # the consumer's stop() raises: logged, not raised
    assert consumer.stopped and not follower.running
