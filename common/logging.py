"""One log format for every stage and the libraries underneath (Faust, mode, aiokafka, chdb, aiohttp).

- TRACKWIRE_LOG_FORMAT=json|text: JSON lines for log shippers (the default when stderr is not a
  terminal, as in a container), readable text on a terminal.
- TRACKWIRE_LOG_LEVEL: our loggers' level (default info).
- TRACKWIRE_LOG_LIBRARY_LEVEL: the libraries' level (default warning): their info lines (group
  joins, fetcher and recovery tables, Faust's start-up banner) are noise to an operator unless
  asked for.

Every line carries the stage (`listener`, `processor`, `sink`, ...), so the interleaved output of
`trackwire run` can be split with one grep.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

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


def _level(name: str, value: str) -> int:
    level = logging.getLevelName(value.strip().upper())
    if not isinstance(level, int):
        raise ConfigError(f"{name}: {value!r} is not a log level (debug, info, warning, error, critical)")
    return level


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(ours)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(libraries)
    logging.captureWarnings(True)  # Python warnings in the same format, not as bare stderr text
