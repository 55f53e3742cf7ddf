"""UDP on the same port: each datagram is detected and framed on its own; a bounded table of
sessions per source address carries device identity across datagrams (GT06 logs in once).

UDP has no flow control: when the bounded queue is full, a datagram is not acknowledged (counted in
metrics) and the device resends it, as it does for any lost datagram.
"""

from __future__ import annotations

import asyncio
import collections
import time
import logging
from typing import TYPE_CHECKING

from listener import metrics
from listener.ingest import Outgoing, Rejected
from listener.publisher import PublishRefused
from protocols.base import Frame, FrameError, Session, Transport
from protocols.stream import NoProtocol, ProtocolStream

if TYPE_CHECKING:
    from listener.server import ListenerServer

log = logging.getLogger(__name__)

QUEUE_LIMIT = 4096


class UdpEndpoint(asyncio.DatagramProtocol):
    def __init__(self, server: "ListenerServer") -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        # (peer, protocol) -> session, least recently used first; bounded by max_udp_sessions
        self._sessions: collections.OrderedDict[tuple[str, str], tuple[str, Session, int]] = collections.OrderedDict()
        self._queue: asyncio.Queue[tuple[Outgoing, tuple]] = asyncio.Queue(QUEUE_LIMIT)
        self._worker: asyncio.Task | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._worker = asyncio.ensure_future(self._publish_loop())

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        metrics.child(metrics.BYTES_IN, "udp").inc(len(data))
        peer = f"{addr[0]}:{addr[1]}"
        settings = self.server.settings
        stream = ProtocolStream(Transport.UDP, max_detect_bytes=max(settings.max_detect_bytes, len(data)),
                                max_frame=settings.max_frame_bytes, context=self.server.codec_context)
        stream.feed(data)
        for event in stream.events():
            if isinstance(event, NoProtocol):
                metrics.child(metrics.ERRORS, "no_protocol").inc()
                self.server.ingest.dead_letter("no_protocol", event.reason, event.data, peer=peer)
            elif isinstance(event, FrameError):
                metrics.child(metrics.ERRORS, "framing").inc()
                self.server.ingest.dead_letter("framing", event.reason, event.data, protocol=stream.codec.name,
                                               peer=peer)
            elif isinstance(event, Frame):
                self._on_frame(stream, event.data, peer, addr)

    def _on_frame(self, stream: ProtocolStream, frame: bytes, peer: str, addr: tuple) -> None:
        codec = stream.codec
        assert codec is not None and stream.session is not None
        metrics.child(metrics.FRAMES_IN, codec.name, "udp").inc()
        connection_id, session, sequence = self._session(peer, codec.name, stream.session)
        outcome = self.server.ingest.prepare(codec, session, frame, connection_id=connection_id,
                                             sequence=sequence, peer=peer)
        if isinstance(outcome, Rejected):
            return
        try:
            self._queue.put_nowait((outcome, addr))
        except asyncio.QueueFull:
            metrics.child(metrics.UNACKED, "udp_queue_full").inc()

    def _session(self, peer: str, protocol: str, fresh: Session) -> tuple[str, Session, int]:
        key = (peer, protocol)
        entry = self._sessions.pop(key, None)
        if entry is None:
            entry = (self.server.ingest.new_connection_id(), fresh, 0)
            while len(self._sessions) >= self.server.settings.max_udp_sessions:
                self._sessions.popitem(last=False)
        connection_id, session, sequence = entry
        entry = (connection_id, session, sequence + 1)
        self._sessions[key] = entry
        return entry

    async def _publish_loop(self) -> None:
        publisher = self.server.ingest.publisher
        topic = self.server.ingest.topics.raw_frames
        timeout = self.server.settings.ack_timeout_s
        while True:
            item, addr = await self._queue.get()
            try:
                ack = await publisher.publish(topic, item.key, item.value)
            except PublishRefused as exc:
                metrics.child(metrics.UNACKED, "refused").inc()
                log.warning("datagram from %s not queued to Kafka: %s", addr, exc)
                continue
            deadline = asyncio.get_running_loop().time() + timeout
            ack.add_done_callback(lambda fut, o=item, a=addr, d=deadline: self._acked(fut, o, a, d))

    def _acked(self, fut: asyncio.Future, item: Outgoing, addr: tuple, deadline: float) -> None:
        # Too late: the device has given up on this datagram and will resend it.
        expired = asyncio.get_running_loop().time() > deadline
        if fut.cancelled() or fut.exception() is not None:
            metrics.child(metrics.UNACKED, "error").inc()
            return
        if expired:
            metrics.child(metrics.UNACKED, "timeout").inc()
            return
        metrics.child(metrics.FRAMES_ACKED, item.protocol).inc()
        if item.reply and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(item.reply, addr)
            metrics.REPLY_LATENCY.observe(time.perf_counter() - item.received)
            metrics.child(metrics.REPLIES_OUT, item.protocol).inc()
            metrics.child(metrics.BYTES_OUT, "udp").inc(len(item.reply))

    def send_to(self, addr: tuple, data: bytes) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    async def stop(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        if self.transport is not None:
            self.transport.close()
