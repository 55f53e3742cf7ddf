"""The listener service: TCP and UDP on one port, limits, downlink, metrics/health, shutdown.

Lifecycle from the service kit (common/service.py): `await start()` / `await stop()` (idempotent),
`async with` too; health/readiness/metrics from its HealthApp; background tasks supervised (a
failed sweeper, UDP worker or command follower stops the listener, which then exits non-zero).
Shutdown order: stop accepting, stop reading, let in-flight frames be acknowledged and replied
within a timeout (awaiting the publisher's idle event), flush the producer, then close connections.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from common.service import HealthApp, Lifecycle, State, Supervisor
from common.settings import KafkaSettings
from listener import metrics
from listener.commands import CommandFollower, CommandResult
from listener.connections import ConnectionTable
from listener.devices import DeviceRegistry
from listener.ingest import Ingest
from listener.publisher import FramePublisher
from listener.settings import ListenerSettings
from listener.tcp import TcpConnection
from listener.udp import UdpEndpoint
from protocols.base import Command, ServerContext
from listener.settings import DEVELOPMENT_AUTH_KEY
from schemas.envelopes import DownlinkCommand
from schemas.topics import TopicNames

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0


class ListenerServer(Lifecycle):
    def __init__(self, settings: ListenerSettings, kafka: KafkaSettings, topics: TopicNames) -> None:
        super().__init__()
        self.settings = settings
        self.bootstrap_servers = kafka.bootstrap_servers
        self.topics = topics
        self.publisher = FramePublisher(
            kafka, max_inflight=settings.max_inflight_frames,
            client_id=f"trackwire-listener-{settings.instance_id}", send_timeout_s=settings.ack_timeout_s,
            overdue_s=settings.producer_overdue_s, frames_per_message=settings.frames_per_message,
        )
        self.devices = DeviceRegistry(kafka, topics.devices, on_failure=self.fail) if settings.allowlist_enabled else None
        self.ingest = Ingest(self.publisher, topics, settings.instance_id, self.devices,
                             ServerContext(auth_key=settings.auth_key.get_secret_value().encode()))
        self.commands = CommandFollower(kafka, topics.commands, self._deliver_command)
        self.connections = ConnectionTable(settings.max_connections, settings.max_connections_per_ip)
        self.tasks = Supervisor("listener")
        self.http = HealthApp(settings.http_host, settings.http_port, health=self._healthz, ready=self._readyz)
        self._tcp_server: asyncio.AbstractServer | None = None
        self._udp: UdpEndpoint | None = None
        self.tcp_port: int | None = None
        self.udp_port: int | None = None

    @property
    def http_port(self) -> int | None:
        return self.http.port

    # -- lifecycle --------------------------------------------------------------------------
    async def on_start(self) -> None:
        if self.settings.auth_key.get_secret_value() == DEVELOPMENT_AUTH_KEY:
            log.warning("TRACKWIRE_LISTENER_AUTH_KEY is not set: JT/T 808 auth codes use the public development key")
        loop = asyncio.get_running_loop()
        await self.http.start()
        await self.publisher.start()
        if self.devices is not None:
            await self.devices.start()
        await self.commands.start()
        self._tcp_server = await loop.create_server(
            lambda: TcpConnection(self.settings, self.ingest, self.connections), self.settings.host,
            self.settings.port, reuse_address=True, backlog=4096,
        )
        self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
        # UDP binds the same port number as TCP (port 0 in tests: whatever TCP got).
        _, udp = await loop.create_datagram_endpoint(
            lambda: UdpEndpoint(self.settings, self.ingest, on_failure=self.fail),
            local_addr=(self.settings.host, self.tcp_port), family=socket.AF_INET,
        )
        self._udp = udp
        self.udp_port = self.tcp_port
        self.tasks.spawn(self._sweep_idle(), "idle_sweep", on_failure=self.fail)
        self.connections.accepting = True
        log.info("listening on %s:%d (tcp+udp), metrics on :%s, instance %s",
                 self.settings.host, self.tcp_port, self.http_port, self.settings.instance_id)

    async def on_stop(self) -> None:
        self.connections.accepting = False
        timeout = self.settings.shutdown_timeout_s
        if self._tcp_server is not None:
            self._tcp_server.close()  # stop accepting
        for conn in self.connections:
            conn.stop_reading()
        if not await self.publisher.wait_idle(timeout):
            log.warning("%d frames still unacknowledged after %.1f s: closing anyway", self.publisher.inflight, timeout)
        if self._udp is not None:
            await self._udp.stop(timeout)
        await self.ingest.drain_dead_letters(timeout)
        for conn in self.connections:
            conn.close()
        await self.tasks.cancel_all()
        await self.commands.stop()
        if self.devices is not None:
            await self.devices.stop()
        await self.publisher.stop(timeout)
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        await self.http.stop()
        log.info("listener stopped")

    # -- connections ------------------------------------------------------------------------
    def connection_for(self, device_id: str) -> TcpConnection | None:
        return self.connections.connection_for(device_id)  # type: ignore[return-value]

    def _deliver_command(self, command: DownlinkCommand, neutral: Command) -> CommandResult:
        conn = self.connection_for(command.device_id)
        if conn is None:
            return CommandResult(command.command_id, command.device_id, "not_connected")
        return conn.send_command(command, neutral)

    async def _sweep_idle(self) -> None:
        """Close connections silent for idle_timeout_s, and those holding a frame begun more than
        frame_timeout_s ago (bytes trickling in reset the idle clock, not this one)."""
        settings = self.settings
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL_S, settings.idle_timeout_s / 2, settings.frame_timeout_s / 2))
            now = time.monotonic()
            idle_cutoff, frame_cutoff = now - settings.idle_timeout_s, now - settings.frame_timeout_s
            for conn in list(self.connections):
                if conn.last_activity < idle_cutoff:  # type: ignore[attr-defined]
                    metrics.child(metrics.ERRORS, "idle_timeout").inc()
                    log.info("closing idle connection %s (%s)", conn.peer, conn.device_id or conn.protocol_name)
                    conn.close()
                elif conn.partial_since is not None and conn.partial_since < frame_cutoff:  # type: ignore[attr-defined]
                    metrics.child(metrics.ERRORS, "frame_timeout").inc()
                    log.info("closing %s (%s): a frame begun %.0f s ago is still not whole (%d bytes; "
                             "frame_timeout_s %.0f)", conn.peer, conn.device_id or conn.protocol_name,
                             now - conn.partial_since, conn.stream.buffered, settings.frame_timeout_s)
                    conn.close()

    # -- health and readiness (HealthApp serves them, with /metrics) ------------------------
    def _healthz(self) -> tuple[bool, dict]:
        return self.state not in (State.FAILED,), {"status": self.state.value}

    def _readyz(self) -> tuple[bool, dict]:
        # Not ready while the Kafka producer is overdue or being replaced (the publisher's watchdog),
        # so that the orchestrator sends no new devices here and restarts the instance if it lasts.
        producer_ok, producer = self.publisher.health()
        ready = (self.state is State.RUNNING and self.connections.accepting and not self.publisher.saturated
                 and producer_ok)
        return ready, {"ready": ready, "connections": len(self.connections), "inflight": self.publisher.inflight,
                       **producer}
