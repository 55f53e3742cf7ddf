"""/metrics and /health of the notifier (aiohttp + prometheus-client, as the sink serves them).
Thin and separate so the shared service kit's app can replace it."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


async def start_http(host: str, port: int, health: Callable[[], tuple[bool, dict]]) -> tuple[web.AppRunner, int]:
    """Serve until the returned runner is cleaned up; also returns the bound port (for port 0)."""

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        ok, body = health()
        return web.json_response(body, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, runner.addresses[0][1]
