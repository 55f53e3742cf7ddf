"""`trackwire status` reads real HTTP endpoints (local aiohttp servers standing in for the stages'
metrics apps, serving Prometheus text) and sums per stage; down or not-ready stages fail it."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from click.testing import CliRunner

from trackwire.cli import main
from trackwire.status_cmd import Instance, Status, endpoints_from, format_line, parse_metrics, probe

LISTENER = """# HELP trackwire_listener_connections Open TCP connections by protocol
# TYPE trackwire_listener_connections gauge
trackwire_listener_connections{protocol="gt06"} 7.0
trackwire_listener_connections{protocol="watch"} 3.0
# HELP trackwire_listener_frames_in_total Frames read
# TYPE trackwire_listener_frames_in_total counter
trackwire_listener_frames_in_total{protocol="gt06",transport="tcp"} 120.0
# HELP trackwire_listener_dead_letters_total Dead letters
# TYPE trackwire_listener_dead_letters_total counter
trackwire_listener_dead_letters_total{kind="no_protocol"} 2.0
"""
SINK = """# HELP trackwire_sink_rows_written_total Rows
# TYPE trackwire_sink_rows_written_total counter
trackwire_sink_rows_written_total{table="positions"} 100.0
trackwire_sink_rows_written_total{table="events"} 15.0
"""
PROCESSOR = """# HELP trackwire_processor_open_sos Open SOS episodes
# TYPE trackwire_processor_open_sos gauge
trackwire_processor_open_sos 1.0
# HELP trackwire_processor_dead_letters_total Dead letters
# TYPE trackwire_processor_dead_letters_total counter
trackwire_processor_dead_letters_total{reason="decode"} 4.0
"""


async def serve(metrics: str, ready: bool) -> tuple[web.AppRunner, str]:
    async def metrics_view(_request):
        return web.Response(text=metrics)

    async def ready_view(_request):
        return web.Response(status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/readyz", ready_view)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def test_prometheus_text_is_summed_by_name_and_labels():
    inst = Instance("listener", "x", up=True, samples=parse_metrics(LISTENER))
    assert inst.total("trackwire_listener_connections") == 10
    assert inst.total("trackwire_listener_connections", protocol="gt06") == 7
    assert inst.total("trackwire_listener_frames_in_total") == 120


async def test_status_sums_instances_and_fails_on_a_stage_not_ready():
    runners = []
    try:
        listener_a, url_a = await serve(LISTENER, True)
        listener_b, url_b = await serve(LISTENER, True)
        sink, url_sink = await serve(SINK, True)
        processor, url_processor = await serve(PROCESSOR, False)
        runners = [listener_a, listener_b, sink, processor]
        instances = await asyncio.to_thread(lambda: [probe(Instance(s, u)) for s, u in [
            ("listener", url_a), ("listener", url_b), ("sink", url_sink), ("processor", url_processor)]])
        status = Status(instances, {"processor": 5, "sink": 0})
        summary = status.summary()
        assert summary["devices_connected"] == 20 and summary["frames_received"] == 240
        assert summary["records_stored"] == 115 and summary["open_sos"] == 1 and summary["dead_letters"] == 8
        assert summary["lag"] == {"processor": 5, "sink": 0}
        assert summary["stages"]["processor"][0] == {"url": url_processor, "up": True, "ready": False}
        assert not status.healthy({"listener", "sink", "processor"})
        assert status.healthy({"listener", "sink"})
        assert "devices 20" in format_line(summary) and "lag processor 5 sink 0" in format_line(summary)
        result = await asyncio.to_thread(CliRunner().invoke, main, [
            "status", "--json", "--bootstrap-servers", "127.0.0.1:1", "--stage", f"listener={url_a}",
            "--stage", f"sink={url_sink}", "--stage", f"processor={url_processor}"])
        assert result.exit_code == 1  # the processor is not ready
        body = json.loads(result.output)
        assert body["records_stored"] == 115 and body["devices_connected"] == 10
        assert set(body) >= {"devices_connected", "frames_received", "records_stored", "open_sos", "dead_letters", "lag"}
    finally:
        for runner in runners:
            await runner.cleanup()


def test_a_down_stage_is_reported_down():
    inst = probe(Instance("sink", "http://127.0.0.1:1"), timeout_s=1)
    assert not inst.up and not inst.ready and inst.error
    with pytest.raises(Exception, match="STAGE=http"):
        endpoints_from(["sink:9102"])
