"""notifier/config.py: the TOML webhooks file, checked at start with messages that name the key."""

from __future__ import annotations

import base64

import pytest

from notifier.config import SPEC_RETRY_SCHEDULE_S, ConfigProblem, load_config, parse_config
from schemas.alarms import Alarm

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def toml(**overrides: str) -> str:
    fields = {"name": '"care-desk"', "url": '"https://example.org/hooks/sos"', "secret": f'"{SECRET}"', **overrides}
    return "[[webhooks]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


def problem(text: str) -> str:
    with pytest.raises(ConfigProblem) as info:
        parse_config(text, source="notify.toml")
    return str(info.value)


def test_defaults():
    config = parse_config(toml())
    (hook,) = config.webhooks
    assert hook.name == "care-desk" and hook.url == "https://example.org/hooks/sos"
    assert set(hook.alarms) == {Alarm.SOS, Alarm.FALL}
    assert hook.devices is None
    assert tuple(hook.retry_schedule_s) == SPEC_RETRY_SCHEDULE_S
    # The specification's example: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
    assert sum(SPEC_RETRY_SCHEDULE_S) == 75 * 3600 + 35 * 60 + 5
    assert hook.wants("sos", "any-device") and hook.wants("fall", None)
    assert not hook.wants("low_battery", "any-device")


def test_alarms_and_devices_filter():
    hook = parse_config(toml(alarms='["sos", "offline"]', devices='["8613"]')).webhooks[0]
    assert hook.wants("offline", "8613") and hook.wants("sos", "8613")
    assert not hook.wants("sos", "other") and not hook.wants("fall", "8613") and not hook.wants("sos", None)
    assert parse_config(toml(alarms='["sos", "offline"]')).alarms() == {Alarm.SOS, Alarm.OFFLINE}


@pytest.mark.parametrize("overrides, expected", [
    ({"secret": '"abc"'}, "webhooks[0].secret: must start with 'whsec_'"),
    ({"secret": '"whsec_!!!"'}, "webhooks[0].secret: is not base64"),
    ({"secret": '"whsec_' + base64.b64encode(b"short").decode() + '"'}, "webhooks[0].secret: holds 5 bytes"),
    ({"url": '"ftp://example.org/x"'}, "webhooks[0].url: must be an http:// or https:// URL"),
    ({"name": '"care desk"'}, "webhooks[0].name: use 1 to 64 letters"),
    ({"name": None}, "webhooks[0].name: missing"),
    ({"alarms": '["sos", "panic"]'}, "webhooks[0].alarms[1]: Input should be"),
    ({"alarms": "[]"}, "webhooks[0].alarms: must name at least one alarm"),
    ({"devices": "[]"}, "webhooks[0].devices: an empty list matches no device"),
    ({"secrett": '"x"'}, "webhooks[0].secrett: unknown key"),
    ({"timeout_s": "0"}, "webhooks[0].timeout_s: Input should be greater than 0"),
    ({"retry_schedule_s": "[5, -1]"}, "webhooks[0].retry_schedule_s[1]: Input should be greater than or equal to 0"),
    ({"secret": None}, "webhooks[0]: give exactly one of `secret` and `secret_env`"),
    ({"secret_env": '"X"'}, "webhooks[0]: give exactly one of `secret` and `secret_env`"),
])
def test_bad_values_name_their_key(overrides, expected):
    message = problem(toml(**overrides))
    assert message.startswith("notify.toml: ")
    assert expected in message


def test_unpadded_secret_is_accepted_as_the_library_accepts_it():
    from datetime import datetime, timezone

    from standardwebhooks import Webhook

    from notifier.config import check_secret

    unpadded = "whsec_" + base64.b64encode(b"u" * 25).decode().rstrip("=")
    padded = "whsec_" + base64.b64encode(b"u" * 25).decode()
    assert unpadded != padded
    assert check_secret(unpadded) == b"u" * 25
    assert parse_config(toml(secret=f'"{unpadded}"')).webhooks[0].signing_secret() == unpadded
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert Webhook(unpadded).sign("msg_1", when, "{}") == Webhook(padded).sign("msg_1", when, "{}")


def test_file_level_problems():
    assert "notify.toml: not valid TOML" in problem("[[webhooks]\n")
    assert "webhooks: missing" in problem('map_link = "x"\n')
    assert "webhooks: define at least one" in problem("webhooks = []\n")
    assert "two webhooks are named 'care-desk'" in problem(toml() + toml())
    assert "map_link: may only use the placeholders" in problem('map_link = "{lat}{zoom}"\n' + toml())
    assert "webhook: unknown key" in problem(toml().replace("[[webhooks]]", "[[webhook]]"))


def test_secret_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "notify.toml"
    path.write_text(toml(secret=None, secret_env='"CARE_SECRET"'))
    monkeypatch.delenv("CARE_SECRET", raising=False)
    with pytest.raises(ConfigProblem, match="secret_env: the environment variable CARE_SECRET is not set"):
        load_config(str(path))
    monkeypatch.setenv("CARE_SECRET", "nope")
    with pytest.raises(ConfigProblem, match="secret_env: CARE_SECRET must start with 'whsec_'"):
        load_config(str(path))
    monkeypatch.setenv("CARE_SECRET", SECRET)
    assert load_config(str(path)).webhooks[0].signing_secret() == SECRET


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigProblem, match="cannot read the notifier config"):
        load_config(str(tmp_path / "missing.toml"))


def test_example_config_is_valid(monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("NIGHT_SHIFT_SECRET", SECRET)
    config = load_config(str(Path(__file__).resolve().parents[2] / "examples" / "notify.toml"))
    assert [h.name for h in config.webhooks] == ["care-desk", "night-shift"]
