"""The service kit every stage runs on: one lifecycle, one health/readiness/metrics HTTP app, supervised
background tasks, and one run-until-signal with a graceful drain.

- `Lifecycle`: explicit states (new -> starting -> running -> stopping -> stopped, or failed),
  `start()`/`stop()` idempotent, `async with` calling them (aiokafka's producer, uvicorn's server).
  Subclasses write `on_start`/`on_stop`; a start that fails cleans up through `on_stop` and raises.
- `HealthApp`: aiohttp app on one port with /healthz (alive), /readyz (take traffic), /metrics
  (Prometheus); each stage passes two small functions answering (ok, body).
- `Supervisor`: `spawn(coro, name, on_failure)` keeps the task in a set and gives it a done-callback:
  an unexpected exception is logged, counted (`trackwire_background_task_failures_total{task}`) and
  handed to `on_failure` (fail the waiters, close the connection, stop the service).
- `run_until_signal`: start the service, wait for SIGINT/SIGTERM or for the service to end on its
  own, then stop it (which drains); a second signal while stopping is ignored.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

log = logging.getLogger(__name__)

TASK_FAILURES = Counter(
    "trackwire_background_task_failures_total",
    "Background tasks that ended with an unexpected error (their waiters were failed, their owner told)",
    ["task"],
)


class State(enum.StrEnum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class Lifecycle:
    """Idempotent start/stop with explicit states. Subclasses implement `on_start` and `on_stop`.

    `on_stop` must cope with a partial start (it also runs after `on_start` failed). A `stop()` during
    `start()` waits for the start to end, then stops; a long `on_start` (waiting for a database)
    watches `stop_requested` to end early. `fail(exc)` (from a background task) stops the service,
    and `wait()` returns when it stopped, raising what failed it.
    """

    def __init__(self) -> None:
        self.state = State.NEW
        self.stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: BaseException | None = None
        self._stop_task: asyncio.Task | None = None

    async def on_start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def on_stop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def start(self) -> None:
        if self.state is not State.NEW:
            return
        self.state = State.STARTING
        try:
            await self.on_start()
        except BaseException as exc:
            self._failure = self._failure or exc
            await self._finish()
            raise
        if self.stop_requested.is_set():  # stop() or fail() while starting
            await self._finish()
            if self._failure is not None:
                raise self._failure
            return
        self.state = State.RUNNING

    async def stop(self) -> None:
        self.stop_requested.set()
        if self.state is State.NEW:
            self.state = State.STOPPED
            self._stopped.set()
        elif self.state in (State.STARTING, State.STOPPING) or self._stop_task is not None:
            await self._stopped.wait()
        elif self.state is State.RUNNING:
            await self._finish()

    async def _finish(self) -> None:
        self.state = State.STOPPING
        try:
            await self.on_stop()
        finally:
            self.state = State.FAILED if self._failure is not None else State.STOPPED
            self._stopped.set()

    def fail(self, exc: BaseException) -> None:
        """A part of the service died: remember why and stop in the background (wait() raises it)."""
        self._failure = self._failure or exc
        self.stop_requested.set()
        if self.state is State.RUNNING and self._stop_task is None:
            self._stop_task = supervise(asyncio.ensure_future(self._finish()), f"{type(self).__name__}.stop")

    async def wait(self) -> None:
        await self._stopped.wait()
        if self._failure is not None:
            raise self._failure

    @property
    def running(self) -> bool:
        return self.state is State.RUNNING

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()


def supervise(task: asyncio.Future, name: str,
              on_failure: Callable[[BaseException], None] | None = None) -> asyncio.Future:
    """Give `task` a done-callback: an unexpected exception is logged, counted in
    TASK_FAILURES{task=name} and passed to `on_failure`. Cancellation is a normal end."""

    def done(fut: asyncio.Future) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        exc = fut.exception()
        TASK_FAILURES.labels(name).inc()
        log.error("background task %s failed", name, exc_info=exc)
        if on_failure is not None:
            on_failure(exc)

    task.add_done_callback(done)
    return task


class Supervisor:
    """Background tasks with a done-callback each: none dies unnoticed, none is left behind at stop."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.tasks: set[asyncio.Task] = set()

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task:
        task = supervise(asyncio.ensure_future(coro), f"{self.owner}.{name}", on_failure)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def cancel_all(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


Probe = Callable[[], tuple[bool, dict]]


class HealthApp:
    """/healthz, /readyz and /metrics on one port (aiohttp). `extra` adds routes (path -> probe)."""

    def __init__(self, host: str, port: int | None, *, health: Probe, ready: Probe,
                 extra: dict[str, Probe] | None = None) -> None:
        self.host = host
        self.port = port  # None: no HTTP server
        self._routes = {"/healthz": health, "/readyz": ready, **(extra or {})}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self.port is None or self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/metrics", _metrics)
        for path, probe in self._routes.items():
            app.router.add_get(path, _probe_handler(probe))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self._runner = runner
        self.port = runner.addresses[0][1]  # the bound port when 0 was asked for

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _probe_handler(probe: Probe) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_request: web.Request) -> web.Response:
        ok, body = probe()
        return web.json_response(body, status=200 if ok else 503)

    return handler


async def run_until_signal(service: Lifecycle, *, on_ready: Callable[[], None] | None = None,
                           signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """Run `service` until a signal (then a graceful stop) or until it ends by itself (its error raised).

    A signal during start stops the start too (`stop()` is safe in any state)."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in signals:
        loop.add_signal_handler(sig, stop_requested.set)
    signalled = asyncio.ensure_future(stop_requested.wait())
    try:
        starting = asyncio.ensure_future(service.start())
        await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            log.info("signal received while starting: stopping")
            await service.stop()
            await asyncio.gather(starting, return_exceptions=True)
            return
        starting.result()  # a failed start raises here
        if on_ready is not None:
            on_ready()
        ended = asyncio.ensure_future(service.wait())
        await asyncio.wait({ended, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if signalled.done():
            log.info("signal received: shutting down")
        await service.stop()
        if ended.done():
            ended.result()  # the service's own failure
        else:
            await ended
    finally:
        signalled.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
