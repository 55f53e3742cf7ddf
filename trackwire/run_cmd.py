"""`trackwire run`: the whole pipeline on one machine — listener, processor worker and sink as
child processes (as they run as separate pods in Kubernetes), the notifier too when
TRACKWIRE_NOTIFY_CONFIG names its webhooks file, and optionally a device simulator.

A small supervisor: SIGINT/SIGTERM is passed to every child, and if one stage exits on its own
the others are stopped too, so a broken pipeline is never left half-running; the stage that
stopped has its last log lines printed.

The terminal gets our screen only (trackwire/run_screen.py): the start-up steps, where devices
should point and how to look at the data, then a status line every few seconds from the stages'
metrics (trackwire/status_cmd.py). Every stage's JSON log lines go to <log dir>/<stage>.log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import IO

import click

from trackwire.run_screen import Endpoints, Screen, first_screen

# subcommand -> the stage name its log lines and metrics carry
STAGE_OF = {"listen": "listener", "process": "processor", "sink": "sink", "notify": "notifier", "simulate": "simulator"}
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 25.0  # then the stragglers are killed: a stop never hangs
NO_ENDPOINT_GRACE_S = 5.0  # a stage that never answers on its metrics port: say so, don't wait for it
# Variables `trackwire query` / `status` must share with this run to find it.
SHARED_VARIABLES = ("TRACKWIRE_SINK_QUERY_PORT", "TRACKWIRE_SINK_CLICKHOUSE_URL", "TRACKWIRE_CLICKHOUSE_URL",
                    "TRACKWIRE_LISTENER_HTTP_PORT", "TRACKWIRE_PROCESSOR_HTTP_PORT", "TRACKWIRE_SINK_HTTP_PORT",
                    "TRACKWIRE_NOTIFY_HTTP_PORT", "TRACKWIRE_TOPIC_PREFIX")

log = logging.getLogger("trackwire.run")


def _spawn(args: list[str], log_file: IO | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trackwire.cli", *args], env=os.environ.copy(),
                            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)


def last_lines(path: Path, count: int = 20) -> list[str]:
    try:
        with path.open(errors="replace") as f:
            return [line.rstrip("\n") for line in deque(f, maxlen=count)]
    except OSError:
        return []


def readiness(url: str, timeout_s: float = 1.0) -> bool | None:
    """True/False from the stage's /readyz; None when nothing answers on that port."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/readyz", timeout=timeout_s) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False
    except OSError:
        return None


def schema_version(query_port: int | None, database: str) -> int | None:
    """The embedded store's migration version, through the sink's read-only query endpoint."""
    from trackwire.query_cmd import QueryFailed, via_sink

    if query_port is None:
        return None
    try:
        answer = via_sink(query_port, f"SELECT max(version) FROM {database}.schema_migrations", {}, timeout_s=5)
    except QueryFailed:
        return None
    return int(answer.rows[0][0]) if answer and answer.rows else None


class StatusPoller:
    """Collects the deployment's figures every `interval_s` in a thread (Kafka lag takes a round
    trip), so the supervisor loop keeps watching its children meanwhile."""

    def __init__(self, endpoints: dict[str, str], bootstrap: str, groups: dict[str, str], security: dict,
                 interval_s: float) -> None:
        self._endpoints = list(endpoints.items())
        self._bootstrap, self._groups, self._security = bootstrap, groups, security
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: tuple[float, dict] | None = None
        self._thread = threading.Thread(target=self._loop, name="status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)  # a daemon thread: a slow Kafka round trip does not hold the exit

    def take(self) -> tuple[float, dict] | None:
        with self._lock:
            latest, self._latest = self._latest, None
        return latest

    def _loop(self) -> None:
        from trackwire.status_cmd import collect

        while not self._stop.is_set():
            try:
                status = collect(self._endpoints, self._bootstrap, self._groups, timeout_s=2.0,
                                 security=self._security)
                with self._lock:
                    self._latest = (time.monotonic(), status.summary())
            except Exception:  # noqa: BLE001 - a failed round is logged; the next one tries again
                log.exception("status collection failed")
            self._stop.wait(self._interval_s)


class Pipeline:
    def __init__(self, screen: Screen, log_dir: Path) -> None:
        self.screen = screen
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}
        self._files: list[IO] = []
        self.stopping = False

    def spawn(self, args: list[str]) -> None:
        stage = STAGE_OF[args[0]]
        log_file = (self.log_dir / f"{stage}.log").open("a", buffering=1)
        self._files.append(log_file)
        self.children[stage] = _spawn(args, log_file)

    def exited(self) -> tuple[str, int] | None:
        for stage, child in self.children.items():
            if child.poll() is not None:
                return stage, child.returncode
        return None

    def report_exit(self, stage: str, code: int) -> None:
        self.screen.line(f"{stage} stopped on its own (exit {code}); stopping the pipeline. "
                         f"Its last log lines ({self.log_dir / (stage + '.log')}):")
        for line in last_lines(self.log_dir / f"{stage}.log"):
            self.screen.line(f"  | {line}")

    def stop(self) -> None:
        running = [stage for stage, child in self.children.items() if child.poll() is None]
        if running:
            self.screen.line(f"stopping {', '.join(running)} ...")
        for stage in running:
            self.children[stage].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        outcome = []
        for stage, child in self.children.items():
            try:
                outcome.append(f"{stage} {_ended(child.wait(max(0.1, deadline - time.monotonic())))}")
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                outcome.append(f"{stage} killed after {STOP_TIMEOUT_S:.0f} s")
        for log_file in self._files:
            log_file.close()
        if outcome:
            self.screen.line(f"stopped: {', '.join(outcome)}")


def _ended(code: int) -> str:
    """An exit status as words: a stage that re-raises the stop signal after draining ends "by" it."""
    if code < 0:
        try:
            return f"ended by {signal.Signals(-code).name}"
        except ValueError:
            return f"ended by signal {-code}"
    return f"exit {code}"


def _log_to(path: Path) -> None:
    """Our own log lines (stage "run") to a file beside the stages' logs, in their format."""
    from common.logging import configure

    configure("run", fmt=os.environ.get("TRACKWIRE_LOG_FORMAT") or "json")
    stream = path.open("a", buffering=1)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def default_log_dir() -> Path:
    return Path(os.environ.get("TRACKWIRE_RUN_LOG_DIR") or
                Path("var/log") / f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")


def run_pipeline(*, simulate_devices: int, simulate_interval_s: float, port: int | None = None,
                 status_interval_s: float = 5.0, log_dir: Path | None = None, out: IO | None = None) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from common.kafka import TopicError
    from common.kafka_security import aiokafka_options
    from common.settings import KafkaSettings, load
    from listener.settings import ListenerSettings
    from sinks.settings import SinkSettings
    from trackwire.status_cmd import consumer_groups, format_line, local_endpoints, rates_between
    from trackwire.topics_cmd import ensure_topics

    log_dir = log_dir or default_log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    screen = Screen(out or sys.stdout)
    listener = load(ListenerSettings, port=port)
    sink = load(SinkSettings)
    kafka = load(KafkaSettings)
    notify_config = os.environ.get("TRACKWIRE_NOTIFY_CONFIG") or None
    stage_urls = {stage: url for stage, url in local_endpoints().items() if stage != "notifier" or notify_config}
    pipeline = Pipeline(screen, log_dir)

    def stop_all(*_args) -> None:
        pipeline.stopping = True

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    started = time.monotonic()
    screen.line(f"trackwire run: starting (stage logs in {log_dir}/)")
    try:
        actions = asyncio.run(ensure_topics(kafka))
    except (KafkaError, TopicError) as exc:
        raise SystemExit(f"trackwire run: {exc} (bootstrap servers {kafka.bootstrap_servers}; "
                         "for a local broker run: bash deploy/local/kafka.sh start)") from None
    for action in actions:
        log.info("topic %s", action)
    screen.step("broker", f"Kafka at {kafka.bootstrap_servers} answers")
    outcomes = [a.outcome for a in actions]
    screen.step("topics", f"{len(actions)} topics '{kafka.topic_prefix}*': {outcomes.count('created')} created, "
                          f"{outcomes.count('updated')} updated, {outcomes.count('unchanged')} up to date")
    if pipeline.stopping:  # Ctrl-C while the topics were being set up: nothing started yet
        return 0

    pipeline.spawn(["listen", "--port", str(listener.port)])
    pipeline.spawn(["process"])
    pipeline.spawn(["sink"])
    if notify_config:
        pipeline.spawn(["notify"])
    screen.step("sink", f"applying schema migrations on {sink.target.display}, then joining Kafka")

    exit_code = 0
    died = _start_up(pipeline, screen, stage_urls, listener.port, sink)
    if died:
        pipeline.report_exit(*died)
        exit_code = died[1] or 1
    elif not pipeline.stopping:
        if simulate_devices:
            pipeline.spawn(["simulate", "--port", str(listener.port), "--devices", str(simulate_devices),
                            "--interval", str(simulate_interval_s), "--duration", "31536000"])
            screen.step("simulator", f"{simulate_devices} simulated devices report to 127.0.0.1:{listener.port} "
                                     f"every {simulate_interval_s:g} s")
        shared = [f"{name}={os.environ[name]}" for name in SHARED_VARIABLES if os.environ.get(name)]
        for text in first_screen(Endpoints(listener.host, listener.port, stage_urls, sink.query_port, str(log_dir),
                                           notify_config), os.getpid(), time.monotonic() - started):
            screen.line(text)
        if shared:
            screen.line(f"  (query and status need this run's settings: {' '.join(shared)})")
            screen.line()
        log.info("pipeline running (%s); devices on port %d", ", ".join(pipeline.children), listener.port)
        groups = {stage: group for stage, group in consumer_groups(kafka.topic_prefix).items() if stage in stage_urls}
        poller = StatusPoller(stage_urls, kafka.bootstrap_servers, groups, aiokafka_options(kafka), status_interval_s)
        poller.start()
        previous: tuple[float, dict] | None = None
        try:
            while not pipeline.stopping:
                died = pipeline.exited()
                if died:
                    pipeline.report_exit(*died)
                    exit_code = died[1] or 1
                    break
                latest = poller.take()
                if latest:
                    rates = rates_between(previous[1], latest[1], latest[0] - previous[0]) if previous else {}
                    screen.status(format_line(latest[1], rates))
                    previous = latest
                time.sleep(0.2)
        finally:
            poller.stop()
            screen.close()
    pipeline.stop()
    return exit_code


def _start_up(pipeline: Pipeline, screen: Screen, stage_urls: dict[str, str], device_port: int,
              sink) -> tuple[str, int] | None:
    """Wait until every stage is ready, saying so for each; a stage exiting meanwhile ends it."""
    pending = dict(stage_urls)
    started = time.monotonic()
    others_ready_at: float | None = None
    while pending and not pipeline.stopping:
        died = pipeline.exited()
        if died:
            return died
        for stage, url in list(pending.items()):
            ready = readiness(url)
            if ready:
                del pending[stage]
                if stage == "listener":
                    screen.step(stage, f"ready: devices on port {device_port}, TCP and UDP")
                elif stage == "sink":
                    version = schema_version(sink.query_port, sink.target.database)
                    screen.step(stage, "ready" + (f": schema version {version}" if version is not None else "")
                                + f", writing to {sink.target.display}")
                else:
                    screen.step(stage, "ready")
            elif ready is None and others_ready_at is not None \
                    and time.monotonic() - others_ready_at > NO_ENDPOINT_GRACE_S:
                del pending[stage]  # running (it has not exited), but without a metrics endpoint
                screen.step(stage, f"running; no endpoint at {url} (its figures show as '-')")
        if others_ready_at is None and not set(pending) & {"listener", "sink"}:
            others_ready_at = time.monotonic()
        if pending and time.monotonic() - started > START_TIMEOUT_S:
            screen.line(f"not ready after {START_TIMEOUT_S:.0f} s: {', '.join(pending)} "
                        f"(see their logs in {pipeline.log_dir}); running anyway")
            break
        time.sleep(0.3)
    return None


@click.command("run")
@click.option("--port", type=int, default=None,
              help="Device port, TCP and UDP (default: TRACKWIRE_LISTENER_PORT or 8888).")
@click.option("--simulate", "simulate_devices", type=int, default=0, show_default=True,
              help="Also run this many simulated devices against the listener.")
@click.option("--simulate-interval", type=float, default=10.0, show_default=True)
@click.option("--status-interval", type=float, default=5.0, show_default=True,
              help="Seconds between status lines.")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the stages' logs go (default: TRACKWIRE_RUN_LOG_DIR or var/log/run-<UTC time>).")
def run(port, simulate_devices, simulate_interval, status_interval, log_dir) -> None:
    """Run the whole pipeline locally: listener, processor worker and sink (and a simulator).

    Other ports: TRACKWIRE_LISTENER_HTTP_PORT, TRACKWIRE_PROCESSOR_HTTP_PORT, TRACKWIRE_SINK_HTTP_PORT,
    TRACKWIRE_SINK_QUERY_PORT, TRACKWIRE_NOTIFY_HTTP_PORT.
    """
    log_dir = log_dir or default_log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    _log_to(log_dir / "run.log")
    raise SystemExit(run_pipeline(simulate_devices=simulate_devices, simulate_interval_s=simulate_interval,
                                  port=port, status_interval_s=status_interval, log_dir=log_dir))
