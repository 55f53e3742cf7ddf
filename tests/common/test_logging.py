"""One log format for our loggers and the libraries': JSON or text, library chatter at warning."""

from __future__ import annotations

import json
import logging

import pytest

from common import logging as logs
from common.settings import ConfigError


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logs.LIBRARY_LOGGERS})
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def emit(capsys) -> list[str]:
    logging.getLogger("listener.server").info("listening on %d", 8888)
    logging.getLogger("aiokafka.consumer.group_coordinator").info("joined group")  # chatter
    logging.getLogger("faust.tables.recovery").info("+-----+ a table")  # Faust's tables
    logging.getLogger("aiokafka.conn").warning("broker unreachable")
    return capsys.readouterr().err.splitlines()


def test_json_lines_carry_the_stage_and_libraries_only_warn(capsys, monkeypatch):
    for name in ("TRACKWIRE_LOG_FORMAT", "TRACKWIRE_LOG_LEVEL", "TRACKWIRE_LOG_LIBRARY_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    logs.configure("listener", fmt="json")
    entries = [json.loads(line) for line in emit(capsys)]
    assert [(e["stage"], e["level"], e["logger"], e["msg"]) for e in entries] == [
        ("listener", "info", "listener.server", "listening on 8888"),
        ("listener", "warning", "aiokafka.conn", "broker unreachable"),
    ]
    assert entries[0]["ts"].endswith("Z")


def test_text_format_and_library_level_on_request(capsys, monkeypatch):
    monkeypatch.setenv("TRACKWIRE_LOG_FORMAT", "text")
    monkeypatch.setenv("TRACKWIRE_LOG_LIBRARY_LEVEL", "info")
    logs.configure("sink")
    lines = emit(capsys)
    assert len(lines) == 4
    assert lines[0].endswith("INFO    [sink] listener.server: listening on 8888")
    assert "[sink] aiokafka.consumer.group_coordinator: joined group" in lines[1]


def test_our_level_quiets_the_libraries_too(capsys, monkeypatch):
    monkeypatch.delenv("TRACKWIRE_LOG_LIBRARY_LEVEL", raising=False)
    logs.configure("processor", level="error", fmt="json")
    assert emit(capsys) == []


@pytest.mark.parametrize("env, value", [("TRACKWIRE_LOG_FORMAT", "xml"), ("TRACKWIRE_LOG_LEVEL", "loud")])
def test_a_bad_setting_says_which(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=env):
        logs.configure("listener")
