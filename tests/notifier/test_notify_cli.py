"""`trackwire notify` refuses a bad or missing webhooks file with a message naming the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def notify(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TRACKWIRE_NOTIFY_CONFIG"}
    return subprocess.run([sys.executable, "-m", "trackwire.cli", "notify", *args], capture_output=True, text=True,
                          timeout=60, env={**environ, "PYTHONPATH": str(REPO), **env}, stdin=subprocess.DEVNULL)


def test_bad_key_is_named(tmp_path):
    path = tmp_path / "notify.toml"
    path.write_text('[[webhooks]]\nname = "care-desk"\nurl = "https://example.org/x"\nsecret = "plain"\n'
                    'alarms = ["sos", "panic"]\n')
    result = notify("--config", str(path))
    assert result.returncode == 1
    assert f"trackwire: configuration error: {path}: webhooks[0].secret: must start with 'whsec_'" in result.stderr
    assert "webhooks[0].alarms[1]: Input should be" in result.stderr


def test_config_from_the_environment_and_missing(tmp_path):
    result = notify()
    assert result.returncode == 1
    assert "the notifier needs its webhooks file: --config FILE or TRACKWIRE_NOTIFY_CONFIG=FILE" in result.stderr
    result = notify(TRACKWIRE_NOTIFY_CONFIG=str(tmp_path / "absent.toml"))
    assert result.returncode == 1
    assert f"cannot read the notifier config {tmp_path / 'absent.toml'}" in result.stderr


class _Exited:
    """A child that has already exited: run_pipeline stops the pipeline at once."""

    returncode = 0

    def poll(self):
        return 0

    def wait(self, _timeout=None):
        return 0


def test_trackwire_run_starts_the_notifier_when_configured(monkeypatch):
    import signal

    import trackwire.run_cmd as run_cmd
    import trackwire.topics_cmd as topics_cmd

    started: list[list[str]] = []
    async def no_topics(_kafka):  # no broker needed (it used to create the default-prefix topics on one)
        return []

    monkeypatch.setattr(topics_cmd, "ensure_topics", no_topics)
    monkeypatch.setattr(run_cmd, "_spawn", lambda args, *_log: started.append(args) or _Exited())
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # the test process keeps its handlers
    monkeypatch.delenv("TRACKWIRE_NOTIFY_CONFIG", raising=False)
    run_cmd.run_pipeline(simulate_devices=0, simulate_interval_s=1, port=8888)
    assert [args[0] for args in started] == ["listen", "process", "sink"]
    started.clear()
    monkeypatch.setenv("TRACKWIRE_NOTIFY_CONFIG", "/etc/trackwire/notify.toml")
    run_cmd.run_pipeline(simulate_devices=0, simulate_interval_s=1, port=8888)
    assert [args[0] for args in started] == ["listen", "process", "sink", "notify"]
