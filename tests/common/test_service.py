"""The service kit: lifecycle states, supervised tasks, the health app, run-until-signal."""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import pytest
from prometheus_client import REGISTRY

from common.service import HealthApp, Lifecycle, State, Supervisor, run_until_signal


class Recorder(Lifecycle):
    def __init__(self, fail_start: bool = False, start_gate: asyncio.Event | None = None) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail_start = fail_start
        self.start_gate = start_gate

    async def on_start(self) -> None:
        self.calls.append("start")
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.fail_start:
            raise RuntimeError("cannot start")

    async def on_stop(self) -> None:
        self.calls.append("stop")


async def test_start_and_stop_are_idempotent_and_walk_the_states():
    service = Recorder()
    assert service.state is State.NEW
    async with service:
        assert service.state is State.RUNNING
        await service.start()
    await service.stop()
    assert service.state is State.STOPPED and service.calls == ["start", "stop"]


async def test_a_failed_start_cleans_up_and_raises():
    service = Recorder(fail_start=True)
    with pytest.raises(RuntimeError, match="cannot start"):
        await service.start()
    assert service.state is State.FAILED and service.calls == ["start", "stop"]
    await service.stop()  # nothing more to do
    assert service.calls == ["start", "stop"]


async def test_stop_during_start_waits_for_the_start_then_stops():
    gate = asyncio.Event()
    service = Recorder(start_gate=gate)
    starting = asyncio.ensure_future(service.start())
    await asyncio.sleep(0)
    stopping = asyncio.ensure_future(service.stop())
    await asyncio.sleep(0)
    assert service.stop_requested.is_set() and service.state is State.STARTING
    gate.set()
    await asyncio.gather(starting, stopping)
    assert service.state is State.STOPPED and service.calls == ["start", "stop"]


async def test_a_failing_background_task_is_counted_and_fails_its_service():
    service = Recorder()
    await service.start()
    tasks = Supervisor("unit")

    async def broken() -> None:
        raise ValueError("boom")

    before = REGISTRY.get_sample_value("trackwire_background_task_failures_total", {"task": "unit.broken"}) or 0
    tasks.spawn(broken(), "broken", on_failure=service.fail)
    with pytest.raises(ValueError, match="boom"):
        await asyncio.wait_for(service.wait(), 5)
    assert service.state is State.FAILED and service.calls == ["start", "stop"]
    assert REGISTRY.get_sample_value("trackwire_background_task_failures_total", {"task": "unit.broken"}) == before + 1
    assert not tasks.tasks


async def test_health_app_serves_probes_and_metrics():
    ready = {"ok": False}
    app = HealthApp("127.0.0.1", 0, health=lambda: (True, {"status": "running"}),
                    ready=lambda: (ready["ok"], {"ready": ready["ok"]}))
    await app.start()
    try:
        base = f"http://127.0.0.1:{app.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as response:
                assert response.status == 200 and await response.json() == {"status": "running"}
            async with http.get(base + "/readyz") as response:
                assert response.status == 503 and await response.json() == {"ready": False}
            ready["ok"] = True
            async with http.get(base + "/readyz") as response:
                assert response.status == 200
            async with http.get(base + "/metrics") as response:
                assert "trackwire_background_task_failures_total" in await response.text()
    finally:
        await app.stop()


async def test_run_until_signal_stops_gracefully_on_sigterm():
    service = Recorder()
    ready = asyncio.Event()
    running = asyncio.ensure_future(run_until_signal(service, on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, 5)
    assert service.state is State.STOPPED and service.calls == ["start", "stop"]


async def test_run_until_signal_raises_what_failed_the_service():
    service = Recorder()
    ready = asyncio.Event()
    running = asyncio.ensure_future(run_until_signal(service, on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 5)
    service.fail(RuntimeError("follower died"))
    with pytest.raises(RuntimeError, match="follower died"):
        await asyncio.wait_for(running, 5)
