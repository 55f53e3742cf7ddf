"""The table of open TCP connections: admission limits (total, per address), device -> connection.

What a connection needs of the server and nothing more (uvicorn hands its protocols a small
`ServerState` the same way): a connection asks to be admitted, binds its device id once it knows it,
and is forgotten when it closes. The server reads it for downlink, the idle sweep and shutdown.
"""

from __future__ import annotations

import collections
from typing import Iterator, Protocol


class Connection(Protocol):
    peer_ip: str
    device_id: str | None


class ConnectionTable:
    def __init__(self, max_connections: int, max_per_ip: int) -> None:
        self.max_connections = max_connections
        self.max_per_ip = max_per_ip
        self.accepting = False  # the server opens admission once running and closes it at shutdown
        self._open: set[Connection] = set()
        self._per_ip: collections.Counter[str] = collections.Counter()
        self._by_device: dict[str, Connection] = {}

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._open))  # a copy: closing a connection while iterating removes it

    def __contains__(self, conn: object) -> bool:
        return conn in self._open

    def admit(self, conn: Connection) -> str | None:
        """None to accept the connection, else the reason to refuse it."""
        if not self.accepting:
            return "shutting_down"
        if len(self._open) >= self.max_connections:
            return "max_connections"
        if self._per_ip[conn.peer_ip] >= self.max_per_ip:
            return "max_connections_per_ip"
        self._open.add(conn)
        self._per_ip[conn.peer_ip] += 1
        return None

    def forget(self, conn: Connection) -> None:
        if conn in self._open:
            self._open.discard(conn)
            self._per_ip[conn.peer_ip] -= 1
            if self._per_ip[conn.peer_ip] <= 0:
                del self._per_ip[conn.peer_ip]
        if conn.device_id and self._by_device.get(conn.device_id) is conn:
            del self._by_device[conn.device_id]

    def bind_device(self, device_id: str, conn: Connection) -> None:
        self._by_device[device_id] = conn  # a reconnect replaces the older connection

    def connection_for(self, device_id: str) -> Connection | None:
        return self._by_device.get(device_id)
