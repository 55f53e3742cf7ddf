"""Processor settings: env prefix TRACKWIRE_PROCESSOR_, thresholds global and per device."""

from __future__ import annotations

import pytest

from processors.settings import ProcessorSettings, Thresholds
from common.settings import ConfigError, load


def test_global_thresholds_and_per_device_overrides_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRACKWIRE_PROCESSOR_SPO2_LOW_PCT", "92")
    monkeypatch.setenv("TRACKWIRE_PROCESSOR_OFFLINE_AFTER_S", "90")
    monkeypatch.setenv("TRACKWIRE_PROCESSOR_DEVICE_THRESHOLDS",
                       '{"111": {"heart_rate_high_bpm": 160, "offline_after_s": null}}')
    book = ProcessorSettings().thresholds()
    assert book.for_device("999") == Thresholds(spo2_low_pct=92, offline_after_s=90)
    assert book.for_device(None) is book.default
    assert book.for_device("111") == Thresholds(spo2_low_pct=92, offline_after_s=None, heart_rate_high_bpm=160)
    assert book.for_device("111") is book.for_device("111")  # built once


@pytest.mark.parametrize("env, message", [
    ({"TRACKWIRE_PROCESSOR_DEVICE_THRESHOLDS": '{"1": {"hr_high": 1}}'}, "unknown field(s) ['hr_high']"),
    ({"TRACKWIRE_PROCESSOR_DEVICE_THRESHOLDS": '{"1": {"heart_rate_low_bpm": 130}}'},
     "heart_rate_low_bpm (130.0) must be below heart_rate_high_bpm (120.0)"),
    ({"TRACKWIRE_PROCESSOR_OFFLINE_AFTER_S": "0"}, "offline_after_s"),
    ({"TRACKWIRE_PROCESSOR_TICK_INTERVAL_S": "soon"}, "tick_interval_s"),
])
def test_a_bad_value_fails_at_start_saying_what_to_fix(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load(ProcessorSettings)
    assert message in str(raised.value)


@pytest.mark.parametrize("value, port", [("", None), ("none", None), ("0", 0), ("9111", 9111)])
def test_the_http_port_is_9101_by_default_and_empty_disables_it(monkeypatch, value, port):
    monkeypatch.delenv("TRACKWIRE_PROCESSOR_HTTP_PORT", raising=False)
    assert ProcessorSettings().http_port == 9101
    monkeypatch.setenv("TRACKWIRE_PROCESSOR_HTTP_PORT", value)
    assert load(ProcessorSettings).http_port == port
