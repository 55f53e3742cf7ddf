"""Fuzzing at depth: generated and mutated inputs through every registered codec, and through the
detector over TCP framing and UDP datagrams; prints inputs/s, how many frames were Malformed, and
the codec bugs found (the run fails if there is one).

    python benchmarks/fuzz_codecs.py                      # 1,000,000 inputs per codec
    python benchmarks/fuzz_codecs.py --runs 20000 --codec gt06 --codec watch

Coverage-guided with atheris (libFuzzer) when it is installed (it is a test extra); the seeds are
every cited sample of tests/protocols/frames_<codec>.py. Without atheris a plain mutation loop over
the same seeds runs instead (said in the output). Each codec runs in its own process: libFuzzer
owns the process it fuzzes, and a crash must not hide the other codecs' figures.

A "bug" is what the error contract calls one (protocols/base.py): any exception other than
`Malformed` escaping a codec's detect/framer/decode, i.e. `guarded_decode(...).bug`. The input that
caused it is written to --artifacts (default var/fuzz) to be replayed with `--replay FILE`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
MAX_FRAME = 4096


class CodecBug(Exception):
    """Raised inside the fuzzed process so libFuzzer records the input as a crash."""


def seeds_of(name: str) -> list[bytes]:
    try:
        frames = importlib.import_module(f"tests.protocols.frames_{name}")
    except ImportError:
        return []
    seeds = [data for _label, data in getattr(frames, "SAMPLES", [])]
    seeds += [data for _label, data in getattr(frames, "UDP_SAMPLES", [])]
    seeds += [data for _label, data in getattr(frames, "MALFORMED", [])]
    return seeds


class Target:
    """One input: chunked through the codec's own framer and decoded, then through the detector
    stream (TCP) and as a datagram (UDP). Counts outcomes; raises CodecBug on a bug."""

    def __init__(self, codec_name: str) -> None:
        from protocols.base import Transport
        from protocols.registry import BY_NAME

        self.codec = BY_NAME[codec_name]
        self.transports = sorted(getattr(self.codec, "transports", (Transport.TCP,)), key=str)
        self.counts = {"inputs": 0, "frames": 0, "decoded": 0, "malformed": 0, "frame_errors": 0, "bugs": 0}

    def __call__(self, data: bytes) -> None:
        from protocols.base import Frame, FrameError, Transport, guarded_decode
        from protocols.stream import ProtocolStream

        self.counts["inputs"] += 1
        # vary the read sizes with the input itself; at most ~32 reads, so a long input costs what it
        # tests (split points) rather than thousands of 1-byte reads through the same framer state
        chunk = max(1 + (data[0] % 7 if data else 0), -(-len(data) // 32))
        for transport in self.transports:
            framer = self.codec.new_framer(transport, MAX_FRAME)
            session = self.codec.new_session(transport)
            pieces = [data] if transport is Transport.UDP else [data[i:i + chunk] for i in range(0, len(data), chunk)]
            for piece in pieces:
                framer.feed(piece)
                for item in iter(framer.next, None):
                    if isinstance(item, Frame):
                        self._decode(guarded_decode(self.codec, item.data, session, NOW))
                    elif isinstance(item, FrameError):
                        self.counts["frame_errors"] += 1
                if framer.buffered > MAX_FRAME + len(piece):
                    self._bug(f"framer holds {framer.buffered} bytes, over max_frame {MAX_FRAME}")
        for transport in (Transport.TCP, Transport.UDP):
            stream = ProtocolStream(transport, max_frame=MAX_FRAME)
            stream.feed(data)
            for event in stream.events():
                if isinstance(event, Frame) and stream.codec is not None:
                    self._decode(guarded_decode(stream.codec, event.data, stream.session, NOW))

    def _decode(self, decoded) -> None:
        self.counts["frames"] += 1
        if decoded.bug:
            self._bug(decoded.error)
        if decoded.error is None:
            self.counts["decoded"] += 1
        else:
            self.counts["malformed"] += 1
            if decoded.records:
                self._bug(f"an error with records: {decoded.error}")

    def _bug(self, reason: str | None) -> None:
        self.counts["bugs"] += 1
        raise CodecBug(f"{self.codec.name}: {reason}")


# -- the child: fuzz one codec -----------------------------------------------------------------

def child(args: argparse.Namespace) -> int:
    stats_path = Path(args.stats)
    try:
        import atheris
    except ImportError:
        atheris = None
    if atheris is not None:
        # coverage guidance over our codecs only: instrumenting the libraries they call (h11) would
        # slow every input several-fold and steer the fuzzer into code that is not ours
        with atheris.instrument_imports(include=["protocols"]):
            import protocols.registry  # noqa: F401  (instrumented for coverage guidance)
            import protocols.stream  # noqa: F401
    target = Target(args.codec)
    started = time.perf_counter()

    def write_stats() -> None:
        stats = dict(target.counts, seconds=time.perf_counter() - started,
                     engine="atheris" if atheris else "mutation")
        stats_path.write_text(json.dumps(stats))

    def one_input(data: bytes) -> None:
        target(data)
        count = target.counts["inputs"]
        # libFuzzer ends the process from C (no atexit): keep the file current near the end
        if count % 5000 == 0 or count >= args.runs - 200:
            write_stats()

    import atexit
    atexit.register(write_stats)
    if atheris is not None:
        corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{args.codec}-"))
        for index, seed in enumerate(seeds_of(args.codec)):
            (corpus / f"seed{index}").write_bytes(seed)
        artifacts = Path(args.artifacts)
        artifacts.mkdir(parents=True, exist_ok=True)
        argv = [sys.argv[0], f"-runs={args.runs}", f"-max_len={MAX_FRAME}", f"-seed={args.seed}",
                f"-artifact_prefix={artifacts}/{args.codec}-", "-print_final_stats=0", "-close_fd_mask=0", str(corpus)]
        atheris.Setup(argv, one_input)
        try:
            atheris.Fuzz()
        finally:
            write_stats()
        return 0
    return mutation_loop(one_input, seeds_of(args.codec), args.runs, args.seed, write_stats)


def mutation_loop(one_input, seeds: list[bytes], runs: int, seed: int, write_stats) -> int:
    rng = random.Random(seed)
    pool = seeds or [b""]
    for _ in range(runs):
        data = bytearray(rng.choice(pool)) if rng.random() < 0.9 else bytearray(rng.randbytes(rng.randrange(64)))
        for _ in range(rng.randint(1, 8)):
            op = rng.randrange(4)
            i = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(i, len(data) - 1)] = rng.randrange(256)
            elif op == 1:
                data[i:i] = rng.randbytes(rng.randint(1, 4))
            elif op == 2 and data:
                del data[i:i + rng.randint(1, 4)]
            else:
                data += rng.choice(pool)[: rng.randrange(64)]
        one_input(bytes(data[:MAX_FRAME]))
    write_stats()
    return 0


# -- the parent: one child per codec, then the table ----------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per codec")
    parser.add_argument("--codec", action="append", help="only these codecs (default: every registered one)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--artifacts", default=str(REPO / "var" / "fuzz"))
    parser.add_argument("--replay", help="run one saved input through every codec and show the outcome")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.codec = args.codec[0]
        return child(args)
    from protocols.registry import CODECS

    if args.replay:
        data = Path(args.replay).read_bytes()
        for codec in CODECS:
            try:
                Target(codec.name)(data)
                print(f"{codec.name}: no bug")
            except CodecBug as exc:
                print(f"{codec.name}: BUG {exc}")
        return 0
    names = args.codec or [codec.name for codec in CODECS]
    print(f"fuzzing {', '.join(names)}: {args.runs:,} inputs each; machine: {os.cpu_count()} cores")
    print(f"{'codec':<10} {'engine':<9} {'inputs':>10} {'inputs/s':>9} {'frames':>10} {'decoded':>9} "
          f"{'Malformed':>10} {'frame err':>10} {'bugs':>5}")
    failed = False
    for name in names:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            stats_path = handle.name
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--codec", name, "--runs", str(args.runs), "--seed", str(args.seed),
             "--artifacts", args.artifacts, "--stats", stats_path],
            capture_output=True, text=True, cwd=REPO)
        try:
            stats = json.loads(Path(stats_path).read_text() or "{}")
        except (OSError, ValueError):
            stats = {}
        finally:
            Path(stats_path).unlink(missing_ok=True)
        crashed = done.returncode != 0
        bugs = stats.get("bugs", 0) + (1 if crashed and not stats.get("bugs") else 0)
        rate = stats.get("inputs", 0) / stats["seconds"] if stats.get("seconds") else 0
        print(f"{name:<10} {stats.get('engine', '?'):<9} {stats.get('inputs', 0):>10,} {rate:>9,.0f} "
              f"{stats.get('frames', 0):>10,} {stats.get('decoded', 0):>9,} {stats.get('malformed', 0):>10,} "
              f"{stats.get('frame_errors', 0):>10,} {bugs:>5}")
        if crashed or bugs:
            failed = True
            tail = "\n".join((done.stderr or done.stdout).splitlines()[-25:])
            print(f"  {name}: codec bug (input saved under {args.artifacts}):\n{tail}")
    print("result: " + ("CODEC BUGS FOUND" if failed else "no codec bugs"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
