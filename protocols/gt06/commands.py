"""Downlink: the 0x80 online command packet and the command vocabulary it encodes."""

from __future__ import annotations

import re
from typing import Callable

from protocols.base import Command, Session, UnsupportedCommand
from protocols.gt06.envelope import Gt06Session, build_packet


# --------------------------------------------------------------------------------------------
# Downlink: 0x80 online command (document "Online Command", Traccar Gt06ProtocolEncoder)
# --------------------------------------------------------------------------------------------

def command_packet(text: str, serial: int) -> bytes:
    """78 78 len 80 | command length 1 | server flag 4 (0) | ASCII command | serial 2 | CRC 2 | 0D 0A."""
    try:
        command = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise UnsupportedCommand(f"GT06 commands are ASCII: {text!r}") from exc
    if not command or len(command) > 0xFF - 12:
        raise UnsupportedCommand(f"GT06 command of {len(command)} bytes does not fit one 0x80 packet")
    return build_packet(0x80, bytes([4 + len(command)]) + b"\x00\x00\x00\x00" + command, serial)


def _param(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        raise UnsupportedCommand(f"GT06 command needs params[{name!r}]")
    return params[name]


def _interval(value: str) -> int:
    if not value.isdecimal():
        raise UnsupportedCommand(f"GT06 TIMER takes whole seconds, not {value!r}")
    seconds = int(value)
    if not 10 <= seconds <= 18000:
        raise UnsupportedCommand(f"GT06 TIMER takes 10-18000 s, not {seconds}")
    return seconds


def _set_interval(params: dict[str, str]) -> str:
    """`TIMER,T1#` or `TIMER,T1,T2#`: upload interval while moving (ACC on) and, optionally, while static."""
    moving = _interval(_param(params, "seconds"))
    if params.get("static_seconds"):
        return f"TIMER,{moving},{_interval(params['static_seconds'])}#"
    return f"TIMER,{moving}#"


def _sos_numbers(params: dict[str, str]) -> str:
    """`SOS,A,n1,n2,n3#`: set up to three SOS numbers."""
    numbers = [n.strip() for n in _param(params, "numbers").split(",")]
    if not 1 <= len(numbers) <= 3 or not all(re.fullmatch(r"\+?\d{3,20}", n) for n in numbers):
        raise UnsupportedCommand(f"GT06 takes 1-3 SOS phone numbers, not {params['numbers']!r}")
    return "SOS,A," + ",".join(numbers) + "#"


def _custom(params: dict[str, str]) -> str:
    return _param(params, "text")


COMMANDS: dict[str, Callable[[dict[str, str]], str]] = {
    "locate": lambda params: "DWXX#",  # answer: a "Current position!..." text (0x15/0x21)
    "reboot": lambda params: "RESET#",
    "set_interval": _set_interval,
    "sos_numbers": _sos_numbers,
    "custom": _custom,
}


def encode_command(command: Command, session: Session) -> bytes:
    builder = COMMANDS.get(command.name)
    if builder is None:
        raise UnsupportedCommand(f"GT06 has no {command.name!r} command")
    text = builder(command.params)
    if isinstance(session, Gt06Session):
        serial = session.next_command_serial()
    else:
        serial = 1
    return command_packet(text, serial)
