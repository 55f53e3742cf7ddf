"""Logging set-up: structured JSON lines (for log shippers) or plain text for a terminal.

TRACKWIRE_LOG_FORMAT=json|text (default: json when stderr is not a terminal), TRACKWIRE_LOG_LEVEL.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(default_level: str = "INFO") -> None:
    fmt = os.environ.get("TRACKWIRE_LOG_FORMAT") or ("text" if sys.stderr.isatty() else "json")
    level = os.environ.get("TRACKWIRE_LOG_LEVEL", default_level).upper()
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
