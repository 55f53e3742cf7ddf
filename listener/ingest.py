"""What happens to one frame between the socket and Kafka, shared by TCP and UDP.

The codec identifies the device and computes the reply (its cheap `identify`, no records built); the frame goes to the raw-frames topic in
an envelope; the reply is released only after Kafka acknowledged. Bad input is dead-lettered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from common.service import supervise
from listener import metrics
from listener.devices import DeviceRegistry
from listener.publisher import FramePublisher
from protocols.base import DEFAULT_CONTEXT, ServerContext, Codec, Session, Transport, guarded_identify
from schemas.envelopes import DeadLetter, RawFrame
from schemas.topics import TopicNames

log = logging.getLogger(__name__)

MAX_DEAD_LETTER_TASKS = 1000  # dead letters are best effort; beyond this many pending we count and drop


@dataclass(slots=True)
class Outgoing:
    """A frame ready for Kafka, with the reply to release once it is acknowledged."""

    key: bytes
    value: bytes
    reply: bytes | None
    protocol: str
    device_id: str | None
    received: float = field(default_factory=time.perf_counter)  # for the frame-to-reply latency
    close: bool = False  # close the connection once the reply is written (HTTP `Connection: close`)


@dataclass(slots=True)
class Rejected:
    """Not published and not acknowledged: the device is not on the allow-list."""

    reason: str
    device_id: str | None


class Ingest:
    def __init__(
        self,
        publisher: FramePublisher,
        topics: TopicNames,
        listener_id: str,
        devices: DeviceRegistry | None,
        codec_context: ServerContext = DEFAULT_CONTEXT,
    ) -> None:
        self.codec_context = codec_context  # what codecs get from the deployment (JT/T 808 auth key)
        self.publisher = publisher
        self.topics = topics
        self.listener_id = listener_id
        self.devices = devices
        self._ids = itertools.count(1)
        self._dead_letter_tasks: set[asyncio.Task] = set()

    def new_connection_id(self) -> str:
        return f"{self.listener_id}-{next(self._ids)}"

    async def publish(self, item: Outgoing) -> asyncio.Future:
        """Queue a prepared frame for the raw-frames topic; returns the future of Kafka's ack.

        Waits while the publisher's in-flight cap is used up; raises PublishRefused if the frame
        cannot even be queued."""
        return await self.publisher.publish(self.topics.raw_frames, item.key, item.value)

    def prepare(
        self,
        codec: Codec,
        session: Session,
        frame: bytes,
        *,
        connection_id: str,
        sequence: int,
        peer: str,
    ) -> Outgoing | Rejected:
        now = datetime.now(timezone.utc)
        # identify(), not decode(): the listener needs only the device id and the reply; building the
        # records is the processors' job (identify agrees with decode: the conformance suite checks it).
        identified = guarded_identify(codec, frame, session, now)
        device_id = identified.device_id or session.device_id
        if identified.error:
            # The frame is still published: the processors dead-letter it with its envelope, and a
            # device that gets no ack for a malformed alarm would repeat it forever.
            if identified.bug:  # our codec's fault, not the device's: counted and logged apart
                metrics.child(metrics.ERRORS, "codec_bug").inc()
                log.error("frame from %s hit a codec bug: %s", peer, identified.error)
            else:
                metrics.child(metrics.ERRORS, "decode").inc()
                log.debug("frame from %s does not decode: %s", peer, identified.error)
        if self.devices is not None and device_id is not None and not self.devices.is_registered(device_id):
            reason = f"device {device_id} is not registered (allow-list is on)"
            metrics.child(metrics.ERRORS, "unregistered").inc()
            self.dead_letter("unregistered", reason, frame, protocol=codec.name, device_id=device_id, peer=peer)
            return Rejected(reason, device_id)
        envelope = RawFrame(
            frame_id=f"{connection_id}-{sequence}",
            received_at_ms=int(now.timestamp() * 1000),
            transport=session.transport.value,
            peer=peer,
            listener_id=self.listener_id,
            connection_id=connection_id,
            protocol=codec.name,
            device_id=device_id,
            data=frame,
            rejected=identified.error if identified.rejected else None,
        )
        key = (device_id or connection_id).encode()
        # A refused frame's device id is only a claim: it must not bind the connection for downlink.
        bound_id = None if identified.rejected else device_id
        return Outgoing(key, envelope.to_msgpack(), identified.reply, codec.name, bound_id, close=identified.close)

    def dead_letter(
        self,
        kind: str,
        reason: str,
        data: bytes,
        *,
        protocol: str | None = None,
        device_id: str | None = None,
        peer: str | None = None,
    ) -> None:
        """Send to the dead-letter topic in the background; never blocks the socket path."""
        metrics.child(metrics.DEAD_LETTERS, kind).inc()  # kind, not reason: reasons carry ids and bytes
        if len(self._dead_letter_tasks) >= MAX_DEAD_LETTER_TASKS:
            metrics.child(metrics.ERRORS, "dead_letter_overflow").inc()
            log.warning("dead-letter backlog full, not kept: %s from %s", reason, peer)
            return
        record = DeadLetter(
            stage="listener", reason=reason, data=data, at_ms=int(time.time() * 1000),
            protocol=protocol, device_id=device_id, peer=peer,
        )
        key = device_id.encode() if device_id else None
        task = supervise(asyncio.ensure_future(self._send_dead_letter(key, record)), "listener.dead_letter")
        self._dead_letter_tasks.add(task)
        task.add_done_callback(self._dead_letter_tasks.discard)

    async def _send_dead_letter(self, key: bytes | None, record: DeadLetter) -> None:
        try:
            await self.publisher.send_and_wait(self.topics.dead_letters, key, record.to_msgpack())
        except Exception as exc:  # noqa: BLE001 - best effort; logged with the reason and peer
            metrics.child(metrics.ERRORS, "dead_letter_failed").inc()
            log.warning("could not dead-letter %r from %s: %r", record.reason, record.peer, exc)

    async def drain_dead_letters(self, timeout_s: float) -> None:
        if self._dead_letter_tasks:
            await asyncio.wait(list(self._dead_letter_tasks), timeout=timeout_s)


def transport_label(transport: Transport) -> str:
    return transport.value
