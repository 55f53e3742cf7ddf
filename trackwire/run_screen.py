"""What `trackwire run` shows on the terminal: start-up steps, the first screen (where devices
should point, the protocols, health/metrics, how to query and stop), then a live status line.

On a terminal the status line is rewritten in place; into a pipe or file each update is a plain
line of its own, so a log of the screen stays readable. The stages' own logs go to files
(trackwire/run_cmd.py), never here.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from typing import TextIO

from protocols.registry import CODECS

CLEAR_LINE = "\r\x1b[K"


def host_addresses(bind_host: str) -> list[str]:
    """Addresses devices can reach this host on: the bound one, or this host's non-loopback ones."""
    if bind_host not in ("", "0.0.0.0", "::"):
        return [bind_host]
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
    except OSError:
        infos = []
    candidates = [info[4][0] for info in infos]
    # The address of the default route: connecting a UDP socket sends nothing, it only picks a route.
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                candidates.insert(0, sock.getsockname()[0])
        except OSError:
            pass
    for address in candidates:
        if address.startswith(("127.", "::1", "fe80:")) or address in found:
            continue
        found.append(address)
    found.sort(key=lambda address: ":" in address)  # IPv4 first: what most devices are set up with
    return found or ["127.0.0.1"]


def protocols_line() -> str:
    """The registry's protocols in detection order, grouped by the transports they take."""
    groups: dict[str, list[str]] = {}
    for codec in CODECS:
        transports = "+".join(t.value.upper() for t in sorted(getattr(codec, "transports", ()), key=lambda t: t.value))
        groups.setdefault(transports or "TCP", []).append(codec.name)
    return "; ".join(f"{', '.join(names)} ({transports})" for transports, names in groups.items())


@dataclass(frozen=True, slots=True)
class Endpoints:
    device_host: str
    device_port: int
    stages: dict[str, str]  # stage -> http://127.0.0.1:port of /metrics, /healthz, /readyz
    query_port: int | None
    log_dir: str
    notify_config: str | None = None


def first_screen(endpoints: Endpoints, pid: int, start_s: float) -> list[str]:
    addresses = ", ".join(host_addresses(endpoints.device_host))
    health = [f"{stage} {url}" for stage, url in endpoints.stages.items()]
    lines = [
        "",
        f"trackwire is running (started in {start_s:.0f} s).",
        "",
        f"  Devices    point them at port {endpoints.device_port}, TCP or UDP, on {addresses}",
        f"  Protocols  detected by themselves on that port: {protocols_line()}",
        f"  Metrics    /metrics, /healthz, /readyz on: {'; '.join(health)}",
    ]
    if endpoints.notify_config:
        lines.append(f"  Notifier   SOS and fall alerts go to the webhooks in {endpoints.notify_config}")
    lines += [
        f"  Query      trackwire query \"SELECT device_id, count() FROM trackwire.positions GROUP BY device_id\"",
        *([f"             (read-only; the sink answers it on 127.0.0.1:{endpoints.query_port} only)"]
          if endpoints.query_port else []),
        f"             trackwire status [--json]     (figures of every stage, as below)",
        f"  Logs       {endpoints.log_dir}/<stage>.log (JSON lines; a stage that stops shows its last lines here)",
        f"  Stop       Ctrl-C (or kill -INT {pid}); every stage finishes its work in flight first",
        "",
    ]
    return lines


class Screen:
    """Writes steps and notices as lines, and the status line in place on a terminal."""

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._status_shown = False

    def line(self, text: str = "") -> None:
        if self._status_shown and self.tty:
            self.out.write(CLEAR_LINE)
        self._status_shown = False
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, name: str, text: str) -> None:
        self.line(f"  {name:<10} {text}")

    def status(self, text: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {text}"
        if self.tty:
            width = shutil.get_terminal_size((200, 24)).columns
            self.out.write(CLEAR_LINE + stamped[: max(20, width - 1)])
            self._status_shown = True
        else:
            self.out.write(stamped + "\n")
        self.out.flush()

    def close(self) -> None:
        if self._status_shown and self.tty:
            self.out.write("\n")
            self.out.flush()
        self._status_shown = False
