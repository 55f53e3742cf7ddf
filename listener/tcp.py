"""One device's TCP connection: bytes in -> frames -> Kafka; replies out in order once acknowledged.

Flow control (uvicorn-style, flag-guarded): reading pauses while this connection has too many
frames waiting for Kafka, and so while Kafka is slow or down; it resumes when they drain.
Frames are published in arrival order by one worker task per connection, so a device's frames stay
ordered on its partition; replies are written strictly in frame order.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from listener import metrics
from listener.ingest import Outgoing, Rejected
from listener.publisher import PublishRefused
from protocols.base import Command, Frame, FrameError, Transport, UnsupportedCommand
from protocols.stream import Detected, NoProtocol, ProtocolStream

if TYPE_CHECKING:
    from listener.server import ListenerServer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _AwaitingAck:
    ack: asyncio.Future
    reply: bytes | None
    protocol: str
    deadline: float
    received: float
    expired: bool = field(default=False)
    close: bool = False  # the codec asked to close once this reply is written


class TcpConnection(asyncio.Protocol):
    def __init__(self, server: "ListenerServer") -> None:
        self.server = server
        settings = server.settings
        self.stream = ProtocolStream(
            Transport.TCP, max_detect_bytes=settings.max_detect_bytes, max_frame=settings.max_frame_bytes,
            context=server.codec_context,
        )
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_ip = "?"
        self.connection_id = server.ingest.new_connection_id()
        self.protocol_name = "unknown"
        self.device_id: str | None = None
        self.last_activity = time.monotonic()
        self._sequence = 0
        self._rejections = 0
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._queue_ready = asyncio.Event()
        self._awaiting: collections.deque[_AwaitingAck] = collections.deque()
        self._worker: asyncio.Task | None = None
        self._paused_at: float | None = None
        self._closing = False
        self._admitted = False

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer_ip = str(peer[0])
        self.peer = f"{peer[0]}:{peer[1]}"
        refusal = self.server.admit(self)
        if refusal:
            metrics.child(metrics.CONNECTIONS_REJECTED, refusal).inc()
            transport.abort()
            return
        self._admitted = True
        metrics.child(metrics.CONNECTIONS, self.protocol_name).inc()
        self._worker = asyncio.ensure_future(self._publish_loop())

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_activity = time.monotonic()
        metrics.child(metrics.BYTES_IN, "tcp").inc(len(data))
        self.stream.feed(data)
        while (event := self.stream.next_event()) is not None:
            self._on_event(event)
            if self._closing:
                return
        if len(self._queue) >= self.server.settings.max_inflight_per_connection:
            self.pause()

    def eof_received(self) -> bool | None:
        return None  # close our side too; frames already read are still published

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if not self._admitted:
            return
        self.server.forget(self)
        metrics.child(metrics.CONNECTIONS, self.protocol_name).dec()
        self._resumed()
        self._queue.append(None)  # type: ignore[arg-type]  # sentinel: publish what was read, then stop
        self._queue_ready.set()

    def pause_writing(self) -> None:  # the device does not read its replies: stop reading from it
        self.pause()

    def resume_writing(self) -> None:
        self.resume()

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, Frame):
            self._on_frame(event.data)
        elif isinstance(event, Detected):
            metrics.child(metrics.CONNECTIONS, self.protocol_name).dec()
            self.protocol_name = event.codec.name
            metrics.child(metrics.CONNECTIONS, self.protocol_name).inc()
        elif isinstance(event, FrameError):
            metrics.child(metrics.ERRORS, "framing").inc()
            self.server.ingest.dead_letter(
                "framing", event.reason, event.data, protocol=self.protocol_name, device_id=self.device_id, peer=self.peer
            )
        elif isinstance(event, NoProtocol):
            metrics.child(metrics.ERRORS, "no_protocol").inc()
            self.server.ingest.dead_letter("no_protocol", event.reason, event.data, peer=self.peer)
            log.info("closing %s: %s", self.peer, event.reason)
            self.close()

    def _on_frame(self, frame: bytes) -> None:
        stream = self.stream
        assert stream.codec is not None and stream.session is not None
        self._sequence += 1
        metrics.child(metrics.FRAMES_IN, stream.codec.name, "tcp").inc()
        outcome = self.server.ingest.prepare(
            stream.codec, stream.session, frame,
            connection_id=self.connection_id, sequence=self._sequence, peer=self.peer,
        )
        if isinstance(outcome, Rejected):
            self._on_rejected(outcome)
            return
        if outcome.device_id and outcome.device_id != self.device_id:
            self.device_id = outcome.device_id
            self.server.bind_device(outcome.device_id, self)
        self._queue.append(outcome)
        self._queue_ready.set()

    def _on_rejected(self, rejected: Rejected) -> None:
        # Only the allow-list rejects a frame; after a few, the device is told nothing more.
        self._rejections += 1
        if self._rejections >= self.server.settings.allowlist_max_rejected_frames:
            log.info("closing %s: %s", self.peer, rejected.reason)
            self.close()

    # -- publishing and acknowledging -------------------------------------------------------
    async def _publish_loop(self) -> None:
        publisher = self.server.ingest.publisher
        topic = self.server.ingest.topics.raw_frames
        ack_timeout = self.server.settings.ack_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._queue_ready.clear()
                await self._queue_ready.wait()
                continue
            item = self._queue.popleft()
            if item is None:
                return
            if len(self._queue) < self.server.settings.max_inflight_per_connection // 2:
                self.resume()
            try:
                ack = await publisher.publish(topic, item.key, item.value)
            except PublishRefused as exc:
                metrics.child(metrics.UNACKED, "refused").inc()
                log.warning("frame from %s not queued to Kafka, not acknowledged: %s", self.peer, exc)
                continue
            entry = _AwaitingAck(ack, item.reply, item.protocol, loop.time() + ack_timeout, item.received,
                                 close=item.close)
            self._awaiting.append(entry)
            ack.add_done_callback(lambda _f: self._release_replies())
            loop.call_at(entry.deadline, self._expire, entry)

    def _expire(self, entry: _AwaitingAck) -> None:
        if not entry.ack.done():
            entry.expired = True
            metrics.child(metrics.UNACKED, "timeout").inc()
            self._release_replies()

    def _release_replies(self) -> None:
        """Write replies in frame order for every acknowledged frame at the head of the line."""
        while self._awaiting:
            head = self._awaiting[0]
            if not head.ack.done() and not head.expired:
                return
            self._awaiting.popleft()
            if head.expired or head.ack.cancelled() or head.ack.exception() is not None:
                if not head.expired:
                    metrics.child(metrics.UNACKED, "error").inc()
                continue
            metrics.child(metrics.FRAMES_ACKED, head.protocol).inc()
            if head.reply and self.transport is not None and not self.transport.is_closing():
                self.transport.write(head.reply)
                metrics.REPLY_LATENCY.observe(time.perf_counter() - head.received)
                metrics.child(metrics.REPLIES_OUT, head.protocol).inc()
                metrics.child(metrics.BYTES_OUT, "tcp").inc(len(head.reply))
            if head.close:
                self.close()  # asyncio flushes the written reply before closing the socket
                return

    async def wait_published(self) -> None:
        if self._worker is not None:
            await asyncio.shield(self._worker)

    # -- downlink ---------------------------------------------------------------------------
    def send_command(self, command: Command) -> bool:
        codec, session = self.stream.codec, self.stream.session
        if codec is None or session is None or self.transport is None or self.transport.is_closing():
            return False
        try:
            data = codec.encode_command(command, session)
        except UnsupportedCommand as exc:
            log.warning("command %s not supported by %s: %s", command.name, codec.name, exc)
            return False
        self.transport.write(data)
        metrics.child(metrics.COMMANDS_DELIVERED, codec.name).inc()
        metrics.child(metrics.BYTES_OUT, "tcp").inc(len(data))
        return True

    # -- flow control -----------------------------------------------------------------------
    def pause(self) -> None:
        if self._paused_at is None and self.transport is not None and not self._closing:
            self._paused_at = time.monotonic()
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused_at is not None and self.transport is not None and not self._closing:
            self.transport.resume_reading()
        self._resumed()

    def _resumed(self) -> None:
        if self._paused_at is not None:
            metrics.BACKPRESSURE_SECONDS.inc(time.monotonic() - self._paused_at)
            self._paused_at = None

    def stop_reading(self) -> None:
        """Shutdown: read nothing more, keep the socket to write outstanding replies."""
        if self.transport is not None and not self.transport.is_closing() and self._paused_at is None:
            self._paused_at = time.monotonic()
            self.transport.pause_reading()

    def close(self) -> None:
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
