"""`trackwire decode`: captures in, JSON lines out (records, replies, errors), each with its line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from protocols.registry import CODECS
from trackwire.cli import main
from protocols.registry import CODECS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(args, stdin: bytes | None = None) -> list[dict]:
    result = CliRunner().invoke(main, ["decode", *args], input=stdin)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_gt06_login_on_line_one_identifies_the_frames_after_it():
    out = run(["--hex", str(EXAMPLES / "gt06.hex")])
    assert [(o["type"], o["line"]) for o in out] == [
        ("event", 1), ("reply", 1), ("position", 2), ("reply", 2),
        ("position", 3), ("alert", 3), ("reply", 3), ("event", 4), ("reply", 4),
    ]
    assert {o.get("device_id") for o in out if o["type"] != "reply"} == {"123456789012345"}
    assert out[1] == {"type": "reply", "protocol": "gt06", "hex": "787805010001d9dc0d0a", "line": 1}
    sos = out[5]
    assert sos["alarm"] == "sos" and sos["lat"] == 25.827437 and sos["lon"] == -80.376458
    assert sos["time"] == "2023-09-19T15:58:45.000Z"


def test_watch_health_readings_and_replies():
    out = run([str(EXAMPLES / "watch.txt")])
    readings = [o for o in out if o["type"] == "telemetry" and o["line"] == 3]
    assert readings == [{"type": "telemetry", "protocol": "watch", "device_id": "4700609403", "heart_rate_bpm": 73,
                         "bp_systolic_mmhg": 120, "bp_diastolic_mmhg": 79, "line": 3}]
    replies = {o["line"]: bytes.fromhex(o["hex"]) for o in out if o["type"] == "reply"}
    assert replies[2] == b"[3G*8809008845*0002*AL]"
    assert [o["alarm"] for o in out if o["type"] == "alert"] == ["sos"]


def test_garbage_line_is_an_error_and_later_lines_still_decode():
    stdin = b"hello\n[3G*4700186508*000B*LK,0,10,100]\n"
    out = run(["-"], stdin)
    names = ", ".join(codec.name for codec in CODECS)
    assert out[0] == {"type": "error", "reason": f"bytes match no known protocol ({names}): 68656c6c6f",
                      "hex": "68656c6c6f", "line": 1}
    assert out[1]["event"] == "heartbeat" and out[1]["line"] == 2


def test_frame_split_over_lines_is_reported_on_the_line_that_completed_it():
    out = run(["-"], b"#860264050778076,CM\nD-X#\n")
    assert out == [{"type": "event", "protocol": "gotop", "device_id": "860264050778076", "event": "heartbeat",
                    "line": 2}]


def test_bad_crc_is_a_decode_error_not_a_crash():
    out = run(["--hex", "-"], b"78780D01012345678901234500018CDE0D0A\nzz\n")
    assert out[0]["type"] == "error" and "CRC" in out[0]["reason"] and out[0]["line"] == 1
    assert out[1]["type"] == "error" and "not valid hex" in out[1]["reason"] and out[1]["line"] == 2


def test_udp_mode_treats_each_line_as_a_datagram():
    out = run(["--transport", "udp", "-"], b"[3G*4700186508*000B*LK,0,10,100]\n[3G*4700186508*000B*LK,0,10,100]\n")
    assert [o["line"] for o in out if o["type"] == "reply"] == [1, 2]


def test_console_script_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "trackwire.cli", "decode", str(EXAMPLES / "gotop.txt")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert '"alarm":"sos"' in done.stdout


def test_unreadable_input_is_the_only_non_zero_exit(tmp_path):
    result = CliRunner().invoke(main, ["decode", str(tmp_path / "missing.txt")])
    assert result.exit_code != 0
    assert "missing.txt" in result.output
