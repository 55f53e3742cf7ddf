"""The event loop the stages run on: uvloop where it is installed (Linux), else asyncio's own.

uvloop's loop and transports are in C: the listener measured ~20 % less CPU per frame on it
(benchmarks/bench_listener.py), and the processor's producer path (transport writes, futures,
callbacks) is the same kind of work (benchmarks/bench_processors.py). uvloop is a dependency off
Windows (pyproject.toml); without it everything runs on asyncio's loop, unchanged."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def _uvloop():
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        return None
    return uvloop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when there is one."""
    uvloop = _uvloop()
    return asyncio.run(main) if uvloop is None else uvloop.run(main)


def install() -> str:
    """Make loops created from now on uvloop's (for code that makes its own: Faust and its consumer
    thread). Returns the loop's name, for the start-up log."""
    uvloop = _uvloop()
    if uvloop is None:  # pragma: no cover
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
