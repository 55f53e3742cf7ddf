"""The listener service: TCP and UDP on one port, limits, downlink, metrics/health, shutdown.

Lifecycle as aiokafka/uvicorn: `await start()` / `await stop()` (idempotent), `async with` too.
Shutdown order: stop accepting, stop reading, let in-flight frames be acknowledged and replied
within a timeout, flush the producer, then close connections.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from listener import metrics
from listener.commands import CommandFollower
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


class ListenerServer:
    def __init__(self, settings: ListenerSettings, bootstrap_servers: str, topics: TopicNames) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.publisher = FramePublisher(
            bootstrap_servers, max_inflight=settings.max_inflight_frames,
            client_id=f"trackwire-listener-{settings.instance_id}", send_timeout_s=settings.ack_timeout_s,
        )
        self.devices = DeviceRegistry(bootstrap_servers, topics.devices) if settings.allowlist_enabled else None
        self.ingest = Ingest(self.publisher, topics, settings.instance_id, self.devices)
        self.codec_context = ServerContext(auth_key=settings.auth_key.get_secret_value().encode())  # handed to every stream
        self.commands = CommandFollower(bootstrap_servers, topics.commands, self._deliver_command)
        self.connections: set[TcpConnection] = set()
        self._per_ip: collections.Counter[str] = collections.Counter()
        self._by_device: dict[str, TcpConnection] = {}
        self._tcp_server: asyncio.AbstractServer | None = None
        self._udp: UdpEndpoint | None = None
        self._http: web.AppRunner | None = None
        self._sweeper: asyncio.Task | None = None
        self._ready = False
        self._state = "new"
        self.tcp_port: int | None = None
        self.udp_port: int | None = None
        self.http_port: int | None = None

    async def __aenter__(self) -> "ListenerServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._state != "new":
            return
        self._state = "starting"
        if self.settings.auth_key.get_secret_value() == DEVELOPMENT_AUTH_KEY:
            log.warning("TRACKWIRE_LISTENER_AUTH_KEY is not set: JT/T 808 auth codes use the public development key")
        loop = asyncio.get_running_loop()
        await self._start_http()
        await self.publisher.start()
        if self.devices is not None:
            await self.devices.start()
        await self.commands.start()
        self._tcp_server = await loop.create_server(
            lambda: TcpConnection(self), self.settings.host, self.settings.port,
            reuse_address=True, backlog=4096,
        )
        self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
        # UDP binds the same port number as TCP (port 0 in tests: whatever TCP got).
        _, udp = await loop.create_datagram_endpoint(
            lambda: UdpEndpoint(self), local_addr=(self.settings.host, self.tcp_port), family=socket.AF_INET,
        )
        self._udp = udp
        self.udp_port = self.tcp_port
        self._sweeper = asyncio.ensure_future(self._sweep_idle())
        self._ready = True
        self._state = "running"
        log.info("listening on %s:%d (tcp+udp), metrics on :%s, instance %s",
                 self.settings.host, self.tcp_port, self.http_port, self.settings.instance_id)

    async def stop(self) -> None:
        if self._state in ("stopping", "stopped", "new"):
            self._state = "stopped"
            return
        self._state = "stopping"
        self._ready = False
        timeout = self.settings.shutdown_timeout_s
        if self._tcp_server is not None:
            self._tcp_server.close()  # stop accepting
        for conn in list(self.connections):
            conn.stop_reading()
        await self._wait_for_inflight(timeout)
        if self._udp is not None:
            await self._udp.stop(timeout)
        await self.ingest.drain_dead_letters(timeout)
        for conn in list(self.connections):
            conn.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.commands.stop()
        if self.devices is not None:
            await self.devices.stop()
        await self.publisher.stop(timeout)
        if self._tcp_server is not None:
            await self._tcp_server.wait_closed()
        if self._http is not None:
            await self._http.cleanup()
        self._state = "stopped"
        log.info("listener stopped")

    async def _wait_for_inflight(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.publisher.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # -- connections ------------------------------------------------------------------------
    def admit(self, conn: TcpConnection) -> str | None:
        """None to accept the connection, else the reason to refuse it."""
        if self._state != "running":
            return "shutting_down"
        if len(self.connections) >= self.settings.max_connections:
            return "max_connections"
        if self._per_ip[conn.peer_ip] >= self.settings.max_connections_per_ip:
            return "max_connections_per_ip"
        self.connections.add(conn)
        self._per_ip[conn.peer_ip] += 1
        return None

    def forget(self, conn: TcpConnection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self._per_ip[conn.peer_ip] -= 1
            if self._per_ip[conn.peer_ip] <= 0:
                del self._per_ip[conn.peer_ip]
        if conn.device_id and self._by_device.get(conn.device_id) is conn:
            del self._by_device[conn.device_id]

    def bind_device(self, device_id: str, conn: TcpConnection) -> None:
        self._by_device[device_id] = conn  # a reconnect replaces the older connection

    def connection_for(self, device_id: str) -> TcpConnection | None:
        return self._by_device.get(device_id)

    def _deliver_command(self, command: DownlinkCommand, neutral: Command) -> bool:
        conn = self._by_device.get(command.device_id)
        return conn.send_command(neutral) if conn is not None else False

    async def _sweep_idle(self) -> None:
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL_S, self.settings.idle_timeout_s / 2))
            cutoff = time.monotonic() - self.settings.idle_timeout_s
            for conn in [c for c in self.connections if c.last_activity < cutoff]:
                metrics.child(metrics.ERRORS, "idle_timeout").inc()
                log.info("closing idle connection %s (%s)", conn.peer, conn.device_id or conn.protocol_name)
                conn.close()

    # -- HTTP: metrics, health, readiness ----------------------------------------------------
    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.http_port = self._http.addresses[0][1]

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": self._state})

    async def _readyz(self, _request: web.Request) -> web.Response:
        saturated = self.publisher.saturated
        ready = self._ready and not saturated
        body = {"ready": ready, "connections": len(self.connections), "inflight": self.publisher.inflight}
        return web.json_response(body, status=200 if ready else 503)
