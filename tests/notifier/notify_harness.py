"""Real local receivers (aiohttp servers on 127.0.0.1) and Kafka helpers for the notifier tests."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from standardwebhooks import Webhook

from notifier.config import parse_config
from schemas.records import Record, to_msgpack

SECRET_A = "whsec_" + base64.b64encode(b"receiver-a-secret-32-bytes-long!").decode()
SECRET_B = "whsec_" + base64.b64encode(b"receiver-b-secret-32-bytes-long!").decode()


@dataclass
class Request:
    at: float  # time.time() when it arrived
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # what the receiver answered (None: it never answered)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> dict:
        return json.loads(self.body)


Behaviour = Callable[[Request, int], Awaitable[int]]  # (request, its 0-based number) -> status


async def answer_200(_request: Request, _n: int) -> int:
    return 200


@dataclass
class Receiver:
    """A webhook receiver that records every request and answers what `behaviour` says."""

    behaviour: Behaviour = answer_200
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition | None = None

    async def start(self) -> "Receiver":
        self._arrived = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, http_request: web.Request) -> web.Response:
        request = Request(time.time(), dict(http_request.headers), await http_request.read())
        n = len(self.requests)
        self.requests.append(request)
        async with self._arrived:
            self._arrived.notify_all()
        status = await self.behaviour(request, n)
        request.status = status
        async with self._arrived:
            self._arrived.notify_all()
        headers = {"Retry-After": "0"} if status == 429 else {}
        return web.Response(status=status, text="ok" if status < 300 else f"receiver says {status}", headers=headers)

    async def wait_for(self, predicate: Callable[[list[Request]], bool], timeout_s: float = 30.0) -> None:
        assert self._arrived is not None
        try:
            async with self._arrived:
                await asyncio.wait_for(self._arrived.wait_for(lambda: predicate(self.requests)), timeout_s)
        except asyncio.TimeoutError:
            # What did arrive, so that a rare failure says whether it was nothing, an error or a duplicate.
            seen = [(round(r.at - time.time(), 1), r.status, r.headers.get("webhook-id"),
                     _frame_id(r)) for r in self.requests]
            raise AssertionError(f"receiver on port {self.port}: condition not met within {timeout_s} s; "
                                 f"requests (s ago, status, webhook-id, frame id): {seen}") from None

    def answered(self, status: int = 200) -> list[Request]:
        return [r for r in self.requests if r.status == status]


def _frame_id(request: Request) -> str | None:
    try:
        return request.json()["data"]["frame_id"]
    except (ValueError, KeyError, TypeError):
        return None


def verify(secret: str, request: Request) -> dict:
    """What a receiver does: the reference library checks the signature and the timestamp."""
    return Webhook(secret).verify(request.body, request.headers)


def config_text(*hooks: dict) -> str:
    lines = []
    for hook in hooks:
        lines.append("[[webhooks]]")
        for key, value in hook.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def config(*hooks: dict):
    return parse_config(config_text(*hooks))


async def produce(bootstrap: str, topic: str, records: list[Record]) -> list[int]:
    """Publish records keyed by device id, in order; their offsets. Idempotent, as the pipeline's
    producers: a plain producer's retry after an error answer can write a record twice (seen on a
    topic created a moment before: a NotLeaderForPartitionError, a retry, and the alert sent twice)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        offsets = []
        for record in records:
            meta = await producer.send_and_wait(topic, to_msgpack(record), key=(record.device_id or "").encode())
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Sum of the group's committed offsets on `topic` (0 where nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        total = 0
        for p in range(partitions):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topic: str, count: int, timeout_s: float = 30.0) -> list:
    """The first `count` messages of `topic` (all partitions)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    out = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()
