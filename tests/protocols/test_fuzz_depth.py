"""The deep fuzzing script (benchmarks/fuzz_codecs.py) in its short CI form: every registered codec
gets coverage-guided inputs, and the run reports zero codec bugs. Also: a codec that does have a
bug is caught, so the zero is not a check that cannot fail."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from protocols.base import Transport
from protocols.framing import DelimitedFramer
from protocols.registry import CODECS

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import fuzz_codecs  # noqa: E402


def test_short_fuzz_run_finds_no_codec_bug_in_any_registered_codec(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fuzz_codecs.py"), "--runs", "800", "--artifacts", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:] if line.split()}
    for codec in CODECS:
        assert int(rows[codec.name][2].replace(",", "")) >= 800, done.stdout  # every input ran (libFuzzer may add seeds)
        assert rows[codec.name][-1] == "0"
    assert "result: no codec bugs" in done.stdout


@dataclass
class _BuggyCodec:
    name: str = "buggy"
    transports: frozenset = frozenset({Transport.TCP})

    def new_framer(self, transport, max_frame):
        return DelimitedFramer(b"#", max_frame=max_frame)

    def new_session(self, transport):
        from protocols.base import Session
        return Session(transport)

    def decode(self, frame, session, now):
        return frame.split(b",")[3]  # IndexError on short frames: our bug, not bad input


def test_a_codec_bug_is_reported_as_one():
    target = fuzz_codecs.Target(CODECS[0].name)
    target.codec = _BuggyCodec()
    target.transports = [Transport.TCP]
    with pytest.raises(fuzz_codecs.CodecBug, match="IndexError"):
        target(b"a,b#")
