"""Every frame the other codecs' test data holds (tests/protocols/frames_*.py), for checks that a
codec claims none of them. Reads each module's `SAMPLES`/`UDP_SAMPLES` when it has them and every
module-level bytes constant (GOTOP's Traccar frames are also tried `#`-wrapped, as devices send them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_other_frames_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def frames_of_other_codecs(own: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for path in sorted(HERE.glob("frames_*.py")):
        name = path.stem
        if name == f"frames_{own}":
            continue
        module = _load(name)
        for label, frame in list(getattr(module, "SAMPLES", [])) + list(getattr(module, "UDP_SAMPLES", [])):
            out.append((f"{name}: {label}", frame))
        for constant, value in vars(module).items():
            if constant.isupper() and isinstance(value, bytes) and value:
                out.append((f"{name}.{constant}", value))
                if name == "frames_gotop" and not value.startswith(b"#"):
                    out.append((f"{name}.{constant} #-wrapped", b"#" + value + b"#"))
    return out
