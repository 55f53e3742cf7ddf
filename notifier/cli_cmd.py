"""`trackwire notify` (run the notifier) and `trackwire notify --test NAME` (one signed test request)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import uuid
from datetime import datetime, timezone
from typing import TextIO

from notifier.config import ConfigProblem, NotifyConfig, load_config
from notifier.settings import NotifierSettings
from common import eventloop
from common.settings import ConfigError, KafkaSettings, load

log = logging.getLogger("trackwire.notify")


def _config(settings: NotifierSettings) -> NotifyConfig:
    if not settings.config:
        raise ConfigError("the notifier needs its webhooks file: --config FILE or TRACKWIRE_NOTIFY_CONFIG=FILE "
                          "(see examples/notify.toml)")
    try:
        return load_config(settings.config)
    except ConfigProblem as exc:
        raise ConfigError(str(exc)) from None


def run_notify(config: str | None = None, http_port: int | None = None, bootstrap_servers: str | None = None,
               topic_prefix: str | None = None) -> None:
    """Run until SIGINT/SIGTERM (a clean stop) or an error (exit 1)."""
    from common import logging as logs

    settings = load(NotifierSettings, config=config, http_port=http_port)
    kafka = load(KafkaSettings, bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)
    notify_config = _config(settings)
    logs.configure("notifier")
    try:
        eventloop.run(_serve(notify_config, settings, kafka))
    except Exception as exc:  # noqa: BLE001 - the message is what the operator needs; the traceback is logged
        raise SystemExit(f"trackwire notify: {exc}") from None


async def _serve(config: NotifyConfig, settings: NotifierSettings, kafka: KafkaSettings) -> None:
    from notifier.service import Notifier

    notifier = Notifier(config, settings, kafka)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def stop_on_signal() -> None:
        await stop.wait()
        log.info("stopping")
        await notifier.stop()

    watcher = asyncio.create_task(stop_on_signal(), name="notify-signals")
    try:
        await notifier.start()
        await notifier.wait()
    finally:
        await notifier.stop()  # the same stop a signal started, if one did
        watcher.cancel()


def sample_body(now: datetime) -> str:
    """A test notification: the shape of a real alert, marked as a test, for a made-up device."""
    from notifier.payload import TEST_TYPE, body_json
    from schemas.records import format_time

    stamp = format_time(now)
    data = {"device_id": "test", "alarm": "sos", "state": "open", "time": stamp, "lat": 52.520008, "lon": 13.404954,
            "fix_source": "alert", "fix_time": stamp, "fix_valid": True, "battery_pct": 80, "repeat_count": 1,
            "first_time": stamp, "last_time": stamp,
            "map_url": "https://www.openstreetmap.org/?mlat=52.520008&mlon=13.404954#map=17/52.520008/13.404954",
            "protocol": "test", "frame_id": None, "frame_index": None, "test": True}
    return body_json(TEST_TYPE, stamp, data)


def run_test(name: str, config: str | None = None, out: TextIO | None = None) -> int:
    """Send one signed test notification to webhook NAME; print the answer; 0 if it was 2xx."""
    import sys

    from notifier.http_client import WebhookClient
    from notifier.policy import Verdict, classify

    out = out or sys.stdout
    settings = load(NotifierSettings, config=config)
    notify_config = _config(settings)
    try:
        hook = notify_config.webhook(name)
        secret = hook.signing_secret()
    except ConfigProblem as exc:
        raise ConfigError(str(exc)) from None
    webhook_id = f"msg_test{uuid.uuid4().hex}"
    body = sample_body(datetime.now(timezone.utc))

    async def send():
        client = WebhookClient(hook, secret)
        await client.start()
        try:
            return await client.send(webhook_id, body)
        finally:
            await client.close()

    attempt = asyncio.run(send())
    verdict = classify(attempt)
    print(json.dumps({"webhook": hook.name, "url": hook.url, "webhook_id": webhook_id, "status": attempt.status,
                      "error": attempt.error, "answer": attempt.body_preview or None, "verdict": verdict.value}),
          file=out)
    return 0 if verdict is Verdict.DELIVERED else 1
