"""One log format for every stage and the libraries underneath (Faust, mode, aiokafka, chdb, aiohttp).

- TRACKWIRE_LOG_FORMAT=json|text: JSON lines for log shippers (the default when stderr is not a
  terminal, as in a container), readable text on a terminal.
- TRACKWIRE_LOG_LEVEL: our loggers' level (default info).
- TRACKWIRE_LOG_LIBRARY_LEVEL: the libraries' level (default warning): their info lines (group
  joins, fetcher and recovery tables, Faust's start-up banner) are noise to an operator unless
  asked for.

Every line carries the stage (`listener`, `processor`, `sink`, ...), so the interleaved output of
`trackwire run` can be split with one grep.

Repeats are collapsed (`RepeatFilter`, on every handler `configure()` installs): in a 10 s broker
outage aiokafka wrote ~140,000 identical `Unable connect to node` lines. The first record of a kind
(logger, level, message template) is written; more of the same kind within the interval are
counted, and when the interval ends one line says `... repeated N times in the last 10 s`.
TRACKWIRE_LOG_REPEAT_INTERVAL (seconds, default 10; 0 turns it off).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from common.settings import ConfigError

FORMATS = ("json", "text")
# Loggers of the libraries under the stages; they log at warning unless TRACKWIRE_LOG_LIBRARY_LEVEL says otherwise.
LIBRARY_LOGGERS = ("aiokafka", "kafka", "faust", "mode", "aiohttp", "chdb", "clickhouse_connect", "urllib3")


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, stage: str | None = None) -> None:
        super().__init__()
        self.stage = stage

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": _utc(record), "level": record.levelname.lower()}
        if self.stage:
            entry["stage"] = self.stage
        entry["logger"] = record.name
        entry["msg"] = record.getMessage()
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self, stage: str | None = None) -> None:
        super().__init__()
        self.stage = stage

    def format(self, record: logging.LogRecord) -> str:
        stage = f" [{self.stage}]" if self.stage else ""
        line = f"{_utc(record)} {record.levelname:<7}{stage} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


@dataclass(slots=True)
class _Window:
    opened: float
    suppressed: int = 0
    last: logging.LogRecord | None = None  # the latest suppressed record, for the summary's text


class RepeatFilter(logging.Filter):
    """Per handler: the same (logger, level, message template) at most once per `interval_s`, then
    one summary with the count. The summary is written with the next record or by a timer thread,
    whichever comes first after the interval. At most `max_kinds` kinds are tracked (the oldest
    window is closed early beyond that), so memory stays bounded whatever is logged."""

    def __init__(self, handler: logging.Handler, interval_s: float = 10.0, *, max_kinds: int = 1024,
                 clock: Callable[[], float] = time.monotonic, timer: bool = True) -> None:
        super().__init__()
        self.handler = handler
        self.interval_s = interval_s
        self.max_kinds = max_kinds
        self._clock = clock
        self._timer_enabled = timer
        self._timer: threading.Timer | None = None
        self._windows: dict[tuple, _Window] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "repeat_summary", False):
            return True
        key = (record.name, record.levelno, record.msg if isinstance(record.msg, str) else repr(record.msg))
        now = self._clock()
        with self._lock:
            due = self._close_windows(now)
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= self.max_kinds:
                    oldest = next(iter(self._windows))
                    due.append(self._summary(self._windows.pop(oldest), now))
                self._windows[key] = _Window(now)
                passed = True
            else:
                window.suppressed += 1
                window.last = record
                passed = False
                self._arm_timer()
        self._write(due)
        return passed

    def flush(self, *, final: bool = False) -> None:
        """Write the summaries of every interval that has ended (the timer calls this); `final`:
        of every interval, ended or not (at exit, so that no count is lost)."""
        with self._lock:
            self._timer = None
            due = self._close_windows(float("inf") if final else self._clock())
            if any(w.suppressed for w in self._windows.values()):
                self._arm_timer()
        self._write(due)

    def _close_windows(self, now: float) -> list[logging.LogRecord]:
        due = []
        for key in [k for k, w in self._windows.items() if now - w.opened >= self.interval_s]:
            summary = self._summary(self._windows.pop(key), now)
            if summary is not None:
                due.append(summary)
        return due

    def _summary(self, window: _Window, now: float) -> logging.LogRecord | None:
        last = window.last
        if last is None:
            return None
        elapsed = min(self.interval_s, max(0.0, self._clock() - window.opened) if now == float("inf") else now - window.opened)
        text = f"{last.getMessage()} … repeated {window.suppressed} times in the last {elapsed:.3g} s"
        summary = logging.LogRecord(last.name, last.levelno, last.pathname, last.lineno, text, None, None,
                                    last.funcName)
        summary.repeat_summary = True
        return summary

    def _arm_timer(self) -> None:
        if self._timer_enabled and self._timer is None:
            self._timer = threading.Timer(self.interval_s, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def _write(self, records: list) -> None:
        for record in records:
            if record is not None:
                self.handler.handle(record)


def _level(name: str, value: str) -> int:
    level = logging.getLevelName(value.strip().upper())
    if not isinstance(level, int):
        raise ConfigError(f"{name}: {value!r} is not a log level (debug, info, warning, error, critical)")
    return level


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigError(f"{name}: {value!r} is not a number of seconds (0 turns it off)")
    return seconds


def configure(stage: str | None = None, *, level: str | None = None, fmt: str | None = None) -> None:
    """Install the one handler on the root logger; arguments override the environment."""
    fmt = (fmt or os.environ.get("TRACKWIRE_LOG_FORMAT") or ("text" if sys.stderr.isatty() else "json")).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"TRACKWIRE_LOG_FORMAT: {fmt!r} is not one of {', '.join(FORMATS)}")
    ours = _level("TRACKWIRE_LOG_LEVEL", level or os.environ.get("TRACKWIRE_LOG_LEVEL") or "info")
    asked = os.environ.get("TRACKWIRE_LOG_LIBRARY_LEVEL")
    # Unless asked for, never chattier than warning nor than our own level (LOG_LEVEL=error quiets them too).
    libraries = _level("TRACKWIRE_LOG_LIBRARY_LEVEL", asked) if asked else max(logging.WARNING, ours)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(stage) if fmt == "json" else TextFormatter(stage))
    repeat_interval = _seconds("TRACKWIRE_LOG_REPEAT_INTERVAL", os.environ.get("TRACKWIRE_LOG_REPEAT_INTERVAL", "10"))
    if repeat_interval > 0:
        repeats = RepeatFilter(handler, repeat_interval)
        handler.addFilter(repeats)
        atexit.register(repeats.flush, final=True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(ours)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(libraries)
    logging.captureWarnings(True)  # Python warnings in the same format, not as bare stderr text
