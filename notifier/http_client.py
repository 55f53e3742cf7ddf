"""The HTTP side of one webhook: sign with the Standard Webhooks reference library, POST, and
turn the answer (or the failure) into a `policy.Attempt`. Thin: every decision is in notifier.policy.

Each webhook has its own aiohttp session and connection pool (limited to its max_in_flight), so a
slow receiver holding its connections never takes them from another webhook. Redirects are not
followed (the Standard Webhooks specification treats 3xx as a failure: update the URL instead).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import aiohttp
from standardwebhooks import Webhook

from notifier.config import WebhookConfig
from notifier.policy import Attempt

USER_AGENT = "trackwire-notifier (Standard Webhooks)"
BODY_PREVIEW_BYTES = 200


def signed_headers(signer: Webhook, webhook_id: str, body: str, now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed at `now` (whole seconds, UTC)."""
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signer.sign(webhook_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class WebhookClient:
    def __init__(self, hook: WebhookConfig, secret: str) -> None:
        self.hook = hook
        self._signer = Webhook(secret)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.hook.max_in_flight)
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=self.hook.timeout_s))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, webhook_id: str, body: str, now: datetime | None = None) -> Attempt:
        """One attempt. Never raises for the receiver's faults: they come back as an Attempt."""
        assert self._session is not None, "start() first"
        headers = signed_headers(self._signer, webhook_id, body, now or datetime.now(timezone.utc))
        try:
            async with self._session.post(self.hook.url, data=body.encode(), headers=headers,
                                          allow_redirects=False) as response:
                preview = await response.content.read(BODY_PREVIEW_BYTES)
                return Attempt(status=response.status, retry_after=response.headers.get("Retry-After"),
                               body_preview=preview.decode(errors="replace").strip())
        except asyncio.TimeoutError:
            return Attempt(error=f"timeout after {self.hook.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            return Attempt(error=f"connection error: {type(exc).__name__}: {exc}")
