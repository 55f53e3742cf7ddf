"""One device's TCP connection: bytes in -> frames -> Kafka; replies out in order once acknowledged.

Flow control (uvicorn-style, one flag per reason): reading pauses while this connection has too
many frames waiting for Kafka (QUEUE_FULL, and so while Kafka is slow or down), while the device
does not read its replies (WRITE_BUFFER_FULL), and for good at shutdown (SHUTDOWN); it resumes only
when no reason is left, so a drained queue never re-opens reading during shutdown.
Frames are published in arrival order by one worker task per connection, so a device's frames stay
ordered on its partition; replies are written strictly in frame order. The worker is supervised: if
it dies of a bug, its frames are counted unacknowledged and the connection is closed (the device
reconnects and resends).

A connection gets three narrow collaborators, not the server: its settings, the ingest (prepare,
publish, dead-letter) and the connection table (admission, device binding). Unit tests drive it
with a fake transport and a fake publisher (tests/listener/test_tcp_connection.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field

from common.service import supervise
from listener import metrics
from listener.connections import ConnectionTable
from listener.ingest import Ingest, Outgoing, Rejected
from listener.publisher import PublishRefused
from listener.commands import CommandResult
from listener.settings import ListenerSettings
from protocols.base import Command, Frame, FrameError, Transport, UnsupportedCommand, codec_bug_reason, guarded_encode
from protocols.stream import Detected, NoProtocol, ProtocolStream
from schemas.envelopes import DownlinkCommand

# Why reading is paused; it resumes when none is left.
QUEUE_FULL = "queue_full"  # too many frames of this connection wait for Kafka
WRITE_BUFFER_FULL = "write_buffer_full"  # the device does not read its replies
SHUTDOWN = "shutdown"  # the listener is stopping: never resumed

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
    def __init__(self, settings: ListenerSettings, ingest: Ingest, table: ConnectionTable) -> None:
        self.settings = settings
        self.ingest = ingest
        self.table = table
        self.stream = ProtocolStream(
            Transport.TCP, max_detect_bytes=settings.max_detect_bytes, max_frame=settings.max_frame_bytes,
            context=ingest.codec_context,
        )
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.peer_ip = "?"
        self.connection_id = ingest.new_connection_id()
        self.protocol_name = "unknown"
        self.device_id: str | None = None
        self.last_activity = time.monotonic()
        self.partial_since: float | None = None  # when the frame now half-read began (the frame deadline)
        self._sequence = 0
        self._rejections = 0
        self._queue: collections.deque[Outgoing] = collections.deque()
        self._queue_ready = asyncio.Event()
        self._awaiting: collections.deque[_AwaitingAck] = collections.deque()
        # One timer per connection for the oldest frame's ack deadline, not one per frame: the
        # deadlines are in frame order, and a timer per frame was a tenth of the listener's CPU.
        self._expiry: asyncio.TimerHandle | None = None
        self._worker: asyncio.Future | None = None
        self._pause_reasons: set[str] = set()
        self._paused_at: float | None = None
        self._closing = False
        self._admitted = False

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer_ip = str(peer[0])
        self.peer = f"{peer[0]}:{peer[1]}"
        refusal = self.table.admit(self)
        if refusal:
            metrics.child(metrics.CONNECTIONS_REJECTED, refusal).inc()
            transport.abort()
            return
        self._admitted = True
        metrics.child(metrics.CONNECTIONS, self.protocol_name).inc()
        self._worker = supervise(asyncio.ensure_future(self._publish_loop()), "listener.tcp_publish",
                                 self._worker_failed)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        now = self.last_activity = time.monotonic()
        metrics.child(metrics.BYTES_IN, "tcp").inc(len(data))
        self.stream.feed(data)
        while (event := self.stream.next_event()) is not None:
            self._on_event(event)
            if self._closing:
                return
        if not self.stream.buffered:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = now
        if len(self._queue) >= self.settings.max_inflight_per_connection:
            self.pause(QUEUE_FULL)

    def eof_received(self) -> bool | None:
        return None  # close our side too; frames already read are still published

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if not self._admitted:
            return
        self.table.forget(self)
        metrics.child(metrics.CONNECTIONS, self.protocol_name).dec()
        self._account_pause()
        self._queue.append(None)  # type: ignore[arg-type]  # sentinel: publish what was read, then stop
        self._queue_ready.set()

    def pause_writing(self) -> None:  # the device does not read its replies: stop reading from it
        self.pause(WRITE_BUFFER_FULL)

    def resume_writing(self) -> None:
        self.resume(WRITE_BUFFER_FULL)

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
            self.ingest.dead_letter(
                "framing", event.reason, event.data, protocol=self.protocol_name, device_id=self.device_id, peer=self.peer
            )
        elif isinstance(event, NoProtocol):
            metrics.child(metrics.ERRORS, "no_protocol").inc()
            self.ingest.dead_letter("no_protocol", event.reason, event.data, peer=self.peer)
            log.info("closing %s: %s", self.peer, event.reason)
            self.close()

    def _on_frame(self, frame: bytes) -> None:
        stream = self.stream
        assert stream.codec is not None and stream.session is not None
        self._sequence += 1
        metrics.child(metrics.FRAMES_IN, stream.codec.name, "tcp").inc()
        outcome = self.ingest.prepare(
            stream.codec, stream.session, frame,
            connection_id=self.connection_id, sequence=self._sequence, peer=self.peer,
        )
        if isinstance(outcome, Rejected):
            self._on_rejected(outcome)
            return
        if outcome.device_id and outcome.device_id != self.device_id:
            self.device_id = outcome.device_id
            self.table.bind_device(outcome.device_id, self)
        self._queue.append(outcome)
        self._queue_ready.set()

    def _on_rejected(self, rejected: Rejected) -> None:
        # Only the allow-list rejects a frame; after a few, the device is told nothing more.
        self._rejections += 1
        if self._rejections >= self.settings.allowlist_max_rejected_frames:
            log.info("closing %s: %s", self.peer, rejected.reason)
            self.close()

    # -- publishing and acknowledging -------------------------------------------------------
    async def _publish_loop(self) -> None:
        ack_timeout = self.settings.ack_timeout_s
        resume_below = self.settings.max_inflight_per_connection // 2
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._queue_ready.clear()
                await self._queue_ready.wait()
                continue
            item = self._queue.popleft()
            if item is None:
                return
            if len(self._queue) < resume_below:
                self.resume(QUEUE_FULL)
            try:
                ack = await self.ingest.publish(item)
            except PublishRefused as exc:
                metrics.child(metrics.UNACKED, "refused").inc()
                log.warning("frame from %s not queued to Kafka, not acknowledged: %s", self.peer, exc)
                continue
            entry = _AwaitingAck(ack, item.reply, item.protocol, loop.time() + ack_timeout, item.received,
                                 close=item.close)
            self._awaiting.append(entry)
            ack.add_done_callback(lambda _f: self._release_replies())
            if self._expiry is None:
                self._expiry = loop.call_at(entry.deadline, self._expire_due)

    def _expire_due(self) -> None:
        """Mark every frame past its ack deadline (the oldest first), then wait for the next one's."""
        self._expiry = None
        loop = asyncio.get_running_loop()
        now = loop.time() + 0.001  # timers may fire a hair early
        for entry in self._awaiting:
            if entry.deadline > now:
                break
            if not entry.ack.done() and not entry.expired:
                entry.expired = True
                metrics.child(metrics.UNACKED, "timeout").inc()
        self._release_replies()
        if self._awaiting:
            self._expiry = loop.call_at(self._awaiting[0].deadline, self._expire_due)

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

    def _worker_failed(self, exc: BaseException) -> None:
        """The publish worker died of a bug: what it held is not acknowledged; the device reconnects."""
        lost = len(self._awaiting) + sum(1 for item in self._queue if item is not None)
        if lost:
            metrics.child(metrics.UNACKED, "error").inc(lost)
        self._awaiting.clear()
        self._queue.clear()
        log.error("closing %s: its publish worker failed: %r", self.peer, exc)
        if self.transport is not None:
            self.transport.abort()

    async def wait_published(self) -> None:
        if self._worker is not None:
            await asyncio.shield(self._worker)

    # -- downlink ---------------------------------------------------------------------------
    def send_command(self, downlink: DownlinkCommand, command: Command) -> CommandResult:
        """Encode and write one command; any failure is the result, never an exception."""
        codec, session = self.stream.codec, self.stream.session
        if codec is None or session is None or self.transport is None or self.transport.is_closing():
            return CommandResult(downlink.command_id, downlink.device_id, "not_connected")
        try:
            data = guarded_encode(codec, command, session)
        except UnsupportedCommand as exc:
            bug = exc.bug
            reason = codec_bug_reason(codec.name, exc.__cause__) if bug and exc.__cause__ else str(exc)
            self.ingest.dead_letter(
                "command_codec_bug" if bug else "command",
                f"command {downlink.command_id} ({downlink.name}) not sent: {reason}", downlink.to_msgpack(),
                protocol=codec.name, device_id=downlink.device_id, peer=self.peer,
            )
            return CommandResult(downlink.command_id, downlink.device_id, "failed", codec.name, reason, bug)
        self.transport.write(data)
        metrics.child(metrics.COMMANDS_DELIVERED, codec.name).inc()
        metrics.child(metrics.BYTES_OUT, "tcp").inc(len(data))
        return CommandResult(downlink.command_id, downlink.device_id, "delivered", codec.name)

    # -- flow control -----------------------------------------------------------------------
    @property
    def paused_for(self) -> frozenset[str]:
        return frozenset(self._pause_reasons)

    def pause(self, reason: str) -> None:
        if self._closing or self.transport is None:
            return
        if not self._pause_reasons:
            self._paused_at = time.monotonic()
            self.transport.pause_reading()
        self._pause_reasons.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self._pause_reasons:
            return
        self._pause_reasons.discard(reason)
        if self._pause_reasons or self._closing or self.transport is None:
            return
        self.transport.resume_reading()
        self._account_pause()

    def _account_pause(self) -> None:
        if self._paused_at is not None:
            metrics.BACKPRESSURE_SECONDS.inc(time.monotonic() - self._paused_at)
            self._paused_at = None

    def stop_reading(self) -> None:
        """Shutdown: read nothing more, keep the socket to write outstanding replies."""
        if self.transport is not None and not self.transport.is_closing():
            self.pause(SHUTDOWN)

    def close(self) -> None:
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
