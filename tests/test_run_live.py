"""`trackwire run` as a user meets it: started as a process with simulated devices, looked at
while it runs (`trackwire status --json`, `trackwire query --format json` on the embedded store),
stopped with SIGINT; plus the screen's own behaviour (status line in place on a terminal, plain
lines into a pipe) and a stage that dies showing its last log lines.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from protocols.registry import CODECS
from trackwire.run_screen import CLEAR_LINE, Screen
from trackwire.status_cmd import format_line, local_endpoints, rates_between

RUN_TIMEOUT_S = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Output:
    """A child's stdout, read in a thread, so the test can wait for a line without blocking."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, process: subprocess.Popen, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            assert process.poll() is None, "trackwire run exited early:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.3)
        raise AssertionError(f"no {text!r} within {timeout_s}s:\n" + "\n".join(self.lines[-40:]))

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "\n".join(self.lines)


def _cli(args: list[str], env: dict[str, str], timeout_s: float = 40) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trackwire.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout_s)


def _status(env: dict[str, str]) -> tuple[int, dict]:
    result = _cli(["status", "--json"], env)
    return result.returncode, json.loads(result.stdout)


def _processes_with(marker: str) -> list[int]:
    """Pids of processes whose environment carries `marker` (this run's unique log directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _env(kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRACKWIRE_TOPIC_PREFIX": kafka_prefix,
           "TRACKWIRE_TOPIC_PARTITIONS": "2",
           "TRACKWIRE_LISTENER_PORT": str(_free_port()), "TRACKWIRE_LISTENER_HTTP_PORT": str(_free_port()),
           "TRACKWIRE_PROCESSOR_HTTP_PORT": str(_free_port()), "TRACKWIRE_SINK_HTTP_PORT": str(_free_port()),
           "TRACKWIRE_SINK_QUERY_PORT": str(_free_port()),
           "TRACKWIRE_SINK_CLICKHOUSE_URL": f"chdb:{tmp_path}/clickhouse", "TRACKWIRE_SINK_TTL_DAYS": "0",
           "TRACKWIRE_SINK_BATCH_MAX_SECONDS": "0.5", "TRACKWIRE_RUN_LOG_DIR": str(tmp_path / "logs")}
    for name in ("TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS", "TRACKWIRE_CLICKHOUSE_URL", "TRACKWIRE_NOTIFY_CONFIG",
                 "TRACKWIRE_LOG_FORMAT", "TRACKWIRE_STATUS_ENDPOINTS"):
        env.pop(name, None)
    return env


@pytest.mark.kafka
def test_run_with_simulated_devices_is_watched_queried_and_stopped(kafka_bootstrap, kafka_prefix, tmp_path):
    env = _env(kafka_bootstrap, kafka_prefix, tmp_path)
    device_port = env["TRACKWIRE_LISTENER_PORT"]
    run = subprocess.Popen([sys.executable, "-m", "trackwire.cli", "run", "--simulate", "5", "--simulate-interval", "1",
                            "--status-interval", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    output = Output(run)
    try:
        output.wait_for("trackwire is running", run, RUN_TIMEOUT_S)

        # While it runs: status sees rows stored, and more of them a little later.
        deadline, stored = time.monotonic() + 90, 0
        while time.monotonic() < deadline and not stored:
            code, body = _status(env)
            stored = body["records_stored"] or 0
            if not stored:
                time.sleep(1)
        assert stored > 0, body
        assert [i["ready"] for i in body["stages"]["listener"]] == [True]
        assert [i["ready"] for i in body["stages"]["sink"]] == [True]
        processor = body["stages"]["processor"][0]
        # The processor's metrics endpoint may not exist in this build: then it shows as "no endpoint"
        # (and status exits 1, a required stage unseen); when it does exist it must be ready.
        assert processor["ready"] or processor.get("no_endpoint"), processor
        assert code == (0 if processor["ready"] else 1)
        assert body["devices_connected"] == 5 and body["frames_received"] > 0
        explicit = _cli(["status", "--json", "--stage", f"sink={local_endpoints(env)['sink']}"], env)
        assert json.loads(explicit.stdout)["stages"]["sink"][0]["ready"] is True
        deadline, grown = time.monotonic() + 60, stored
        while time.monotonic() < deadline and grown <= stored:
            time.sleep(1)
            grown = _status(env)[1]["records_stored"]
        assert grown > stored

        # The embedded store, queried while the sink owns it (through its read-only endpoint).
        answer = _cli(["query", "--format", "json",
                       "SELECT device_id, count() AS fixes FROM trackwire.positions GROUP BY device_id"], env)
        assert answer.returncode == 0, answer.stderr
        rows = json.loads(answer.stdout)
        assert rows and all(row["fixes"] > 0 for row in rows)
        refused = _cli(["query", "DROP TABLE trackwire.positions"], env)
        assert refused.returncode != 0 and "only reads are answered" in refused.stderr
        time.sleep(2.5)  # room for a few more status lines
    finally:
        run.send_signal(signal.SIGINT)
        stop_started = time.monotonic()
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            raise AssertionError("trackwire run did not stop within 30 s of SIGINT") from None
    stop_took = time.monotonic() - stop_started
    screen = output.text()
    assert run.returncode == 0, screen[-3000:]
    assert stop_took < 30
    assert _processes_with(env["TRACKWIRE_RUN_LOG_DIR"]) == []  # every stage is gone

    # The first screen says where devices point, which protocols, where health and logs are, how to stop.
    assert f"point them at port {device_port}, TCP or UDP" in screen
    assert all(codec.name in screen for codec in CODECS)
    for stage in ("listener", "processor", "sink"):
        assert local_endpoints(env)[stage] in screen
    assert f"{env['TRACKWIRE_RUN_LOG_DIR']}/<stage>.log" in screen and "Ctrl-C" in screen
    assert "trackwire query" in screen and "trackwire status" in screen
    for step in ("broker", "topics", "listener", "sink", "processor", "simulator"):
        assert any(line.startswith(f"  {step} ") for line in screen.splitlines()), step
    # Into a pipe: plain status lines, no terminal control, and no stage's log lines.
    status_lines = [line for line in screen.splitlines() if "rows stored" in line]
    assert len(status_lines) >= 3 and "\r" not in screen and "\x1b" not in screen
    assert not any(line.lstrip().startswith("{") for line in screen.splitlines())
    assert "stopped: " in screen
    # ... the stages' logs are in the files the screen names, one JSON line each.
    logs = Path(env["TRACKWIRE_RUN_LOG_DIR"])
    for stage in ("run", "listener", "processor", "sink"):
        entries = [json.loads(line) for line in (logs / f"{stage}.log").read_text().splitlines() if line.strip()]
        assert entries and {e["stage"] for e in entries} == {stage}


@pytest.mark.kafka
def test_a_stage_that_dies_stops_the_run_and_shows_its_last_log_lines(kafka_bootstrap, kafka_prefix, tmp_path):
    env = {**_env(kafka_bootstrap, kafka_prefix, tmp_path), "TRACKWIRE_PROCESSOR_TICK_INTERVAL_S": "-1"}
    result = subprocess.run([sys.executable, "-m", "trackwire.cli", "run"], env=env, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S)
    assert result.returncode != 0, result.stdout
    assert "processor stopped on its own" in result.stdout, result.stdout
    shown = [line for line in result.stdout.splitlines() if line.startswith("  | ")]
    assert shown and any("tick_interval_s" in line.lower() or "TICK_INTERVAL" in line for line in shown), result.stdout
    assert _processes_with(env["TRACKWIRE_RUN_LOG_DIR"]) == [], result.stdout


def test_status_line_is_rewritten_in_place_on_a_terminal_and_plain_into_a_pipe():
    tty, pipe = io.StringIO(), io.StringIO()
    for out, is_tty in ((tty, True), (pipe, False)):
        screen = Screen(out, tty=is_tty)
        screen.status("one")
        screen.status("two")
        screen.line("a notice")
        screen.close()
    assert tty.getvalue().count(CLEAR_LINE) == 3  # two updates of one line, then cleared for the notice
    assert tty.getvalue().endswith(CLEAR_LINE + "a notice\n") and tty.getvalue().count("\n") == 1
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].endswith(" one") and lines[1].endswith(" two") and lines[2] == "a notice"
    assert "\r" not in pipe.getvalue() and "\x1b" not in pipe.getvalue()


def test_format_line_marks_figures_of_an_unanswered_stage_and_shows_rates():
    before = {"devices_connected": 2, "frames_received": 100, "records_out": None, "records_stored": 50,
              "open_sos": None, "dead_letters": 0, "lag": {"processor": 3, "sink": None},
              "notifications_delivered": None}
    after = {**before, "frames_received": 160, "records_stored": 110}
    rates = rates_between(before, after, 2.0)
    assert rates == {"frames": 30.0, "rows": 30.0}  # no processor figures: no records rate
    line = format_line(after, rates)
    assert line == ("devices 2 | frames in 160 (30/s) | records out - | rows stored 110 (30/s) | open SOS - "
                    "| dead letters 0 | lag processor 3 sink -")


def test_local_endpoints_follow_the_stages_port_variables():
    endpoints = local_endpoints({"TRACKWIRE_SINK_HTTP_PORT": "19102", "TRACKWIRE_PROCESSOR_HTTP_PORT": "19101"})
    assert endpoints == {"listener": "http://127.0.0.1:9100", "processor": "http://127.0.0.1:19101",
                         "sink": "http://127.0.0.1:19102", "notifier": "http://127.0.0.1:9103"}
